"""The disaster-recovery runbooks (docs/runbooks/dr-*.md) against the program they operate.

An on-call engineer copies these commands under pressure, so every name they use must exist:
the stack outputs they read, the config keys they set, the secrets and ExternalSecrets they
touch. The figures they quote (backup retention, health-check interval, origin minimums, node
counts) must be the ones the program builds for each stack, and every page must keep the
same shape: when to use, decision, RPO, RTO, steps with a check each, overall check, go back.
"""

import copy
import json
import re
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, STACKS
from tools.synth import SynthResult, read_stack_config, synth

RUNBOOKS = PROJECT_ROOT / "docs" / "runbooks"
INDEX = RUNBOOKS / "dr-index.md"
DR_PAGES = ("dr-zone-loss.md", "dr-aws-region-loss.md", "dr-data-loss.md", "dr-cloudflare-loss.md")
SECTIONS = ("When to use", "Decision", "RPO", "RTO", "Steps", "Check", "Go back")
SCHEMA = json.loads((PROJECT_ROOT / "stacks" / "config" / "stack.schema.json").read_text())

# `pulumi stack output [--flags] <name>`; a bare `pulumi stack output --json > file` names none.
OUTPUT_NAME = re.compile(r"pulumi stack output((?:\s+--[a-z-]+)*)\s+([A-Za-z][A-Za-z0-9]*)")
PLATFORM_KEY = re.compile(r"platform:[a-z]+(?:\.[A-Za-z0-9-]+|\[\"[^\"]+\"\]|\[\d+\])*")
CONFIG_COMMAND_KEY = re.compile(r"pulumi config (?:set|get|rm)((?:\s+--[a-z-]+)*)\s+'?([A-Za-z][\w.:\[\]\"-]*)")
PATH_TOKEN = re.compile(r"\[\"([^\"]+)\"\]|\[(\d+)\]|([^.\[\]]+)")
# A figure: a count with a unit, or a plain 0 (no data lost).
FIGURE = re.compile(r"\b0\b|\b\d+(?:[.,]\d+)?\s*(?:s|seconds?|min|minutes?|h|hours?|days?|GiB)\b")
NUMBERED_STEP = re.compile(r"^(\d+)\. ", re.MULTILINE)


def _text(page: str) -> str:
    return (RUNBOOKS / page).read_text()


