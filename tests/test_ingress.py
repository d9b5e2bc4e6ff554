"""The ingress gateways and the front door, asserted as relationships over the synthesized
stacks: every value a gateway object carries is followed back to the resource or config key
it must come from (the reserved addresses, the subnets' zones, the Cloudflare ranges invoke,
the load balancers' hostnames and pools, the declared Services, the origin-pull CA file)."""

import json
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import tools.mock_outputs
from stacks.config.certificates import CLOUDFLARE_ORIGIN_PULL_CA
from stacks.config.loader import parse_platform_config
from stacks.config.models import PlatformConfig
from tests.conftest import PROJECT_ROOT, STACKS, assert_rejected_before_any_resource
from tools.synth import Registration, SynthResult, read_stack_config, synth

SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
GATEWAY = "kubernetes:networking.istio.io/v1:Gateway"
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
EIP = "aws:ec2/eip:Eip"
SUBNET = "aws:ec2/subnet:Subnet"
GCP_ADDRESS = "gcp:compute/address:Address"
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
LB = "cloudflare:index/loadBalancer:LoadBalancer"
MONITOR = "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor"
IP_RANGES_INVOKE = "cloudflare:index/getIpRanges:getIpRanges"
AWS_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-"
GKE_ADDRESS_ANNOTATION = "networking.gke.io/load-balancer-ip-addresses"
# The pool a cluster's gateway answers for (stacks/config/cloudflare_models.py AWS_POOL, GCP_POOL).
POOL_OF_CLUSTER = {"eks": "aws-primary", "gke": "gcp-secondary"}
# AWS's default quota of inbound rules per security group; the NLB's frontend group gets one
# rule per source range and listener port.
SECURITY_GROUP_RULE_QUOTA = 60


def _config(stack: str) -> PlatformConfig:
    """The stack file's config as the program reads it (provider-level keys left out)."""
    raw = {k: v for k, v in read_stack_config(stack).items() if k.split(":", 1)[0] in ("platform", "aws", "gcp")}
    return parse_platform_config(raw, stack)


def _provider_urns(result: SynthResult, config: PlatformConfig) -> dict[str, str]:
    """Cluster (`eks`, `gke`) -> the URN of its explicit Kubernetes provider."""
    providers = {p.name: p.urn for p in result.of_type("pulumi:providers:kubernetes")}
    return {cluster: providers[f"{config.resource_prefix}-{cluster}-k8s"] for cluster in ("eks", "gke")}


def _on_cluster(result: SynthResult, type_token: str, provider_urn: str) -> list[Registration]:
    return [r for r in result.of_type(type_token) if r.provider == provider_urn]


def _only(items: Iterable[Registration]) -> Registration:
    (item,) = items
    return item


def _gateway_services(result: SynthResult, config: PlatformConfig) -> dict[str, Registration]:
    """Cluster -> its one internet-facing LoadBalancer Service (the ingress gateway's; GKE's
    internal one in front of Prometheus is private to the VPCs, test_monitoring_stack.py)."""
    return {
        cluster: _only(
            s
            for s in _on_cluster(result, SERVICE, urn)
            if s.inputs["spec"]["type"] == "LoadBalancer" and s.inputs["metadata"]["namespace"] == "istio-ingress"
        )
        for cluster, urn in _provider_urns(result, config).items()
    }


def _ingress_eips(result: SynthResult) -> dict[str, Registration]:
    """AZ -> the reserved ingress Elastic IP of AwsNetwork (`<network>-ingress-<az>`)."""
    network = result.one("platform:aws:AwsNetwork")
    prefix = f"{network.name}-ingress-"
    return {
        e.name.removeprefix(prefix): e
        for e in result.children_of(network)
        if e.type == EIP and e.name.startswith(prefix)
    }


def _pools(result: SynthResult, config: PlatformConfig) -> dict[str, Registration]:
    """Pool name (aws-primary, gcp-secondary, split) -> its registration."""
    prefix = f"{config.resource_prefix}-edge-"
    return {p.inputs["name"].removeprefix(prefix): p for p in result.of_type(POOL)}


