"""Istio mesh controls across the stack: every cluster that runs Istio has a mesh-wide STRICT
PeerAuthentication, every workload namespace an allow-nothing AuthorizationPolicy, and while
Cloudflare's Authenticated Origin Pulls are on, every HTTPS gateway server requires the
edge's client certificate. The per-object checks (each PeerAuthentication STRICT, each
LoadBalancer Service's source ranges) are resource controls in k8s_access.py.

Resources belong to a cluster through their Kubernetes provider (None: the default one), as
in stack_relations.py; a cluster where a value these controls read is unknown in preview
can prove nothing missing and is skipped."""

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .cloudflare import ZONE_SETTING
from .framework import (
    UNKNOWN,
    Config,
    StackControl,
    StackFinding,
    as_list,
    cloudflare_guide,
    get,
    get_or_unknown,
    known,
    requirement,
)
from .k8s_access import PEER_AUTHENTICATION
from .stack_relations import NAMESPACE, WORKLOAD_LABEL, provider_urn

FAMILY = "kubernetes"
CHARTS = ("kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release")
AUTHORIZATION_POLICY = (
    "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    "kubernetes:security.istio.io/v1beta1:AuthorizationPolicy",
)
GATEWAY = (
    "kubernetes:networking.istio.io/v1:Gateway",
    "kubernetes:networking.istio.io/v1beta1:Gateway",
    "kubernetes:networking.istio.io/v1alpha3:Gateway",
)
# Istio's default root namespace: the istiod chart writes meshConfig.rootNamespace, defaulting to
# global.istioNamespace, itself istio-system (manifests/charts/istio-control/istio-discovery, 1.31).
ROOT_NAMESPACE = "istio-system"
# Cloudflare's Authenticated Origin Pulls, zone-wide: the edge presents its client certificate to the origins.
ORIGIN_PULLS = ("tls_client_auth", "on")


def _api_group(resource_type: str) -> str:
    """`security.istio.io` for `kubernetes:security.istio.io/v1:PeerAuthentication`."""
    package, _, rest = resource_type.partition(":")
    return rest.split(":", 1)[0].rsplit("/", 1)[0] if package == "kubernetes" else ""


def _is_istio_object(resource: PolicyResource) -> bool:
    """An Istio custom resource (security, networking, telemetry, extensions.istio.io)."""
    group = _api_group(resource.resource_type)
    return group == "istio.io" or group.endswith(".istio.io")


def _chart_name(resource: PolicyResource) -> Any:
    """The chart a Helm resource installs, without its repository prefix (`istio/istiod` -> istiod)."""
    chart = get_or_unknown(resource.props, "chart")
    return chart.rstrip("/").rsplit("/", 1)[-1] if isinstance(chart, str) else chart


def _root_namespace(mesh: PolicyResource) -> str:
    """The root namespace an istiod chart configures; a mesh known only by its objects keeps the default."""
    if mesh.resource_type not in CHARTS:
        return ROOT_NAMESPACE
    values = get(mesh.props, "values") or {}
    return get(values, "meshConfig.rootNamespace") or get(values, "global.istioNamespace") or ROOT_NAMESPACE


def _without_selector(spec: Any) -> bool:
    """Istio applies a policy to every workload in scope when its selector is absent or has no
    matchLabels (pilot/pkg/model/authentication.go, policyattachment.go) and, for an
    AuthorizationPolicy, when it targets nothing by reference (targetRef, targetRefs)."""
    scoped = get(spec, "selector.matchLabels") or get(spec, "targetRef") or as_list(get(spec, "targetRefs"))
    return not scoped


def _meshes(resources: list[PolicyResource]) -> tuple[list[PolicyResource], set[str | None]]:
    """What stands for each cluster's mesh: its istiod charts, else its first Istio object; and the
    clusters where a chart's name is unknown in preview (an istiod there could move the root namespace)."""
    charts: dict[str | None, list[PolicyResource]] = defaultdict(list)
    objects: dict[str | None, PolicyResource] = {}
    unresolved: set[str | None] = set()
    for resource in resources:
        cluster = provider_urn(resource)
        if resource.resource_type in CHARTS:
            name = _chart_name(resource)
            if name is UNKNOWN:
                unresolved.add(cluster)
            elif name == "istiod":
                charts[cluster].append(resource)
        elif _is_istio_object(resource):
            objects.setdefault(cluster, resource)
    meshes = [chart for found in charts.values() for chart in found]
    meshes += [first for cluster, first in objects.items() if cluster not in charts]
    return meshes, unresolved


