"""The AWS network of each stack under mocks: VPC, subnets, NAT, routes, flow logs."""

import ipaddress
import json

import pytest

from components.aws.network import AwsNetwork, AwsNetworkArgs
from tests.conftest import STACKS

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
AZS = {
    "dev": ["ap-northeast-2a", "ap-northeast-2c"],
    "staging": ["ap-northeast-2a", "ap-northeast-2c"],
    "prod": ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"],
}


def _flow_log_child(result, type_token):
    (child,) = [r for r in result.children_of(result.one("platform:aws:VpcFlowLogs")) if r.type == type_token]
    return child


def _subnets(result, tier):
    subnets = [s for s in result.of_type(SUBNET) if s.inputs["tags"]["tier"] == tier]
    return sorted(subnets, key=lambda s: s.inputs["availabilityZone"])


@pytest.mark.parametrize("stack", STACKS)
def test_every_cloud_resource_uses_the_explicit_provider(synthed, stack):
    result = synthed(stack)
    assert {r.type for r in result.resources if r.type.startswith("pulumi:providers:")} == {
        "pulumi:providers:aws",
        "pulumi:providers:gcp",
        "pulumi:providers:random",
        "pulumi:providers:cloudflare",
        "pulumi:providers:kubernetes",
        "pulumi:providers:docker",
    }
    aws_provider = result.one("pulumi:providers:aws")
    gcp_provider = result.one("pulumi:providers:gcp")
    random_provider = result.one("pulumi:providers:random")
    assert aws_provider.inputs["region"] == "ap-northeast-2"
    expected_project = {"dev": "heal7-dev", "staging": "heal7-staging", "prod": "heal7-production"}[stack]
    assert (gcp_provider.inputs["project"], gcp_provider.inputs["region"]) == (expected_project, "asia-northeast3")
    cloudflare_provider = result.one("pulumi:providers:cloudflare")
    # No token in the stack files: the real provider reads CLOUDFLARE_API_TOKEN instead.
    assert "apiToken" not in cloudflare_provider.inputs
    custom = [r for r in result.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    assert custom and all(r.package in ("aws", "gcp", "random", "cloudflare", "kubernetes", "docker") for r in custom)
    assert all(r.provider == aws_provider.urn for r in custom if r.package == "aws")
    assert all(r.provider == gcp_provider.urn for r in custom if r.package == "gcp")
    assert all(r.provider == random_provider.urn for r in custom if r.package == "random")
    assert all(r.provider == cloudflare_provider.urn for r in custom if r.package == "cloudflare")
    # Kubernetes objects: each cluster's own provider (tests/test_kubernetes_foundation.py).
    kubernetes_providers = {p.urn for p in result.of_type("pulumi:providers:kubernetes")}
    assert len(kubernetes_providers) == 2
    assert all(r.provider in kubernetes_providers for r in custom if r.package == "kubernetes")
    # The base image's builds: the engine's provider, which only stacks that build it have
    # (the registries' lookup providers need no engine; tests/test_images.py).
    docker_builds = [r for r in custom if r.package == "docker"]
    assert all(
        r.provider == f"urn:pulumi:{stack}::multicloud-platform::pulumi:providers:docker::heal7-{stack}-docker-build"
        for r in docker_builds
    )
    assert len(docker_builds) == (0 if stack == "dev" else 2)


@pytest.mark.parametrize("stack", STACKS)
def test_vpc_has_dns_and_the_configured_range(synthed, stack):
    result = synthed(stack)
    vpc = result.one(VPC)
    assert vpc.inputs["cidrBlock"] == {"dev": "10.10.0.0/16", "staging": "10.20.0.0/16", "prod": "10.30.0.0/16"}[stack]
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True
    assert result.outputs["vpcId"] == vpc.id
    assert result.outputs["vpcCidr"] == vpc.inputs["cidrBlock"]


@pytest.mark.parametrize("stack", STACKS)
def test_one_public_and_one_private_subnet_per_az_with_eks_tags(synthed, stack):
    result = synthed(stack)
    vpc = result.one(VPC)
    public, private = _subnets(result, "public"), _subnets(result, "private")
    assert [s.inputs["availabilityZone"] for s in public] == AZS[stack]
    assert [s.inputs["availabilityZone"] for s in private] == AZS[stack]
    vpc_range = ipaddress.IPv4Network(vpc.inputs["cidrBlock"])
    ranges = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in public + private]
    assert all(r.subnet_of(vpc_range) for r in ranges)
    assert all(not a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1 :])
    for subnet in public:
        assert subnet.inputs["tags"]["kubernetes.io/role/elb"] == "1"
        assert "kubernetes.io/role/internal-elb" not in subnet.inputs["tags"]
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    for subnet in private:
        assert subnet.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert ipaddress.IPv4Network(subnet.inputs["cidrBlock"]).prefixlen == 19
    assert all(s.inputs["vpcId"] == vpc.id for s in public + private)
    assert result.outputs["privateSubnetIds"] == [s.id for s in private]
    assert result.outputs["publicSubnetIds"] == [s.id for s in public]


