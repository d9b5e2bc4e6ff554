"""NamespaceAccess and GkeAccess under mocks: the deployer Role is least privilege, every
binding names the identity its cloud maps (the EKS access entry's group, the Google Group,
the service account), project IAM is clusterViewer only, and the policy pack passes."""

import pytest
from pulumi_policy import ResourceValidationPolicy

from components.aws.eks.access import EksAccess
from components.gcp.gke_access import CLUSTER_VIEWER_ROLE, GkeAccess, GkeAccessArgs
from components.kubernetes.namespace_access import (
    NamespaceAccess,
    NamespaceAccessArgs,
    NamespaceAccessSpec,
    RbacSubject,
)
from policy.rules import ALL_POLICIES
from policy.runner import evaluate
from stacks.access_args import (
    eks_access_args,
    eks_namespace_access_args,
    gke_access_args,
    gke_namespace_access_args,
)
from tests.test_config import parse
from tools.synth import SynthError, SynthResult, synth_component

ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
ENTRY = "aws:eks/accessEntry:AccessEntry"
IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
READ = {"get", "list", "watch"}
STACKS = ("dev", "prod")


def _access(args: NamespaceAccessArgs) -> SynthResult:
    return synth_component(lambda p: {"access": NamespaceAccess("heal7-test-rbac", args, p.opts).urn})


def _eks(stack: str) -> SynthResult:
    config = parse(stack)

    def build(p):
        EksAccess("heal7-eks-access", eks_access_args(config, "heal7-eks"), p.opts)
        NamespaceAccess("heal7-eks-rbac", eks_namespace_access_args(config), p.opts)

    return synth_component(build)


def _gke(stack: str) -> SynthResult:
    config = parse(stack)

    def build(p):
        GkeAccess("heal7-gke-access", gke_access_args(config), p.opts)
        NamespaceAccess("heal7-gke-rbac", gke_namespace_access_args(config), p.opts)

    return synth_component(build, gcp_project=config.gcp_project)


def _in(result: SynthResult, type_token: str, namespace: str) -> list:
    return [r for r in result.of_type(type_token) if r.inputs["metadata"]["namespace"] == namespace]


def _bound_to_deployer_role(result: SynthResult, namespace: str) -> list[dict]:
    """The subjects of the namespace's bindings to its deployer Role (checked to exist)."""
    (role,) = _in(result, ROLE, namespace)
    bindings = [
        b
        for b in _in(result, BINDING, namespace)
        if b.inputs["roleRef"]
        == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.inputs["metadata"]["name"]}
    ]
    assert len(bindings) == 1
    return bindings[0].inputs["subjects"]


FULL = NamespaceAccessArgs(
    namespaces=[
        NamespaceAccessSpec(
            namespace="heal7-web",
            viewers=[RbacSubject("Group", "heal7-viewers@heal7.com"), RbacSubject("Group", "sre@heal7.com")],
            deployer=RbacSubject("User", "heal7-deployer@heal7-test.iam.gserviceaccount.com"),
        ),
        NamespaceAccessSpec(namespace="heal7-api", deployer=RbacSubject("Group", "heal7-api-deployer")),
        NamespaceAccessSpec(namespace="heal7-docs", viewers=[RbacSubject("Group", "heal7-viewers@heal7.com")]),
    ]
)


def test_deployer_role_grants_no_secrets_wildcard_rbac_or_escalation():
    result = _access(FULL)
    roles = result.of_type(ROLE)
    assert len(roles) == 2  # heal7-docs has no deployer, so no Role
    for role in roles:
        rules = role.inputs["rules"]
        granted = {
            (group, resource): set(rule["verbs"])
            for rule in rules
            for group in rule["apiGroups"]
            for resource in rule["resources"]
        }
        assert all("*" not in rule[field] for rule in rules for field in ("apiGroups", "resources", "verbs"))
        assert not {verb for verbs in granted.values() for verb in verbs} & {"bind", "escalate", "impersonate"}
        assert not [key for key in granted if key[1] in ("secrets", "serviceaccounts/token")]
        assert not [key for key in granted if key[0] == "rbac.authorization.k8s.io"]
        assert all("nonResourceURLs" not in rule and "resourceNames" not in rule for rule in rules)
        # Pods and the platform's network policies are read-only; pod logs are only fetched.
        assert granted[("", "pods")] == READ and granted[("", "pods/log")] == {"get"}
        assert granted[("networking.k8s.io", "networkpolicies")] == READ
        assert granted[("apps", "replicasets")] == READ
        # What a rollout writes, with no deletecollection anywhere.
        for key in [("apps", "deployments"), ("", "services"), ("external-secrets.io", "externalsecrets")]:
            assert granted[key] == READ | {"create", "update", "patch", "delete"}
        assert ("networking.istio.io", "virtualservices") in granted
        assert ("autoscaling", "horizontalpodautoscalers") in granted and ("policy", "poddisruptionbudgets") in granted