def _sections(text: str) -> dict[str, str]:
    """Level-2 heading -> its body."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _schema_node(key: str) -> dict[str, Any] | None:
    """The stack-file schema node a `platform:...` (or provider) config key names, None if unknown.
    Dotted segments walk nested properties, pattern properties and maps; `[n]` an array item."""
    top, _, rest = key.partition(".")
    node: dict[str, Any] | None = SCHEMA["properties"]["config"]["properties"].get(top)
    for quoted, index, plain in PATH_TOKEN.findall(rest) if rest else []:
        if node is None:
            return None
        node = _child(node, quoted or plain, is_index=bool(index))
    return node


def _child(node: dict[str, Any], segment: str, is_index: bool) -> dict[str, Any] | None:
    for option in (node, *node.get("anyOf", [])):
        if is_index:
            if "items" in option:
                return option["items"]
            continue
        if segment in option.get("properties", {}):
            return option["properties"][segment]
        for pattern, sub in option.get("patternProperties", {}).items():
            if re.search(pattern, segment):
                return sub
        if isinstance(option.get("additionalProperties"), dict):
            return option["additionalProperties"]
    return None


def _all_runbook_text() -> str:
    return "\n".join(path.read_text() for path in sorted(RUNBOOKS.glob("*.md")))


def test_every_dr_page_exists_and_the_index_links_them_all():
    pages = sorted(p.name for p in RUNBOOKS.glob("dr-*.md") if p.name != INDEX.name)
    assert pages == sorted(DR_PAGES)
    links = set(re.findall(r"\]\((dr-[a-z-]+\.md)\)", INDEX.read_text()))
    assert links == set(DR_PAGES)
    for page in DR_PAGES:
        # Each page leads back to the index (the RPO/RTO overview and the gaps).
        assert "](dr-index.md)" in _text(page), page
        for target in re.findall(r"\]\(([a-z0-9-]+\.md)\)", _text(page)):
            assert (RUNBOOKS / target).exists(), f"{page} links to missing {target}"


@pytest.mark.parametrize("page", DR_PAGES)
def test_page_has_the_sections_in_order_with_rpo_and_rto_figures(page):
    text = _text(page)
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert headings == list(SECTIONS), page
    sections = _sections(text)
    for name in ("RPO", "RTO"):
        assert FIGURE.search(sections[name]), f"{page}: the {name} section states no figure"


@pytest.mark.parametrize("page", DR_PAGES)
def test_every_step_is_numbered_in_order_and_says_what_to_check(page):
    steps = _sections(_text(page))["Steps"]
    starts = list(NUMBERED_STEP.finditer(steps))
    assert [int(m.group(1)) for m in starts] == list(range(1, len(starts) + 1)), page
    assert len(starts) >= 5, page
    for current, following in zip(starts, [*starts[1:], None], strict=True):
        body = steps[current.start() : following.start() if following else len(steps)]
        assert "**Check:**" in body, f"{page} step {current.group(1)} says nothing to check"
        assert "`" in body, f"{page} step {current.group(1)} gives no command"


def test_every_stack_output_the_runbooks_read_is_exported(synthed):
    named = {match.group(2) for match in OUTPUT_NAME.finditer(_all_runbook_text())}
    exported = set(synthed("prod").outputs)
    assert {"rdsAddress", "cloudSqlReplicaName", "cloudflarePoolIds", "backupBucketName"} <= named
    assert named - exported == set()
    for page in DR_PAGES:
        assert OUTPUT_NAME.search(_text(page)), f"{page} reads no stack output"


def test_the_pool_keys_the_runbooks_pick_are_the_exported_pools(synthed):
    pools = synthed("prod").outputs["cloudflarePoolIds"]
    text = _all_runbook_text()
    # jq picks ('."gcp-secondary"') and the pool loops (`for p in aws-primary split; do`).
    picked = set(re.findall(r"'\.\"([a-z-]+)\"'", text))
    for loop in re.findall(r"for p in ([a-z -]+);", text):
        picked |= set(loop.split())
    assert {"aws-primary", "split", "gcp-secondary"} <= picked
    assert picked <= set(pools)


def test_the_schema_walk_refuses_unknown_keys():
    # The check below is only as good as the walk: unknown leaves and branches are refused.
    assert _schema_node("platform:cloudflare.steering.defaultWeights.aws-primary") is not None
    assert _schema_node('platform:cloudflare.loadBalancers["heal7.com"].pools[0]') is not None
    assert _schema_node("platform:cloudflare.steering.weights") is None
    assert _schema_node("platform:aws.rds.backupRetention") is None
    assert _schema_node("platform:nothing") is None


def test_every_config_key_the_runbooks_name_exists_in_the_stack_schema():
    text = _all_runbook_text()
    keys = set(PLATFORM_KEY.findall(text)) | {m.group(2) for m in CONFIG_COMMAND_KEY.finditer(text)}
    assert "platform:cloudflare.steering.countryPools.KR" in keys
    assert "cloudflare:apiToken" in keys
    unknown = sorted(key for key in keys if _schema_node(key) is None)
    assert unknown == []


def test_the_secrets_and_external_secrets_the_runbooks_touch_exist_in_prod(synthed):
    result = synthed("prod")
    text = _all_runbook_text()
    secret_ids = {r.inputs["secretId"] for r in result.of_type("gcp:secretmanager/secret:Secret")}
    named_ids = set(re.findall(r"heal7-prod-workloads-[a-z-]+[a-z]", text))
    assert {"heal7-prod-workloads-database-url", "heal7-prod-workloads-database-read-url"} <= named_ids
    assert named_ids <= secret_ids
    gke_external_secrets = {
        r.inputs["metadata"]["name"]
        for r in result.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if r.name.startswith("heal7-prod-gke-") and r.inputs["metadata"]["namespace"] == "heal7-production"
    }
    named_external = set(re.findall(r"annotate externalsecret ((?:heal7-[a-z-]+-env ?)+)", text)[0].split())
    assert named_external == gke_external_secrets
    # What the region-loss runbook copies: GKE's read URL and write URL are both PostgreSQL URLs of
    # the same application user, so the read URL is a valid write URL once the replica is promoted.
    versions = {
        r.name: r.inputs["secretData"]
        for r in result.of_type("gcp:secretmanager/secretVersion:SecretVersion")
        if "workload-secrets-gcp-database" in r.name
    }
    read = _unwrap(versions["heal7-prod-workload-secrets-gcp-database-read-url-value"])
    write = _unwrap(versions["heal7-prod-workload-secrets-gcp-database-url-value"])
    assert read.split("@")[0] == write.split("@")[0]
    assert "sslmode=verify-ca" in read and "sslmode=verify-full" in write


def _unwrap(value: Any) -> str:
    return str(getattr(value, "value", value))


def _by_suffix(result: SynthResult, type_token: str, suffix: str) -> dict[str, Any]:
    [match] = [r for r in result.of_type(type_token) if r.name.endswith(suffix)]
    return match.inputs


def _built_settings(result: SynthResult) -> dict[str, str]:
    """The settings-table cells, read from what the program registers for one stack."""
    rds = result.one("aws:rds/instance:Instance").inputs
    replication = result.of_type("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
    redis = result.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs
    [retention] = [
        rule
        for rule in result.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
        if rule["id"] == "backup-retention"
    ]
    monitor = result.one("cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor").inputs
    aws_pool = _by_suffix(result, "cloudflare:index/loadBalancerPool:LoadBalancerPool", "-edge-aws-primary")
    eks = _by_suffix(result, "aws:eks/nodeGroup:NodeGroup", "-eks-general-nodes")["scalingConfig"]
    gke = _by_suffix(result, "gcp:container/nodePool:NodePool", "-gke-general-nodes")["autoscaling"]
    return {
        "platform:aws.rds.multiAz": "yes" if rds["multiAz"] else "no",
        "platform:aws.rds.backupRetentionDays": str(int(rds["backupRetentionPeriod"])),
        "platform:aws.rds.backupWindow": rds["backupWindow"],
        "platform:aws.rds.backupReplicaRegion": replication[0].inputs["region"] if replication else "none",
        "platform:aws.redis.nodeCount": str(int(redis["numCacheClusters"])),
        "platform:aws.redis.snapshotRetentionDays": str(int(redis["snapshotRetentionLimit"])),
        "platform:aws.backups.expireAfterDays": str(int(retention["expiration"]["days"])),
        "platform:cloudflare.monitor.intervalSeconds": str(int(monitor["interval"])),
        "platform:cloudflare.minimumOrigins": f"{int(aws_pool['minimumOrigins'])} of {len(aws_pool['origins'])}",
        "platform:aws.eks.nodeGroups.general": " / ".join(
            str(int(eks[k])) for k in ("minSize", "desiredSize", "maxSize")
        ),
        "platform:gcp.gke.nodePools.general": f"{int(gke['minNodeCount'])} / {int(gke['maxNodeCount'])}",
    }


def _settings_table() -> dict[str, dict[str, str]]:
    """Key -> stack -> cell, from the index's "Settings the figures come from" table."""
    table = _sections(INDEX.read_text())["Settings the figures come from"]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[1].startswith("`platform:"):
            rows[cells[1].strip("`")] = dict(zip(STACKS, cells[2:], strict=True))
    return rows