def _mesh_strict_mtls(args: StackValidationArgs, _: Config) -> Iterator[StackFinding]:
    # Namespaces holding a mesh-or-namespace-wide STRICT PeerAuthentication, by cluster.
    strict: dict[str | None, set[Any]] = defaultdict(set)
    meshes, unresolved = _meshes(args.resources)
    for policy in (r for r in args.resources if r.resource_type in PEER_AUTHENTICATION):
        try:
            spec = get(policy.props, "spec") or {}
            if _without_selector(spec) and get(spec, "mtls.mode") == "STRICT":
                strict[provider_urn(policy)].add(get(policy.props, "metadata.namespace"))
        except UnknownValueError:
            unresolved.add(provider_urn(policy))

    def problems(mesh: PolicyResource) -> list[str]:
        cluster, root = provider_urn(mesh), _root_namespace(mesh)
        if cluster in unresolved or root in strict[cluster]:
            return []
        return [
            f"Istio runs on this cluster but no PeerAuthentication in its root namespace {root!r} makes mTLS "
            "STRICT mesh-wide (no selector, spec.mtls.mode STRICT), so sidecars also accept plaintext (PERMISSIVE)"
        ]

    yield from known(meshes, problems)


def _match_all(rule: Any) -> bool:
    """An empty rule (no from, to or when) matches every request."""
    return not any(as_list(get(rule, key)) for key in ("from", "to", "when"))


def _denies_by_default(policy: PolicyResource) -> bool:
    """Istio's allow-nothing policy: every workload of the namespace (no selector or targetRefs),
    action ALLOW (the default) and no rules, so a request no other ALLOW policy admits is refused.
    A DENY policy with an empty rule (Istio's deny-all) counts too: it refuses everything, even
    what an ALLOW policy admits, which is stricter still."""
    spec = get(policy.props, "spec") or {}
    if not _without_selector(spec):
        return False
    action, rules = get(spec, "action") or "ALLOW", as_list(get(spec, "rules"))
    return (action == "ALLOW" and not rules) or (action == "DENY" and any(_match_all(rule) for rule in rules))


def _namespace_default_deny(args: StackValidationArgs, _: Config) -> Iterator[StackFinding]:
    denied: dict[str | None, set[Any]] = defaultdict(set)
    unresolved: set[str | None] = set()
    for policy in (r for r in args.resources if r.resource_type in AUTHORIZATION_POLICY):
        try:
            if _denies_by_default(policy):
                denied[provider_urn(policy)].add(get(policy.props, "metadata.namespace"))
        except UnknownValueError:
            unresolved.add(provider_urn(policy))

    def problems(namespace: PolicyResource) -> list[str]:
        if (get(namespace.props, "metadata.labels") or {}).get(WORKLOAD_LABEL) != "true":
            return []
        name, cluster = get(namespace.props, "metadata.name"), provider_urn(namespace)
        if cluster in unresolved or name in denied[cluster]:
            return []
        return [
            f"workload namespace {name!r} has no allow-nothing AuthorizationPolicy (no selector or targetRefs, "
            "no rules, action ALLOW or unset), so a workload no ALLOW policy selects admits every caller"
        ]

    yield from known([r for r in args.resources if r.resource_type == NAMESPACE], problems)


def _origin_pulls_on(resources: list[PolicyResource]) -> bool:
    """A zone turns Authenticated Origin Pulls on; a setting unknown in preview may be it."""
    for setting in (r for r in resources if r.resource_type == ZONE_SETTING):
        setting_id, value = get_or_unknown(setting.props, "settingId"), get_or_unknown(setting.props, "value")
        if setting_id in (ORIGIN_PULLS[0], UNKNOWN) and value in (ORIGIN_PULLS[1], UNKNOWN):
            return True
    return False