def _pool_ids_of(balancer: Registration) -> set[str]:
    """Every pool a load balancer may send to: default, fallback and per-country pools."""
    inputs = balancer.inputs
    ids = {*inputs["defaultPools"], inputs["fallbackPool"]}
    for country_pools in (inputs.get("countryPools") or {}).values():
        ids.update(country_pools)
    return ids


def _origin_addresses(pool: Registration) -> list[str]:
    return [origin["address"] for origin in pool.inputs["origins"]]


def _annotated_eips(result: SynthResult, service: Registration) -> list[Registration]:
    """The Elastic IPs the EKS Service's eip-allocations annotation names, in its order."""
    by_allocation = {e.outputs["allocationId"]: e for e in result.of_type(EIP)}
    allocations = service.inputs["metadata"]["annotations"][f"{AWS_ANNOTATION}eip-allocations"].split(",")
    return [by_allocation[allocation] for allocation in allocations]


def _annotated_address(result: SynthResult, service: Registration) -> Registration:
    """The reserved GCP address the GKE Service's annotation names (by its name output)."""
    name = service.inputs["metadata"]["annotations"][GKE_ADDRESS_ANNOTATION]
    return _only(a for a in result.of_type(GCP_ADDRESS) if a.outputs["name"] == name)


def _clusters_serving(result: SynthResult, config: PlatformConfig) -> dict[str, set[str]]:
    """Hostname -> the clusters whose gateway one of its load balancer's pools sends to, found
    from the pools' origins: an origin that is an address the EKS Service is bound to means
    EKS, the GKE Service's address means GKE."""
    services = _gateway_services(result, config)
    cluster_of_address = {e.outputs["publicIp"]: "eks" for e in _annotated_eips(result, services["eks"])}
    cluster_of_address[_annotated_address(result, services["gke"]).outputs["address"]] = "gke"
    pools_by_id = {p.id: p for p in result.of_type(POOL)}
    return {
        lb.inputs["name"]: {
            cluster_of_address[address]
            for pool_id in _pool_ids_of(lb)
            for address in _origin_addresses(pools_by_id[pool_id])
        }
        for lb in result.of_type(LB)
    }