@pytest.mark.parametrize("stack", STACKS)
def test_the_settings_table_matches_what_the_program_builds(synthed, stack):
    table = _settings_table()
    built = _built_settings(synthed(stack))
    assert set(table) == set(built)
    assert {key: row[stack] for key, row in table.items()} == built


def test_the_front_door_detection_times_follow_the_monitor(synthed):
    """An origin is out after one interval plus (retries + 1) timeouts; the pages quote it."""
    quoted = {}
    for stack in STACKS:
        monitor = synthed(stack).one("cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor").inputs
        quoted[stack] = int(monitor["interval"] + (monitor["retries"] + 1) * monitor["timeout"])
    assert quoted == {"dev": 72, "staging": 72, "prod": 42}
    for page in ("dr-index.md", "dr-zone-loss.md", "dr-aws-region-loss.md"):
        text = (RUNBOOKS / page).read_text()
        assert f"{quoted['prod']} s" in text and f"{quoted['staging']} s" in text, page


def _steering_commands() -> list[tuple[str, str]]:
    text = _text("dr-aws-region-loss.md")
    return re.findall(r"pulumi config set --path '(platform:cloudflare\.steering\.[^']+)' (\S+?)`", text)


def _apply(config: dict[str, Any], key: str, value: str) -> None:
    top, *path = key.split(".")
    node = config.setdefault(top, {})
    for segment in path[:-1]:
        node = node.setdefault(segment, {})
    node[path[-1]] = float(value) if re.fullmatch(r"[\d.]+", value) else value


