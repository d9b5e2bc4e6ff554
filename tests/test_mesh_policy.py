"""The Istio stack controls beyond their one-change cases (tests/test_policy_controls.py): what
counts as mesh-wide STRICT mTLS and where, what counts as an allow-nothing AuthorizationPolicy,
which gateway servers origin pulls constrain, per-cluster matching, and unknowns in preview."""

from dataclasses import replace

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy.runner import evaluate
from tests.policy_fixtures import (
    BY_NAME,
    DELETE,
    NAMESPACE,
    authorization_default_deny,
    mesh_peer_authentication,
    mutated,
    namespace,
    peer_authentication,
    record,
    registration,
)
from tools.synth import Registration, SynthResult

MESH = BY_NAME["istio-mesh-strict-mtls"]
DEFAULT_DENY = BY_NAME["istio-namespace-default-deny"]
ORIGIN_PULLS = BY_NAME["istio-gateway-origin-pull-mtls"]
NO_MESH_MTLS = (
    "Istio runs on this cluster but no PeerAuthentication in its root namespace {root!r} makes mTLS STRICT "
    "mesh-wide (no selector, spec.mtls.mode STRICT), so sidecars also accept plaintext (PERMISSIVE)"
)
NO_DENY = (
    f"workload namespace {NAMESPACE!r} has no allow-nothing AuthorizationPolicy (no selector or targetRefs, no "
    "rules, action ALLOW or unset), so a workload no ALLOW policy selects admits every caller"
)


def _problems(policy, *resources: Registration) -> list[tuple[str, str]]:
    report = evaluate(record(*resources), policies=[policy])
    assert report.not_evaluated == []
    return [(v.resource_name, v.message.split(": ", 1)[1].split(". Fix:")[0]) for v in report.violations]


def _clusters() -> tuple[Registration, Registration]:
    eks, gke = (registration("pulumi:providers:kubernetes", f"heal7-test-{c}-k8s", {}) for c in ("eks", "gke"))
    return eks, gke


def _on(resource: Registration, cluster: Registration) -> Registration:
    """The resource on another cluster: its provider, and a URN of its own."""
    return replace(resource, provider=cluster.urn, urn=f"{resource.urn}-{cluster.name}")


# -- istio-mesh-strict-mtls ------------------------------------------------------------


def istiod(values: dict | None = None, chart: str = "istiod") -> Registration:
    """istiod as components/kubernetes/istio_mesh.py installs it."""
    return registration(
        "kubernetes:helm.sh/v4:Chart",
        "mesh-istiod",
        {
            "chart": chart,
            "version": "1.31.4",
            "namespace": "istio-system",
            "repositoryOpts": {"repo": "https://istio-release.storage.googleapis.com/charts"},
            "values": values or {},
        },
    )


def test_a_mesh_with_its_root_policy_passes():
    assert _problems(MESH, istiod(), mesh_peer_authentication()) == []


def test_a_mesh_without_a_root_policy_is_found_on_its_istiod_chart():
    assert _problems(MESH, istiod()) == [("mesh-istiod", NO_MESH_MTLS.format(root="istio-system"))]


@pytest.mark.parametrize(
    "change",
    [
        {"spec.selector": {"matchLabels": {"app": "web-main"}}},
        {"metadata.namespace": NAMESPACE},
        {"spec.mtls.mode": "PERMISSIVE"},
        {"spec.mtls.mode": DELETE},
    ],
    ids=["selects-some-workloads", "workload-namespace", "permissive", "unset"],
)
def test_a_policy_that_is_not_mesh_wide_strict_is_missed(change):
    assert _problems(MESH, istiod(), mutated(mesh_peer_authentication(), change)) == [
        ("mesh-istiod", NO_MESH_MTLS.format(root="istio-system"))
    ]


@pytest.mark.parametrize(
    "policy",
    [
        mutated(mesh_peer_authentication(), {"spec.selector": {}}),
        mutated(mesh_peer_authentication(), {"spec.selector": {"matchLabels": {}}}),
        replace(mesh_peer_authentication(), type="kubernetes:security.istio.io/v1beta1:PeerAuthentication"),
    ],
    ids=["empty-selector", "empty-match-labels", "v1beta1"],
)
def test_what_istio_treats_as_mesh_wide_counts(policy):
    # pilot/pkg/model/authentication.go: no selector, or one without matchLabels, is mesh or namespace wide.
    assert _problems(MESH, istiod(), policy) == []


