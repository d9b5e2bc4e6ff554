"""Fixtures for the policy tests: compliant Kubernetes objects (a hardened workload
namespace, beside the objects the stacks themselves deploy), a Registration builder, and
path-based mutation."""

import copy
from dataclasses import replace
from typing import Any

from policy.rules import ALL_POLICIES
from tools.mock_outputs import CLOUDFLARE_IPV4_RANGES, CLOUDFLARE_IPV6_RANGES
from tools.synth import Registration, SynthResult

BY_NAME = {policy.name: policy for policy in ALL_POLICIES}
PROD_RDS = "heal7-prod-postgres-db"

DELETE = object()
"""A mutation value that removes the property."""

DIGEST = "sha256:" + "4f" * 32
IMAGE = f"613420769954.dkr.ecr.ap-northeast-2.amazonaws.com/heal7-prod/web-main:1.4.2@{DIGEST}"
NAMESPACE = "heal7"
# The namespace component's contract (README "Policy pack"): a workload namespace, restricted.
WORKLOAD_LABELS = {"platform.heal7.io/workload": "true", "pod-security.kubernetes.io/enforce": "restricted"}


def registration(
    type_: str, name: str, inputs: dict[str, Any], *, protect: bool = False, outputs: dict[str, Any] | None = None
) -> Registration:
    """A RegisterResource record as tools/synth.py keeps it (outputs default to the inputs)."""
    return Registration(
        type=type_,
        name=name,
        urn=f"urn:pulumi:test::multicloud-platform::{type_}::{name}",
        custom=True,
        parent=None,
        provider=None,
        protect=protect,
        dependencies=[],
        property_dependencies={},
        ignore_changes=[],
        replace_on_changes=[],
        delete_before_replace=False,
        retain_on_delete=False,
        additional_secret_outputs=[],
        custom_timeouts={},
        inputs=inputs,
        outputs=copy.deepcopy(outputs if outputs is not None else inputs),
    )


def record(*resources: Registration, stack: str = "test") -> SynthResult:
    return SynthResult(stack=stack, resources=list(resources), outputs={}, secret_outputs=[])


def set_path(document: Any, path: str, value: Any) -> None:
    """Set (or with DELETE remove) `a.b.0.c` in nested dicts and lists, creating dicts on the way."""
    *parents, last = path.split(".")
    for key in parents:
        document = document[int(key)] if isinstance(document, list) else document.setdefault(key, {})
    if isinstance(document, list):
        document[int(last)] = value
    elif value is DELETE:
        document.pop(last, None)
    else:
        document[last] = value


def mutated(resource: Registration, changes: dict[str, Any]) -> Registration:
    """A copy of `resource` with `changes` applied to its inputs and outputs."""
    inputs, outputs = copy.deepcopy(resource.inputs), copy.deepcopy(resource.outputs)
    for path, value in changes.items():
        for document in (inputs, outputs):
            set_path(document, path, value if value is DELETE else copy.deepcopy(value))
    return replace(resource, inputs=inputs, outputs=outputs)


def _metadata(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, "labels": {"app": name}}


def hardened_pod_spec() -> dict[str, Any]:
    """The HEAL7 design's web tier with every hardening the pack asks for."""
    probe = {"httpGet": {"path": "/health", "port": 3000}, "periodSeconds": 10}
    return {
        "serviceAccountName": "web-main",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1001,
            "runAsGroup": 1001,
            "fsGroup": 1001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "web-main",
                "image": IMAGE,
                "ports": [{"containerPort": 3000}],
                "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
                "livenessProbe": probe,
                "readinessProbe": {**probe, "httpGet": {"path": "/ready", "port": 3000}},
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }


ROLLING_UPDATE = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def _workload(
    name: str,
    pod: dict[str, Any],
    *,
    type_: str = "kubernetes:apps/v1:Deployment",
    strategy: dict[str, Any] = ROLLING_UPDATE,
) -> Registration:
    """A workload with a pod template: a Deployment, or an Argo Rollout (same shape, its own strategy)."""
    _, api_version, kind = type_.split(":")
    return registration(
        type_,
        name,
        {
            "apiVersion": api_version.removeprefix("core/"),
            "kind": kind,
            "metadata": _metadata(name),
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": name}},
                "strategy": copy.deepcopy(strategy),
                "template": {"metadata": {"labels": {"app": name}}, "spec": pod},
            },
        },
    )


def deployment() -> Registration:
    return _workload("web-main", hardened_pod_spec())


def gpu_deployment() -> Registration:
    """The HEAL7 design's GPU models: one GPU per pod, tolerating the GPU nodes' taint and
    selecting the GPU pool (components/gcp/gke_node_pool.py, stacks/gcp_platform.py)."""
    pod = hardened_pod_spec()
    pod["serviceAccountName"] = "ai-models"
    pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "1"
    pod["nodeSelector"] = {"node-class": "gpu"}
    pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}]
    return _workload("ai-models", pod)


def dedicated_deployment() -> Registration:
    """The Saju engine on EKS's high-CPU group: tolerates its taint and selects its label (stacks/aws_platform.py)."""
    pod = hardened_pod_spec()
    pod["serviceAccountName"] = "saju-engine"
    pod["nodeSelector"] = {"node-class": "high-cpu"}
    pod["tolerations"] = [{"key": "workload", "operator": "Equal", "value": "saju-engine", "effect": "NoSchedule"}]
    return _workload("saju-engine", pod)


CANARY = {
    "canary": {
        "maxUnavailable": 0,
        "trafficRouting": {
            "istio": {
                "virtualService": {"name": "web-main", "routes": ["primary"]},
                "destinationRule": {"name": "web-main", "canarySubsetName": "canary", "stableSubsetName": "stable"},
            }
        },
        "steps": [{"setWeight": 10}, {"pause": {"duration": "10m"}}, {"setWeight": 50}, {"pause": {"duration": "10m"}}],
    }
}


