"""The pack as a whole: every module registered, each control's metadata, per-stack policy
config (levels, settings, errors), and the three stacks and `make plan` under their configs."""

import json
import re

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, Severity

from policy import rules
from policy.rules import ALL_POLICIES, RULE_MODULES
from policy.runner import PolicyConfigError, config_file_for, evaluate, load_policy_config, resolve_settings
from tests.conftest import PROJECT_ROOT, STACKS
from tests.policy_fixtures import PROD_RDS, mutated
from tools.plan import main as plan_main

POLICY_DIR = PROJECT_ROOT / "policy"


# -- metadata ------------------------------------------------------------------------


def test_every_rule_module_is_registered_and_every_name_unique():
    modules = {p.stem for p in (POLICY_DIR / "rules").glob("*.py")} - {"__init__", "framework"}
    assert {m.__name__.rsplit(".", 1)[1] for m in RULE_MODULES} == modules
    assert [p for module in RULE_MODULES for p in module.POLICIES] == ALL_POLICIES
    names = [p.name for p in ALL_POLICIES]
    assert len(names) == len(set(names)) and len(names) >= 60


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.name)
def test_each_control_carries_its_metadata(policy):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy.name)
    assert policy.description.endswith(".") and "\n" not in policy.description and len(policy.description) < 120
    assert policy.severity in Severity and policy.framework and policy.framework.name and policy.framework.reference
    assert policy.remediation_steps and policy.tags == [policy.family]
    expected = (
        EnforcementLevel.MANDATORY
        if policy.severity in (Severity.CRITICAL, Severity.HIGH)
        else EnforcementLevel.ADVISORY
    )
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
    assert families == {
        "aws-eks": 6,
        "aws-data": 12,
        "aws-storage": 11,
        "aws-network": 3,
        "gcp-gke": 16,
        "gcp-data": 6,
        "cloudflare": 6,
        "kubernetes": 35,
        "stack": 9,
    }


def test_pack_entry_point_only_builds_the_pack():
    source = (POLICY_DIR / "__main__.py").read_text()
    assert "from rules import ALL_POLICIES" in source and "policies=ALL_POLICIES" in source
    assert re.search(r"^runtime:\s*\n\s+name: python", (POLICY_DIR / "PulumiPolicy.yaml").read_text(), re.M)
    pins = set((POLICY_DIR / "requirements.txt").read_text().split()) & set(
        (PROJECT_ROOT / "requirements-dev.txt").read_text().split()
        + (PROJECT_ROOT / "requirements.txt").read_text().split()
    )
    assert {"pulumi-policy==1.21.0", "pulumi==3.272.0"} <= pins
    assert rules.__doc__


# -- per-stack policy config -----------------------------------------------------------


def test_config_relaxes_or_disables_a_policy(synthed):
    dev = synthed("dev")
    strict = evaluate(dev)
    assert {v.policy for v in strict.mandatory} >= {"rds-deletion-protection", "prod-stateful-protected"}
    relaxed = evaluate(dev, load_policy_config(config_file_for("dev")))
    assert relaxed.mandatory == []
    assert {v.policy for v in relaxed.advisory} == {
        "rds-multi-az",
        "rds-deletion-protection",
        "cloudsql-deletion-protection",
    }
    everything_advisory = evaluate(dev, {"all": "advisory"})
    assert everything_advisory.mandatory == [] and len(everything_advisory.advisory) == len(strict.violations)


def test_config_changes_a_policy_setting(synthed):
    prod = synthed("prod")
    report = evaluate(prod, {"rds-backup-retention": {"minimumDays": 14}})
    assert [(v.policy, v.resource_name, v.enforcement) for v in report.violations] == [
        ("rds-backup-retention", PROD_RDS, "mandatory")
    ]
    assert "kept 7 days, below 14 days" in report.violations[0].message
    # prod's own file escalates tagging to mandatory.
    assert (
        resolve_settings(load_policy_config(config_file_for("prod")))["required-tags"].enforcement
        == EnforcementLevel.MANDATORY
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"rds-backup-retension": "advisory"}, "rds-backup-retension: no such policy in the pack"),
        ({"rds-multi-az": "warn"}, "rds-multi-az.enforcementLevel: expected one of"),
        (
            {"rds-backup-retention": {"minimumDays": "7"}},
            "rds-backup-retention.minimumDays: '7' is not of type 'integer'",
        ),
        ({"rds-backup-retention": {"minimumDay": 7}}, "rds-backup-retention.(settings): Additional properties"),
    ],
)
def test_bad_policy_config_names_the_file_and_key(tmp_path, document, expected):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(document))
    with pytest.raises(PolicyConfigError) as raised:
        load_policy_config(path)
    assert str(raised.value).startswith("dev.json: ") and expected in str(raised.value)


# -- the stacks --------------------------------------------------------------------------

EXPECTED_ADVISORIES = {
    # dev: single-AZ, deletable databases by design (stacks/config/tiers.py); relaxed in policy/config/dev.json.
    "dev": {
        ("rds-multi-az", "heal7-dev-postgres-db"),
        ("rds-deletion-protection", "heal7-dev-postgres-db"),
        ("cloudsql-deletion-protection", "heal7-dev-postgres-replica-db"),
    },
    "staging": {
        ("rds-deletion-protection", "heal7-staging-postgres-db"),
        ("cloudsql-deletion-protection", "heal7-staging-postgres-replica-db"),
    },
    "prod": set(),
}


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_with_its_policy_config(synthed, stack):
    report = evaluate(synthed(stack), load_policy_config(config_file_for(stack)))
    assert report.mandatory == [] and report.not_evaluated == []
    assert {(v.policy, v.resource_name) for v in report.advisory} == EXPECTED_ADVISORIES[stack]


def test_plan_fails_on_a_mandatory_violation(tmp_path, monkeypatch, synthed):
    unencrypted = synthed("prod")
    broken = [
        mutated(r, {"storageEncrypted": False}) if r.name == PROD_RDS and r.package == "aws" else r
        for r in unencrypted.resources
    ]
    monkeypatch.setattr("tools.plan.synth", lambda stack: type(unencrypted)(stack, broken, {}, []))
    assert plan_main(["prod", "--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "prod" / "policy-report.json").read_text())
    assert report["mandatory"] == 1 and report["violations"][0]["policy"] == "rds-storage-encrypted"
    assert report["violations"][0]["resourceName"] == PROD_RDS


def test_plan_writes_the_report_and_passes(tmp_path, monkeypatch, synthed):
    monkeypatch.setattr("tools.plan.synth", lambda stack: synthed(stack))
    assert plan_main(["dev", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "dev" / "policy-report.json").read_text())
    assert (report["configFile"], report["policies"], report["mandatory"], report["advisory"]) == (
        "dev.json",
        len(ALL_POLICIES),
        0,
        4,
    )