@pytest.mark.parametrize(("stack", "aws_weight"), [("prod", 0.0), ("staging", 0.01)])
def test_the_region_loss_steering_keys_send_the_traffic_to_gcp(stack, aws_weight):
    """The stack-file intent the region-loss runbook records is accepted by the config and does
    what the page says: Korea first to GCP, the split pool's AWS origins at weight 0 in prod
    (0.01 each in the two-AZ stacks)."""
    commands = _steering_commands()
    assert len(commands) == 3
    config = copy.deepcopy(read_stack_config(stack))
    for key, value in commands:
        _apply(config, key, value)
    result = synth(stack, config)
    pools = result.outputs["cloudflarePoolIds"]
    split = _by_suffix(result, "cloudflare:index/loadBalancerPool:LoadBalancerPool", "-edge-split")
    weights = {o["name"]: o["weight"] for o in split["origins"]}
    assert {w for name, w in weights.items() if name.startswith("aws-primary-")} == {aws_weight}
    assert weights[f"gcp-secondary-{result.outputs['gcpRegion']}"] == 1.0
    apex = result.one("cloudflare:index/loadBalancer:LoadBalancer", f"heal7-{stack}-edge-lb-{_apex(stack)}").inputs
    assert apex["countryPools"]["KR"][0] == pools["gcp-secondary"]


def _apex(stack: str) -> str:
    return {"prod": "heal7-com", "staging": "heal7-staging-com"}[stack]


def test_the_runbooks_quote_the_rds_identifier_the_program_fixes(synthed):
    result = synthed("prod")
    identifier = result.one("aws:rds/instance:Instance").inputs["identifier"]
    # The runbooks derive it from the address (`cut -d. -f1`) and rename around it.
    assert result.outputs["rdsAddress"].split(".")[0] == identifier == "heal7-prod-postgres"
    assert "cut -d. -f1" in _text("dr-data-loss.md")
    assert f"--db-instance-identifier {identifier}" in _text("dr-aws-region-loss.md")


def test_writers_restart_at_their_minimum_replicas():
    """An HPA does not scale a workload up from 0, so the runbooks restart each one at its
    configured minimum; a different number would leave it under- or over-provisioned."""
    workloads = read_stack_config("prod")["platform:workloads"]
    text = _all_runbook_text()
    restarts = re.findall(r"scale deployment (heal7-[a-z-]+) --replicas=([1-9]\d*)", text)
    restarts += re.findall(
        r"patch rollout (heal7-[a-z-]+) --type merge -p '\{\"spec\":\{\"replicas\":([1-9]\d*)\}\}'", text
    )
    assert {name for name, _ in restarts} == {"heal7-web-main", "heal7-api-gateway", "heal7-saju-engine"}
    for name, replicas in restarts:
        assert int(replicas) == workloads[name]["autoscaling"]["minReplicas"], name
