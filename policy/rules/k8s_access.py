"""Kubernetes access and isolation controls: least-privilege RBAC, LoadBalancer Services
only for the ingress gateway, network policies that admit only the ingress and
monitoring namespaces, STRICT mTLS, no literal Secret data and no default namespace."""

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import Config, as_list, checkov, cis_eks, get, requirement
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


def _load_balancer_only_ingress(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    if get(args.props, "spec.type") != "LoadBalancer":
        return
    namespace = get(args.props, "metadata.namespace")
    if namespace not in config["ingressNamespaces"]:
        yield f"a LoadBalancer Service in namespace {namespace!r} bypasses the ingress gateway (spec.type)"


def _network_policy_sources(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    allowed = set(config["allowedSourceNamespaces"])
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
        yield f"mutual TLS is {mode or 'unset (inherits PERMISSIVE)'}, not STRICT (spec.mtls.mode)"
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
        "Only the ingress gateway is exposed as a LoadBalancer Service.",
        Severity.HIGH,
        requirement("single ingress gateway behind Cloudflare"),
        [SERVICE],
        "secure: Services default to ClusterIP",
        "use ClusterIP and route through the Istio ingress gateway",
        _load_balancer_only_ingress,
        settings={"ingressNamespaces": {"type": "array", "items": {"type": "string"}, "default": ["istio-ingress"]}},
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
            }
        },
    ),
    _control(
        "istio-strict-mtls",
        "Istio PeerAuthentication enforces STRICT mutual TLS.",
        Severity.HIGH,
        requirement("PeerAuthentication mtls STRICT"),
        PEER_AUTHENTICATION,
        "insecure: an unset mode inherits the mesh default, PERMISSIVE",
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
