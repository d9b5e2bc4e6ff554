"""The mesh's and the gateway's custom resources validate against their CRDs' schemas
(tests/custom_resource_validation.py says which versions and why).

Every Istio object of every stack is checked twice: strictly (no unknown field) against the
Istio 1.24 models with the listed newer fields let through, and against Istio 1.29.2's
schemas, which know those newer fields. The gateway's cert-manager Certificate is checked
strictly like the ClusterIssuers. Each check is shown to refuse a bad object.
"""

import copy
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from cloudcoil.models.cert_manager import v1 as cert_manager_v1
from cloudcoil.models.istio.networking import v1 as istio_networking_v1
from cloudcoil.models.istio.security import v1 as istio_security_v1
from cloudcoil.pydantic import BaseModel

from tests.conftest import STACKS
from tests.custom_resource_validation import (
    INDEX,
    ISTIO_GROUPS,
    ISTIO_NEWER_FIELDS,
    istio_schema_errors,
    strict_model_errors,
)
from tests.kubernetes_validation import api_group, describe
from tools import manifests
from tools.synth import SynthResult

ISTIO_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("networking.istio.io/v1", "Gateway"): istio_networking_v1.Gateway,
    ("networking.istio.io/v1", "VirtualService"): istio_networking_v1.VirtualService,
    ("networking.istio.io/v1", "DestinationRule"): istio_networking_v1.DestinationRule,
    ("security.istio.io/v1", "PeerAuthentication"): istio_security_v1.PeerAuthentication,
    ("security.istio.io/v1", "AuthorizationPolicy"): istio_security_v1.AuthorizationPolicy,
}
# Istio objects per cluster, the same in every stack: the mesh-wide PeerAuthentication, the
# two AuthorizationPolicies of the one workload namespace, the Gateway, a VirtualService per
# hostname the cluster serves (`ai` only on GKE, where the GPU models run) plus web-main's
# mesh and edge VirtualServices (its Rollout steers both), and a DestinationRule per workload.
ISTIO_KINDS = {
    "eks": {"PeerAuthentication": 1, "AuthorizationPolicy": 2, "Gateway": 1, "VirtualService": 5, "DestinationRule": 3},
    "gke": {"PeerAuthentication": 1, "AuthorizationPolicy": 2, "Gateway": 1, "VirtualService": 6, "DestinationRule": 3},
}
# The gateway's certificate comes from Let's Encrypt production in every tier (dev's default
# issuer is staging, whose roots Cloudflare's Full (strict) mode would refuse).
GATEWAY_ISSUER = "letsencrypt-production"


def _objects(result: SynthResult, groups: frozenset[str]) -> dict[str, list[dict[str, Any]]]:
    """Per cluster, copies (the synth results are cached) of the objects in `groups`."""
    return {
        name: [copy.deepcopy(o.manifest) for o in cluster.objects if api_group(o.api_version) in groups]
        for name, cluster in manifests.collect(result).items()
    }


def _istio_strict_errors(manifest: dict[str, Any], newer_fields=ISTIO_NEWER_FIELDS) -> list[str]:
    model = ISTIO_MODELS[(manifest["apiVersion"], manifest["kind"])]
    return strict_model_errors(model, manifest, newer_fields)


def _one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_istio_object_validates_strictly_against_the_istio_models(synthed, stack):
    clusters = _objects(synthed(stack), ISTIO_GROUPS)
    assert sorted(clusters) == [f"heal7-{stack}-eks", f"heal7-{stack}-gke"]
    for cluster, objects in clusters.items():
        assert Counter(o["kind"] for o in objects) == ISTIO_KINDS[cluster.rsplit("-", 1)[1]], cluster
        errors = {describe(o): _istio_strict_errors(o) for o in objects}
        assert errors == {describe(o): [] for o in objects}


@pytest.mark.parametrize("stack", STACKS)
def test_every_istio_object_validates_against_the_istio_1_29_schemas(synthed, stack):
    objects = [o for cluster in _objects(synthed(stack), ISTIO_GROUPS).values() for o in cluster]
    assert len(objects) == sum(sum(kinds.values()) for kinds in ISTIO_KINDS.values())
    errors = istio_schema_errors(objects)
    assert dict(zip(map(describe, objects), errors, strict=True)) == {describe(o): [] for o in objects}


def test_the_newer_fields_let_through_are_exactly_those_the_objects_use(synthed):
    """Without the list, the 1.24 models refuse exactly the listed fields and nothing else: no
    entry is stale, and none hides a field the models know."""
    unknown = set()
    for stack in STACKS:
        for objects in _objects(synthed(stack), ISTIO_GROUPS).values():
            for manifest in objects:
                for error in _istio_strict_errors(manifest, newer_fields=()):
                    path, _, what = error.partition(": ")
                    assert what == "unknown field", error
                    unknown.add((manifest["kind"], INDEX.sub("[]", path)))
    assert unknown == {(field.kind, field.path) for field in ISTIO_NEWER_FIELDS}
    assert {field.added_in for field in ISTIO_NEWER_FIELDS} == {"1.28.0"}


