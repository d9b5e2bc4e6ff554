"""WorkloadNamespace: a namespace workloads run in, locked down before anything runs in it.

The namespace enforces a Pod Security level (`restricted` unless the caller says why not)
and starts from deny-all in both directions, then allows only what the platform needs:

- DNS to the cluster's resolver in kube-system (EKS CoreDNS and GKE kube-dns both carry
  `k8s-app: kube-dns`);
- traffic between the namespace's own pods (sidecar to sidecar in the mesh);
- ingress from the ingress, mesh and monitoring namespaces only (the HEAL7 design's
  security-policies.yaml admits istio-system and monitoring; the gateway runs in its own
  istio-ingress namespace);
- egress to the data stores' ranges, one port each (PostgreSQL 5432, Redis 6379);
- egress to the mesh's control plane (istiod's xDS and certificate port, 15012), so
  sidecars get their configuration and certificates once the mesh lands.

The same component runs on EKS (the VPC CNI's network policy agent enforces the
policies) and GKE (Dataplane V2). Objects have fixed names: a namespace or policy is an
identity other objects refer to, not something to auto-name.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes._charts import pod_security_labels

WORKLOAD_LABEL = "platform.heal7.io/workload"
"""Marks a namespace as a workload namespace (the policy pack checks such namespaces)."""
# istiod's injector admits pods of namespaces with this label (the default revision).
SIDECAR_INJECTION_LABEL = "istio-injection"
# Namespaces whose pods may open connections into a workload namespace.
DEFAULT_INGRESS_SOURCES = ("istio-ingress", "istio-system", "monitoring")
DNS_PORT = 53
MESH_CONTROL_NAMESPACE = "istio-system"
# istiod serves xDS and signs workload certificates on 15012 (Istio's ports reference).
MESH_CONTROL_PORT = 15012


@dataclass(frozen=True)
class EgressDestination:
    """A data store the namespace's pods may reach: its ranges and its one port."""

    key: str
    """Required: a stable name (`postgres`, `redis`); it names the NetworkPolicy."""
    cidrs: list[str]
    """Required: the store's IPv4 ranges in network form (its subnets, or its private-services range)."""
    port: int
    """Required: the TCP port, e.g. 5432 for PostgreSQL."""
    description: str
    """Required: what the store is; shown as the policy's annotation."""


@dataclass
class WorkloadNamespaceArgs:
    """Inputs of WorkloadNamespace. Defaults: restricted, deny-all plus the platform's allows."""

    namespace: str
    """Required: the namespace's name in the cluster (a DNS label); the component's own name
    also says which cluster, since both clusters have the same namespaces."""
    pod_security: str = "restricted"
    """Pod Security level enforced, warned and audited. Default restricted (CIS EKS 4.2, CIS GKE 4.2)."""
    pod_security_reason: str | None = None
    """Why a lower level is needed; required below restricted, recorded as an annotation. Default None."""
    ingress_source_namespaces: list[str] = field(default_factory=lambda: list(DEFAULT_INGRESS_SOURCES))
    """Namespaces whose pods may connect in. Default istio-ingress, istio-system and monitoring
    (the HEAL7 design's rule, with the gateway's own namespace)."""
    egress_destinations: list[EgressDestination] = field(default_factory=list)
    """Data stores the pods may reach, each by key. Default none."""
    sidecar_injection: bool = True
    """Label the namespace `istio-injection: enabled`, so istiod injects the mesh's proxy into
    every pod (STRICT mTLS then admits them). Default true."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on the namespace (ownership). Default none."""


