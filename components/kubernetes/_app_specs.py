"""The pod and its autoscalers as plain specs, so tests read exactly what AppDeployment
registers. Field names are Kubernetes 1.35's apps/v1, autoscaling/v2, policy/v1 and
autoscaling.k8s.io/v1 (VerticalPodAutoscaler, VPA 1.x), and Istio's networking.istio.io/v1.
"""

from dataclasses import dataclass, field
from typing import Any

# The HEAL7 design's heal7-base image: user 1001, non-root.
APP_UID = 1001
# The custom metric prometheus-adapter serves to the HPAs (the observability issue installs
# it): a per-pod rate of the requests the pod's sidecar received, from Istio's standard
# `istio_requests_total`. The adapter's rule must expose it under this name, as a Pods
# metric for the namespace's pods (labels `namespace` and `pod`).
REQUESTS_PER_SECOND_METRIC = "requests_per_second"
# The sidecar keeps draining in-flight requests this long once it is told to stop (as a native
# sidecar, after the app container has exited), and the pod has
# time for both it and the app's own shutdown (Istio's terminationDrainDuration).
MESH_DRAIN_SECONDS = 20
# Endpoints leave the Service's (and Envoy's) load-balancing sets a few seconds after a pod
# is marked terminating: the app keeps answering for this long before it is told to stop.
PRE_STOP_SECONDS = 10
TERMINATION_GRACE_SECONDS = 45
GPU_RESOURCE = "nvidia.com/gpu"
PROBE_TIMEOUT_SECONDS = 3
# The ReplicaSet hash labels of a Deployment's and of an Argo Rollout's pods: spreading counts
# only the pods of the same version, so a new version is never blocked by the old one's layout.
VERSION_LABEL_KEYS = ["pod-template-hash", "rollouts-pod-template-hash"]
# Where a workload's pods find the CA files its database URLs name (`sslrootcert`): neither the
# RDS root nor a Cloud SQL instance CA is in a system trust store. A read-only ConfigMap volume.
CA_DIRECTORY = "/etc/platform/ca"
RDS_CA_FILE = "rds-root.pem"
REPLICA_CA_FILE = "cloudsql-server-ca.pem"


def ca_path(file_name: str) -> str:
    """The path in the pod of one CA file of the workload's CA volume."""
    return f"{CA_DIRECTORY}/{file_name}"


@dataclass(frozen=True)
class ResourceSpec:
    """Requests and limits of the app container."""

    cpu_request: str
    """Required: CPU reserved, as a Kubernetes quantity (`250m`)."""
    memory_request: str
    """Required: memory reserved (`256Mi`)."""
    cpu_limit: str
    """Required: CPU ceiling (`500m`)."""
    memory_limit: str
    """Required: memory ceiling (`512Mi`); above it the container is killed."""
    gpus: int = 0
    """`nvidia.com/gpu` per pod, in GPUs. Default 0."""


@dataclass(frozen=True)
class Toleration:
    """A taint a dedicated node pool carries that the pods tolerate."""

    key: str
    """Required: the taint's key."""
    value: str
    """Required: the taint's value."""
    effect: str = "NoSchedule"
    """The taint's effect. Default NoSchedule."""


@dataclass(frozen=True)
class Autoscaling:
    """The HPA: the HEAL7 design's three metrics (heal7-hpa.yaml)."""

    min_replicas: int
    """Required: HPA floor, in pods."""
    max_replicas: int
    """Required: HPA ceiling, in pods."""
    cpu_utilization: int = 70
    """Average CPU against requests, in percent. Default 70 (the HEAL7 design)."""
    memory_utilization: int = 80
    """Average memory against requests, in percent. Default 80 (the HEAL7 design)."""
    requests_per_second: int = 100
    """Average requests per pod and second. Default 100 (the HEAL7 design)."""
    scale_down_stabilization_seconds: int = 300
    """Lower load must last this long, in seconds, before pods are removed. Default 300."""


@dataclass(frozen=True)
class PodSettings:
    """What the pod template needs beyond the image."""

    port: int
    """Required: the container's HTTP port."""
    resources: ResourceSpec
    """Required: requests and limits."""
    liveness_path: str = "/health"
    """Liveness (and startup) probe path. Default /health (the HEAL7 design)."""
    readiness_path: str = "/ready"
    """Readiness probe path. Default /ready (the HEAL7 design)."""
    node_selector: dict[str, str] = field(default_factory=dict)
    """Node labels the pods need (a dedicated pool's). Default none."""
    tolerations: tuple[Toleration, ...] = ()
    """Taints the pods tolerate. Default none."""
    env: dict[str, str] = field(default_factory=dict)
    """Plain environment variables. Default none."""
    secret_env: tuple[str, ...] = ()
    """Environment variables read from the workload's synced Secret (same key names). Default none."""
    writable_paths: tuple[str, ...] = ("/tmp",)
    """Paths the app writes to, each an emptyDir over the read-only root. Default /tmp."""
    metrics_port: int | None = None
    """The port the app serves its own Prometheus metrics on. Default None: the proxy's metrics only."""
    metrics_path: str = "/metrics"
    """The path of the app's metrics on metrics_port. Default /metrics."""


def pod_labels(name: str) -> dict[str, str]:
    """The labels that select exactly this workload's pods (the HEAL7 design's `app`)."""
    return {"app": name}


def _volume_name(path: str) -> str:
    return "writable-" + (path.strip("/").replace("/", "-").replace("_", "-").replace(".", "-") or "root")


