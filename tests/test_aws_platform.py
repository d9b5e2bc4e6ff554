"""The AWS side of each stack as a whole: tags, reachability, protection, secrets."""

import json
import re
from typing import Any

import pytest

from policy.rules.stack_hygiene import STATEFUL_TYPES as POLICY_STATEFUL_TYPES
from tests.conftest import STACKS
from tools.synth import Secret

# Types that hold data, keys or a public identity (the ingress address Cloudflare points
# at): losing one loses data or breaks the front door, so prod protects all of them.
# One list, kept in the policy pack (prod-stateful-protected enforces it at preview).
STATEFUL_TYPES = set(POLICY_STATEFUL_TYPES)


def _stateful(resource) -> bool:
    # NAT gateways' Elastic IPs are replaceable; the ingress ones are the front door's origins.
    ingress_eip = resource.type == "aws:ec2/eip:Eip" and resource.inputs["tags"].get("role") == "ingress"
    return resource.type in STATEFUL_TYPES or ingress_eip


# Input names that carry a secret value (not `httpTokens`, `secretId`, `manage...Password`).
SECRET_KEY = re.compile(
    r"(password|passwd|secret|secretstring|secretbinary|authtoken|apitoken|privatekey|presharedkey)$", re.IGNORECASE
)
# Inputs whose name looks like a secret but that hold a reference to one (its id).
SECRET_REFERENCES = {
    ("gcp:secretmanager/secretVersion:SecretVersion", "secret"),
    # A chart value naming the Kubernetes Secret to read (Grafana's admin), not a value.
    ("kubernetes:helm.sh/v4:Chart", "existingSecret"),
}


@pytest.mark.parametrize("stack", STACKS)
def test_provider_stamps_the_common_tags_on_everything(synthed, stack):
    result = synthed(stack)
    provider = result.one("pulumi:providers:aws")
    # Providers receive their inputs JSON-encoded.
    assert json.loads(provider.inputs["defaultTags"]) == {
        "tags": {
            "project": "heal7",
            "environment": stack,
            "owner": "platform-team",
            "cost-center": "heal7-platform",
            "managed-by": "pulumi",
        }
    }
    # Every taggable resource also gets a Name, prefixed by the stack.
    tagged = [r for r in result.resources if r.package == "aws" and "tags" in r.inputs]
    assert len(tagged) > 40
    assert all(r.inputs["tags"]["Name"].startswith(f"heal7-{stack}") for r in tagged)


@pytest.mark.parametrize("stack", STACKS)
def test_data_stores_are_reachable_only_from_the_cluster_nodes(synthed, stack):
    result = synthed(stack)
    node_sg = result.outputs["eksNodeSecurityGroupId"]
    cloud_sql_range = {"dev": "10.118.0.0/20", "staging": "10.122.0.0/20", "prod": "10.138.0.0/20"}[stack]
    rules = result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    by_group: dict[str, set[tuple[str, int]]] = {}
    for rule in rules:
        source = rule.inputs.get("referencedSecurityGroupId") or rule.inputs["cidrIpv4"]
        by_group.setdefault(rule.inputs["securityGroupId"], set()).add((source, rule.inputs["fromPort"]))
        assert rule.inputs["description"], rule.name  # every rule says why it exists
        assert rule.inputs["fromPort"] == rule.inputs["toPort"]  # single ports, no ranges
    # And the GKE pods across the VPN (their writes, sessions and cache; tests/test_data_path.py).
    gke_pods = {"dev": "10.112.0.0/14", "staging": "10.124.0.0/14", "prod": "10.132.0.0/14"}[stack]
    assert by_group == {
        result.outputs["rdsSecurityGroupId"]: {(node_sg, 5432), (cloud_sql_range, 5432), (gke_pods, 5432)},
        result.one("aws:ec2/securityGroup:SecurityGroup", f"heal7-{stack}-redis-sg").id: {
            (node_sg, 6379),
            (gke_pods, 6379),
        },
    }
    assert result.one("aws:rds/instance:Instance").inputs["publiclyAccessible"] is False
    # No inline rule anywhere that could widen a group behind the rule resources' back.
    for group in result.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert "ingress" not in group.inputs and "egress" not in group.inputs