def test_the_root_namespace_follows_the_istiod_chart():
    moved = istiod({"meshConfig": {"rootNamespace": "mesh-root"}})
    assert _problems(MESH, moved, mesh_peer_authentication()) == [
        ("mesh-istiod", NO_MESH_MTLS.format(root="mesh-root"))
    ]
    in_root = mutated(mesh_peer_authentication(), {"metadata.namespace": "mesh-root"})
    assert _problems(MESH, moved, in_root) == []
    # Without meshConfig.rootNamespace the chart uses global.istioNamespace.
    assert _problems(MESH, istiod({"global": {"istioNamespace": "mesh-root"}}), in_root) == []


@pytest.mark.parametrize(
    "chart",
    [
        istiod(chart="istio/istiod"),
        replace(istiod(), type="kubernetes:helm.sh/v3:Release"),
    ],
    ids=["repository-prefix", "helm-release"],
)
def test_istiod_is_recognized_however_it_is_installed(chart):
    assert _problems(MESH, chart) == [("mesh-istiod", NO_MESH_MTLS.format(root="istio-system"))]


def test_istio_objects_alone_mean_istio_runs():
    # No istiod chart in the stack (installed elsewhere): its objects show the cluster runs Istio.
    assert _problems(MESH, authorization_default_deny()) == [
        ("heal7-authorization-deny", NO_MESH_MTLS.format(root="istio-system"))
    ]
    assert _problems(MESH, authorization_default_deny(), mesh_peer_authentication()) == []


def test_clusters_without_istio_are_not_checked():
    cert_manager = registration(
        "kubernetes:helm.sh/v4:Chart", "cert-manager", {"chart": "cert-manager", "version": "v1.21.1"}
    )
    assert _problems(MESH, namespace(), cert_manager) == []


def test_the_root_policy_must_be_on_the_same_cluster():
    eks, gke = _clusters()
    report = evaluate(
        record(eks, gke, _on(istiod(), eks), _on(istiod(), gke), _on(mesh_peer_authentication(), eks)),
        policies=[MESH],
    )
    assert [v.urn for v in report.violations] == [_on(istiod(), gke).urn]


def test_unknown_values_prove_nothing_missing():
    eks, gke = _clusters()
    unknown_namespace = mutated(mesh_peer_authentication(), {"metadata.namespace": UNKNOWN_STRING_VALUE})
    unknown_chart = mutated(istiod(), {"chart": UNKNOWN_STRING_VALUE})
    assert _problems(MESH, istiod(), unknown_namespace) == []
    assert _problems(MESH, unknown_chart, peer_authentication()) == []
    # A known cluster next to an unresolved one is still checked.
    report = evaluate(
        record(eks, gke, _on(istiod(), eks), _on(unknown_namespace, eks), _on(istiod(), gke)), policies=[MESH]
    )
    assert [v.urn for v in report.violations] == [_on(istiod(), gke).urn]


def test_prod_meshes_are_checked_per_cluster(synthed):
    prod = synthed("prod")
    without_gke_policy = SynthResult(
        prod.stack, [r for r in prod.resources if r.name != "heal7-prod-gke-mesh-strict-mtls"], {}, []
    )
    report = evaluate(without_gke_policy, policies=[MESH])
    assert [(v.resource_name, v.resource_type) for v in report.violations] == [
        ("heal7-prod-gke-mesh-istiod", "kubernetes:helm.sh/v4:Chart")
    ]


# -- istio-namespace-default-deny ------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"action": "ALLOW"},
        {"rules": []},
        {"selector": {"matchLabels": {}}},
        # Istio's deny-all: the empty rule matches every request, and DENY wins over any ALLOW.
        {"action": "DENY", "rules": [{}]},
        {"action": "DENY", "rules": [{"from": [{"source": {"namespaces": ["monitoring"]}}]}, {"from": [], "to": []}]},
    ],
    ids=["allow-nothing", "explicit-allow", "empty-rules", "empty-selector", "deny-all", "deny-all-among-others"],
)
def test_allow_nothing_and_deny_all_count(spec):
    assert _problems(DEFAULT_DENY, namespace(), mutated(authorization_default_deny(), {"spec": spec})) == []
    v1beta1 = replace(authorization_default_deny(), type="kubernetes:security.istio.io/v1beta1:AuthorizationPolicy")
    assert _problems(DEFAULT_DENY, namespace(), mutated(v1beta1, {"spec": spec})) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"rules": [{}]},
        {"action": "ALLOW", "rules": [{"from": [{"source": {"namespaces": ["monitoring"]}}]}]},
        {"selector": {"matchLabels": {"app": "web-main"}}},
        {"targetRefs": [{"kind": "Service", "group": "", "name": "web-main"}]},
        {"action": "DENY", "rules": [{"from": [{"source": {"notNamespaces": ["monitoring"]}}]}]},
        {"action": "DENY", "selector": {"matchLabels": {"app": "web-main"}}, "rules": [{}]},
        {"action": "AUDIT", "rules": [{}]},
        {"action": "CUSTOM", "provider": {"name": "ext-authz"}, "rules": [{}]},
    ],
    ids=[
        "allow-all",
        "allow-some",
        "selects-some-workloads",
        "targets-a-service",
        "deny-some",
        "deny-all-for-some-workloads",
        "audit",
        "custom",
    ],
)
def test_a_policy_that_does_not_deny_by_default_is_missed(spec):
    assert _problems(DEFAULT_DENY, namespace(), mutated(authorization_default_deny(), {"spec": spec})) == [
        (NAMESPACE, NO_DENY)
    ]


