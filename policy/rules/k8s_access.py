"""Kubernetes access and isolation controls: least-privilege RBAC, LoadBalancer Services
only for the ingress gateway and only from listed source ranges, network policies that
admit only the ingress and monitoring namespaces, STRICT mTLS, no literal Secret data and
no default namespace."""

import ipaddress
from collections.abc import Iterator, Mapping

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import Config, as_list, checkov, cis_eks, cloudflare_guide, get, requirement
from .k8s_workloads import ROLLOUT
from .k8s_workloads import kubernetes_control as _control

ROLES = ["kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"]
BINDINGS = [
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
]
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PEER_AUTHENTICATION = [
    "kubernetes:security.istio.io/v1:PeerAuthentication",
    "kubernetes:security.istio.io/v1beta1:PeerAuthentication",
]
# Kinds that live in a namespace; cluster-scoped kinds (Namespace, ClusterRole, CRDs) are exempt.
NAMESPACED = [
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
    ROLLOUT,
    SERVICE,
    SECRET,
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:ServiceAccount",
    NETWORK_POLICY,
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:policy/v1:PodDisruptionBudget",
    ROLES[0],
    BINDINGS[0],
    *PEER_AUTHENTICATION,
]
ESCALATION_VERBS = ("bind", "escalate", "impersonate")


def _rules(args: ResourceValidationArgs) -> list:
    return as_list(get(args.props, "rules"))


