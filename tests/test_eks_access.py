"""EksAccess under mocks: one access entry per principal, viewers with exactly the
namespace-scoped AmazonEKSViewPolicy, deployers mapped into their group with no policy."""

import pytest

from components.aws.eks.access import EksAccess, EksAccessArgs, EksDeployer, EksViewer
from stacks.access_args import eks_access_args
from tests.test_config import parse
from tools.mock_outputs import PlatformMocks
from tools.synth import SynthError, SynthResult, synth_component

ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def _synth(args: EksAccessArgs) -> SynthResult:
    return synth_component(lambda p: {"access": EksAccess("heal7-test-access", args, p.opts).urn})


def _args(viewers: list[EksViewer], deployers: list[EksDeployer], admin_roles: list[str] | None = None):
    return EksAccessArgs(
        cluster_name="heal7-test-eks",
        viewers=viewers,
        deployers=deployers,
        admin_roles=admin_roles or [],
        tags={"project": "heal7"},
    )


VIEWERS = [
    EksViewer(role="platform-readonly", namespaces=["heal7-web", "heal7-api"]),
    EksViewer(role="arn:aws:iam::210987654321:role/audit/auditor", namespaces=["heal7-api"]),
]
DEPLOYERS = [
    EksDeployer(role="heal7-web-ci", namespace="heal7-web", kubernetes_group="heal7-web-deployer"),
    EksDeployer(role="heal7-api-ci", namespace="heal7-api", kubernetes_group="heal7-api-deployer"),
]


def _principal(role: str) -> str:
    """The ARN EksAccess gives a role: a name resolves in the (mock) deploying account."""
    if role.startswith("arn:"):
        return role
    return f"arn:aws:iam::{PlatformMocks('test').account_id}:role/{role}"


def test_every_viewer_has_exactly_the_namespace_scoped_view_policy():
    result = _synth(_args(VIEWERS, DEPLOYERS))
    entries = {e.inputs["principalArn"]: e for e in result.of_type(ENTRY)}
    associations = result.of_type(ASSOCIATION)
    # One association per viewer, none for deployers (their Role grants them).
    assert len(associations) == len(VIEWERS)
    for viewer in VIEWERS:
        principal = _principal(viewer.role)
        entry = entries[principal]
        assert entry.inputs["type"] == "STANDARD"
        assert "kubernetesGroups" not in entry.inputs  # the policy is the viewer's only grant
        (association,) = [a for a in associations if a.inputs["principalArn"] == principal]
        assert association.inputs["policyArn"] == VIEW_POLICY
        assert association.inputs["accessScope"] == {"type": "namespace", "namespaces": sorted(viewer.namespaces)}
        assert association.inputs["clusterName"] == "heal7-test-eks"
        assert entry.urn in association.dependencies


def test_deployers_map_into_their_group_with_no_access_policy():
    result = _synth(_args(VIEWERS, DEPLOYERS))
    associated = {a.inputs["principalArn"] for a in result.of_type(ASSOCIATION)}
    for deployer in DEPLOYERS:
        entry = result.one(ENTRY, f"heal7-test-access-deployer-{deployer.namespace}")
        assert entry.inputs["principalArn"] == _principal(deployer.role)
        assert entry.inputs["kubernetesGroups"] == [deployer.kubernetes_group]
        assert entry.inputs["type"] == "STANDARD"
        assert entry.inputs["principalArn"] not in associated
        assert entry.inputs["tags"] == {"project": "heal7", "Name": entry.name}


def test_entries_are_named_by_role_and_namespace_not_position():
    names = {r.name for r in _synth(_args(VIEWERS, DEPLOYERS)).resources if r.type in (ENTRY, ASSOCIATION)}
    assert names == {
        "heal7-test-access-viewer-platform-readonly",
        "heal7-test-access-viewer-platform-readonly-view",
        "heal7-test-access-viewer-auditor",
        "heal7-test-access-viewer-auditor-view",
        "heal7-test-access-deployer-heal7-web",
        "heal7-test-access-deployer-heal7-api",
    }
    # Dropping the first of each list renames nothing that stays.
    fewer = {r.name for r in _synth(_args(VIEWERS[1:], DEPLOYERS[1:])).resources if r.type in (ENTRY, ASSOCIATION)}
    assert fewer < names and len(fewer) == 3


@pytest.mark.parametrize(
    ("viewers", "deployers", "admins", "message"),
    [
        (
            [EksViewer(role="heal7-web-ci", namespaces=["heal7-web"])],
            DEPLOYERS,
            [],
            "deployer of namespace 'heal7-web' ('heal7-web-ci') already has an access entry as viewer 'heal7-web-ci'",
        ),
        (
            # IAM ignores case, and an ARN names the same role as its name.
            [EksViewer(role="arn:aws:iam::123456789012:role/Platform-Admin", namespaces=["heal7-web"])],
            [],
            ["platform-admin"],
            "already has an access entry as admin role 'platform-admin'",
        ),
        (VIEWERS + VIEWERS[:1], [], [], "viewer 'platform-readonly' already has an access entry"),
        (
            [],
            [EksDeployer(role="ci", namespace="heal7-web", kubernetes_group="system:masters")],
            [],
            "needs a Kubernetes group not starting with system:",
        ),
        ([EksViewer(role="platform-readonly", namespaces=[])], [], [], "needs distinct namespaces"),
    ],
)
def test_a_second_entry_for_one_principal_is_refused_before_anything_registers(viewers, deployers, admins, message):
    with pytest.raises(SynthError) as caught:
        _synth(_args(viewers, deployers, admins))
    assert message in str(caught.value.cause)
    assert not [r for r in caught.value.result.resources if r.type in (ENTRY, ASSOCIATION)]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_config_gives_each_role_one_entry(stack):
    config = parse(stack)
    result = _synth(eks_access_args(config, "heal7-eks"))
    kubernetes = config.kubernetes
    roles = [role for viewer in kubernetes.viewers for role in viewer.aws_roles]
    roles += [d.aws_role for d in kubernetes.deployers]
    assert sorted(e.inputs["principalArn"].rsplit("/", 1)[-1] for e in result.of_type(ENTRY)) == sorted(set(roles))
    (association,) = result.of_type(ASSOCIATION)
    assert association.inputs["accessScope"]["namespaces"] == list(kubernetes.namespaces)
