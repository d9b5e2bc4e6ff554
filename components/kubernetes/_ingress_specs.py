"""The ingress gateway's objects as plain specs: the cloud's LoadBalancer Service, the Istio
Gateway and the per-hostname VirtualServices. Pure functions, so the tests read exactly what
IngressGateway registers.

Field names are the Kubernetes core/v1 Service's, the AWS Load Balancer Controller v3.5.0's
Service annotations (docs/guide/service/annotations.md at that tag), GKE's LoadBalancer
Service parameters, and Istio's networking.istio.io/v1 Gateway and VirtualService.
"""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

HTTPS_PORT = 443
# The proxy's readiness endpoint (Envoy's status port, served by every Istio gateway).
STATUS_PORT = 15021
AWS_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-"


@dataclass(frozen=True)
class AwsNlb:
    """An internet-facing NLB made by the AWS Load Balancer Controller on reserved Elastic IPs."""

    subnet_ids: pulumi.Input[list[str]]
    """Required: the public subnets, one per AZ, in AZ order."""
    allocation_ids: list[pulumi.Input[str]]
    """Required: the Elastic IP allocations, one per subnet, in the same AZ order (the controller pairs
    the two lists by position)."""


@dataclass(frozen=True)
class GkeStaticAddress:
    """GKE's external passthrough network LB on a reserved regional address."""

    address_name: pulumi.Input[str]
    """Required: the name of the reserved regional EXTERNAL address (not the IP)."""


LoadBalancer = AwsNlb | GkeStaticAddress


@dataclass(frozen=True)
class HttpRoute:
    """A path prefix of a hostname, sent to one Service of a workload namespace."""

    path_prefix: str
    """Required: the URI prefix it matches (`/api/`, `/`)."""
    namespace: str
    """Required: the Service's namespace."""
    service: str
    """Required: the Service's name."""
    port: int
    """Required: the Service's port."""
    delegate: str | None = None
    """A VirtualService in the Service's namespace the route hands over to (Istio delegation), for a
    workload whose traffic a rollout controller splits. Default None: route to the Service."""

    @property
    def host(self) -> str:
        """The Service's cluster-local FQDN (the VirtualServices live in the gateway's namespace)."""
        return f"{self.service}.{self.namespace}.svc.cluster.local"


def security_group_rules(range_count: int) -> int:
    """Inbound rules the controller writes on the NLB's frontend security group: one per
    source range and listener port. The Service has one listener (443): Cloudflare reaches
    origins only on HTTPS with Full (strict), and the NLB health-checks the targets on the
    status port from its own addresses, through the controller's backend rules."""
    return range_count * len([HTTPS_PORT])


# AWS's default quota of inbound rules per security group (VPC quotas: "Inbound or
# outbound rules per security group", 60, counted apart for IPv4 and IPv6).
SECURITY_GROUP_RULES_QUOTA = 60


def check_security_group_rules(ranges: list[str], quota: int = SECURITY_GROUP_RULES_QUOTA) -> list[str]:
    """`ranges`, once sure the NLB's rules for them fit one security group: above the quota the
    controller fails to reconcile and the NLB keeps its old rules, so a preview fails instead."""
    rules = security_group_rules(len(ranges))
    if rules > quota:
        raise ValueError(
            f"the ingress source ranges: {len(ranges)} ranges make {rules} inbound rules on the EKS ingress NLB's "
            f"security group (one per range and listener port), over the {quota} a security group holds (VPC quota "
            "'Inbound or outbound rules per security group'): raise the quota and SECURITY_GROUP_RULES_QUOTA in "
            "components/kubernetes/_ingress_specs.py, or aggregate the ranges"
        )
    return ranges


def load_balancer_service(
    load_balancer: LoadBalancer, source_ranges: pulumi.Input[list[str]], selector: dict[str, str]
) -> tuple[pulumi.Input[dict[str, str]], kubernetes.core.v1.ServiceSpecArgs]:
    """The annotations and spec of the gateway's LoadBalancer Service on `load_balancer`."""
    ports = [kubernetes.core.v1.ServicePortArgs(name="https", port=HTTPS_PORT, target_port=HTTPS_PORT, protocol="TCP")]
    if isinstance(load_balancer, AwsNlb):
        annotations = pulumi.Output.all(
            pulumi.Output.from_input(load_balancer.subnet_ids), pulumi.Output.all(*load_balancer.allocation_ids)
        ).apply(lambda ids: aws_nlb_annotations(list(ids[0]), list(ids[1])))
        return annotations, kubernetes.core.v1.ServiceSpecArgs(
            type="LoadBalancer",
            # The controller's class: the in-tree cloud provider ignores the Service, so no
            # Classic LB is made even before the controller runs.
            load_balancer_class="service.k8s.aws/nlb",
            ports=ports,
            selector=selector,
            load_balancer_source_ranges=source_ranges,
        )
    annotations = pulumi.Output.from_input(load_balancer.address_name).apply(gke_annotations)
    return annotations, kubernetes.core.v1.ServiceSpecArgs(
        type="LoadBalancer",
        # The client's address reaches the pod (no second hop through another node), and the
        # LB only sends to nodes that run a gateway pod.
        external_traffic_policy="Local",
        ports=ports,
        selector=selector,
        load_balancer_source_ranges=source_ranges,
    )


