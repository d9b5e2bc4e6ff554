"""IngressGateway: the Istio ingress gateway behind Cloudflare, on the address the front door
already points at, with TLS that only Cloudflare can complete.

One component on both clusters; what differs is the load balancer (`AwsNlb`: the AWS Load
Balancer Controller's NLB on the reserved Elastic IPs; `GkeStaticAddress`: GKE's passthrough
network LB on the reserved regional address), built into the Service by
`components/kubernetes/_ingress_specs.py`.

- The gateway chart runs the Envoy pods (its own Service is off: `service.type: None`);
  this component writes the Service itself, so the load balancer's annotations, source
  ranges and ports are first-class objects that the offline checks and the policy pack
  see, and the front door can depend on the Service (Pulumi awaits its address and a
  ready endpoint).
- Only Cloudflare reaches it: `loadBalancerSourceRanges` are Cloudflare's published ranges
  (read at deploy time by the caller), and TLS is `MUTUAL` with Cloudflare's origin-pull
  CA, so a connection from an allowed range without Cloudflare's client certificate (any
  other service on those addresses) is refused in the handshake.
- The server certificate is a cert-manager Certificate for the hostnames the cluster
  serves; Cloudflare's Full (strict) mode verifies it.
- `/health` on the monitor's hostname is answered by the gateway itself (a direct
  response), so the pools report the gateway's health, not a workload's.
"""

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes._charts import ISTIO_GATEWAY, install_chart, restricted_namespace
from components.kubernetes._ingress_specs import (
    AwsNlb,
    GkeStaticAddress,
    HttpRoute,
    LoadBalancer,
    gateway_spec,
    load_balancer_service,
    virtual_service_spec,
)

NAMESPACE = "istio-ingress"
RELEASE = "istio-ingressgateway"
# The chart's selector labels for that release: `app` is the release name, `istio` the
# name without `istio-`; the HEAL7 design's Gateway selects `istio: ingressgateway`.
SELECTOR = {"app": RELEASE, "istio": "ingressgateway"}
SERVICE_ACCOUNT = RELEASE
"""The gateway pods' service account (the chart names it after the release): the mesh
principal workload namespaces admit."""
GATEWAY_NAME = "public"
TLS_SECRET = "public-gateway-tls"
CLIENT_CA_CONFIGMAP = "cloudflare-origin-pull-ca"
NETWORKING_API = "networking.istio.io/v1"
CERTIFICATE_API = "cert-manager.io/v1"

__all__ = ["SERVICE_ACCOUNT", "AwsNlb", "GkeStaticAddress", "HttpRoute", "IngressGateway", "IngressGatewayArgs"]


@dataclass
class IngressGatewayArgs:
    """Inputs of IngressGateway. Defaults: 1 to 5 replicas, `/health`."""

    load_balancer: LoadBalancer
    """Required: `AwsNlb` (subnets and Elastic IP allocations in AZ order) or `GkeStaticAddress`."""
    source_ranges: pulumi.Input[list[str]]
    """Required: the CIDRs allowed to connect (Cloudflare's IPv4 ranges, read at deploy time). On `AwsNlb` the
    caller keeps them within the NLB security group's rule quota (`check_security_group_rules`)."""
    routes: dict[str, list[HttpRoute]]
    """Required: hostname -> its path routes in match order (first match wins). Every hostname the
    cluster serves is a key; the certificate and the Gateway's hosts are exactly these keys."""
    issuer: pulumi.Input[str]
    """Required: the cert-manager ClusterIssuer that signs the server certificate; a publicly trusted one
    behind Cloudflare's Full (strict) mode."""
    client_ca_pem: str
    """Required: the PEM of the CA that signs the clients' certificates (Cloudflare's origin-pull CA)."""
    health_host: str
    """Required: the Host header of the front door's monitor; `health_path` answers on it."""
    health_path: str = "/health"
    """The monitor's path, answered 200 by the gateway itself. Default `/health` (the HEAL7 design)."""
    min_replicas: int = 1
    """HPA floor, in pods. Default 1; 2 or more adds a PodDisruptionBudget (minAvailable 1)."""
    max_replicas: int = 5
    """HPA ceiling, in pods. Default 5 (the chart's)."""
    mesh: list[pulumi.Resource] = field(default_factory=list)
    """What the gateway needs first: istiod (the injector fills in the gateway pods' proxy). Default none."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on the namespace (ownership). Default none."""


