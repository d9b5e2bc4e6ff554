"""EksCluster under mocks: endpoint, encryption, logging, identity, add-ons, node groups."""

import json

import pytest

from tests.conftest import STACKS

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"


def _child(result, component, type_token, name=None):
    matches = [r for r in result.children_of(component) if r.type == type_token and (name is None or r.name == name)]
    assert len(matches) == 1, [r.name for r in matches]
    return matches[0]


@pytest.mark.parametrize("stack", STACKS)
def test_control_plane_is_private_encrypted_and_fully_logged(synthed, stack):
    result = synthed(stack)
    component = result.one("platform:aws:EksCluster")
    cluster = result.one(CLUSTER)
    assert cluster.inputs["name"] == f"heal7-{stack}-eks"
    assert cluster.inputs["version"] == "1.35"
    vpc_config = cluster.inputs["vpcConfig"]
    # CIS EKS 5.4.2: private endpoint, no public one unless ranges are configured.
    assert vpc_config["endpointPrivateAccess"] is True and vpc_config["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc_config
    assert vpc_config["subnetIds"] == result.outputs["privateSubnetIds"]
    assert cluster.inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    key = _child(result, component, "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert cluster.inputs["encryptionConfig"] == {"provider": {"keyArn": key.outputs["arn"]}, "resources": ["secrets"]}
    assert sorted(cluster.inputs["enabledClusterLogTypes"]) == [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ]
    log_group = _child(result, component, "aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["name"] == f"/aws/eks/heal7-{stack}-eks/cluster"
    assert log_group.inputs["retentionInDays"] == {"dev": 14, "staging": 30, "prod": 90}[stack]
    assert log_group.inputs["kmsKeyId"] == key.outputs["arn"]
    # The log group exists before the cluster, or EKS makes one that never expires.
    assert log_group.urn in cluster.dependencies
    assert cluster.inputs["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == "172.20.0.0/16"
    assert cluster.inputs["bootstrapSelfManagedAddons"] is False
    assert cluster.inputs["deletionProtection"] is (stack == "prod") and cluster.protect is (stack == "prod")
    assert cluster.inputs["upgradePolicy"] == {"supportType": "STANDARD"}


def test_public_endpoint_is_restricted_to_configured_ranges(stack_config):
    from tools.synth import synth

    config = stack_config("dev")
    config["platform:aws"]["eks"]["publicAccessCidrs"] = ["121.134.0.0/16"]
    vpc_config = synth("dev", config).one(CLUSTER).inputs["vpcConfig"]
    assert vpc_config["endpointPublicAccess"] is True
    assert vpc_config["publicAccessCidrs"] == ["121.134.0.0/16"]
    assert vpc_config["endpointPrivateAccess"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_role_can_use_only_its_key(synthed, stack):
    result = synthed(stack)
    component = result.one("platform:aws:EksCluster")
    cluster = result.one(CLUSTER)
    role = _child(result, component, "aws:iam/role:Role", f"heal7-{stack}-eks-role")
    assert cluster.inputs["roleArn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "eks.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    kms_policy = json.loads(_child(result, component, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    (statement,) = kms_policy["Statement"]
    assert statement["Resource"] == _child(result, component, "aws:kms/key:Key").outputs["arn"]
    assert "kms:*" not in statement["Action"] and "kms:Decrypt" in statement["Action"]


@pytest.mark.parametrize("stack", STACKS)
def test_oidc_provider_and_admin_access_entries(synthed, stack):
    result = synthed(stack)
    cluster = result.one(CLUSTER)
    oidc = result.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    issuer = cluster.outputs["identities"][0]["oidcs"][0]["issuer"]
    assert oidc.inputs["url"] == issuer and oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert result.outputs["eksOidcProviderArn"] == oidc.outputs["arn"]
    assert result.outputs["eksOidcIssuerUrl"] == issuer
    # The cluster's own entries are the admins'; viewers and deployers are EksAccess's.
    eks_cluster = result.one("platform:aws:EksCluster")
    entries = {
        e.inputs["principalArn"]: e
        for e in result.of_type("aws:eks/accessEntry:AccessEntry")
        if e.parent == eks_cluster.urn
    }
    account = oidc.outputs["arn"].split(":")[4]
    # The stack file names the roles (the operators' and the pipeline's deploy role of this
    # stack); the ARNs are built in the deploying account.
    stack = result.stack
    assert set(entries) == {
        f"arn:aws:iam::{account}:role/platform-admin",
        f"arn:aws:iam::{account}:role/heal7-github-deploy-{stack}",
    }
    associations = {
        a.inputs["principalArn"]: a
        for a in result.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
        if a.parent == eks_cluster.urn
    }
    assert set(associations) == set(entries)
    for arn, entry in entries.items():
        assert entry.inputs["type"] == "STANDARD" and entry.inputs["clusterName"] == cluster.outputs["name"]
        association = associations[arn]
        assert association.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        assert association.inputs["accessScope"] == {"type": "cluster"}
        assert entry.urn in association.dependencies


def test_admin_roles_accept_full_arns(stack_config):
    from tools.synth import synth

    config = stack_config("dev")
    arn = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"
    config["platform:aws"]["eks"]["adminRoles"] = ["platform-admin", arn]
    result = synth("dev", config)
    admins = result.one("platform:aws:EksCluster").urn
    entries = [e for e in result.of_type("aws:eks/accessEntry:AccessEntry") if e.parent == admins]
    # Registration order varies (a name waits for the account lookup); compare as a set.
    assert sorted(e.inputs["principalArn"].split(":role/")[1] for e in entries) == [
        "aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123",
        "platform-admin",
    ]
    # Named by role name, never by position in the list.
    assert {e.name for e in entries} == {
        "heal7-dev-eks-admin-platform-admin",
        "heal7-dev-eks-admin-AWSReservedSSO_Admin_0123",
    }


def test_two_admin_roles_with_one_role_name_are_refused(stack_config):
    from tests.conftest import assert_rejected_before_any_resource

    config = stack_config("dev")
    # The config refuses it, naming the key; EksCluster keeps its own guard behind that.
    for same_role in ("arn:aws:iam::123456789012:role/platform-admin", "Platform-Admin"):
        config["platform:aws"]["eks"]["adminRoles"] = ["platform-admin", same_role]
        assert_rejected_before_any_resource("dev", config, "platform:aws.eks.adminRoles: expected each role name once")


@pytest.mark.parametrize("stack", STACKS)
def test_managed_addons_in_dependency_order_with_irsa_roles(synthed, stack):
    result = synthed(stack)
    addons = {a.inputs["addonName"]: a for a in result.of_type(ADDON)}
    assert set(addons) == {"vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-ebs-csi-driver"}
    cluster_name = result.one(CLUSTER).outputs["name"]
    assert all(a.inputs["clusterName"] == cluster_name for a in addons.values())
    # The VPC CNI must enforce NetworkPolicy, or the platform's default-deny is ignored.
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    # Each add-on is pinned to EKS's build for the cluster's version, looked up at preview.
    assert all(a.inputs["addonVersion"].endswith("-eksbuild.1") for a in addons.values())
    assert "aws:eks/getAddonVersion:getAddonVersion" in {token for token, _ in result.invokes}
    roles = {r.name: r for r in result.of_type("aws:iam/role:Role")}
    oidc_arn = result.outputs["eksOidcProviderArn"]
    issuer_host = result.outputs["eksOidcIssuerUrl"].removeprefix("https://")
    for addon, service_account, policy in [
        ("vpc-cni", "aws-node", "AmazonEKS_CNI_Policy"),
        ("aws-ebs-csi-driver", "ebs-csi-controller-sa", "service-role/AmazonEBSCSIDriverPolicy"),
    ]:
        role = next(r for r in roles.values() if r.outputs["arn"] == addons[addon].inputs["serviceAccountRoleArn"])
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Federated": oidc_arn}
        assert statement["Condition"]["StringEquals"] == {
            f"{issuer_host}:sub": f"system:serviceaccount:kube-system:{service_account}",
            f"{issuer_host}:aud": "sts.amazonaws.com",
        }
        attachments = [
            a
            for a in result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if a.inputs["role"] == role.outputs["name"]
        ]
        assert [a.inputs["policyArn"] for a in attachments] == [f"arn:aws:iam::aws:policy/{policy}"]
        # Named by the policy, and the add-on waits for the attachment, not only the role:
        # otherwise the controller's first AWS calls can be refused while IAM catches up.
        assert attachments[0].name == f"{role.name.removesuffix('-role')}-attach-{policy.rsplit('/', 1)[-1]}"
        assert attachments[0].urn in addons[addon].dependencies
    network_addons = result.one("platform:aws:EksAddons", f"heal7-{stack}-eks-network-addons")
    workload_addons = result.one("platform:aws:EksAddons", f"heal7-{stack}-eks-workload-addons")
    assert addons["coredns"].parent == workload_addons.urn and addons["vpc-cni"].parent == network_addons.urn
    # Nodes wait for the CNI, kube-proxy and the Pod Identity agent; coredns and ebs-csi
    # wait for nodes. (depends_on a component means its children.)
    before_nodes = {addons[n].urn for n in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")}
    for node_group in result.of_type("platform:aws:EksNodeGroup"):
        assert before_nodes <= set(node_group.dependencies)
    assert {g.urn for g in result.of_type(NODE_GROUP)} <= set(workload_addons.dependencies)


@pytest.mark.parametrize("stack", STACKS)
def test_node_groups_are_private_hardened_and_scaled_by_tier(synthed, stack):
    result = synthed(stack)
    cluster = result.one(CLUSTER)
    node_sg = result.one("aws:ec2/securityGroup:SecurityGroup", f"heal7-{stack}-eks-nodes")
    expected = {
        "dev": {"general": (1, 2, 8, ["m6i.large"]), "high-cpu": (0, 1, 2, ["c6i.xlarge"])},
        "staging": {"general": (2, 2, 8, ["m6i.xlarge"]), "high-cpu": (1, 2, 4, ["c6i.2xlarge"])},
        "prod": {"general": (3, 3, 12, ["m6i.2xlarge"]), "high-cpu": (2, 3, 10, ["c6i.4xlarge"])},
    }[stack]
    for role, (low, desired, high, types) in expected.items():
        component = result.one("platform:aws:EksNodeGroup", f"heal7-{stack}-eks-{role}")
        group = _child(result, component, NODE_GROUP)
        template = _child(result, component, LAUNCH_TEMPLATE)
        assert group.inputs["scalingConfig"] == {"minSize": low, "desiredSize": desired, "maxSize": high}
        assert group.inputs["instanceTypes"] == types
        # The autoscaler owns the desired size after creation.
        assert group.ignore_changes == ["scalingConfig.desiredSize"]
        assert group.inputs["subnetIds"] == result.outputs["privateSubnetIds"]
        assert group.inputs["clusterName"] == cluster.outputs["name"]
        assert group.inputs["launchTemplate"] == {"id": template.id, "version": "1"}
        assert "remoteAccess" not in group.inputs and "keyName" not in template.inputs
        assert template.inputs["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 2,
        }
        (device,) = template.inputs["blockDeviceMappings"]
        assert device["ebs"]["encrypted"] == "true" and device["ebs"]["volumeType"] == "gp3"
        assert template.inputs["vpcSecurityGroupIds"] == [
            cluster.outputs["vpcConfig"]["clusterSecurityGroupId"],
            node_sg.id,
        ]
        instance_tags = next(t["tags"] for t in template.inputs["tagSpecifications"] if t["resourceType"] == "instance")
        assert instance_tags["environment"] == stack and instance_tags["owner"] == "platform-team"
    general = _child(result, result.one("platform:aws:EksNodeGroup", f"heal7-{stack}-eks-general"), NODE_GROUP)
    high_cpu = _child(result, result.one("platform:aws:EksNodeGroup", f"heal7-{stack}-eks-high-cpu"), NODE_GROUP)
    assert "taints" not in general.inputs or general.inputs["taints"] == []
    assert high_cpu.inputs["taints"] == [{"key": "workload", "value": "saju-engine", "effect": "NO_SCHEDULE"}]
    assert high_cpu.inputs["labels"] == {"node-class": "high-cpu", "workload": "saju-engine"}


@pytest.mark.parametrize("stack", STACKS)
def test_node_role_is_least_privilege(synthed, stack):
    result = synthed(stack)
    role = result.one("aws:iam/role:Role", f"heal7-{stack}-eks-node-role")
    assert all(g.inputs["nodeRoleArn"] == role.outputs["arn"] for g in result.of_type(NODE_GROUP))
    policies = sorted(
        a.inputs["policyArn"]
        for a in result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.outputs["name"]
    )
    # The CNI's policy sits on the vpc-cni add-on's IRSA role, not on every node. The SSM
    # core policy is how operators reach nodes (Session Manager), as the network promises.
    assert policies == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    ]


def test_kubeconfig_uses_aws_eks_get_token(synthed):
    result = synthed("prod")
    cluster = result.one(CLUSTER)
    kubeconfig = json.loads(result.outputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"] == {
        "server": cluster.outputs["endpoint"],
        "certificate-authority-data": cluster.outputs["certificateAuthority"]["data"],
    }
    user = kubeconfig["users"][0]["user"]
    assert set(user) == {"exec"}  # no token, no client certificate: nothing static to leak
    assert user["exec"]["command"] == "aws"
    assert user["exec"]["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "heal7-prod-eks",
        "--region",
        "ap-northeast-2",
        "--output",
        "json",
    ]
    assert result.outputs["eksEndpoint"] == cluster.outputs["endpoint"]
    assert (
        result.outputs["eksNodeSecurityGroupId"]
        == result.one("aws:ec2/securityGroup:SecurityGroup", "heal7-prod-eks-nodes").id
    )


@pytest.mark.parametrize("stack", STACKS)
def test_auto_named_resources_fit_aws_name_limits(synthed, stack):
    """Pulumi appends '-' and 7 characters to a logical name; AWS caps some names."""
    result = synthed(stack)
    limits = {
        "aws:iam/role:Role": 64,
        "aws:elasticache/replicationGroup:ReplicationGroup": 40,
        "aws:eks/nodeGroup:NodeGroup": 63,
    }
    for type_token, limit in limits.items():
        for resource in result.of_type(type_token):
            assert len(resource.name) + 8 <= limit, (resource.name, limit)