def test_prod_has_a_nat_gateway_per_az_routed_within_its_az(synthed):
    result = synthed("prod")
    public = {s.id: s.inputs["availabilityZone"] for s in _subnets(result, "public")}
    private = {s.id: s.inputs["availabilityZone"] for s in _subnets(result, "private")}
    nats = result.of_type(NAT)
    assert len(nats) == 3
    nat_zone = {nat.id: public[nat.inputs["subnetId"]] for nat in nats}
    assert sorted(nat_zone.values()) == AZS["prod"]  # one NAT in each AZ's public subnet
    eips = {eip.id: eip for eip in result.of_type(EIP)}
    assert all(eips[nat.inputs["allocationId"]].inputs["domain"] == "vpc" for nat in nats)
    nat_eips = [eips[nat.inputs["allocationId"]] for nat in nats]

    table_zone = {
        a.inputs["routeTableId"]: private[a.inputs["subnetId"]]
        for a in result.of_type(ASSOCIATION)
        if a.inputs["subnetId"] in private
    }
    defaults = [r for r in result.of_type(ROUTE) if r.inputs["routeTableId"] in table_zone]
    assert len(defaults) == 3
    for route in defaults:
        assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0"
        # Each private subnet leaves through the NAT in its own AZ: a zone loss stays local.
        assert nat_zone[route.inputs["natGatewayId"]] == table_zone[route.inputs["routeTableId"]]
    assert sorted(result.outputs["natPublicIps"]) == sorted(e.outputs["publicIp"] for e in nat_eips)


def test_dev_has_one_nat_shared_by_every_private_subnet(synthed):
    result = synthed("dev")
    (nat,) = result.of_type(NAT)
    private_tables = {
        a.inputs["routeTableId"]
        for a in result.of_type(ASSOCIATION)
        if a.inputs["subnetId"] in {s.id for s in _subnets(result, "private")}
    }
    routes = [r for r in result.of_type(ROUTE) if r.inputs["routeTableId"] in private_tables]
    assert len(private_tables) == 2 and len(routes) == 2
    assert {r.inputs["natGatewayId"] for r in routes} == {nat.id}


@pytest.mark.parametrize("stack", STACKS)
def test_public_subnets_route_to_the_internet_gateway(synthed, stack):
    result = synthed(stack)
    igw = result.one("aws:ec2/internetGateway:InternetGateway")
    public_ids = {s.id for s in _subnets(result, "public")}
    tables = {a.inputs["routeTableId"] for a in result.of_type(ASSOCIATION) if a.inputs["subnetId"] in public_ids}
    assert len(tables) == 1
    (route,) = [r for r in result.of_type(ROUTE) if r.inputs["routeTableId"] in tables]
    assert route.inputs == {"routeTableId": tables.pop(), "destinationCidrBlock": "0.0.0.0/0", "gatewayId": igw.id}
    # NAT gateways wait for the IGW, as AWS requires for a public NAT.
    assert all(igw.urn in nat.dependencies for nat in result.of_type(NAT))


