"""The pack as a whole: its metadata, the engine's view of it (the real analyzer over
gRPC), per-stack policy config, unknown values in preview, and the three stacks."""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, Severity
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from policy import rules
from policy.rules import ALL_POLICIES, RULE_MODULES
from policy.runner import PolicyConfigError, config_file_for, evaluate, load_policy_config, resolve_settings
from tests.conftest import PROJECT_ROOT, STACKS
from tests.policy_fixtures import deployment, mutated, record, registration
from tools.plan import main as plan_main

POLICY_DIR = PROJECT_ROOT / "policy"
BY_NAME = {p.name: p for p in ALL_POLICIES}
RDS = "heal7-prod-postgres-db"


# -- metadata ------------------------------------------------------------------------

def test_every_rule_module_is_registered_and_every_name_unique():
    modules = {p.stem for p in (POLICY_DIR / "rules").glob("*.py")} - {"__init__", "framework"}
    assert {m.__name__.rsplit(".", 1)[1] for m in RULE_MODULES} == modules
    assert ALL_POLICIES == [p for module in RULE_MODULES for p in module.POLICIES]
    names = [p.name for p in ALL_POLICIES]
    assert len(names) == len(set(names)) and len(names) >= 60


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.name)
def test_each_control_carries_its_metadata(policy):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy.name)
    assert policy.description.endswith(".") and "\n" not in policy.description and len(policy.description) < 120
    assert policy.severity in Severity and policy.framework and policy.framework.name and policy.framework.reference
    assert policy.remediation_steps and policy.tags == [policy.family]
    expected = EnforcementLevel.MANDATORY if policy.severity in (Severity.CRITICAL, Severity.HIGH) \
        else EnforcementLevel.ADVISORY
    assert policy.enforcement_level == expected
    # Each control says what an absent property means.
    assert re.match(r"(secure|insecure|mixed|not applicable)", policy.when_absent)
    for setting in policy.settings.values():
        assert "default" in setting and ("type" in setting or "enum" in setting)
    if isinstance(policy, ResourceValidationPolicy):
        assert policy.resource_types


def test_families_and_counts():
    families = {}
    for policy in ALL_POLICIES:
        families[policy.family] = families.get(policy.family, 0) + 1
    assert families == {"aws-eks": 6, "aws-data": 12, "aws-storage": 11, "aws-network": 3, "gcp-gke": 16,
                        "gcp-data": 6, "cloudflare": 6, "kubernetes": 29, "stack": 8}


def test_pack_entry_point_only_builds_the_pack():
    source = (POLICY_DIR / "__main__.py").read_text()
    assert "from rules import ALL_POLICIES" in source and "policies=ALL_POLICIES" in source
    assert re.search(r"^runtime:\s*\n\s+name: python", (POLICY_DIR / "PulumiPolicy.yaml").read_text(), re.M)
    pins = set((POLICY_DIR / "requirements.txt").read_text().split()) & \
        set((PROJECT_ROOT / "requirements-dev.txt").read_text().split() +
            (PROJECT_ROOT / "requirements.txt").read_text().split())
    assert {"pulumi-policy==1.21.0", "pulumi==3.272.0"} <= pins
    assert rules.__doc__


# -- the engine's view: the pack served over gRPC, as `pulumi preview --policy-pack` runs it -----

