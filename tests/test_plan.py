"""The offline plan: inventory.json, secret masking, and --diff."""

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from tests.policy_fixtures import registration
from tools.inventory import MASK, build_inventory, diff_inventories
from tools.plan import main, run_plan
from tools.synth import Secret, SynthResult, synth

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _quiet() -> Console:
    return Console(record=True, width=200, file=open("/dev/null", "w"))


def test_plan_writes_a_complete_inventory(tmp_path, synthed):
    expected = synthed("prod")
    context = run_plan("prod", tmp_path, console=_quiet(), result=expected)
    inventory = json.loads((tmp_path / "prod" / "inventory.json").read_text())
    assert inventory["stack"] == "prod"
    assert inventory["resourceCount"] == len(expected.resources) == len(inventory["resources"])
    assert [r["urn"] for r in inventory["resources"]] == sorted(r.urn for r in expected.resources)
    vpc = next(r for r in inventory["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    assert vpc["inputs"]["cidrBlock"] == "10.30.0.0/16"
    assert vpc["provider"].endswith("::heal7-prod-aws")
    protected = {r["type"] for r in inventory["resources"] if r["protect"]}
    assert protected == {r.type for r in expected.resources if r.protect} and "aws:rds/instance:Instance" in protected
    flow_log = next(r for r in inventory["resources"] if r["type"] == "aws:ec2/flowLog:FlowLog")
    role_policy = next(r for r in inventory["resources"] if r["name"] == "heal7-prod-network-flow-logs-write")
    assert role_policy["urn"] in flow_log["dependencies"]
    assert inventory["outputs"]["vpcCidr"] == "10.30.0.0/16"
    files = [
        tmp_path / "prod" / name for name in ("inventory.json", "quotas.json", "capacity.json", "policy-report.json")
    ]
    assert context.written[: len(files)] == files
    # Then one manifest per Kubernetes object, each cluster in its own directory, and one
    # file per chart with its coordinates and values.
    rest = context.written[len(files) :]
    manifests = [p for p in rest if (tmp_path / "prod" / "manifests") in p.parents]
    charts = [p for p in rest if (tmp_path / "prod" / "charts") in p.parents]
    drawing = [tmp_path / "prod" / f"architecture.{suffix}" for suffix in ("svg", "png", "dot")]
    assert rest[len(manifests) + len(charts) :] == [*drawing, tmp_path / "prod" / "report.html"]
    assert context.diagram == drawing[0] and context.report == tmp_path / "prod" / "report.html"
    helm = [r for r in expected.resources if r.type.startswith("kubernetes:helm.sh/")]
    kubernetes_objects = [r for r in expected.resources if r.type.startswith("kubernetes:") and r not in helm]
    assert len(manifests) == len(kubernetes_objects) > 0
    # 11 on each cluster (cert-manager, External Secrets, Istio's base, cni, istiod and
    # gateway, Argo Rollouts, kube-prometheus-stack, prometheus-adapter, ECK, Fluent Bit), plus
    # EKS's 3 add-ons (VPA, Load Balancer Controller, metrics-server) and 2 exporters.
    assert len(charts) == len(helm) == 27
    for paths, root in ((manifests, "manifests"), (charts, "charts")):
        assert {path.relative_to(tmp_path / "prod" / root).parts[0] for path in paths} == {
            "heal7-prod-eks",
            "heal7-prod-gke",
        }


def test_plan_summary_shows_counts_protection_and_exports(tmp_path, synthed):
    console = Console(record=True, width=200, file=io.StringIO())
    run_plan("prod", tmp_path, console=console, result=synthed("prod"))
    text = console.export_text()
    assert "aws:ec2/natGateway:NatGateway" in text
    nat_row = next(line for line in text.splitlines() if "aws:ec2/natGateway:NatGateway" in line)
    assert nat_row.split("│")[-2].strip() == "3"
    assert "protected resources" in text and "heal7-prod-network-flow-logs-key" in text
    assert "vpcCidr" in text and "10.30.0.0/16" in text
    assert "Kubernetes on heal7-prod-eks" in text and "Kubernetes on heal7-prod-gke" in text
    assert "Kubernetes manifests under" in text


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plan_shows_every_backups_retention_and_copy(tmp_path, synthed, stack):
    console = Console(record=True, width=250, file=io.StringIO())
    run_plan(stack, tmp_path, console=console, result=synthed(stack))
    text = console.export_text()
    assert f"{stack}: backups (retention and copies)" in text
    rows = {
        cells[0]: cells[1:]
        for line in text.splitlines()
        if "│" in line
        for cells in [[cell.strip() for cell in line.split("│")[1:-1]]]
        if len(cells) == 3
    }
    prefix = f"heal7-{stack}"
    assert rows["RDS automated backups (PITR)"] == [f"{prefix}-postgres-db", "7 days, window 03:00-04:00 UTC"]
    # Automated backup replication to Tokyo in prod only (Pulumi.prod.yaml's backupReplicaRegion).
    assert rows["RDS backups copied to the DR region"] == (
        [f"{prefix}-postgres-backup-replication", "ap-northeast-1, 7 days"]
        if stack == "prod"
        else ["", "none (this region only)"]
    )
    snapshots = "7 days" if stack == "prod" else "1 day"
    assert rows["ElastiCache snapshots"] == [
        f"{prefix}-redis-group",
        f"{snapshots}, window 02:00-03:00 UTC; not exported to S3 (ElastiCache's export needs an ACL grant the bucket's BucketOwnerEnforced refuses)",
    ]
    assert rows["backup bucket lifecycle"] == [
        f"{prefix}-backups-lifecycle",
        "STANDARD_IA after 30 d, GLACIER_IR after 90 d, expire after 365 d, noncurrent versions 30 d"
        if stack == "prod"
        else "expire after 14 d, noncurrent versions 30 d",
    ]
    assert rows["PostgreSQL dump to the bucket"] == [
        f"{prefix}-eks-backups-dump",
        "0 2 * * * Asia/Seoul, deadline 120 min",
    ]
    assert rows["PostgreSQL restore drill"] == [f"{prefix}-eks-backups-drill", "0 6 * * 0 Asia/Seoul, deadline 240 min"]


def test_inventory_masks_secret_inputs_and_outputs():
    resource = registration(
        "random:index/randomPassword:RandomPassword",
        "db",
        {"length": 32, "keepers": {"token": Secret("hunter2")}},
        outputs={},
    )
    result = SynthResult(
        stack="s",
        resources=[resource],
        outputs={"password": "hunter2", "host": "db.local"},
        secret_outputs=["password"],
    )
    inventory = build_inventory(result)
    text = json.dumps(inventory)
    assert "hunter2" not in text
    assert inventory["resources"][0]["inputs"] == {"length": 32, "keepers": {"token": MASK}}
    assert inventory["outputs"] == {"password": MASK, "host": "db.local"}


def test_diff_reports_changed_added_and_removed(stack_config, synthed):
    before = build_inventory(synthed("prod"))
    config = stack_config("prod")
    config["platform:aws"]["network"]["flowLogRetentionDays"] = 731
    config["platform:aws"]["availabilityZones"] = ["ap-northeast-2a", "ap-northeast-2c"]
    after = build_inventory(synth("prod", config))
    diff = diff_inventories(before, after)

    log_group = next(r["urn"] for r in after["resources"] if r["type"] == "aws:cloudwatch/logGroup:LogGroup")
    assert [(c.path, c.old, c.new) for c in diff.changed[log_group]] == [("inputs.retentionInDays", 365, 731)]
    assert diff.added == []
    removed_names = sorted(urn.rsplit("::", 1)[1] for urn in diff.removed)
    assert "heal7-prod-network-nat-ap-northeast-2b" in removed_names
    assert "heal7-prod-network-private-ap-northeast-2b" in removed_names
    assert all("ap-northeast-2b" in name for name in removed_names)
    # The zones that stay keep their subnets and NAT gateways untouched.
    changed_types = {urn.split("::")[2].rsplit("$", 1)[-1] for urn in diff.changed}
    assert not changed_types & {"aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip"}
    assert any(c.path == "outputs.natPublicIps" for c in diff.outputs)


def test_diff_of_identical_inventories_is_empty(synthed):
    inventory = build_inventory(synthed("dev"))
    assert diff_inventories(inventory, json.loads(json.dumps(inventory))).empty


def test_diff_refuses_inventories_of_different_stacks(synthed):
    with pytest.raises(ValueError, match="different stacks: 'dev' and 'prod'"):
        diff_inventories(build_inventory(synthed("dev")), build_inventory(synthed("prod")))


def test_plan_cli_diff_lists_a_changed_property(tmp_path, capsys, monkeypatch, synthed):
    monkeypatch.setattr("tools.plan.synth", synthed)  # the CLI path, over the session's cached synth
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["dev", "--out", str(tmp_path)]) == 0
    inventory_path = tmp_path / "dev" / "inventory.json"
    old = json.loads(inventory_path.read_text())
    vpc = next(r for r in old["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    vpc["inputs"]["cidrBlock"] = "10.99.0.0/16"  # pretend the previous plan had another range
    old_path = tmp_path / "old-inventory.json"
    old_path.write_text(json.dumps(old))
    capsys.readouterr()

    assert main(["dev", "--out", str(tmp_path), "--diff", str(old_path)]) == 0
    out = capsys.readouterr().out
    assert "inputs.cidrBlock: '10.99.0.0/16' -> '10.10.0.0/16'" in out
    assert "0 added, 0 removed, 1 changed, 0 output(s) changed" in out


def test_plan_cli_rejects_an_unknown_stack(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tools.plan", "nosuchstack", "--out", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "no stack file Pulumi.nosuchstack.yaml" in result.stdout


def test_plan_cli_prints_config_errors_and_fails(tmp_path, capsys, monkeypatch, stack_config):
    broken = stack_config("prod")
    broken["platform:aws"]["network"]["vpcCidr"] = "10.0.0.0/8"
    monkeypatch.setattr("tools.synth.read_stack_config", lambda stack, root=None: broken)
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["prod", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "Pulumi.prod.yaml: platform:aws.network.vpcCidr: AWS VPCs must be between /16 and /28" in out
    assert "plan failed for stack prod" in out and "[red]" not in out and "Traceback" not in out
    assert not (tmp_path / "prod" / "inventory.json").exists()


def test_make_plan_entry_point_runs_end_to_end(tmp_path, synthed):
    only_dot = tmp_path / "bin"
    only_dot.mkdir()
    (only_dot / "dot").symlink_to(shutil.which("dot") or "/usr/bin/dot")
    result = subprocess.run(
        [sys.executable, "-m", "tools.plan", "staging", "--out", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        # Nothing on the PATH but Graphviz's `dot`, which draws the diagram.
        env={"COLUMNS": "200", "PATH": str(only_dot)},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "staging" / "inventory.json").read_text())["resourceCount"] == len(
        synthed("staging").resources
    )
    quotas = json.loads((tmp_path / "staging" / "quotas.json").read_text())
    assert quotas["stack"] == "staging" and "quotas the first pulumi up needs" in result.stdout
    assert f"diagram: {tmp_path / 'staging' / 'architecture.svg'}" in result.stdout
    assert f"report: {tmp_path / 'staging' / 'report.html'}" in result.stdout


def test_plan_without_graphviz_says_how_to_get_it(tmp_path, synthed, monkeypatch, capsys):
    monkeypatch.setattr("tools.diagram.graphviz_dot", lambda: None)
    monkeypatch.setattr("tools.plan.synth", lambda stack: synthed(stack))
    assert main(["dev", "--out", str(tmp_path)]) == 2
    assert "Graphviz's `dot` is not installed: run `make graphviz`" in capsys.readouterr().out


def test_the_benchs_floor_finds_an_sdk_class_for_every_type_the_stacks_register(synthed):
    """`make bench` imports, for the floor, the SDK class of every registered type: a type it
    cannot map (a new provider module, a custom resource) would break the benchmark."""
    import importlib

    from tools.floor import sdk_class

    for stack in ("dev", "prod"):
        for token in {r.type for r in synthed(stack).resources}:
            found = sdk_class(token)
            if token.startswith("platform:"):
                assert found is None
                continue
            assert found is not None, token
            module, class_name = found
            assert hasattr(importlib.import_module(module), class_name), token
    assert sdk_class("kubernetes:networking.k8s.io/v1:NetworkPolicy") == (
        "pulumi_kubernetes.networking.v1",
        "NetworkPolicy",
    )
    assert sdk_class("kubernetes:cert-manager.io/v1:ClusterIssuer") == (
        "pulumi_kubernetes.apiextensions",
        "CustomResource",
    )


def test_a_value_secret_on_either_side_stays_hidden_in_the_diff(synthed):
    """Marking a leaked value secret must not print the old plain value in the diff (or the report)."""
    new = build_inventory(synthed("dev"))
    old = json.loads(json.dumps(new))
    masked = next((r, key) for r in new["resources"] for key, value in r["inputs"].items() if value == MASK)
    resource, key = masked
    next(r for r in old["resources"] if r["urn"] == resource["urn"])["inputs"][key] = "hunter2-plaintext"
    changes = diff_inventories(old, new).changed[resource["urn"]]
    assert [(c.path, c.old, c.new) for c in changes] == [(f"inputs.{key}", MASK, MASK)]
    assert "hunter2" not in repr(diff_inventories(new, old))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "not an inventory (expected an object with version, stack and resources)"),
        ('{"version": 1, "stack": "prod", "resources": []}', "is the inventory of stack 'prod', not of 'dev'"),
        ('{"version": 0, "stack": "dev", "resources": []}', "inventory version 0, expected 1"),
    ],
)
def test_a_bad_diff_file_is_refused_before_the_synth_naming_it(tmp_path, capsys, monkeypatch, content, expected):
    old_path = tmp_path / "old.json"
    old_path.write_text(content)
    monkeypatch.setattr("tools.plan.synth", lambda stack: pytest.fail("synthesized before checking --diff"))
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["dev", "--out", str(tmp_path), "--diff", str(old_path)]) == 2
    assert f"{old_path}: {expected}" in capsys.readouterr().out
