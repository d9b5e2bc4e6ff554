"""Children built from a list are named by a stable key, never by position (issue: stable names).

Removing the first element of such a list in a stack file must remove that element's own
resources and change nothing about any other resource: no rename (a replacement on a real
`pulumi up`) and no changed input. Each case is checked through the same inventory diff as
`make plan DIFF=...`.
"""

import pytest

from tools.inventory import build_inventory, diff_inventories
from tools.synth import SynthError, synth, synth_component

# (stack, section, key path in the section, list with an extra first element, the name
# fragment that every removed resource carries)
CASES = [
    ("dev", "platform:aws", ("eks", "adminRoles"), ["break-glass-admin", "platform-admin"], "-admin-break-glass-admin"),
    (
        "prod",
        "platform:aws",
        ("eks", "adminRoles"),
        ["break-glass-admin", "platform-admin"],
        "-admin-break-glass-admin",
    ),
    (
        "prod",
        "platform:aws",
        ("ecr", "repositories"),
        ["batch-jobs", "web-main", "api-gateway", "saju-engine", "base"],
        "-ecr-batch-jobs",
    ),
]


def _set(config: dict, section: str, path: tuple[str, ...], value: list[str]) -> None:
    node = config.setdefault(section, {})
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


@pytest.mark.parametrize(("stack", "section", "path", "values", "removed_fragment"), CASES)
def test_removing_the_first_list_element_touches_only_its_own_resources(
    stack_config, stack, section, path, values, removed_fragment
):
    with_first = stack_config(stack)
    _set(with_first, section, path, values)
    without_first = stack_config(stack)
    _set(without_first, section, path, values[1:])

    diff = diff_inventories(build_inventory(synth(stack, with_first)), build_inventory(synth(stack, without_first)))

    assert diff.removed, "the removed element had resources of its own"
    assert all(removed_fragment in urn.rsplit("::", 1)[1] for urn in diff.removed), diff.removed
    assert diff.added == []
    # No other resource's inputs change. Its dependencies may lose the removed resource (the
    # Kubernetes providers wait for the whole cluster component, admin entries included).
    assert {
        urn: changes for urn, changes in diff.changed.items() if any(c.path != "dependencies" for c in changes)
    } == {}
    for changes in diff.changed.values():
        for change in changes:
            assert set(change.old) - set(change.new) <= set(diff.removed) and set(change.new) <= set(change.old)


# -- the same rule for lists that come from code, one component at a time ----------------


def _component_inventory(build) -> dict:
    return build_inventory(synth_component(build))


def _irsa_role(policies: dict[str, str]):
    from components.aws.eks.irsa_role import IrsaRole, IrsaRoleArgs, OidcIdentity

    oidc = OidcIdentity(
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.ap-northeast-2.amazonaws.com/id/ABC",
        "https://oidc.eks.ap-northeast-2.amazonaws.com/id/ABC",
    )
    return lambda providers: {
        "arn": IrsaRole(
            "app",
            IrsaRoleArgs(oidc=oidc, namespace="apps", service_account="app", managed_policies=policies),
            providers.opts,
        ).role_arn
    }


def _security_group(clients: list[tuple[str, str]]):
    import pulumi

    from components.aws._security_groups import ClientSource, service_security_group

    def build(providers):
        holder = pulumi.ComponentResource("test:index:Holder", "db", None, providers.opts)
        group = service_security_group(
            "db",
            vpc_id="vpc-1",
            description="clients of db",
            port=5432,
            clients=[ClientSource(key, f"from {key}", cidr=cidr) for key, cidr in clients],
            parent=holder,
            tags={},
        )
        return {"id": group.id}

    return build


def _registry(readers: dict[str, str]):
    from components.gcp.artifact_registry import ArtifactRegistry, ArtifactRegistryArgs

    return lambda providers: {
        "url": ArtifactRegistry(
            "images",
            ArtifactRegistryArgs(location="asia-northeast3", repository_id="images", readers=readers),
            providers.opts,
        ).repository_url
    }


COMPONENT_CASES = {
    "irsa managed policies": (
        _irsa_role(
            {
                "AmazonS3ReadOnlyAccess": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                "CloudWatchAgentServerPolicy": "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
            }
        ),
        _irsa_role({"CloudWatchAgentServerPolicy": "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"}),
        "app-attach-AmazonS3ReadOnlyAccess",
    ),
    "security group clients": (
        _security_group([("eks-nodes", "10.30.0.0/19"), ("cloudsql-replica", "10.129.0.0/24")]),
        _security_group([("cloudsql-replica", "10.129.0.0/24")]),
        "db-from-eks-nodes",
    ),
    "registry readers": (
        _registry(
            {
                "ci": "serviceAccount:ci@p.iam.gserviceaccount.com",
                "gke-nodes": "serviceAccount:nodes@p.iam.gserviceaccount.com",
            }
        ),
        _registry({"gke-nodes": "serviceAccount:nodes@p.iam.gserviceaccount.com"}),
        "images-reader-ci",
    ),
}


@pytest.mark.parametrize("case", COMPONENT_CASES)
def test_components_key_list_children_by_name(case):
    before, after, removed_name = COMPONENT_CASES[case]
    diff = diff_inventories(_component_inventory(before), _component_inventory(after))
    assert [urn.rsplit("::", 1)[1] for urn in diff.removed] == [removed_name]
    assert diff.added == []
    assert diff.changed == {}


def test_security_group_clients_need_unique_keys_and_one_source():
    with pytest.raises(SynthError, match="client keys must be unique"):
        synth_component(_security_group([("eks-nodes", "10.0.0.0/16"), ("eks-nodes", "10.1.0.0/16")]))
    with pytest.raises(SynthError, match="needs exactly one of security_group_id and cidr"):
        synth_component(_security_group([("eks-nodes", None)]))  # type: ignore[list-item]