def _no_wildcards(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    for index, rule in enumerate(_rules(args)):
        for field in ("verbs", "resources", "apiGroups"):
            if "*" in as_list(get(rule, field)):
                yield f"rules[{index}].{field} contains '*'"


def _no_escalation_verbs(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    for index, rule in enumerate(_rules(args)):
        granted = [verb for verb in as_list(get(rule, "verbs")) if verb in ESCALATION_VERBS]
        if granted:
            yield f"rules[{index}] grants {granted}, which let the holder exceed its own rights"


def _no_cluster_admin(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    subjects = [get(s, "name") for s in as_list(get(args.props, "subjects"))]
    if get(args.props, "roleRef.name") == "cluster-admin" and not set(subjects) <= set(config["allowedSubjects"]):
        yield f"binds cluster-admin to {subjects}"


# The annotations that make a LoadBalancer Service internal (a private address inside the VPC,
# unreachable from the internet): GKE's internal passthrough LB, the AWS LBC's internal NLB.
INTERNAL_LOAD_BALANCER = {
    "networking.gke.io/load-balancer-type": "Internal",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
}


def _load_balancer_only_ingress(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    if get(args.props, "spec.type") != "LoadBalancer":
        return
    annotations = get(args.props, "metadata.annotations") or {}
    if isinstance(annotations, Mapping) and any(
        annotations.get(key) == value for key, value in INTERNAL_LOAD_BALANCER.items()
    ):
        # Private to the VPCs (the other cloud's Grafana across the VPN); its source ranges
        # are still checked by k8s-load-balancer-source-ranges.
        return
    namespace = get(args.props, "metadata.namespace")
    if namespace not in config["ingressNamespaces"]:
        yield f"a LoadBalancer Service in namespace {namespace!r} bypasses the ingress gateway (spec.type)"


def _load_balancer_source_ranges(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    """A LoadBalancer Service lists the addresses it admits, and none of them is the whole internet.

    Kubernetes opens a load balancer to everyone when spec.loadBalancerSourceRanges is empty
    (the cloud providers' firewall rule then reads 0.0.0.0/0); the ingress gateway's list is
    Cloudflare's published ranges (the Cloudflare IP-ranges invoke), so only the edge reaches the
    origins (Cloudflare's "protect your origin": allow only Cloudflare IP addresses). Only the
    field counts: Kubernetes falls back to the older service.beta.kubernetes.io/load-balancer-
    source-ranges annotation when it is empty, but the platform sets the field, so a Service
    restricted only by the annotation is refused too.

    A range that is unknown during preview stops the check where it is read, after reporting
    what came before it (the framework's rule for resource controls)."""
    if get(args.props, "spec.type") != "LoadBalancer":
        return
    ranges = get(args.props, "spec.loadBalancerSourceRanges")
    if not ranges:
        yield "the load balancer admits every address (spec.loadBalancerSourceRanges is empty)"
        return
    ipv4: list[ipaddress.IPv4Network] = []
    ipv6: list[ipaddress.IPv6Network] = []
    for index, cidr in enumerate([ranges] if isinstance(ranges, str) else ranges):
        try:
            network = ipaddress.ip_network(str(cidr).strip(), strict=False)
        except ValueError:
            yield f"spec.loadBalancerSourceRanges[{index}] {cidr!r} is not a CIDR range"
            continue
        if network.prefixlen == 0:
            # 0.0.0.0/0, ::/0, and any other /0 (10.0.0.0/0 is the whole IPv4 space too).
            yield f"spec.loadBalancerSourceRanges[{index}] {cidr} admits every IPv{network.version} address"
        elif isinstance(network, ipaddress.IPv4Network):
            ipv4.append(network)
        else:
            ipv6.append(network)
    # Ranges that only together cover a family (0.0.0.0/1 and 128.0.0.0/1) are the internet too.
    for merged in [*ipaddress.collapse_addresses(ipv4), *ipaddress.collapse_addresses(ipv6)]:
        if merged.prefixlen == 0:
            yield f"spec.loadBalancerSourceRanges together admit every IPv{merged.version} address"


def _network_policy_sources(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    # A platform namespace may also admit the namespaces its service exists for (the logging
    # cluster: Fluent Bit's writers and ECK's operator).
    own = config["platformNamespaceSources"].get(get(args.props, "metadata.namespace"), [])
    allowed = set(config["allowedSourceNamespaces"]) | set(own)
    for index, rule in enumerate(as_list(get(args.props, "spec.ingress"))):
        peers = as_list(get(rule, "from"))
        if not peers:
            yield f"spec.ingress[{index}] admits every source (no 'from')"
        for peer in peers:
            if get(peer, "ipBlock"):
                yield f"spec.ingress[{index}] admits an ipBlock ({get(peer, 'ipBlock.cidr')})"
            selector = get(peer, "namespaceSelector")
            if selector is not None:
                # Both documents select namespaces by their `name` label; Kubernetes sets
                # kubernetes.io/metadata.name on every namespace.
                labels = get(selector, "matchLabels") or {}
                name = labels.get("kubernetes.io/metadata.name") or labels.get("name")
                if name not in allowed:
                    yield f"spec.ingress[{index}] admits namespace {name or 'any'}, not one of {sorted(allowed)}"


def _strict_mtls(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    mode = get(args.props, "spec.mtls.mode")
    if mode != "STRICT":
        # Istio: an unset mode inherits the parent policy's (workload from namespace, namespace
        # from the mesh-wide one), PERMISSIVE when there is none; each policy states STRICT itself.
        yield f"mutual TLS is {mode or 'unset (inherits its parent, PERMISSIVE without one)'}, not STRICT (spec.mtls.mode)"
    for port, setting in (get(args.props, "spec.portLevelMtls") or {}).items():
        if get(setting, "mode") != "STRICT":
            yield f"port {port} relaxes mTLS to {get(setting, 'mode')}"


def _no_secret_data(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    for field in ("data", "stringData"):
        if get(args.props, field):
            yield f"the Secret carries literal values in {field} (the email-platform ops guide's base64 Secrets are the anti-example)"


def _not_default_namespace(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    namespace = get(args.props, "metadata.namespace")
    if namespace in (None, "", "default"):
        yield (
            f"the object lands in the {'provider default' if not namespace else 'default'} namespace "
            "(metadata.namespace)"
        )


POLICIES = [
    _control(
        "k8s-rbac-no-wildcards",
        "Roles name their verbs, resources and API groups; no '*'.",
        Severity.HIGH,
        checkov("CKV_K8S_49"),
        ROLES,
        "secure: a rule without a field grants nothing",
        "list the exact verbs, resources and apiGroups",
        _no_wildcards,
    ),
    _control(
        "k8s-rbac-no-escalation-verbs",
        "Roles do not grant bind, escalate or impersonate.",
        Severity.HIGH,
        cis_eks("4.1.8"),
        ROLES,
        "secure: verbs not listed are not granted",
        "remove bind, escalate and impersonate from the role (CKV_K8S_157/158)",
        _no_escalation_verbs,
    ),
    _control(
        "k8s-rbac-no-cluster-admin",
        "cluster-admin is bound only to the break-glass subjects.",
        Severity.HIGH,
        cis_eks("4.1.1"),
        BINDINGS,
        "secure: a binding without roleRef binds nothing",
        "bind a narrower ClusterRole; keep cluster-admin for the configured allowedSubjects",
        _no_cluster_admin,
        settings={"allowedSubjects": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    _control(
        "k8s-load-balancer-only-ingress",
        "Only the ingress gateway is exposed as an internet-facing LoadBalancer Service.",
        Severity.HIGH,
        requirement("single ingress gateway behind Cloudflare"),
        [SERVICE],
        "secure: Services default to ClusterIP",
        "use ClusterIP and route through the Istio ingress gateway",
        _load_balancer_only_ingress,
        settings={"ingressNamespaces": {"type": "array", "items": {"type": "string"}, "default": ["istio-ingress"]}},
    ),
    _control(
        "k8s-load-balancer-source-ranges",
        "LoadBalancer Services admit only listed source ranges, never the whole internet.",
        Severity.HIGH,
        # Only Cloudflare reaches the origins (the front door is Cloudflare in the HEAL7 design).
        cloudflare_guide("Protect your origin server: allow only Cloudflare IP addresses"),
        [SERVICE],
        "insecure: an empty spec.loadBalancerSourceRanges admits every address",
        "set spec.loadBalancerSourceRanges to the callers' ranges (the gateway's: Cloudflare's published ranges "
        "from cloudflare.get_ip_ranges), with no /0",
        _load_balancer_source_ranges,
    ),
    _control(
        "k8s-network-policy-sources",
        "Network policies admit only the ingress and monitoring namespaces.",
        Severity.MEDIUM,
        requirement("NetworkPolicy from istio-system and monitoring"),
        [NETWORK_POLICY],
        "secure: a policy without ingress rules admits nothing",
        "admit traffic with namespaceSelector on the ingress or monitoring namespace, or a podSelector",
        _network_policy_sources,
        settings={
            "allowedSourceNamespaces": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["istio-ingress", "istio-system", "monitoring"],
            },
            "platformNamespaceSources": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "default": {"logging": ["fluent-bit", "elastic-system"]},
            },
        },
    ),
    _control(
        "istio-strict-mtls",
        "Istio PeerAuthentication enforces STRICT mutual TLS.",
        Severity.HIGH,
        requirement("PeerAuthentication mtls STRICT"),
        PEER_AUTHENTICATION,
        "insecure: an unset mode inherits its parent policy's, and the mesh default is PERMISSIVE",
        "set spec.mtls.mode 'STRICT'",
        _strict_mtls,
    ),
    _control(
        "k8s-secret-no-literal-data",
        "Kubernetes Secrets carry no literal data; External Secrets fills them.",
        Severity.CRITICAL,
        requirement("no plaintext secrets"),
        [SECRET],
        "secure: a Secret without data or stringData holds nothing",
        "declare an ExternalSecret that syncs the value from AWS Secrets Manager or GCP Secret Manager",
        _no_secret_data,
    ),
    _control(
        "k8s-no-default-namespace",
        "Namespaced objects live in a named namespace, never default.",
        Severity.MEDIUM,
        checkov("CKV_K8S_21"),
        NAMESPACED,
        "insecure: without metadata.namespace the provider uses its default namespace",
        "set metadata.namespace to the workload's namespace",
        _not_default_namespace,
    ),
]