def test_viewers_are_bound_to_view_and_the_deployer_to_its_role_in_its_namespace_only():
    result = _access(FULL)
    (viewers,) = [b for b in _in(result, BINDING, "heal7-web") if b.inputs["roleRef"]["kind"] == "ClusterRole"]
    assert viewers.inputs["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    assert viewers.inputs["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "heal7-viewers@heal7.com"},
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "sre@heal7.com"},
    ]
    assert _bound_to_deployer_role(result, "heal7-web") == [
        {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "User",
            "name": "heal7-deployer@heal7-test.iam.gserviceaccount.com",
        }
    ]
    assert [b.inputs["roleRef"]["name"] for b in _in(result, BINDING, "heal7-api")] == ["platform-deployer"]
    assert [b.inputs["roleRef"]["name"] for b in _in(result, BINDING, "heal7-docs")] == ["view"]
    # Nothing cluster-wide, nothing cluster-admin.
    assert not [r for r in result.resources if r.type.endswith(("ClusterRole", "ClusterRoleBinding"))]
    # The binding waits for the Role it names.
    (role,) = _in(result, ROLE, "heal7-web")
    (binding,) = [b for b in _in(result, BINDING, "heal7-web") if b.inputs["roleRef"]["kind"] == "Role"]
    assert role.urn in binding.dependencies
    # Keyed by namespace: names do not depend on list order.
    assert {r.name for r in result.resources if r.type in (ROLE, BINDING)} == {
        "heal7-test-rbac-heal7-web-viewers",
        "heal7-test-rbac-heal7-web-deployer",
        "heal7-test-rbac-heal7-web-deployer-binding",
        "heal7-test-rbac-heal7-api-deployer",
        "heal7-test-rbac-heal7-api-deployer-binding",
        "heal7-test-rbac-heal7-docs-viewers",
    }


RESOURCE_POLICIES = [p for p in ALL_POLICIES if isinstance(p, ResourceValidationPolicy)]


@pytest.mark.parametrize("build", [lambda: _access(FULL), lambda: _eks("prod"), lambda: _gke("prod")])
def test_every_object_passes_the_policy_pack(build):
    result = build()
    assert [r for r in result.resources if r.type in (ROLE, BINDING)]
    report = evaluate(result, policies=RESOURCE_POLICIES)
    assert report.violations == [] and report.not_evaluated == []


@pytest.mark.parametrize("stack", STACKS)
def test_each_eks_deployer_entry_maps_to_the_group_its_rolebinding_names(stack):
    config = parse(stack)
    result = _eks(stack)
    deployer_entries = [e for e in result.of_type(ENTRY) if "kubernetesGroups" in e.inputs]
    assert len(deployer_entries) == len(config.kubernetes.deployers) >= 1
    for deployer in config.kubernetes.deployers:
        (entry,) = [e for e in deployer_entries if e.inputs["principalArn"].endswith(f":role/{deployer.aws_role}")]
        (group,) = entry.inputs["kubernetesGroups"]
        assert _bound_to_deployer_role(result, deployer.namespace) == [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}
        ]
    # EKS viewers hold the namespace-scoped view policy, so no RoleBinding names them.
    assert not [b for b in result.of_type(BINDING) if b.inputs["roleRef"]["kind"] == "ClusterRole"]


@pytest.mark.parametrize("stack", STACKS)
def test_gke_binds_viewer_groups_and_deployer_service_accounts(stack):
    config = parse(stack)
    result = _gke(stack)
    for viewer in config.kubernetes.viewers:
        for namespace in viewer.namespaces:
            (binding,) = [b for b in _in(result, BINDING, namespace) if b.inputs["roleRef"]["name"] == "view"]
            assert {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": str(viewer.google_group)} in (
                binding.inputs["subjects"]
            )
    for deployer in config.kubernetes.deployers:
        assert _bound_to_deployer_role(result, deployer.namespace) == [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": deployer.google_service_account}
        ]


@pytest.mark.parametrize("stack", STACKS)
def test_gke_iam_is_cluster_viewer_only_for_exactly_the_viewers_and_deployers(stack):
    config = parse(stack)
    members = _gke(stack).of_type(IAM_MEMBER)
    assert {m.inputs["role"] for m in members} == {CLUSTER_VIEWER_ROLE} == {"roles/container.clusterViewer"}
    assert {m.inputs["project"] for m in members} == {config.gcp_project}
    assert sorted(m.inputs["member"] for m in members) == sorted(
        [f"group:{v.google_group}" for v in config.kubernetes.viewers]
        + [f"serviceAccount:{d.google_service_account}" for d in config.kubernetes.deployers]
    )
    assert "condition" not in members[0].inputs


def test_gke_access_names_grants_by_email_and_refuses_a_repeat():
    args = GkeAccessArgs(
        project="heal7-test",
        viewer_groups=["heal7-viewers@heal7.com"],
        deployer_service_accounts=["heal7-deployer@heal7-test.iam.gserviceaccount.com"],
    )
    result = synth_component(lambda p: {"access": GkeAccess("gke-access", args, p.opts).urn})
    assert {m.name for m in result.of_type(IAM_MEMBER)} == {
        "gke-access-viewer-heal7-viewers-heal7-com",
        "gke-access-deployer-heal7-deployer-heal7-test-iam-gserviceaccount-com",
    }
    args.viewer_groups = ["heal7-viewers@heal7.com", "Heal7-Viewers@heal7.com"]
    with pytest.raises(SynthError, match="each viewer group once"):
        synth_component(lambda p: {"access": GkeAccess("gke-access", args, p.opts).urn})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (NamespaceAccessSpec(namespace="heal7-web"), "has neither viewers nor a deployer"),
        (NamespaceAccessSpec(namespace="default", deployer=RbacSubject("Group", "ci")), "a workload namespace"),
        (NamespaceAccessSpec(namespace="heal7-web", viewers=[RbacSubject("Group", "system:authenticated")]), "system"),
        (NamespaceAccessSpec(namespace="heal7-web", deployer=RbacSubject("Group", "system:masters")), "system"),
        (
            NamespaceAccessSpec(
                namespace="heal7-web", viewers=[RbacSubject("Group", "a@b.co"), RbacSubject("Group", "a@b.co")]
            ),
            "lists a viewer twice",
        ),
    ],
)
def test_namespace_access_refuses_grants_that_mean_something_else(spec, message):
    with pytest.raises(SynthError, match=message) as caught:
        _access(NamespaceAccessArgs(namespaces=[spec]))
    assert not [r for r in caught.value.result.resources if r.type in (ROLE, BINDING)]