def gateway_values(*, min_replicas: int, max_replicas: int) -> dict[str, Any]:
    """Values for the `gateway` chart (keys of gateway/values.yaml, release-1.31)."""
    return {
        # The component writes the Service (see the module docstring).
        "service": {"type": "None"},
        "autoscaling": {
            "enabled": True,
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "targetCPUUtilizationPercentage": 80,
        },
        # Rendered by the chart only when minReplicas > 1.
        "podDisruptionBudget": {"minAvailable": 1},
        # Spread over zones (a zone loss leaves the others answering, and every address of the
        # cross-zone NLB keeps a target) and over nodes.
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": SELECTOR},
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ],
        # Pod Security restricted: non-root and RuntimeDefault seccomp at the pod level (the
        # chart's container context already drops every capability and forbids escalation).
        # Setting this replaces the chart's default, so its sysctl is kept: it lets the
        # non-root proxy bind 443 (a safe sysctl since Kubernetes 1.22, allowed by restricted).
        "securityContext": {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
        },
    }


class IngressGateway(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    service: kubernetes.core.v1.Service
    """The LoadBalancer Service (Pulumi awaits its address and a ready endpoint)."""
    certificate: kubernetes.apiextensions.CustomResource
    """The server certificate (Pulumi awaits its Ready condition). The front door waits for both."""
    hostnames: list[str]

    def __init__(self, name: str, args: IngressGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.routes:
            raise ValueError(f"IngressGateway {name}: routes must name at least one hostname")
        if args.health_host not in args.routes:
            raise ValueError(f"IngressGateway {name}: health_host {args.health_host!r} is not a routed hostname")
        if not 1 <= args.min_replicas <= args.max_replicas:
            raise ValueError(
                f"IngressGateway {name}: expected 1 <= min_replicas <= max_replicas, got "
                f"{args.min_replicas} and {args.max_replicas}"
            )
        super().__init__("platform:kubernetes:IngressGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        hostnames = sorted(args.routes)

        # The gateway pods meet restricted (gateway_values), so the namespace enforces it.
        namespace = restricted_namespace(f"{name}-namespace", NAMESPACE, args.labels, child)
        # The injector fills in the proxy (`image: auto`): the chart waits for istiod.
        chart = install_chart(
            f"{name}-chart",
            ISTIO_GATEWAY,
            release=RELEASE,
            namespace=namespace.metadata.name,
            values=gateway_values(min_replicas=args.min_replicas, max_replicas=args.max_replicas),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.mesh),
        )

        service_metadata, service_spec = load_balancer_service(args.load_balancer, args.source_ranges, SELECTOR)
        self.service = kubernetes.core.v1.Service(
            f"{name}-service",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=RELEASE,
                namespace=namespace.metadata.name,
                annotations=service_metadata,
            ),
            spec=service_spec,
            # Pulumi awaits a ready endpoint: the chart's pods first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[chart]),
        )

        # The server certificate, in the gateway's namespace (Istio reads credentialName there).
        certificate = kubernetes.apiextensions.CustomResource(
            f"{name}-certificate",
            api_version=CERTIFICATE_API,
            kind="Certificate",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=TLS_SECRET,
                namespace=namespace.metadata.name,
                # Pulumi does not await custom resources by default: this makes it wait until
                # cert-manager has the certificate, so what depends on it (the front door)
                # never serves before the gateway can complete a handshake.
                annotations={"pulumi.com/waitFor": "condition=Ready"},
            ),
            spec={
                "secretName": TLS_SECRET,
                "dnsNames": hostnames,
                "issuerRef": {"name": args.issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
                # A fresh key at every renewal; ECDSA P-256 (smaller handshakes, every
                # Cloudflare edge supports it).
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            },
            opts=child,
        )
        # The origin-pull CA is a public certificate, not a secret: a ConfigMap, which Istio
        # reads through `caCertCredentialName: configmap://<namespace>/<name>` (key ca.crt).
        client_ca = kubernetes.core.v1.ConfigMap(
            f"{name}-client-ca",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=CLIENT_CA_CONFIGMAP, namespace=namespace.metadata.name),
            data={"ca.crt": args.client_ca_pem},
            opts=child,
        )
        gateway = kubernetes.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=NETWORKING_API,
            kind="Gateway",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=GATEWAY_NAME, namespace=namespace.metadata.name),
            spec=gateway_spec(
                selector=SELECTOR,
                hostnames=hostnames,
                credential_name=TLS_SECRET,
                client_ca=f"configmap://{NAMESPACE}/{CLIENT_CA_CONFIGMAP}",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[chart, certificate, client_ca, *args.mesh]),
        )
        for hostname in hostnames:
            kubernetes.apiextensions.CustomResource(
                f"{name}-routes-{hostname}",
                api_version=NETWORKING_API,
                kind="VirtualService",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(
                    name=hostname.replace(".", "-"), namespace=namespace.metadata.name
                ),
                spec=virtual_service_spec(
                    hostname=hostname,
                    gateway=f"{NAMESPACE}/{GATEWAY_NAME}",
                    routes=args.routes[hostname],
                    health_path=args.health_path if hostname == args.health_host else None,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
            )

        self.namespace = namespace.metadata.name
        self.certificate = certificate
        self.hostnames = hostnames
        self.register_outputs({"namespace": self.namespace, "hostnames": hostnames})
