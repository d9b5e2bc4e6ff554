"""The policy pack's workload controls (policy/rules/k8s_workloads.py and k8s_scheduling.py) on
the stacks' real workloads: every workload object of every stack, and of the email-platform
example, passes each of them under its stack's policy config, mandatory in prod. Each control's
one-property regression on prod's own workloads is in tests/test_policy_prod.py."""

from typing import Any

import pytest
import yaml
from pulumi_policy import EnforcementLevel, Severity

from policy.rules import k8s_scheduling, k8s_workloads
from policy.rules.k8s_workloads import POD_SPEC_PATHS
from policy.runner import config_file_for, evaluate, load_policy_config, resolve_settings
from stacks.config.tiers import deep_merge
from tests.conftest import PROJECT_ROOT, STACKS
from tools.synth import SynthResult, read_stack_config, synth

# Workload controls the stacks' real workloads do not pass yet, and why (none: the images
# are pinned by digest since stacks/images.py).
NOT_YET_PASSING: frozenset[str] = frozenset()
WORKLOAD_CONTROLS = [*k8s_workloads.POLICIES, *k8s_scheduling.POLICIES]
EMAIL_PLATFORM = PROJECT_ROOT / "examples" / "email-platform" / "stack.yaml"
WITH_EMAIL_PLATFORM = "prod+email-platform"


def _stack(synthed, stack: str) -> tuple[SynthResult, dict[str, Any]]:
    """A stack's synth record and config; WITH_EMAIL_PLATFORM is prod with the example's overlay."""
    if stack != WITH_EMAIL_PLATFORM:
        return synthed(stack), read_stack_config(stack)
    config = deep_merge(read_stack_config("prod"), yaml.safe_load(EMAIL_PLATFORM.read_text()))
    return synth("prod", config), config


def _placed(config: dict[str, Any], stack: str) -> set[str]:
    """The AppDeployment of each workload on each cluster its config places it on."""
    return {
        f"heal7-{stack}-{cluster}-{name}"
        for name, workload in config["platform:workloads"].items()
        for cluster in workload["placement"]
    }


@pytest.mark.parametrize("stack", [*STACKS, WITH_EMAIL_PLATFORM])
def test_every_workload_passes_every_workload_control(synthed, stack):
    """Every workload object under its stack's policy config passes every workload control but
    those in NOT_YET_PASSING, and each of those fails on every workload (so the exception cannot
    outlive its reason)."""
    result, config = _stack(synthed, stack)
    tier = stack.split("+")[0]
    # Each workload's Deployment (or Rollout), on each cluster its config places it on; the
    # logging stack's retention Job passes the same controls in the plan (test_logging_stack.py).
    # The backup CronJobs (EKS) are evaluated with the rest below: no violation on them either.
    backups = {r.name for r in result.resources if r.type == "kubernetes:batch/v1:CronJob"}
    assert backups == {f"heal7-{tier}-eks-backups-dump", f"heal7-{tier}-eks-backups-drill"}
    workloads = {
        r.name
        for r in result.resources
        if r.type in POD_SPEC_PATHS and not r.name.endswith("-logging-lifecycle") and r.name not in backups
    }
    assert {name.rsplit("-", 1)[0] for name in workloads} == _placed(config, tier)
    assert len(workloads) == (10 if stack == WITH_EMAIL_PLATFORM else 6)
    names = {p.name for p in WORKLOAD_CONTROLS}
    document = {k: v for k, v in load_policy_config(config_file_for(tier)).items() if k == "all" or k in names}
    report = evaluate(result, document, policies=WORKLOAD_CONTROLS, config_file=f"{tier}.json")
    assert report.not_evaluated == []
    assert {(v.policy, v.resource_name) for v in report.violations} == {
        (policy, name) for policy in NOT_YET_PASSING for name in workloads
    }


def test_every_workload_control_is_mandatory_in_prod():
    levels = resolve_settings(load_policy_config(config_file_for("prod")))
    assert {p.name for p in WORKLOAD_CONTROLS if levels[p.name].enforcement != EnforcementLevel.MANDATORY} == set()
    # Dev and staging: each at its severity's level, but the digest control, advisory there
    # (policy/config/dev.json, staging.json) while the images are tag references.
    for stack in ("dev", "staging"):
        levels = resolve_settings(load_policy_config(config_file_for(stack)))
        advisory = {p.name for p in WORKLOAD_CONTROLS if levels[p.name].enforcement == EnforcementLevel.ADVISORY}
        lenient = {p.name for p in WORKLOAD_CONTROLS if p.severity in (Severity.MEDIUM, Severity.LOW)}
        assert advisory == lenient | {"k8s-image-digest"}
    assert {p.name for p in WORKLOAD_CONTROLS if p.severity in (Severity.CRITICAL, Severity.HIGH)} == {
        "k8s-image-no-latest",
        "k8s-image-digest",
        "k8s-no-privileged",
        "k8s-no-host-pid",
        "k8s-no-host-ipc",
        "k8s-no-host-network",
        "k8s-no-privilege-escalation",
        "k8s-run-as-non-root",
        "k8s-dedicated-pool-placement",
    }