def test_the_default_deny_must_be_in_the_namespace_on_the_same_cluster():
    elsewhere = mutated(authorization_default_deny(), {"metadata.namespace": "heal7-batch"})
    assert _problems(DEFAULT_DENY, namespace(), elsewhere) == [(NAMESPACE, NO_DENY)]
    eks, gke = _clusters()
    report = evaluate(
        record(eks, gke, _on(namespace(), eks), _on(namespace(), gke), _on(authorization_default_deny(), eks)),
        policies=[DEFAULT_DENY],
    )
    assert [v.urn for v in report.violations] == [_on(namespace(), gke).urn]


@pytest.mark.parametrize("labels", [{}, {"platform.heal7.io/workload": "false"}])
def test_namespaces_not_labelled_workload_are_not_checked(labels):
    assert _problems(DEFAULT_DENY, mutated(namespace(), {"metadata.labels": labels})) == []


def test_unknown_policies_prove_nothing_missing_on_their_cluster():
    eks, gke = _clusters()
    unknown = mutated(authorization_default_deny(), {"spec": UNKNOWN_STRING_VALUE})
    assert _problems(DEFAULT_DENY, namespace(), unknown) == []
    report = evaluate(
        record(eks, gke, _on(namespace(), eks), _on(unknown, eks), _on(namespace(), gke)), policies=[DEFAULT_DENY]
    )
    assert [v.urn for v in report.violations] == [_on(namespace(), gke).urn]


def test_prod_workload_namespaces_each_have_their_default_deny(synthed):
    prod = synthed("prod")
    workload = {
        (r.provider, r.inputs["metadata"]["name"])
        for r in prod.resources
        if r.type == "kubernetes:core/v1:Namespace"
        and r.inputs["metadata"].get("labels", {}).get("platform.heal7.io/workload") == "true"
    }
    allow_nothing = {
        (r.provider, r.inputs["metadata"]["namespace"])
        for r in prod.resources
        if r.type == "kubernetes:security.istio.io/v1:AuthorizationPolicy" and r.inputs["spec"] == {}
    }
    assert len(workload) == 2 and workload == allow_nothing  # heal7-production on EKS and on GKE
    assert evaluate(prod, policies=[DEFAULT_DENY]).violations == []


# -- istio-gateway-origin-pull-mtls ----------------------------------------------------


def origin_pulls(value: str = "on") -> Registration:
    """The zone's Authenticated Origin Pulls (components/cloudflare/zone_security.py)."""
    return registration(
        "cloudflare:index/zoneSetting:ZoneSetting",
        "zone-tls-client-auth",
        {"settingId": "tls_client_auth", "value": value, "zoneId": "cc3f6f591b50e7595d27f648c559d50b"},
    )


def gateway(api: str = "v1") -> Registration:
    """The public gateway as components/kubernetes/ingress_gateway.py declares it."""
    return registration(
        f"kubernetes:networking.istio.io/{api}:Gateway",
        "public-gateway",
        {
            "apiVersion": f"networking.istio.io/{api}",
            "kind": "Gateway",
            "metadata": {"name": "public", "namespace": "istio-ingress"},
            "spec": {
                "selector": {"istio": "ingressgateway"},
                "servers": [
                    {
                        "hosts": ["heal7.com", "www.heal7.com"],
                        "port": {"name": "https", "number": 443, "protocol": "HTTPS"},
                        "tls": {
                            "mode": "MUTUAL",
                            "credentialName": "public-gateway-tls",
                            "caCertCredentialName": "configmap://istio-ingress/cloudflare-origin-pull-ca",
                            "minProtocolVersion": "TLSV1_2",
                        },
                    }
                ],
            },
        },
    )


def _server_problem(mode: str) -> str:
    return (
        f"spec.servers[0] (HTTPS) runs TLS mode {mode}, not MUTUAL, so a request that bypasses Cloudflare needs "
        "no origin-pull client certificate (tls.mode)"
    )