# -- the load balancers the Services make -------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_eks_nlb_takes_the_reserved_eips_in_the_public_subnets_az_order(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    service = _gateway_services(result, config)["eks"]
    annotations = service.inputs["metadata"]["annotations"]

    # Each subnet id, back to its subnet resource: a public subnet (its route table sends
    # 0.0.0.0/0 to the VPC's internet gateway), one per configured AZ.
    subnets = {s.id: s for s in result.of_type(SUBNET)}
    route_table_of = {
        a.inputs["subnetId"]: a.inputs["routeTableId"]
        for a in result.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    }
    internet_gateway = result.one("aws:ec2/internetGateway:InternetGateway").id
    internet_routes = {
        r.inputs["routeTableId"]
        for r in result.of_type("aws:ec2/route:Route")
        if r.inputs["destinationCidrBlock"] == "0.0.0.0/0" and r.inputs.get("gatewayId") == internet_gateway
    }
    subnet_ids = annotations[f"{AWS_ANNOTATION}subnets"].split(",")
    assert all(route_table_of[subnet_id] in internet_routes for subnet_id in subnet_ids)
    subnet_zones = [subnets[subnet_id].inputs["availabilityZone"] for subnet_id in subnet_ids]
    assert sorted(subnet_zones) == sorted(config.aws.availability_zones)

    # Each allocation id, back to its Elastic IP: exactly AwsNetwork's reserved ingress EIPs,
    # the one of each subnet's AZ at the subnet's position (the controller pairs by position).
    reserved = _ingress_eips(result)
    annotated = _annotated_eips(result, service)
    assert sorted(e.urn for e in annotated) == sorted(e.urn for e in reserved.values())
    assert [reserved[zone].urn for zone in subnet_zones] == [e.urn for e in annotated]

    assert annotations[f"{AWS_ANNOTATION}scheme"] == "internet-facing"
    assert annotations[f"{AWS_ANNOTATION}nlb-target-type"] == "ip"
    assert annotations[f"{AWS_ANNOTATION}target-group-attributes"] == "preserve_client_ip.enabled=true"
    assert service.inputs["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"


@pytest.mark.parametrize("stack", STACKS)
def test_gke_service_claims_the_reserved_address_by_name_not_by_load_balancer_ip(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    service = _gateway_services(result, config)["gke"]
    address = _annotated_address(result, service)
    # The one reserved regional external address of GcpNetwork, in the cluster's region.
    assert address.urn == result.one(GCP_ADDRESS, f"heal7-{stack}-gcp-ingress").urn
    assert address.parent == result.one("platform:gcp:GcpNetwork").urn
    assert (address.inputs["addressType"], address.inputs["region"]) == ("EXTERNAL", config.gcp_region)
    # The deprecated field stays unset: GKE would otherwise take the IP from it.
    assert "loadBalancerIP" not in service.inputs["spec"]


# -- only Cloudflare reaches the origins ------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_both_services_admit_exactly_the_ranges_the_cloudflare_invoke_returned(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    services = _gateway_services(result, config)
    for service in services.values():
        assert service.inputs["spec"]["loadBalancerSourceRanges"] == list(tools.mock_outputs.CLOUDFLARE_IPV4_RANGES)
    # One read of the ranges, through the stack's explicit Cloudflare provider.
    provider = result.one("pulumi:providers:cloudflare")
    assert [ref for token, ref in result.invokes if token == IP_RANGES_INVOKE] == [f"{provider.urn}::{provider.id}"]
    # The NLB's security group holds one inbound rule per range and Service port.
    eks = services["eks"].inputs["spec"]
    assert len(eks["loadBalancerSourceRanges"]) * len(eks["ports"]) < SECURITY_GROUP_RULE_QUOTA


def test_the_source_ranges_follow_the_invoke_not_a_copied_list(monkeypatch):
    # Whatever Cloudflare publishes at deploy time, in its order, reaches both Services.
    published = ("198.41.128.0/17", "104.16.0.0/13", "2.57.0.0/22")
    monkeypatch.setattr(tools.mock_outputs, "CLOUDFLARE_IPV4_RANGES", published)
    result = synth("dev")
    services = _gateway_services(result, _config("dev"))
    assert {c: s.inputs["spec"]["loadBalancerSourceRanges"] for c, s in services.items()} == {
        "eks": list(published),
        "gke": list(published),
    }


# Run in a child process: a synth that fails after resources registered leaves the failed
# run's pending outputs in this process's event loop, and they fail the next synth here.
OVERSIZE_SYNTH = """
import json
import tools.mock_outputs
from tools.synth import SynthError, synth
tools.mock_outputs.CLOUDFLARE_IPV4_RANGES = tuple(f"203.0.{index}.0/24" for index in range(61))
try:
    synth("dev")
except SynthError as error:
    print(json.dumps({"error": str(error), "types": [[r.type, r.name] for r in error.result.resources]}))
"""


def test_more_ranges_than_a_security_group_holds_fail_and_register_no_gateway_service():
    child = subprocess.run(
        [sys.executable, "-c", OVERSIZE_SYNTH], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert child.stdout, f"the synth with 61 ranges did not fail: {child.stderr[-2000:]}"
    outcome = json.loads(child.stdout)
    assert (
        "the ingress source ranges: 61 ranges make 61 inbound rules on the EKS ingress NLB's security group "
        "(one per range and listener port), over the 60 a security group holds"
    ) in outcome["error"]
    # It failed midway (the rest of the stack, the front door included, registered), yet
    # neither gateway Service did: the one checked list feeds both clouds.
    registered = [name for type_token, name in outcome["types"]]
    assert "heal7-dev-edge" in registered
    assert [name for type_token, name in outcome["types"] if type_token == SERVICE and "-ingress-" in name] == []


# -- the pools' origins are the addresses the Services are bound to --------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_pool_origin_is_an_address_a_gateway_service_is_bound_to(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    services = _gateway_services(result, config)
    eks_addresses = sorted(e.outputs["publicIp"] for e in _annotated_eips(result, services["eks"]))
    gke_address = _annotated_address(result, services["gke"]).outputs["address"]
    pools = _pools(result, config)
    assert sorted(_origin_addresses(pools["aws-primary"])) == eks_addresses
    assert _origin_addresses(pools["gcp-secondary"]) == [gke_address]
    # The weighted split pool: both clouds' bound addresses, nothing else.
    assert sorted(_origin_addresses(pools["split"])) == sorted([*eks_addresses, gke_address])


# -- TLS at the gateway -------------------------------------------------------------------


def _openssl(*args: str, pem: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", "x509", "-noout", *args], input=pem, capture_output=True, text=True, check=False)


def _check_origin_pull_ca(pem: str) -> None:
    """`pem` is exactly certs/cloudflare-origin-pull-ca.pem's certificate: Cloudflare's
    origin-pull CA, a CA certificate valid today (parsed with openssl; `cryptography` is
    not installed here)."""
    assert pem.count("-----BEGIN CERTIFICATE-----") == 1
    committed = Path(CLOUDFLARE_ORIGIN_PULL_CA).read_text()
    fingerprint = _openssl("-fingerprint", "-sha256", pem=pem)
    assert fingerprint.returncode == 0, fingerprint.stderr
    assert fingerprint.stdout == _openssl("-fingerprint", "-sha256", pem=committed).stdout
    subject = _openssl("-subject", "-nameopt", "RFC2253", pem=pem).stdout
    assert subject.startswith("subject=CN=origin-pull.cloudflare.net,")
    assert "CA:TRUE" in _openssl("-ext", "basicConstraints", pem=pem).stdout
    # Valid on today's date: started, and not past notAfter (-checkend 0 exits 0).
    start = _openssl("-startdate", pem=pem).stdout.strip().removeprefix("notBefore=")
    assert datetime.strptime(start, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC) <= datetime.now(UTC)
    assert _openssl("-checkend", "0", pem=pem).returncode == 0


@pytest.mark.parametrize("stack", STACKS)
def test_each_gateway_serves_its_load_balancers_hostnames_over_mutual_tls(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    serving = _clusters_serving(result, config)
    pools_by_id = {p.id: p for p in result.of_type(POOL)}
    prefix = f"{config.resource_prefix}-edge-"
    for cluster, provider in _provider_urns(result, config).items():
        hostnames = sorted(host for host, clusters in serving.items() if cluster in clusters)
        # The same answer from the pools' names: the load balancers that name this cluster's pool.
        named = sorted(
            lb.inputs["name"]
            for lb in result.of_type(LB)
            if any(pools_by_id[i].inputs["name"] == prefix + POOL_OF_CLUSTER[cluster] for i in _pool_ids_of(lb))
        )
        assert hostnames == named

        certificate = _only(_on_cluster(result, CERTIFICATE, provider))
        assert sorted(certificate.inputs["spec"]["dnsNames"]) == hostnames
        gateway = _only(_on_cluster(result, GATEWAY, provider))
        (server,) = gateway.inputs["spec"]["servers"]
        assert sorted(server["hosts"]) == hostnames
        assert (int(server["port"]["number"]), server["port"]["protocol"]) == (443, "HTTPS")
        tls = server["tls"]
        assert tls["mode"] == "MUTUAL"
        # The server certificate is the one cert-manager writes into the Gateway's namespace.
        assert certificate.inputs["metadata"]["namespace"] == gateway.inputs["metadata"]["namespace"]
        assert tls["credentialName"] == certificate.inputs["spec"]["secretName"]
        # The client CA: a ConfigMap on the same cluster whose ca.crt is Cloudflare's origin-pull CA.
        ca_namespace, _, ca_name = tls["caCertCredentialName"].removeprefix("configmap://").partition("/")
        config_map = _only(
            c
            for c in _on_cluster(result, CONFIG_MAP, provider)
            if (c.inputs["metadata"]["namespace"], c.inputs["metadata"].get("name")) == (ca_namespace, ca_name)
        )
        _check_origin_pull_ca(config_map.inputs["data"]["ca.crt"])


# -- routes -------------------------------------------------------------------------------


def _gateway_bound(result: SynthResult, provider: str) -> list[Registration]:
    """The VirtualServices bound to the ingress gateway (not the workloads' mesh or edge ones)."""
    return [v for v in _on_cluster(result, VIRTUAL_SERVICE, provider) if "gateways" in v.inputs["spec"]]


def _destination(result: SynthResult, provider: str, route: dict) -> tuple[str, str, int]:
    """(namespace, Service, port) a gateway route reaches: its single destination, or, for a route
    handed to a delegate VirtualService (a canary workload's edge routes), the delegate's
    destinations, which must all be one Service's (its stable and canary subsets)."""
    if "delegate" in route:
        delegate = route["delegate"]
        (edge,) = [
            v.inputs["spec"]
            for v in _on_cluster(result, VIRTUAL_SERVICE, provider)
            if v.inputs["metadata"]["name"] == delegate["name"]
            and v.inputs["metadata"]["namespace"] == delegate["namespace"]
        ]
        targets = [target for r in edge["http"] for target in r["route"]]
    else:
        targets = route["route"]
    reached = set()
    for target in targets:
        service, namespace, suffix = target["destination"]["host"].split(".", 2)
        assert suffix == "svc.cluster.local"
        reached.add((namespace, service, int(target["destination"]["port"]["number"])))
    (only,) = reached
    return only


@pytest.mark.parametrize("stack", STACKS)
def test_virtual_services_route_each_hostname_to_declared_services_on_its_clusters(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    serving = _clusters_serving(result, config)
    declared: dict[str, dict[str, int]] = {}
    for name, workload in config.workloads.items():
        declared.setdefault(workload.namespace, {})[name] = workload.port
    hosts_on: dict[str, set[str]] = {host: set() for host in serving}
    for cluster, provider in _provider_urns(result, config).items():
        gateway = _only(_on_cluster(result, GATEWAY, provider))
        gateway_ref = f"{gateway.inputs['metadata']['namespace']}/{gateway.inputs['metadata']['name']}"
        for virtual_service in _gateway_bound(result, provider):
            spec = virtual_service.inputs["spec"]
            (hostname,) = spec["hosts"]
            hosts_on[hostname].add(cluster)
            assert spec["gateways"] == [gateway_ref]
            routes = [r for r in spec["http"] if "route" in r or "delegate" in r]
            for route in routes:
                namespace, service, port = _destination(result, provider, route)
                assert declared[namespace][service] == port, (cluster, hostname, route)
                # A canary workload's paths go through its edge delegate (the Rollout moves its weights).
                canary = config.workloads[service].delivery.strategy == "canary"
                assert ("delegate" in route) is canary, (hostname, route)
            # The prefix routes are the config's, in its order (first match wins).
            assert [
                (r["match"][0]["uri"]["prefix"], "/".join(_destination(result, provider, r)[:2])) for r in routes
            ] == [(r.path_prefix, r.service) for r in config.kubernetes.ingress.routes[hostname]]
    # Each hostname's VirtualService exists on exactly the clusters its pools send to.
    assert hosts_on == serving


@pytest.mark.parametrize("stack", STACKS)
def test_the_monitor_host_answers_the_monitor_path_itself_on_both_gateways(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    monitor = config.cloudflare.monitor
    registered = result.one(MONITOR).inputs
    # The registered monitor probes what the config says, with the monitor host's Host header.
    assert (registered["path"], registered["expectedCodes"]) == (monitor.path, monitor.expected_codes)
    assert registered["header"] == {"Host": [config.cloudflare.monitor_host]}
    for provider in _provider_urns(result, config).values():
        virtual_service = _only(
            v for v in _gateway_bound(result, provider) if v.inputs["spec"]["hosts"] == [config.cloudflare.monitor_host]
        )
        first, *rest = virtual_service.inputs["spec"]["http"]
        assert first["match"] == [{"uri": {"exact": monitor.path}}]
        assert int(first["directResponse"]["status"]) == int(monitor.expected_codes) == 200
        assert "route" not in first
        assert rest and all("directResponse" not in r for r in rest)
    # No other hostname answers the monitor path by itself.
    others = [
        v for v in result.of_type(VIRTUAL_SERVICE) if v.inputs["spec"].get("hosts") != [config.cloudflare.monitor_host]
    ]
    assert others and all("directResponse" not in r for v in others for r in v.inputs["spec"]["http"])


# -- the front door on, after the gateways -----------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_load_balancers_serve_only_after_both_gateway_services(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    certificates = result.of_type("kubernetes:cert-manager.io/v1:Certificate")
    assert len(certificates) == 2
    # Pulumi awaits the certificates' Ready condition (it awaits no custom resource by default).
    assert {c.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] for c in certificates} == {"condition=Ready"}
    service_urns = {s.urn for s in _gateway_services(result, config).values()} | {c.urn for c in certificates}
    balancers = result.of_type(LB)
    assert {lb.inputs["name"] for lb in balancers} == set(config.cloudflare.load_balancers)
    for lb in balancers:
        # Each load balancer itself waits for both Services (their address and a ready endpoint)
        # and both certificates.
        assert service_urns <= set(lb.dependencies)
        # serveTraffic: true in every stack file.
        assert lb.inputs["enabled"] is True
    # Monitors and pools do not wait: they can exist before the gateways answer.
    for pool in result.of_type("cloudflare:index/loadBalancerPool:LoadBalancerPool"):
        assert not service_urns & set(pool.dependencies)
    assert config.cloudflare.serve_traffic is True


# -- config errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda k: k["ingress"]["routes"]["heal7.com"].__setitem__(
                1, {"pathPrefix": "/", "service": "heal7-production/heal7-shop"}
            ),
            "platform:kubernetes.ingress.routes.heal7.com[1].service: expected a workload of platform:workloads "
            "(heal7-production/heal7-ai-models, heal7-production/heal7-api-gateway, heal7-production/heal7-saju-engine, "
            "heal7-production/heal7-web-main), got 'heal7-production/heal7-shop'",
        ),
        (
            lambda k: k["ingress"]["routes"].__setitem__(
                "shop.heal7.com", [{"pathPrefix": "/", "service": "heal7-production/heal7-web-main"}]
            ),
            "platform:kubernetes.ingress.routes.shop.heal7.com: expected a platform:cloudflare.loadBalancers hostname",
        ),
        (
            lambda k: k["ingress"]["routes"].pop("www.heal7.com"),
            "platform:kubernetes.ingress.routes: expected routes for www.heal7.com "
            "(a platform:cloudflare.loadBalancers hostname), got none",
        ),
        (
            lambda k: k["ingress"]["routes"]["heal7.com"].reverse(),
            "platform:kubernetes.ingress.routes.heal7.com[1].pathPrefix: '/api/' is shadowed by the earlier prefix '/'",
        ),
    ],
    ids=[
        "route to an undeclared workload",
        "routed hostname not load balanced",
        "load balanced without routes",
        "shadowed prefix",
    ],
)
def test_bad_routes_are_refused_before_any_resource(stack_config, mutate, expected):
    config = stack_config("prod")
    mutate(config["platform:kubernetes"])
    assert_rejected_before_any_resource("prod", config, expected)