@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The engine runs the pack's __main__.py from the pack's directory.
    process = subprocess.Popen([sys.executable, "-u", "__main__.py"], cwd=POLICY_DIR, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert port.isdigit(), process.stderr.read()  # type: ignore[union-attr]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.kill()
        process.wait()


def _struct(values: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(values, struct)
    return struct


def _analyze(stub, resource, provider) -> list:
    request = analyzer_pb2.AnalyzeRequest(
        type=resource.type, properties=_struct(resource.inputs), urn=resource.urn, name=resource.name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect),
        provider=analyzer_pb2.AnalyzerProviderResource(type=provider.type, properties=_struct(provider.inputs),
                                                       urn=provider.urn, name=provider.name))
    return list(stub.Analyze(request).diagnostics)


def test_engine_sees_every_policy_with_its_level(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "multicloud-platform-security"
    served = {p.name: p for p in info.policies}
    assert set(served) == set(BY_NAME)
    for name, policy in served.items():
        mandatory = BY_NAME[name].severity in (Severity.CRITICAL, Severity.HIGH)
        assert policy.enforcementLevel == (analyzer_pb2.MANDATORY if mandatory else analyzer_pb2.ADVISORY)
        assert policy.remediation_steps and policy.framework.reference
    assert set(served["rds-backup-retention"].configSchema.properties) == {"minimumDays"}


def test_engine_path_reports_violations_config_and_unknowns(analyzer, synthed):
    rds = next(r for r in synthed("prod").resources if r.name == RDS and r.package == "aws")
    provider = synthed("prod").one("pulumi:providers:aws")
    assert _analyze(analyzer, rds, provider) == []

    diagnostics = _analyze(analyzer, mutated(rds, {"storageEncrypted": False, "deletionProtection": False}), provider)
    levels = {d.policyName: d.enforcementLevel for d in diagnostics}
    assert levels == {"rds-storage-encrypted": analyzer_pb2.MANDATORY,
                      "rds-deletion-protection": analyzer_pb2.MANDATORY}

    # dev's config file relaxes deletion protection, exactly as --policy-pack-config would.
    dev = load_policy_config(config_file_for("dev"))
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        name: analyzer_pb2.PolicyConfig(enforcementLevel=getattr(analyzer_pb2, value.upper()))
        for name, value in dev.items()}))
    try:
        levels = {d.policyName: d.enforcementLevel
                  for d in _analyze(analyzer, mutated(rds, {"storageEncrypted": False, "deletionProtection": False}),
                                    provider)}
        assert levels == {"rds-storage-encrypted": analyzer_pb2.MANDATORY,
                          "rds-deletion-protection": analyzer_pb2.ADVISORY}
    finally:
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={}))

    # Settings travel as a protobuf Struct, numbers as floats.
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        "rds-backup-retention": analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY,
                                                          properties=_struct({"minimumDays": 14}))}))
    try:
        [diagnostic] = _analyze(analyzer, rds, provider)
        assert diagnostic.policyName == "rds-backup-retention" and "kept 7 days, below 14 days" in diagnostic.message
    finally:
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={}))

    # An unknown value in preview: an advisory "can't run" note, never a violation, no crash.
    diagnostics = _analyze(analyzer, mutated(rds, {"storageEncrypted": UNKNOWN_BOOLEAN_VALUE}), provider)
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == \
        [("rds-storage-encrypted", analyzer_pb2.ADVISORY)]
    assert "can't be known during preview" in diagnostics[0].message


# -- the in-process runner mirrors it -------------------------------------------------

def test_runner_reports_unknowns_as_not_evaluated(synthed):
    rds = next(r for r in synthed("prod").resources if r.name == RDS and r.package == "aws")
    provider = synthed("prod").one("pulumi:providers:aws")
    report = evaluate(record(provider, mutated(rds, {"storageEncrypted": UNKNOWN_BOOLEAN_VALUE}), stack="prod"))
    assert report.violations == []
    assert report.not_evaluated == [{"policy": "rds-storage-encrypted", "urn": rds.urn,
                                     "reason": "boolean value at .storageEncrypted can't be known during preview"}]


def test_stack_policies_skip_only_the_unknown_resource():
    known_workload = deployment()
    unknown_workload = mutated(deployment(), {"metadata.namespace": UNKNOWN_STRING_VALUE})
    unknown_workload.name, unknown_workload.urn = "api", unknown_workload.urn.replace("web-main", "api")
    report = evaluate(record(known_workload, unknown_workload),
                      policies=[BY_NAME["k8s-namespace-network-policy"]])
    assert [(v.resource_name, v.policy) for v in report.violations] == [("web-main", "k8s-namespace-network-policy")]


