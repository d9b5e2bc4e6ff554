"""MeshAuthorization: Istio authorization by default deny in one workload namespace.

Two AuthorizationPolicies (security.istio.io/v1), both without a workload selector, so
they cover every pod of the namespace:

- `default-deny`: an ALLOW policy with no rules. It matches nothing, so a request that no
  other ALLOW policy admits is refused (Istio's documented allow-nothing policy); it stays
  in force if the allow policy below is ever removed or emptied.
- `allow-callers`: the ingress gateway's service account, the monitoring namespace (the
  HEAL7 design's rule: ingress only from the gateway and monitoring) and the calls between
  workloads the config declares (the HEAL7 design's heal7-authz: web-main may GET and
  POST). Identities are the mTLS peers' SPIFFE principals, which mesh-wide STRICT mTLS
  guarantees are present and authentic.

This sits beside the namespace's NetworkPolicies (WorkloadNamespace), not instead of them:
those filter by address at L3/L4, these by workload identity and method at L7.
"""

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as kubernetes

SECURITY_API = "security.istio.io/v1"
TRUST_DOMAIN = "cluster.local"
"""Istio's default trust domain, the same on both clusters (no multi-cluster mesh between them)."""


def principal(namespace: str, service_account: str) -> str:
    """The SPIFFE principal Istio gives a service account's workloads (without `spiffe://`)."""
    return f"{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}"


@dataclass(frozen=True)
class MeshCaller:
    """A workload allowed to call into the namespace."""

    namespace: str
    """Required: the caller's namespace."""
    service_account: str
    """Required: the caller's service account."""
    methods: tuple[str, ...] = ()
    """HTTP methods it may use. Default none listed: any method."""


@dataclass
class MeshAuthorizationArgs:
    """Inputs of MeshAuthorization. Defaults: monitoring admitted, no workload calls."""

    namespace: pulumi.Input[str]
    """Required: the workload namespace."""
    ingress_principals: list[str]
    """Required: principals of the ingress gateway(s) that route into the namespace (`principal()`)."""
    monitoring_namespaces: list[str] = field(default_factory=lambda: ["monitoring"])
    """Namespaces whose mesh workloads may call the app ports. Default `monitoring`. The identity comes from
    the mTLS peer, so a caller outside the mesh is refused by STRICT mTLS first; kubelet probes and Istio's
    merged metrics go to the proxy's own port 15020 and are not subject to these policies."""
    callers: list[MeshCaller] = field(default_factory=list)
    """Calls between workloads the config declares. Default none."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What must exist first: istiod (the CRDs and their validating webhook). Default none."""


def allow_rules(args: MeshAuthorizationArgs) -> list[dict]:
    """The `rules` of the allow policy, in a stable order (gateway, monitoring, callers)."""
    rules: list[dict] = [{"from": [{"source": {"principals": sorted(args.ingress_principals)}}]}]
    if args.monitoring_namespaces:
        rules.append({"from": [{"source": {"namespaces": sorted(args.monitoring_namespaces)}}]})
    for caller in sorted(args.callers, key=lambda c: (c.namespace, c.service_account)):
        rule: dict = {"from": [{"source": {"principals": [principal(caller.namespace, caller.service_account)]}}]}
        if caller.methods:
            rule["to"] = [{"operation": {"methods": list(caller.methods)}}]
        rules.append(rule)
    return rules


class MeshAuthorization(pulumi.ComponentResource):
    def __init__(self, name: str, args: MeshAuthorizationArgs, opts: pulumi.ResourceOptions | None = None):
        if not args.ingress_principals:
            raise ValueError(f"MeshAuthorization {name}: ingress_principals must name the ingress gateway")
        super().__init__("platform:kubernetes:MeshAuthorization", name, None, opts)
        after = pulumi.ResourceOptions(parent=self, depends_on=args.after)

        def policy(role: str, policy_name: str, spec: dict) -> None:
            kubernetes.apiextensions.CustomResource(
                f"{name}-{role}",
                api_version=SECURITY_API,
                kind="AuthorizationPolicy",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name=policy_name, namespace=args.namespace),
                spec=spec,
                opts=after,
            )

        policy("deny", "default-deny", {})
        policy("allow", "allow-callers", {"action": "ALLOW", "rules": allow_rules(args)})
        self.register_outputs({})