def pod_template(
    name: str,
    image: str,
    service_account: str,
    secret_name: str | None,
    pod: PodSettings,
    ca_configmap: str | None = None,
) -> dict:
    """The pod template (metadata and spec) of the workload; `ca_configmap` mounts its CA files
    read-only at CA_DIRECTORY."""
    limits: dict[str, str] = {"cpu": pod.resources.cpu_limit, "memory": pod.resources.memory_limit}
    requests: dict[str, str] = {"cpu": pod.resources.cpu_request, "memory": pod.resources.memory_request}
    if pod.resources.gpus:
        # Extended resources are requested through limits (requests default to them).
        limits[GPU_RESOURCE] = str(pod.resources.gpus)
    env: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in sorted(pod.env.items())]
    env += [{"name": key, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}} for key in pod.secret_env]
    http = {"port": pod.port, "scheme": "HTTP"}
    container: dict[str, Any] = {
        "name": "app",
        "image": image,
        # The image is pinned by digest: nothing to re-pull.
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": pod.port, "protocol": "TCP"}],
        "env": env,
        "resources": {"requests": requests, "limits": limits},
        # Up to 150 s to start (model loading, JIT); liveness and readiness only after that.
        # Each check may take 3 s (the HEAL7 design's HEALTHCHECK --timeout=3s), not the
        # default 1 s that a short stall under load would turn into a restart.
        "startupProbe": {
            "httpGet": {**http, "path": pod.liveness_path},
            "periodSeconds": 5,
            "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
            "failureThreshold": 30,
        },
        # heal7-cluster-config.yaml's periods: liveness every 10 s, readiness every 5 s.
        "livenessProbe": {
            "httpGet": {**http, "path": pod.liveness_path},
            "periodSeconds": 10,
            "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {**http, "path": pod.readiness_path},
            "periodSeconds": 5,
            "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
            "failureThreshold": 3,
        },
        # Keep answering while the endpoint is removed everywhere, then stop.
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
        # The email-platform ops guide's container rules and Pod Security restricted.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": APP_UID,
            "runAsGroup": APP_UID,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": _volume_name(path), "mountPath": path} for path in pod.writable_paths],
    }
    volumes: list[dict[str, Any]] = [{"name": _volume_name(path), "emptyDir": {}} for path in pod.writable_paths]
    if ca_configmap is not None:
        container["volumeMounts"].append({"name": "ca", "mountPath": CA_DIRECTORY, "readOnly": True})
        volumes.append({"name": "ca", "configMap": {"name": ca_configmap}})
    labels = pod_labels(name)
    spec: dict[str, Any] = {
        "serviceAccountName": service_account,
        # No API token in the pod unless the workload calls the Kubernetes API (CIS 5.1.6).
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": APP_UID,
            "runAsGroup": APP_UID,
            "fsGroup": APP_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
        # One pod per zone first (a zone loss keeps the others), then spread over nodes.
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": labels},
                "matchLabelKeys": VERSION_LABEL_KEYS,
            },
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": labels},
                "matchLabelKeys": VERSION_LABEL_KEYS,
            },
        ],
    }
    if pod.node_selector:
        spec["nodeSelector"] = dict(pod.node_selector)
    if pod.tolerations:
        spec["tolerations"] = [
            {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect} for t in pod.tolerations
        ]
    # The sidecar drains in-flight requests after SIGTERM, within the pod's grace period.
    annotations = {"proxy.istio.io/config": f'{{"terminationDrainDuration": "{MESH_DRAIN_SECONDS}s"}}'}
    if pod.metrics_port is not None:
        # Istio's metrics merging: the injector moves these into the proxy's agent, which serves the
        # app's metrics beside Envoy's on :15020/stats/prometheus (the port Prometheus scrapes, outside
        # STRICT mTLS), so Prometheus never calls the app port itself.
        annotations |= {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(pod.metrics_port),
            "prometheus.io/path": pod.metrics_path,
        }
    return {"metadata": {"labels": labels, "annotations": annotations}, "spec": spec}


def hpa_spec(target: dict[str, str], scaling: Autoscaling) -> dict:
    """autoscaling/v2 HorizontalPodAutoscaler spec for `target` (apiVersion, kind, name)."""
    return {
        "scaleTargetRef": target,
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": scaling.cpu_utilization},
                },
            },
            {
                "type": "Resource",
                "resource": {
                    "name": "memory",
                    "target": {"type": "Utilization", "averageUtilization": scaling.memory_utilization},
                },
            },
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": REQUESTS_PER_SECOND_METRIC},
                    "target": {"type": "AverageValue", "averageValue": str(scaling.requests_per_second)},
                },
            },
        ],
        "behavior": {
            "scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_stabilization_seconds},
        },
    }


def vpa_spec(target: dict[str, str]) -> dict:
    """A VerticalPodAutoscaler that only recommends.

    The email-platform ops guide runs VPA in `Auto` beside an HPA on CPU and memory: the two
    then fight over the same pods (VPA resizes what the HPA counts against). Here the HPA
    scales on CPU and memory, so VPA runs in recommendation mode (`updateMode: Off`): its
    recommendations inform the requests in config, nothing is evicted."""
    return {"targetRef": target, "updatePolicy": {"updateMode": "Off"}}


def destination_rule_spec(host: str) -> dict:
    """Traffic policy for the workload's Service inside the mesh: mTLS from the mesh, and
    endpoints that keep failing leave the pool for a while."""
    return {
        "host": host,
        "trafficPolicy": {
            "tls": {"mode": "ISTIO_MUTUAL"},
            "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
        },
    }