NO_CA = (
    "spec.servers[0] (HTTPS) asks a client certificate but names no CA to verify it (tls.caCertCredentialName, "
    "or credentialName with the CA in its secret)"
)


def test_a_mutual_gateway_passes():
    assert _problems(ORIGIN_PULLS, origin_pulls(), gateway()) == []
    # The CA may also sit in the server certificate's own secret (ca.crt): credentialName alone names it.
    own_secret = mutated(gateway(), {"spec.servers.0.tls.caCertCredentialName": DELETE})
    assert _problems(ORIGIN_PULLS, origin_pulls(), own_secret) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"spec.servers.0.tls.mode": "SIMPLE"}, _server_problem("SIMPLE")),
        ({"spec.servers.0.tls.mode": "OPTIONAL_MUTUAL"}, _server_problem("OPTIONAL_MUTUAL")),
        ({"spec.servers.0.tls.mode": DELETE}, _server_problem("unset (PASSTHROUGH)")),
        ({"spec.servers.0.port.protocol": "https", "spec.servers.0.tls.mode": "SIMPLE"}, _server_problem("SIMPLE")),
        (
            {"spec.servers.0.tls.caCertCredentialName": DELETE, "spec.servers.0.tls.credentialName": DELETE},
            NO_CA,
        ),
    ],
    ids=["simple", "optional-mutual", "unset", "lower-case-protocol", "no-ca"],
)
def test_a_gateway_that_does_not_require_the_edge_certificate_is_refused(change, problem):
    assert _problems(ORIGIN_PULLS, origin_pulls(), mutated(gateway(), change)) == [("public-gateway", problem)]


def test_the_heal7_design_gateway_is_refused_in_every_api_version():
    # The HEAL7 design's Gateway (networking.istio.io/v1alpha3) terminates TLS in mode SIMPLE.
    for api in ("v1", "v1beta1", "v1alpha3"):
        simple = mutated(gateway(api), {"spec.servers.0.tls": {"mode": "SIMPLE", "credentialName": "heal7-tls-secret"}})
        assert _problems(ORIGIN_PULLS, origin_pulls(), simple) == [("public-gateway", _server_problem("SIMPLE"))]


def test_only_https_servers_while_origin_pulls_are_on_are_checked():
    simple = mutated(gateway(), {"spec.servers.0.tls.mode": "SIMPLE"})
    assert _problems(ORIGIN_PULLS, origin_pulls("off"), simple) == []
    assert _problems(ORIGIN_PULLS, simple) == []
    redirect = {
        "hosts": ["heal7.com"],
        "port": {"name": "http", "number": 80, "protocol": "HTTP"},
        "tls": {"httpsRedirect": True},
    }
    with_redirect = mutated(gateway(), {"spec.servers": [*gateway().inputs["spec"]["servers"], redirect]})
    assert _problems(ORIGIN_PULLS, origin_pulls(), with_redirect) == []


def test_unknowns_in_preview():
    simple = mutated(gateway(), {"spec.servers.0.tls.mode": "SIMPLE"})
    # A setting whose value is unknown may be origin pulls turning on: the gateways are checked.
    assert _problems(ORIGIN_PULLS, origin_pulls(UNKNOWN_STRING_VALUE), simple) == [
        ("public-gateway", _server_problem("SIMPLE"))
    ]
    # A gateway whose servers are unknown is skipped; another is still checked.
    unknown = mutated(gateway(), {"spec.servers": UNKNOWN_STRING_VALUE})
    other = replace(simple, name="other-gateway", urn=simple.urn.replace("public-gateway", "other-gateway"))
    assert _problems(ORIGIN_PULLS, origin_pulls(), unknown, other) == [("other-gateway", _server_problem("SIMPLE"))]


def test_prod_gateways_require_the_origin_pull_certificate(synthed):
    prod = synthed("prod")
    [setting] = [r for r in prod.resources if r.inputs.get("settingId") == "tls_client_auth"]
    assert setting.type == "cloudflare:index/zoneSetting:ZoneSetting" and setting.inputs["value"] == "on"
    gateways = [r for r in prod.resources if r.type == "kubernetes:networking.istio.io/v1:Gateway"]
    assert len(gateways) == 2
    for server in (s for g in gateways for s in g.inputs["spec"]["servers"]):
        assert (server["port"]["protocol"], server["tls"]["mode"]) == ("HTTPS", "MUTUAL")
        assert server["tls"]["caCertCredentialName"] == "configmap://istio-ingress/cloudflare-origin-pull-ca"
    assert evaluate(prod, policies=[ORIGIN_PULLS]).violations == []