@pytest.mark.parametrize(("stack", "retention"), [("dev", 14), ("staging", 30), ("prod", 365)])
def test_flow_logs_capture_all_traffic_into_an_encrypted_log_group(synthed, stack, retention):
    result = synthed(stack)
    flow_log, log_group, key = (
        result.one(FLOW_LOG),
        _flow_log_child(result, LOG_GROUP),
        _flow_log_child(result, KMS_KEY),
    )
    assert flow_log.inputs["vpcId"] == result.one(VPC).id
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["logDestination"] == log_group.outputs["arn"]
    assert log_group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert log_group.inputs["retentionInDays"] == retention
    assert key.inputs["enableKeyRotation"] is True
    statements = json.loads(key.inputs["policy"])["Statement"]
    logs_statement = next(s for s in statements if s["Principal"].get("Service") == "logs.ap-northeast-2.amazonaws.com")
    assert logs_statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == [log_group.outputs["arn"]]


@pytest.mark.parametrize("stack", STACKS)
def test_flow_log_role_is_least_privilege(synthed, stack):
    result = synthed(stack)
    role = _flow_log_child(result, "aws:iam/role:Role")
    log_group = _flow_log_child(result, LOG_GROUP)
    account = log_group.outputs["arn"].split(":")[4]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            # Confused-deputy guard: only flow logs of this account may assume the role.
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:ap-northeast-2:{account}:vpc-flow-log/*"},
            },
        }
    ]
    flow_log = result.one(FLOW_LOG)
    assert flow_log.inputs["iamRoleArn"] == role.outputs["arn"]
    role_policy = _flow_log_child(result, "aws:iam/rolePolicy:RolePolicy")
    assert role_policy.urn in flow_log.dependencies  # no delivery before the permission exists
    statements = json.loads(role_policy.inputs["policy"])["Statement"]
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == ["logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    write = next(s for s in statements if s["Sid"] == "WriteFlowLogStreams")
    assert write["Resource"] == [log_group.outputs["arn"], log_group.outputs["arn"] + ":*"]
    find = next(s for s in statements if s["Sid"] == "FindLogGroup")
    assert find["Resource"] == f"arn:aws:logs:ap-northeast-2:{account}:log-group:*"


@pytest.mark.parametrize("stack", STACKS)
def test_default_network_acl_denies_ssh_from_anywhere_and_no_ephemeral_port(synthed, stack):
    result = synthed(stack)
    acl = result.one("aws:ec2/defaultNetworkAcl:DefaultNetworkAcl")
    assert acl.inputs["defaultNetworkAclId"] == result.one(VPC).outputs["defaultNetworkAclId"]
    assert sorted(acl.inputs["subnetIds"]) == sorted(s.id for s in result.of_type(SUBNET))
    rules = sorted(acl.inputs["ingress"], key=lambda r: r["ruleNo"])
    denied = [(r["fromPort"], r["toPort"], r["cidrBlock"]) for r in rules if r["action"] == "deny"]
    assert denied == [(22, 22, "0.0.0.0/0")]
    # Return traffic of NAT gateways and load balancers arrives on 1024-65535: a stateless
    # deny anywhere in that range (RDP's 3389 was one) drops replies at random.
    assert all(r["toPort"] < 1024 for r in rules if r["action"] == "deny")
    # The deny rules are evaluated first (lower rule numbers) and the allow-all comes last.
    assert rules[-1]["action"] == "allow" and all(r["ruleNo"] < rules[-1]["ruleNo"] for r in rules[:-1])


@pytest.mark.parametrize("stack", STACKS)
def test_default_security_group_allows_nothing(synthed, stack):
    default_sg = synthed(stack).one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs["ingress"] == [] and default_sg.inputs["egress"] == []


@pytest.mark.parametrize(("stack", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_flow_log_group_and_key_are_protected_in_prod_only(synthed, stack, protected):
    result = synthed(stack)
    log_group, key = _flow_log_child(result, LOG_GROUP), _flow_log_child(result, KMS_KEY)
    assert log_group.protect is protected and key.protect is protected
    assert log_group.inputs["deletionProtectionEnabled"] is protected
    assert log_group.inputs["name"] == f"/aws/vpc-flow-logs/heal7-{stack}-network-flow-logs"


@pytest.mark.parametrize("stack", STACKS)
def test_network_resources_are_named_for_the_console(synthed, stack):
    """Common tags come from the provider (see test_aws_platform); each resource adds its Name."""
    result = synthed(stack)
    network = result.one("platform:aws:AwsNetwork")
    taggable = [r for r in result.resources if r.custom and "tags" in r.inputs and r.parent == network.urn]
    assert {r.type for r in taggable} >= {VPC, SUBNET, NAT, EIP, ROUTE_TABLE, "aws:ec2/internetGateway:InternetGateway"}
    for resource in taggable:
        assert resource.inputs["tags"]["Name"].startswith(f"heal7-{stack}-network"), resource.name


@pytest.mark.parametrize("stack", STACKS)
def test_network_children_are_parented_and_named_after_their_component(synthed, stack):
    result = synthed(stack)
    network = result.one("platform:aws:AwsNetwork")
    flow_logs = result.one("platform:aws:VpcFlowLogs")
    assert network.name == f"heal7-{stack}-network"
    assert (
        network.parent == f"urn:pulumi:{stack}::multicloud-platform::pulumi:pulumi:Stack::multicloud-platform-{stack}"
    )
    assert flow_logs.parent == network.urn and flow_logs.name == f"{network.name}-flow-logs"
    assert {r.name for r in result.children_of(flow_logs)} == {
        f"{flow_logs.name}-{role}" for role in ("key", "alias", "group", "role", "write", "vpc")
    }


def test_urns_have_the_engines_shape(synthed):
    result = synthed("prod")
    network = result.one("platform:aws:AwsNetwork")
    assert network.urn == "urn:pulumi:prod::multicloud-platform::platform:aws:AwsNetwork::heal7-prod-network"
    key = _flow_log_child(result, KMS_KEY)
    assert key.urn == (
        "urn:pulumi:prod::multicloud-platform::platform:aws:AwsNetwork$platform:aws:VpcFlowLogs"
        "$aws:kms/key:Key::heal7-prod-network-flow-logs-key"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_invoke_goes_through_the_explicit_provider(synthed, stack):
    result = synthed(stack)
    providers = {
        p.type.removeprefix("pulumi:providers:"): f"{p.urn}::{p.id}"
        for p in result.resources
        if p.type.startswith("pulumi:providers:") and p.type != "pulumi:providers:docker"
    }
    registries = {p.name: f"{p.urn}::{p.id}" for p in result.of_type("pulumi:providers:docker")}
    assert set(result.invokes) == {
        # Short-lived registry credentials, and the workload images' digests in the
        # registry each cluster pulls from, each through its own provider (stacks/images.py).
        ("aws:ecr/getAuthorizationToken:getAuthorizationToken", providers["aws"]),
        ("gcp:organizations/getClientConfig:getClientConfig", providers["gcp"]),
        ("docker:index/getRegistryImage:getRegistryImage", registries[f"heal7-{stack}-ecr-docker"]),
        ("docker:index/getRegistryImage:getRegistryImage", registries[f"heal7-{stack}-registry-docker"]),
        ("aws:index/getCallerIdentity:getCallerIdentity", providers["aws"]),
        ("aws:index/getPartition:getPartition", providers["aws"]),
        ("aws:index/getRegion:getRegion", providers["aws"]),
        ("aws:eks/getAddonVersion:getAddonVersion", providers["aws"]),
        # The GKE service agent's address needs the project number.
        ("gcp:organizations/getProject:getProject", providers["gcp"]),
        # Cloudflare's published ranges, the only sources the ingress load balancers admit.
        ("cloudflare:index/getIpRanges:getIpRanges", providers["cloudflare"]),
    }


def test_s3_gateway_endpoint_serves_the_private_route_tables(synthed):
    result = synthed("prod")
    endpoint = result.one("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["serviceName"] == "com.amazonaws.ap-northeast-2.s3"
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    assert endpoint.inputs["routeTableIds"] == result.outputs["privateRouteTableIds"]


def test_component_rejects_subnet_lists_that_do_not_match_the_azs():
    args = AwsNetworkArgs(
        vpc_cidr="10.0.0.0/16",
        availability_zones=["ap-northeast-2a", "ap-northeast-2c"],
        private_subnet_cidrs=["10.0.0.0/19"],
        public_subnet_cidrs=["10.0.64.0/24", "10.0.65.0/24"],
    )
    with pytest.raises(ValueError, match="one private and one public subnet CIDR per AZ"):
        AwsNetwork("bad", args)
