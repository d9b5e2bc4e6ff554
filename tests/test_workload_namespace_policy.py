"""k8s-workload-namespace-baseline beyond its one-property case: what counts as default-deny,
per-cluster matching, the namespaces it ignores, its belowRestricted setting, and unknowns."""

from dataclasses import replace

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.runner import evaluate
from tests.policy_fixtures import (
    BY_NAME,
    DELETE,
    NAMESPACE,
    WORKLOAD_LABELS,
    default_deny,
    mutated,
    namespace,
    record,
    registration,
)
from tools.synth import Registration

POLICY = BY_NAME["k8s-workload-namespace-baseline"]
ENFORCE = "pod-security.kubernetes.io/enforce"
NO_DENY = f"workload namespace {NAMESPACE!r} has no default-deny NetworkPolicy"


def _problems(*resources: Registration, config: dict | None = None) -> list[str]:
    report = evaluate(record(*resources), config, policies=[POLICY])
    assert report.not_evaluated == []
    return [v.message.split(": ", 1)[1].split(". Fix:")[0] for v in report.violations]


def test_the_compliant_namespace_passes():
    assert _problems(namespace(), default_deny()) == []


@pytest.mark.parametrize(
    "change",
    [
        {"spec.policyTypes": ["Ingress"]},
        {"spec.podSelector": {"matchLabels": {"app": "web-main"}}},
        {"spec.podSelector": DELETE},
        {"spec.egress": [{"to": [{"namespaceSelector": {}}]}]},
        {"spec.ingress": [{}]},
        {"metadata.namespace": "heal7-batch"},
    ],
    ids=["ingress-only", "selects-some-pods", "no-selector", "allows-egress", "allows-ingress", "other-namespace"],
)
def test_a_policy_that_is_not_default_deny_is_missed(change):
    assert _problems(namespace(), mutated(default_deny(), change)) == [
        f"{NO_DENY} (podSelector {{}}, policyTypes Ingress and Egress, no rules)"
    ]


def test_the_default_deny_must_be_on_the_same_cluster():
    eks, gke = (registration("pulumi:providers:kubernetes", f"heal7-test-{c}-k8s", {}) for c in ("eks", "gke"))
    on_eks = replace(namespace(), provider=eks.urn)
    on_gke = replace(namespace(), urn=namespace().urn + "-gke", provider=gke.urn)
    deny_on_eks = replace(default_deny(), provider=eks.urn)
    report = evaluate(record(eks, gke, on_eks, on_gke, deny_on_eks), policies=[POLICY])
    assert [
        (v.urn, v.message.startswith(f"{NAMESPACE} (kubernetes:core/v1:Namespace): {NO_DENY}"))
        for v in report.violations
    ] == [(on_gke.urn, True)]


def test_the_enforce_level_must_be_restricted():
    unlabelled = mutated(namespace(), {"metadata.labels": {"platform.heal7.io/workload": "true"}})
    assert _problems(unlabelled, default_deny()) == [
        f"workload namespace {NAMESPACE!r} enforces Pod Security nothing (privileged), not restricted "
        f"(metadata.labels {ENFORCE})"
    ]


def test_below_restricted_only_for_listed_namespaces_that_still_enforce_a_level():
    baseline = mutated(namespace(), {"metadata.labels": {**WORKLOAD_LABELS, ENFORCE: "baseline"}})
    assert len(_problems(baseline, default_deny())) == 1
    assert _problems(baseline, default_deny(), config={POLICY.name: {"belowRestricted": [NAMESPACE]}}) == []
    assert _problems(baseline, default_deny(), config={POLICY.name: {"belowRestricted": ["other"]}}) != []
    # An exempt namespace still names its level: no label means privileged by omission.
    unlabelled = mutated(namespace(), {"metadata.labels": {"platform.heal7.io/workload": "true"}})
    assert len(_problems(unlabelled, default_deny(), config={POLICY.name: {"belowRestricted": [NAMESPACE]}})) == 1


@pytest.mark.parametrize("labels", [{}, {"platform.heal7.io/workload": "false"}, {ENFORCE: "privileged"}])
def test_namespaces_not_labelled_workload_are_not_checked(labels):
    assert _problems(mutated(namespace(), {"metadata.labels": labels})) == []


def test_unknown_values_prove_nothing_missing():
    unknown_deny = mutated(default_deny(), {"metadata.namespace": UNKNOWN_STRING_VALUE})
    assert _problems(namespace(), unknown_deny) == []
    unknown_label = mutated(namespace(), {"metadata.labels": {**WORKLOAD_LABELS, ENFORCE: UNKNOWN_STRING_VALUE}})
    assert _problems(unknown_label) == []
    # A known namespace next to an unknown one is still checked.
    other = mutated(namespace(), {"metadata.name": "heal7-batch"})
    other = replace(other, name="heal7-batch", urn=other.urn.replace("::heal7", "::heal7-batch"))
    assert _problems(unknown_label, other) == [
        "workload namespace 'heal7-batch' has no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress "
        "and Egress, no rules)"
    ]