def rollout() -> Registration:
    """web-main as an Argo Rollout, the way canary delivery deploys it: canary over Istio, maxUnavailable 0."""
    return _workload(
        "web-main-canary", hardened_pod_spec(), type_="kubernetes:argoproj.io/v1alpha1:Rollout", strategy=CANARY
    )


def cron_job() -> Registration:
    return registration(
        "kubernetes:batch/v1:CronJob",
        "db-dump",
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": _metadata("db-dump"),
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {"spec": {"template": {"spec": {**hardened_pod_spec(), "restartPolicy": "Never"}}}},
            },
        },
    )


def helm_chart() -> Registration:
    """cert-manager as components/kubernetes/cert_manager.py installs it."""
    return registration(
        "kubernetes:helm.sh/v4:Chart",
        "heal7-cert-manager-chart",
        {
            "chart": "cert-manager",
            "version": "v1.21.1",
            "repositoryOpts": {"repo": "https://charts.jetstack.io"},
            "namespace": "cert-manager",
            "values": {"crds": {"enabled": True}},
        },
    )


def network_policy() -> Registration:
    return registration(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "heal7-allow-ingress",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _metadata("heal7-allow-ingress"),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [
                            {"namespaceSelector": {"matchLabels": {"name": "istio-system"}}},
                            {"namespaceSelector": {"matchLabels": {"name": "monitoring"}}},
                        ],
                        "ports": [{"protocol": "TCP", "port": 3000}],
                    }
                ],
            },
        },
    )


def namespace() -> Registration:
    """The workload namespace itself: labelled a workload namespace, Pod Security restricted."""
    return registration(
        "kubernetes:core/v1:Namespace",
        NAMESPACE,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": NAMESPACE,
                "labels": dict(WORKLOAD_LABELS),
            },
        },
    )


def default_deny() -> Registration:
    """The namespace's default-deny policy: every pod, both directions, no rule."""
    return registration(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "heal7-default-deny",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _metadata("heal7-default-deny"),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
    )


def role() -> Registration:
    return registration(
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "web-main-reader",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _metadata("web-main-reader"),
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}],
        },
    )


def role_binding() -> Registration:
    return registration(
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        "web-main-reader",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _metadata("web-main-reader"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "web-main-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "web-main", "namespace": NAMESPACE}],
        },
    )


def service() -> Registration:
    return registration(
        "kubernetes:core/v1:Service",
        "web-main",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata("web-main"),
            "spec": {"type": "ClusterIP", "selector": {"app": "web-main"}, "ports": [{"port": 3000}]},
        },
    )


def peer_authentication() -> Registration:
    return registration(
        "kubernetes:security.istio.io/v1:PeerAuthentication",
        "heal7-mtls",
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": _metadata("heal7-mtls"),
            "spec": {"mtls": {"mode": "STRICT"}},
        },
    )


def mesh_peer_authentication() -> Registration:
    """Mesh-wide STRICT mTLS: the root namespace's policy without a selector (components/kubernetes/istio_mesh.py)."""
    return registration(
        "kubernetes:security.istio.io/v1:PeerAuthentication",
        "mesh-strict-mtls",
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": "istio-system"},
            "spec": {"mtls": {"mode": "STRICT"}},
        },
    )


def authorization_default_deny() -> Registration:
    """The namespace's allow-nothing AuthorizationPolicy (components/kubernetes/mesh_authorization.py)."""
    return registration(
        "kubernetes:security.istio.io/v1:AuthorizationPolicy",
        "heal7-authorization-deny",
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "default-deny", "namespace": NAMESPACE},
            "spec": {},
        },
    )


def ingress_service() -> Registration:
    """The ingress gateway's LoadBalancer Service, open only to Cloudflare's ranges
    (components/kubernetes/_ingress_specs.py)."""
    return registration(
        "kubernetes:core/v1:Service",
        "ingress-service",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "istio-ingressgateway", "namespace": "istio-ingress"},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                "ports": [{"name": "https", "port": 443, "targetPort": 443, "protocol": "TCP"}],
                "loadBalancerSourceRanges": [*CLOUDFLARE_IPV4_RANGES, *CLOUDFLARE_IPV6_RANGES],
            },
        },
    )


def external_secret_target() -> Registration:
    """The Secret object External Secrets owns: declared without data."""
    return registration(
        "kubernetes:core/v1:Secret",
        "web-main-db",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _metadata("web-main-db"),
            "type": "Opaque",
        },
    )


def autoscaler() -> Registration:
    """The HEAL7 design's web HPA: 20 replicas x 500 rps per pod covers the declared 10,000 rps."""
    return registration(
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "web-main",
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {**_metadata("web-main"), "annotations": {"platform.heal7.io/target-rps": "10000"}},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-main"},
                "minReplicas": 3,
                "maxReplicas": 20,
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "requests_per_second"},
                            "target": {"type": "AverageValue", "averageValue": "500"},
                        },
                    }
                ],
            },
        },
    )


def kubernetes_layer() -> list[Registration]:
    """One compliant namespace's worth of objects, and the mesh-wide mTLS policy its Istio objects need."""
    return [
        namespace(),
        default_deny(),
        deployment(),
        gpu_deployment(),
        dedicated_deployment(),
        rollout(),
        cron_job(),
        network_policy(),
        role(),
        role_binding(),
        service(),
        peer_authentication(),
        mesh_peer_authentication(),
        authorization_default_deny(),
        external_secret_target(),
        autoscaler(),
    ]