def _gateway_server_problems(gateway: PolicyResource) -> list[str]:
    found = []
    for index, server in enumerate(as_list(get(gateway.props, "spec.servers"))):
        # Istio parses protocols case-insensitively.
        if str(get(server, "port.protocol") or "").upper() != "HTTPS":
            continue
        tls = get(server, "tls") or {}
        mode = get(tls, "mode")
        if mode != "MUTUAL":
            # Unset is PASSTHROUGH (the enum's zero); SIMPLE and OPTIONAL_MUTUAL admit a caller without
            # the edge's certificate.
            found.append(
                f"spec.servers[{index}] (HTTPS) runs TLS mode {mode or 'unset (PASSTHROUGH)'}, not MUTUAL, so a "
                "request that bypasses Cloudflare needs no origin-pull client certificate (tls.mode)"
            )
        elif not (
            get(tls, "caCertCredentialName") or get(tls, "credentialName") or as_list(get(tls, "credentialNames"))
        ):
            found.append(
                f"spec.servers[{index}] (HTTPS) asks a client certificate but names no CA to verify it "
                "(tls.caCertCredentialName, or credentialName with the CA in its secret)"
            )
    return found


def _gateway_origin_pull_mtls(args: StackValidationArgs, _: Config) -> Iterator[StackFinding]:
    if not _origin_pulls_on(args.resources):
        return
    yield from known([r for r in args.resources if r.resource_type in GATEWAY], _gateway_server_problems)


POLICIES = [
    StackControl(
        name="istio-mesh-strict-mtls",
        description="Every cluster that runs Istio has a mesh-wide STRICT PeerAuthentication in its root namespace.",
        severity=Severity.HIGH,
        # The HEAL7 design asks for STRICT mTLS; Istio's mesh-wide policy is the root namespace's one
        # without a selector (Istio docs, "Enable mutual TLS STRICT mode globally").
        framework=requirement("PeerAuthentication mtls STRICT, mesh-wide"),
        family=FAMILY,
        when_absent="insecure: without a mesh-wide policy Istio runs PERMISSIVE and sidecars accept plaintext",
        remediation="add a PeerAuthentication named default in the root namespace (istio-system, or the istiod "
        "chart's meshConfig.rootNamespace) with no selector and spec.mtls.mode STRICT on the same cluster "
        "(components/kubernetes/istio_mesh.py)",
        check=_mesh_strict_mtls,
    ),
    StackControl(
        name="istio-namespace-default-deny",
        description="Every workload namespace has an allow-nothing Istio AuthorizationPolicy.",
        severity=Severity.HIGH,
        # The HEAL7 design admits ingress only from istio-system and monitoring: deny unless allowed.
        # Istio allows every request to a workload no policy selects (Istio docs, "allow-nothing").
        framework=requirement("AuthorizationPolicy default deny; ingress only from istio-system and monitoring"),
        family=FAMILY,
        when_absent="insecure: a workload no AuthorizationPolicy selects accepts every request",
        remediation="add an AuthorizationPolicy with spec {} (no selector, no rules) to the namespace on the same "
        "cluster, beside the ALLOW policy that admits its callers (components/kubernetes/mesh_authorization.py)",
        check=_namespace_default_deny,
    ),
    StackControl(
        name="istio-gateway-origin-pull-mtls",
        description="With Authenticated Origin Pulls on, HTTPS gateway servers require the client certificate.",
        severity=Severity.HIGH,
        # The zone's origin pulls only protect the origins if the gateway refuses a caller without
        # Cloudflare's certificate: MUTUAL with the origin-pull CA, not SIMPLE (the HEAL7 design's
        # Gateway) nor OPTIONAL_MUTUAL, which admit one.
        framework=cloudflare_guide("Authenticated Origin Pulls: the origin requires the client certificate"),
        family=FAMILY,
        when_absent="insecure: an HTTPS server's tls.mode defaults to PASSTHROUGH, and SIMPLE asks no certificate",
        remediation="set tls.mode MUTUAL and tls.caCertCredentialName to Cloudflare's origin-pull CA on every "
        "HTTPS server (components/kubernetes/ingress_gateway.py)",
        check=_gateway_origin_pull_mtls,
    ),
]