# -- per-stack policy config -----------------------------------------------------------

def test_config_relaxes_or_disables_a_policy(synthed):
    dev = synthed("dev")
    strict = evaluate(dev)
    assert {v.policy for v in strict.mandatory} >= {"rds-deletion-protection", "prod-stateful-protected"}
    relaxed = evaluate(dev, load_policy_config(config_file_for("dev")))
    assert relaxed.mandatory == []
    assert {v.policy for v in relaxed.advisory} == {"rds-multi-az", "rds-deletion-protection",
                                                    "cloudsql-deletion-protection"}
    everything_advisory = evaluate(dev, {"all": "advisory"})
    assert everything_advisory.mandatory == [] and len(everything_advisory.advisory) == len(strict.violations)


def test_config_changes_a_policy_setting(synthed):
    prod = synthed("prod")
    report = evaluate(prod, {"rds-backup-retention": {"minimumDays": 14}})
    assert [(v.policy, v.resource_name, v.enforcement) for v in report.violations] == \
        [("rds-backup-retention", RDS, "mandatory")]
    assert "kept 7 days, below 14 days" in report.violations[0].message
    # prod's own file escalates tagging to mandatory.
    assert resolve_settings(load_policy_config(config_file_for("prod")))["required-tags"].enforcement \
        == EnforcementLevel.MANDATORY


@pytest.mark.parametrize(("document", "expected"), [
    ({"rds-backup-retension": "advisory"}, "rds-backup-retension: no such policy in the pack"),
    ({"rds-multi-az": "warn"}, "rds-multi-az.enforcementLevel: expected one of"),
    ({"rds-backup-retention": {"minimumDays": "7"}}, "rds-backup-retention.minimumDays: '7' is not of type 'integer'"),
    ({"rds-backup-retention": {"minimumDay": 7}}, "rds-backup-retention.(settings): Additional properties"),
])
def test_bad_policy_config_names_the_file_and_key(tmp_path, document, expected):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(document))
    with pytest.raises(PolicyConfigError) as raised:
        load_policy_config(path)
    assert str(raised.value).startswith("dev.json: ") and expected in str(raised.value)


def test_aws_tags_come_from_the_provider_default_tags(synthed):
    prod = synthed("prod")
    provider = prod.one("pulumi:providers:aws")
    rds = next(r for r in prod.resources if r.name == RDS and r.package == "aws")
    assert evaluate(record(provider, rds), policies=[BY_NAME["required-tags"]]).violations == []
    untagged = mutated(provider, {"defaultTags": json.dumps({"tags": {"project": "heal7"}})})
    report = evaluate(record(untagged, rds), policies=[BY_NAME["required-tags"]])
    assert "lack ['environment', 'owner', 'cost-center', 'managed-by']" in report.violations[0].message


@pytest.mark.parametrize(("name", "port", "violates"), [
    ("heal7-prod-ingress-lb-https", 443, False),
    ("heal7-prod-ingress-lb-ssh", 22, True),
    ("heal7-prod-admin-https", 443, True),
])
def test_only_the_ingress_load_balancer_opens_web_ports(name, port, violates):
    rule = registration("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", name, {
        "cidrIpv4": "0.0.0.0/0", "fromPort": port, "toPort": port, "ipProtocol": "tcp", "description": "public"})
    report = evaluate(record(rule), policies=[BY_NAME["security-group-no-public-ingress"]])
    assert bool(report.violations) is violates


# -- the stacks --------------------------------------------------------------------------