def _gateway(synthed) -> dict[str, Any]:
    return _one(_objects(synthed("prod"), ISTIO_GROUPS)["heal7-prod-gke"], "Gateway")


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(manifest: dict[str, Any]) -> None:
        target = manifest
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("kind", "mutate", "expected"),
    [
        (
            "Gateway",
            _set(["spec", "servers", 0, "tls", "caCertCredentialNam"], "configmap://istio-ingress/x"),
            "spec.servers[0].tls.caCertCredentialNam: unknown field",
        ),
        # The newer field is let through only where Istio added it.
        (
            "Gateway",
            _set(["spec", "servers", 0, "caCertCredentialName"], "configmap://istio-ingress/x"),
            "spec.servers[0].caCertCredentialName: unknown field",
        ),
        (
            "VirtualService",
            _set(["spec", "http", 0, "route", 0, "destination", "service"], "heal7-web-main"),
            "spec.http[0].route[0].destination.service: unknown field",
        ),
        (
            "PeerAuthentication",
            _set(["spec", "mtls", "mode"], "STRICTER"),
            "spec.mtls.mode: Input should be 'UNSET', 'DISABLE', 'PERMISSIVE' or 'STRICT'",
        ),
        (
            "AuthorizationPolicy",
            _set(["spec", "action"], "PERMIT"),
            "spec.AuthorizationPolicySpec.action: Input should be 'ALLOW', 'DENY', 'AUDIT' or 'CUSTOM'",
        ),
        (
            "Gateway",
            _set(["spec", "servers", 0, "port", "number"], "443"),
            "spec.servers[0].port.number: '443' read as 443",
        ),
    ],
    ids=["typo", "newer field elsewhere", "unknown destination field", "bad mTLS mode", "bad action", "coerced type"],
)
def test_the_strict_istio_check_refuses_a_bad_object(synthed, kind, mutate, expected):
    objects = _objects(synthed("prod"), ISTIO_GROUPS)["heal7-prod-gke"]
    manifest = next(o for o in objects if o["kind"] == kind and o["spec"])
    assert _istio_strict_errors(manifest) == []
    mutate(manifest)
    errors = _istio_strict_errors(manifest)
    assert any(expected in error for error in errors), errors


def test_the_istio_1_29_schemas_refuse_bad_enums_and_type_the_newer_field(synthed):
    good = _gateway(synthed)
    bad_mode, untyped_ca = copy.deepcopy(good), copy.deepcopy(good)
    bad_mode["spec"]["servers"][0]["tls"]["mode"] = "MUTUAL_TLS"
    # Refused only because 1.29.2's schema knows the field (unknown fields pass this check).
    untyped_ca["spec"]["servers"][0]["tls"]["caCertCredentialName"] = 5
    bad_action = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "x", "namespace": "heal7-production"},
        "spec": {"action": "PERMIT"},
    }
    no_model = {**good, "apiVersion": "networking.istio.io/v9"}
    errors = istio_schema_errors([good, bad_mode, untyped_ca, bad_action, no_model])
    modes = '["PASSTHROUGH","SIMPLE","MUTUAL","AUTO_PASSTHROUGH","ISTIO_MUTUAL","OPTIONAL_MUTUAL"]'
    actions = '["ALLOW","DENY","AUDIT","CUSTOM"]'
    assert errors == [
        [],
        [f"/spec/servers/0/tls/mode: must be equal to one of the allowed values {modes}"],
        ["/spec/servers/0/tls/caCertCredentialName: must be string"],
        [f"/spec/action: must be equal to one of the allowed values {actions}"],
        ["@kubernetes-models/istio has no model for networking.istio.io/v9 Gateway"],
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_certificates_validate_strictly_against_cert_manager_models(synthed, stack):
    custom = _objects(synthed(stack), frozenset({"cert-manager.io"}))
    assert len(custom) == 2
    for cluster, objects in custom.items():
        manifest = _one(objects, "Certificate")
        assert strict_model_errors(cert_manager_v1.Certificate, manifest) == [], cluster
        certificate = cert_manager_v1.Certificate.model_validate(manifest)
        assert certificate.spec is not None and certificate.spec.issuer_ref is not None
        # It names a ClusterIssuer registered on the same cluster: the publicly trusted one.
        issuer = _one(objects, "ClusterIssuer", certificate.spec.issuer_ref.name)
        assert (certificate.spec.issuer_ref.kind, certificate.spec.issuer_ref.group) == (
            "ClusterIssuer",
            "cert-manager.io",
        )
        assert issuer["metadata"]["name"] == GATEWAY_ISSUER
        # Its Secret is the one the Gateway serves, in the Gateway's namespace.
        gateway = _one(_objects(synthed(stack), ISTIO_GROUPS)[cluster], "Gateway")
        (server,) = gateway["spec"]["servers"]
        assert certificate.spec.secret_name == server["tls"]["credentialName"]
        assert manifest["metadata"]["namespace"] == gateway["metadata"]["namespace"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set(["spec", "dnsName"], ["heal7.com"]), "spec.dnsName: unknown field"),
        (
            _set(["spec", "privateKey", "algorithm"], "DSA"),
            "spec.privateKey.algorithm: Input should be 'RSA', 'ECDSA' or 'Ed25519'",
        ),
        (
            _set(["spec", "privateKey", "rotationPolicy"], "Sometimes"),
            "spec.privateKey.rotationPolicy: Input should be 'Never' or 'Always'",
        ),
    ],
    ids=["typo", "bad key algorithm", "bad rotation policy"],
)
def test_the_strict_certificate_check_refuses_a_bad_object(synthed, mutate, expected):
    manifest = _one(_objects(synthed("prod"), frozenset({"cert-manager.io"}))["heal7-prod-eks"], "Certificate")
    mutate(manifest)
    errors = strict_model_errors(cert_manager_v1.Certificate, manifest)
    assert any(expected in error for error in errors), errors
