"""The pack as the Pulumi engine runs it: `policy/__main__.py` started from `policy/` the way
the CLI starts it, then driven over gRPC (policy list, Analyze, Configure, AnalyzeStack)."""

import os
import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import Severity
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from policy.runner import config_file_for, load_policy_config
from tests.conftest import PROJECT_ROOT
from tests.policy_fixtures import BY_NAME, PROD_RDS, mutated

POLICY_DIR = PROJECT_ROOT / "policy"


# -- the engine's view: the pack served over gRPC, as `pulumi preview --policy-pack` runs it -----


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The engine runs the pack's __main__.py from the pack's directory.
    process = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=POLICY_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
        type=resource.type,
        properties=_struct(resource.inputs),
        urn=resource.urn,
        name=resource.name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect),
        provider=analyzer_pb2.AnalyzerProviderResource(
            type=provider.type, properties=_struct(provider.inputs), urn=provider.urn, name=provider.name
        ),
    )
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
    rds = next(r for r in synthed("prod").resources if r.name == PROD_RDS and r.package == "aws")
    provider = synthed("prod").one("pulumi:providers:aws")
    assert _analyze(analyzer, rds, provider) == []

    diagnostics = _analyze(analyzer, mutated(rds, {"storageEncrypted": False, "deletionProtection": False}), provider)
    levels = {d.policyName: d.enforcementLevel for d in diagnostics}
    assert levels == {
        "rds-storage-encrypted": analyzer_pb2.MANDATORY,
        "rds-deletion-protection": analyzer_pb2.MANDATORY,
    }

    # dev's config file relaxes deletion protection, exactly as --policy-pack-config would.
    dev = load_policy_config(config_file_for("dev"))
    analyzer.Configure(
        analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                name: analyzer_pb2.PolicyConfig(enforcementLevel=getattr(analyzer_pb2, value.upper()))
                for name, value in dev.items()
            }
        )
    )
    try:
        levels = {
            d.policyName: d.enforcementLevel
            for d in _analyze(
                analyzer, mutated(rds, {"storageEncrypted": False, "deletionProtection": False}), provider
            )
        }
        assert levels == {
            "rds-storage-encrypted": analyzer_pb2.MANDATORY,
            "rds-deletion-protection": analyzer_pb2.ADVISORY,
        }
    finally:
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={}))

    # Settings travel as a protobuf Struct, numbers as floats.
    analyzer.Configure(
        analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                "rds-backup-retention": analyzer_pb2.PolicyConfig(
                    enforcementLevel=analyzer_pb2.MANDATORY, properties=_struct({"minimumDays": 14})
                )
            }
        )
    )
    try:
        [diagnostic] = _analyze(analyzer, rds, provider)
        assert diagnostic.policyName == "rds-backup-retention" and "kept 7 days, below 14 days" in diagnostic.message
    finally:
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={}))

    # An unknown value in preview: an advisory "can't run" note, never a violation, no crash.
    diagnostics = _analyze(analyzer, mutated(rds, {"storageEncrypted": UNKNOWN_BOOLEAN_VALUE}), provider)
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("rds-storage-encrypted", analyzer_pb2.ADVISORY)
    ]
    assert "can't be known during preview" in diagnostics[0].message


def test_engine_stack_analysis_finds_a_literal_beside_unknown_outputs(analyzer):
    """AnalyzeStack in preview: a new resource's computed outputs are unknown; its literal still shows."""
    database = analyzer_pb2.AnalyzerResource(
        type="aws:rds/instance:Instance",
        name="orders",
        urn="urn:pulumi:prod::p::aws:rds/instance:Instance::orders",
        properties=_struct({"password": "hunter2-but-longer", "arn": UNKNOWN_STRING_VALUE, "port": 5432}),
        options=analyzer_pb2.AnalyzerResourceOptions(protect=True),
    )
    diagnostics = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[database])).diagnostics
    assert [(d.policyName, d.urn) for d in diagnostics] == [("no-literal-secrets", database.urn)]
    assert "password is a secret-named input set to a literal" in diagnostics[0].message