EXPECTED_ADVISORIES = {
    # dev: single-AZ, deletable databases by design (stacks/tiers.py); relaxed in policy/config/dev.json.
    "dev": {("rds-multi-az", "heal7-dev-postgres-db"), ("rds-deletion-protection", "heal7-dev-postgres-db"),
            ("cloudsql-deletion-protection", "heal7-dev-postgres-replica-db")},
    "staging": {("rds-deletion-protection", "heal7-staging-postgres-db"),
                ("cloudsql-deletion-protection", "heal7-staging-postgres-replica-db")},
    "prod": set(),
}


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_with_its_policy_config(synthed, stack):
    report = evaluate(synthed(stack), load_policy_config(config_file_for(stack)))
    assert report.mandatory == [] and report.not_evaluated == []
    assert {(v.policy, v.resource_name) for v in report.advisory} == EXPECTED_ADVISORIES[stack]


def test_plan_fails_on_a_mandatory_violation(tmp_path, monkeypatch, synthed):
    unencrypted = synthed("prod")
    broken = [mutated(r, {"storageEncrypted": False}) if r.name == RDS and r.package == "aws" else r
              for r in unencrypted.resources]
    monkeypatch.setattr("tools.plan.synth", lambda stack: type(unencrypted)(stack, broken, {}, []))
    assert plan_main(["prod", "--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "prod" / "policy-report.json").read_text())
    assert report["mandatory"] == 1 and report["violations"][0]["policy"] == "rds-storage-encrypted"
    assert report["violations"][0]["resourceName"] == RDS


def test_plan_writes_the_report_and_passes(tmp_path, monkeypatch, synthed):
    monkeypatch.setattr("tools.plan.synth", lambda stack: synthed(stack))
    assert plan_main(["dev", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "dev" / "policy-report.json").read_text())
    assert (report["configFile"], report["policies"], report["mandatory"], report["advisory"]) == \
        ("dev.json", len(ALL_POLICIES), 0, 4)


def test_relations_with_unknown_references_are_not_violations():
    guardrails = BY_NAME["s3-bucket-guardrails"]
    bucket = registration("aws:s3/bucket:Bucket", "logs", {"bucket": "logs-1a2b"})
    bare = evaluate(record(bucket), policies=[guardrails])
    assert [v.message.split(": ", 1)[1].split(". Fix")[0] for v in bare.violations] == [
        "lacks a public access block", "lacks default encryption", "lacks versioning", "lacks a TLS-only bucket policy"]
    # In preview a new companion's `bucket` is unknown and has no dependency recorded: not provably missing.
    companions = [registration(t, f"logs-{i}", {"bucket": UNKNOWN_STRING_VALUE})
                  for i, t in enumerate(["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                                         "aws:s3/bucketServerSideEncryptionConfiguration:"
                                         "BucketServerSideEncryptionConfiguration",
                                         "aws:s3/bucketVersioning:BucketVersioning",
                                         "aws:s3/bucketPolicy:BucketPolicy"])]
    assert evaluate(record(bucket, *companions), policies=[guardrails]).violations == []


def test_engine_stack_analysis_finds_a_literal_beside_unknown_outputs(analyzer):
    """AnalyzeStack in preview: a new resource's computed outputs are unknown; its literal still shows."""
    database = analyzer_pb2.AnalyzerResource(
        type="aws:rds/instance:Instance", name="orders", urn="urn:pulumi:prod::p::aws:rds/instance:Instance::orders",
        properties=_struct({"password": "hunter2-but-longer", "arn": UNKNOWN_STRING_VALUE, "port": 5432}),
        options=analyzer_pb2.AnalyzerResourceOptions(protect=True))
    diagnostics = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[database])).diagnostics
    assert [(d.policyName, d.urn) for d in diagnostics] == [("no-literal-secrets", database.urn)]
    assert "password is a secret-named input set to a literal" in diagnostics[0].message