def aws_nlb_annotations(subnet_ids: list[str], allocation_ids: list[str]) -> dict[str, str]:
    if len(subnet_ids) != len(allocation_ids):
        raise ValueError(
            f"AwsNlb: expected one Elastic IP allocation per subnet, got {len(allocation_ids)} for "
            f"{len(subnet_ids)} subnets"
        )
    return {
        f"{AWS_ANNOTATION}scheme": "internet-facing",
        # Pod IPs as targets: no NodePort hop, and the security groups see the real source.
        f"{AWS_ANNOTATION}nlb-target-type": "ip",
        # The public subnets and their reserved addresses, paired by position (AZ order):
        # the addresses Cloudflare's aws-primary pool names as origins.
        f"{AWS_ANNOTATION}subnets": ",".join(subnet_ids),
        f"{AWS_ANNOTATION}eip-allocations": ",".join(allocation_ids),
        # IP targets do not preserve the client address by default: turn it on, so the
        # gateway sees Cloudflare's address (the visitor's is in CF-Connecting-IP).
        f"{AWS_ANNOTATION}target-group-attributes": "preserve_client_ip.enabled=true",
        # Every address reaches every gateway pod: an AZ without a pod does not fail its origin.
        f"{AWS_ANNOTATION}attributes": "load_balancing.cross_zone.enabled=true",
        # Healthy = the proxy is ready (has its configuration from istiod).
        f"{AWS_ANNOTATION}healthcheck-protocol": "http",
        f"{AWS_ANNOTATION}healthcheck-port": str(STATUS_PORT),
        f"{AWS_ANNOTATION}healthcheck-path": "/healthz/ready",
    }


def gke_annotations(address_name: str) -> dict[str, str]:
    return {
        # The reserved address by name (spec.loadBalancerIP is deprecated since Kubernetes 1.24).
        "networking.gke.io/load-balancer-ip-addresses": address_name,
        # A backend-service-based external passthrough NLB (GKE's recommended kind).
        "cloud.google.com/l4-rbs": "enabled",
    }


def gateway_spec(*, selector: dict[str, str], hostnames: list[str], credential_name: str, client_ca: str) -> dict:
    """One HTTPS server for every hostname, mutual TLS with the client CA."""
    return {
        "selector": selector,
        "servers": [
            {
                "port": {"number": HTTPS_PORT, "name": "https", "protocol": "HTTPS"},
                "hosts": hostnames,
                "tls": {
                    # The client must present a certificate signed by Cloudflare's origin-pull
                    # CA: a request that bypasses the edge fails the handshake.
                    "mode": "MUTUAL",
                    "credentialName": credential_name,
                    "caCertCredentialName": client_ca,
                    # The zone's edge floor is TLS 1.2 too.
                    "minProtocolVersion": "TLSV1_2",
                },
            }
        ],
    }


def virtual_service_spec(*, hostname: str, gateway: str, routes: list[HttpRoute], health_path: str | None) -> dict:
    """The routes of one hostname on the gateway; the health route first when it is the monitor's host."""
    http: list[dict] = []
    if health_path is not None:
        # Answered by the gateway itself: healthy means the proxy runs, holds its listener
        # and certificate from istiod and accepted Cloudflare's client certificate.
        http.append(
            {
                "name": "gateway-health",
                "match": [{"uri": {"exact": health_path}}],
                "directResponse": {"status": 200, "body": {"string": "ok\n"}},
            }
        )
    for route in routes:
        match = [{"uri": {"prefix": route.path_prefix}}]
        if route.delegate is not None:
            http.append({"match": match, "delegate": {"name": route.delegate, "namespace": route.namespace}})
        else:
            http.append(
                {"match": match, "route": [{"destination": {"host": route.host, "port": {"number": route.port}}}]}
            )
    # exportTo ".": a gateway's routes, not part of the sidecars' configuration.
    return {"hosts": [hostname], "gateways": [gateway], "exportTo": ["."], "http": http}