@pytest.mark.parametrize(("stack", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_stateful_resources_are_protected_and_deletion_protected_in_prod(synthed, stack, protected):
    result = synthed(stack)
    stateful = [r for r in result.resources if _stateful(r)]
    assert {r.type for r in stateful} >= {"aws:ec2/eip:Eip"} | STATEFUL_TYPES - (
        set() if protected else {"aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"}
    )
    assert all(r.protect is protected for r in stateful), [r.name for r in stateful if r.protect is not protected]
    # Everything else stays unprotected, so a refactor never needs a manual unprotect.
    assert not [r.name for r in result.resources if r.protect and not _stateful(r)]
    assert result.one("aws:rds/instance:Instance").inputs["deletionProtection"] is protected
    assert result.one("aws:eks/cluster:Cluster").inputs["deletionProtection"] is protected
    assert all(
        g.inputs["deletionProtectionEnabled"] is protected for g in result.of_type("aws:cloudwatch/logGroup:LogGroup")
    )
    for key in result.of_type("aws:kms/key:Key"):
        assert key.inputs["deletionWindowInDays"] == 30 and key.inputs["enableKeyRotation"] is True
    for bucket in result.of_type("aws:s3/bucket:Bucket"):
        assert bucket.inputs.get("forceDestroy", False) is not protected
    for repository in result.of_type("aws:ecr/repository:Repository"):
        assert repository.inputs.get("forceDelete", False) is not protected


def _walk(value: Any, path: str = ""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


@pytest.mark.parametrize("stack", STACKS)
def test_no_input_holds_a_literal_password(synthed, stack):
    result = synthed(stack)
    generated = [p.outputs["result"] for p in result.of_type("random:index/randomPassword:RandomPassword")]
    assert generated
    secret_inputs = 0
    for resource in (r for r in result.resources if not r.type.startswith("pulumi:providers:")):
        for path, value in _walk(resource.inputs):
            leaf = path.rsplit(".", 1)[-1]
            if isinstance(value, Secret):
                secret_inputs += SECRET_KEY.search(leaf) is not None
                continue
            # A generated secret never travels unmarked.
            assert not any(isinstance(value, str) and secret in value for secret in generated), (resource.name, path)
            # An input named like a secret is only ever a Secret (or a switch).
            if (resource.type, leaf) not in SECRET_REFERENCES:
                assert not (SECRET_KEY.search(leaf) and isinstance(value, str)), (resource.name, path)
    # The Redis AUTH token and its Secrets Manager copy, the replication password on the
    # source representation, and 4 pre-shared keys on each side of the VPN.
    assert secret_inputs >= 2 + 1 + 8
    db = result.one("aws:rds/instance:Instance")
    assert "password" not in db.inputs and db.inputs["manageMasterUserPassword"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_every_child_is_named_after_its_component(synthed, stack):
    result = synthed(stack)
    components = {r.urn: r for r in result.resources if r.package == "platform"}
    assert {c.type for c in components.values()} >= {
        "platform:aws:AwsNetwork",
        "platform:aws:EksCluster",
        "platform:aws:EksNodeGroup",
        "platform:aws:EksAddons",
        "platform:aws:IrsaRole",
        "platform:aws:RdsPrimary",
        "platform:aws:ElastiCacheRedis",
        "platform:aws:EcrRepositories",
        "platform:aws:BackupBucket",
        "platform:aws:VpcFlowLogs",
    }
    children = [r for r in result.resources if r.parent in components]
    assert all(r.name.startswith(f"{components[r.parent].name}-") for r in children), [
        r.name for r in children if not r.name.startswith(f"{components[r.parent].name}-")
    ]
    # Only components and providers hang off the stack itself.
    top_level = {
        r.type.split(":")[0] for r in result.resources if r.parent and r.parent.endswith(f"multicloud-platform-{stack}")
    }
    assert top_level <= {"platform", "pulumi"}


def test_components_refuse_args_that_would_build_something_broken():
    from components.aws.eks.irsa_role import IrsaRole, IrsaRoleArgs, OidcIdentity
    from components.aws.elasticache_redis import ElastiCacheRedis, ElastiCacheRedisArgs
    from components.aws.rds_primary import ClientSource, RdsPrimary, RdsPrimaryArgs

    with pytest.raises(ValueError, match="automatic failover needs at least 2 nodes"):
        ElastiCacheRedis(
            "r",
            ElastiCacheRedisArgs(
                vpc_id="vpc-1",
                subnet_ids=["s"],
                availability_zones=["a"],
                clients=[ClientSource("eks-nodes", "Redis from the nodes", "sg-1")],
                node_count=1,
            ),
        )
    with pytest.raises(ValueError, match="no clients given"):
        RdsPrimary(
            "db",
            RdsPrimaryArgs(
                vpc_id="vpc-1",
                subnet_ids=["s"],
                instance_class="db.t4g.medium",
                allocated_storage_gib=20,
                max_allocated_storage_gib=22,
                tuning={},
                db_name="d",
                master_username="u",
            ),
        )
    with pytest.raises(ValueError, match="a role with no permissions is a mistake"):
        IrsaRole("i", IrsaRoleArgs(oidc=OidcIdentity("arn", "https://x"), namespace="n", service_account="s"))