def test_the_ingress_firewall_exception_holds_with_engine_settings(synthed):
    firewall = registration("gcp:compute/firewall:Firewall", "heal7-prod-ingress-lb-https", {
        "direction": "INGRESS", "sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["443"]}]})
    control = [BY_NAME["gcp-firewall-no-public-ingress"]]
    assert evaluate(record(firewall), {"gcp-firewall-no-public-ingress": {"allowedPublicPorts": [80, 443]}},
                    policies=control).violations == []
    wide = mutated(firewall, {"allows": [{"protocol": "TCP", "ports": ["80-8080"]}]})
    assert len(evaluate(record(wide), policies=control).violations) == 1


@pytest.mark.parametrize(("rule", "shown"), [
    ({"ipProtocol": "icmp"}, "icmp, all ports"),
    ({"ipProtocol": "-1"}, "-1, all ports"),
    ({"ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0}, "tcp ports 22-22"),
])
def test_public_ingress_messages_for_portless_and_port_rules(rule, shown):
    resource = registration("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "admin",
                            {"cidrIpv4": "0.0.0.0/0", "description": "admin", **rule})
    [violation] = evaluate(record(resource), policies=[BY_NAME["security-group-no-public-ingress"]]).violations
    assert f"ingress from the internet ({shown})" in violation.message


def test_an_unknown_companion_hides_nothing_about_other_buckets():
    guardrails = [BY_NAME["s3-bucket-guardrails"]]
    first = registration("aws:s3/bucket:Bucket", "first", {"bucket": "first-1a"})
    second = registration("aws:s3/bucket:Bucket", "second", {"bucket": "second-2b"})
    companions = {t: registration(t, f"first-{i}", {"bucket": "first-1a"}) for i, t in enumerate([
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
        "aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketPolicy:BucketPolicy"])}
    # `second` has everything but versioning; first's versioning is new, its reference still unknown
    # but recorded as a dependency on `first`.
    first_versioning = companions["aws:s3/bucketVersioning:BucketVersioning"]
    first_versioning.inputs["bucket"] = first_versioning.outputs["bucket"] = UNKNOWN_STRING_VALUE
    first_versioning.property_dependencies = {"bucket": [first.urn]}
    second_companions = [mutated(r, {"bucket": "second-2b"}) for t, r in companions.items()
                         if t != "aws:s3/bucketVersioning:BucketVersioning"]
    for index, companion in enumerate(second_companions):
        companion.name, companion.urn = f"second-{index}", f"{companion.urn}-second"
    report = evaluate(record(first, second, *companions.values(), *second_companions), policies=guardrails)
    assert [(v.resource_name, v.message.split(": ", 1)[1].split(". Fix")[0]) for v in report.violations] == [
        ("second", "lacks versioning")]


@pytest.mark.parametrize(("average", "max_replicas", "message"), [
    ("500", 20, None),
    ("500000m", 20, None),
    ("0.5k", 19, "19 replicas x 500 rps = 9500 rps at most, below the declared 10000 rps"),
])
def test_throughput_headroom_reads_kubernetes_quantities(average, max_replicas, message):
    from tests.policy_fixtures import autoscaler
    hpa = mutated(autoscaler(), {"spec.maxReplicas": max_replicas,
                                 "spec.metrics.0.pods.target.averageValue": average})
    violations = evaluate(record(hpa), policies=[BY_NAME["hpa-throughput-reachable"]]).violations
    assert [v.message.split(": ", 1)[1].split(". Fix")[0] for v in violations] == ([message] if message else [])


def test_literal_secrets_are_found_inside_lists_and_enum_settings_are_not():
    container_env = mutated(deployment(), {"spec.template.spec.containers.0.env": [
        {"name": "GITHUB_TOKEN", "value": "ghp_" + "a1B2c3D4e5" * 4}]})
    redis_like = registration("aws:elasticache/replicationGroup:ReplicationGroup", "cache", {
        "authTokenUpdateStrategy": "ROTATE", "masterUserSecrets": [{"secretStatus": "active"}],
        "description": "cache"})
    report = evaluate(record(container_env, redis_like), policies=[BY_NAME["no-literal-secrets"]])
    assert [(v.resource_name, v.message.split(": ", 1)[1].split(". Fix")[0]) for v in report.violations] == [
        ("web-main", "spec.template.spec.containers[0].env[0].value holds a credential-shaped literal")]