class WorkloadNamespace(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    """The namespace's name, once it exists (depend on it through this)."""

    def __init__(self, name: str, args: WorkloadNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        if args.pod_security not in ("restricted", "baseline", "privileged"):
            raise ValueError(f"WorkloadNamespace {name}: unknown Pod Security level {args.pod_security!r}")
        if args.pod_security != "restricted" and not args.pod_security_reason:
            raise ValueError(f"WorkloadNamespace {name}: say why it runs below restricted (pod_security_reason)")
        keys = [destination.key for destination in args.egress_destinations]
        if len(set(keys)) != len(keys):
            raise ValueError(f"WorkloadNamespace {name}: egress destination keys must be unique, got {keys}")
        super().__init__("platform:kubernetes:WorkloadNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        pod_security = pod_security_labels(args.pod_security)
        namespace = kubernetes.core.v1.Namespace(
            f"{name}-namespace",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=args.namespace,
                labels={
                    **args.labels,
                    **pod_security,
                    WORKLOAD_LABEL: "true",
                    **({SIDECAR_INJECTION_LABEL: "enabled"} if args.sidecar_injection else {}),
                },
                annotations=(
                    {"platform.heal7.io/pod-security-reason": args.pod_security_reason}
                    if args.pod_security_reason
                    else None
                ),
            ),
            opts=child,
        )
        namespace_name = namespace.metadata.name
        # name -> (purpose, spec). Policies wait for the namespace through its name.
        policies: dict[str, tuple[str, kubernetes.networking.v1.NetworkPolicySpecArgs]] = {
            # Every pod, both directions, nothing listed: all traffic is denied until an
            # allow below (or a workload's own policy) admits it.
            "default-deny": (
                "Deny all ingress and egress; the other policies of the namespace allow what the platform needs.",
                kubernetes.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=_all_pods(), policy_types=["Ingress", "Egress"]
                ),
            ),
            "allow-dns": (
                "DNS to the cluster resolver in kube-system.",
                _egress(
                    [_pods_of("kube-system", {"k8s-app": "kube-dns"})],
                    [kubernetes.networking.v1.NetworkPolicyPortArgs(protocol=p, port=DNS_PORT) for p in ("UDP", "TCP")],
                ),
            ),
            # Pods of one namespace call each other (the mesh's sidecars talk pod to pod);
            # other workload namespaces stay out (the config refuses calls across them).
            "allow-same-namespace": (
                "Pods of this namespace to and from each other.",
                kubernetes.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=_all_pods(),
                    policy_types=["Ingress", "Egress"],
                    ingress=[
                        kubernetes.networking.v1.NetworkPolicyIngressRuleArgs(
                            from_=[kubernetes.networking.v1.NetworkPolicyPeerArgs(pod_selector=_all_pods())]
                        )
                    ],
                    egress=[
                        kubernetes.networking.v1.NetworkPolicyEgressRuleArgs(
                            to=[kubernetes.networking.v1.NetworkPolicyPeerArgs(pod_selector=_all_pods())]
                        )
                    ],
                ),
            ),
            "allow-ingress-from-platform": (
                "Connections in from the ingress gateway, the mesh and monitoring only.",
                kubernetes.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=_all_pods(),
                    policy_types=["Ingress"],
                    ingress=[
                        kubernetes.networking.v1.NetworkPolicyIngressRuleArgs(
                            from_=[
                                kubernetes.networking.v1.NetworkPolicyPeerArgs(
                                    namespace_selector=_namespace_selector(source)
                                )
                                for source in args.ingress_source_namespaces
                            ]
                        )
                    ],
                ),
            ),
            "allow-egress-mesh": (
                "Sidecars to istiod (configuration and certificates).",
                _egress([_pods_of(MESH_CONTROL_NAMESPACE, {"app": "istiod"})], [_tcp(MESH_CONTROL_PORT)]),
            ),
        }
        for destination in args.egress_destinations:
            policies[f"allow-egress-{destination.key}"] = (
                destination.description,
                _egress(
                    [
                        kubernetes.networking.v1.NetworkPolicyPeerArgs(
                            ip_block=kubernetes.networking.v1.IPBlockArgs(cidr=cidr)
                        )
                        for cidr in destination.cidrs
                    ],
                    [_tcp(destination.port)],
                ),
            )
        for policy_name, (purpose, spec) in policies.items():
            kubernetes.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(
                    name=policy_name,
                    namespace=namespace_name,
                    annotations={"platform.heal7.io/purpose": purpose},
                ),
                spec=spec,
                opts=child,
            )

        self.namespace = namespace_name
        self.register_outputs({"namespace": self.namespace})


def _namespace_selector(namespace: str) -> kubernetes.meta.v1.LabelSelectorArgs:
    """Selects one namespace by the name label Kubernetes sets on every namespace."""
    return kubernetes.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": namespace})


def _all_pods() -> kubernetes.meta.v1.LabelSelectorArgs:
    """Every pod of the policy's own namespace (an empty selector, no namespaceSelector)."""
    return kubernetes.meta.v1.LabelSelectorArgs()


def _pods_of(namespace: str, labels: dict[str, str]) -> kubernetes.networking.v1.NetworkPolicyPeerArgs:
    """The pods with `labels` in another namespace."""
    return kubernetes.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=_namespace_selector(namespace),
        pod_selector=kubernetes.meta.v1.LabelSelectorArgs(match_labels=labels),
    )


def _tcp(port: int) -> kubernetes.networking.v1.NetworkPolicyPortArgs:
    return kubernetes.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port)


def _egress(
    to: list[kubernetes.networking.v1.NetworkPolicyPeerArgs],
    ports: list[kubernetes.networking.v1.NetworkPolicyPortArgs],
) -> kubernetes.networking.v1.NetworkPolicySpecArgs:
    """Every pod of the namespace may open connections to `to` on `ports`, and nothing else."""
    return kubernetes.networking.v1.NetworkPolicySpecArgs(
        pod_selector=_all_pods(),
        policy_types=["Egress"],
        egress=[kubernetes.networking.v1.NetworkPolicyEgressRuleArgs(to=to, ports=ports)],
    )
