"""The pods the platform's clusters run beside the workloads, and what each requests.

The types and quantity parsing every capacity module shares, and the pods that come with the
clusters themselves rather than from a chart the program installs (those are in
tools/chart_pods.py):

- EKS managed add-ons (components/aws/eks/addons.py installs them): the pods EKS's manifest
  of each add-on runs, by add-on name (`EKS_ADDON_PODS`).
- GKE's own kube-system pods (`GKE_SYSTEM_PODS`, `GKE_GPU_NODE_PODS`): GKE publishes no
  requests for them. The figures are those a GKE 1.29 node reports (`kubectl describe
  node`, quoted in cryptnono/cryptnono#34) and the upstream GCE GPU manifests, plus a stated
  allowance for the DaemonSets that listing leaves out (Dataplane V2's anetd, netd,
  gke-metrics-agent, the Persistent Disk CSI node). Check both against `kubectl describe
  node` on a real node after the first `pulumi up`.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal


class SystemPodsError(ValueError):
    """A chart, add-on or quantity whose pods the capacity plan cannot account for."""


@dataclass(frozen=True)
class Requests:
    """Resource requests: CPU in millicores, memory in MiB, GPUs."""

    cpu_m: float = 0
    memory_mib: float = 0
    gpus: int = 0

    def __add__(self, other: "Requests") -> "Requests":
        return Requests(self.cpu_m + other.cpu_m, self.memory_mib + other.memory_mib, self.gpus + other.gpus)

    def times(self, count: int) -> "Requests":
        return Requests(self.cpu_m * count, self.memory_mib * count, self.gpus * count)


@dataclass(frozen=True)
class SystemPod:
    name: str
    kind: Literal["DaemonSet", "Deployment"]
    requests: Requests
    """Per pod (all containers)."""
    replicas: int
    """Deployment: pods at the add-on's maximum (its HPA's max where it autoscales). DaemonSet: 1 per node."""
    source: str
    gpu_nodes_only: bool = False
    """A DaemonSet that runs only on GPU nodes (the NVIDIA device plugin)."""


_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS_MIB = {
    None: 1 / 2**20,
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "Ti": 1024**2,
    "k": 1e3 / 2**20,
    "M": 1e6 / 2**20,
    "G": 1e9 / 2**20,
    "T": 1e12 / 2**20,
}


def cpu_m(quantity: object) -> float:
    """A Kubernetes CPU quantity (`250m`, `2`, `0.5`) in millicores."""
    match = _CPU.match(str(quantity))
    if match is None:
        raise SystemPodsError(f"expected a CPU quantity such as 250m or 2, got {quantity!r}")
    return float(match.group(1)) * (1 if match.group(2) else 1000)


def memory_mib(quantity: object) -> float:
    """A Kubernetes memory quantity (`256Mi`, `2Gi`, `10M`) in MiB."""
    match = _MEMORY.match(str(quantity))
    if match is None:
        raise SystemPodsError(f"expected a memory quantity such as 256Mi or 2Gi, got {quantity!r}")
    return float(match.group(1)) * _MEMORY_UNITS_MIB[match.group(2)]


def requests_of(resources: object) -> Requests:
    """The requests of a container's `resources` block ({} or None: none)."""
    wanted = (resources or {}).get("requests") if isinstance(resources, Mapping) else None
    wanted = wanted or {}
    return Requests(cpu_m(wanted.get("cpu", 0)), memory_mib(wanted.get("memory", 0)))


def deployment(name: str, requests: Requests, replicas: object, source: str) -> SystemPod:
    """A Deployment's pods; `replicas` as a chart value (the engine carries numbers as floats)."""
    return SystemPod(name, "Deployment", requests, int(float(str(replicas))), source)


def daemonset(name: str, requests: Requests, source: str, gpu_nodes_only: bool = False) -> SystemPod:
    return SystemPod(name, "DaemonSet", requests, 1, source, gpu_nodes_only)


# -- EKS managed add-ons ----------------------------------------------------------------

VPC_CNI = "aws/eks-charts stable/aws-vpc-cni/values.yaml (1.22.4): aws-node 25m CPU, node agent and init {}"
EBS_CSI = (
    "kubernetes-sigs/aws-ebs-csi-driver charts/aws-ebs-csi-driver (2.64.0), which the add-on packages: "
    "templates/controller.yaml and node.yaml"
)
# The EKS add-on's own manifest (`kubectl -n kube-system get ds kube-proxy -o yaml`): 100m CPU.
KUBE_PROXY = "the EKS kube-proxy add-on's DaemonSet: requests cpu 100m, no memory request"
COREDNS = "the EKS coredns add-on's Deployment: 2 replicas, requests 100m CPU / 70Mi"
POD_IDENTITY = "aws/eks-pod-identity-agent charts/eks-pod-identity-agent/values.yaml: resources {}"

EKS_ADDON_PODS: dict[str, list[SystemPod]] = {
    "vpc-cni": [daemonset("aws-node", Requests(25, 0), VPC_CNI)],
    "kube-proxy": [daemonset("kube-proxy", Requests(100, 0), KUBE_PROXY)],
    "eks-pod-identity-agent": [daemonset("eks-pod-identity-agent", Requests(), POD_IDENTITY)],
    "coredns": [deployment("coredns", Requests(100, 70), 2, COREDNS)],
    "aws-ebs-csi-driver": [
        # ebs-plugin, csi-provisioner, csi-attacher, csi-snapshotter and csi-resizer take
        # controller.resources (10m / 40Mi); the liveness probe its template default (10m / 32Mi).
        deployment("ebs-csi-controller", Requests(5 * 10 + 10, 5 * 40 + 32), 2, EBS_CSI),
        # ebs-plugin node.resources (10m / 40Mi); node-driver-registrar and the liveness probe
        # their template defaults (10m / 32Mi each).
        daemonset("ebs-csi-node", Requests(10 + 2 * 10, 40 + 2 * 32), EBS_CSI),
    ],
}

# -- GKE's own pods -----------------------------------------------------------------------

GKE_OBSERVED = "a GKE 1.29 node's kubectl describe node (cryptnono/cryptnono#34)"
GKE_ALLOWANCE = (
    "allowance, not a published figure: anetd (Dataplane V2), netd, gke-metrics-agent and pdcsi-node, "
    "whose requests GKE does not publish"
)
GKE_GPU = "kubernetes/kubernetes test/e2e/testing-manifests/gpu/gce (nvidia-gpu-device-plugin, nvidia-driver-installer)"

GKE_SYSTEM_PODS: list[SystemPod] = [
    daemonset("fluentbit-gke", Requests(105, 230), GKE_OBSERVED),
    # Workload Identity (GKE_METADATA on every pool) runs the metadata server on each node.
    daemonset("gke-metadata-server", Requests(100, 100), GKE_OBSERVED),
    daemonset("ip-masq-agent", Requests(10, 16), GKE_OBSERVED),
    daemonset("gke-unlisted-daemonsets", Requests(200, 256), GKE_ALLOWANCE),
    deployment("kube-dns", Requests(260, 110), 2, GKE_OBSERVED),
    deployment("kube-dns-autoscaler", Requests(20, 10), 1, GKE_OBSERVED),
    deployment("konnectivity-agent", Requests(15, 60), 2, GKE_OBSERVED),
    deployment("konnectivity-agent-autoscaler", Requests(10, 10), 1, GKE_OBSERVED),
]
# On GPU nodes only. The driver installer's init container (150m) stays the pod's effective
# request for its life, as the scheduler counts init containers.
GKE_GPU_NODE_PODS: list[SystemPod] = [
    daemonset("nvidia-gpu-device-plugin", Requests(50, 10), GKE_GPU, gpu_nodes_only=True),
    daemonset("nvidia-driver-installer", Requests(150, 0), GKE_GPU, gpu_nodes_only=True),
]


# -- Pods of custom resources the program writes ------------------------------------------

# The operator that runs each kind's pods, and the container whose requests its pods carry.
OPERATOR_PODS = {
    ("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"): "elasticsearch",
    ("kibana.k8s.elastic.co/v1", "Kibana"): "kibana",
}


def _container_requests(pod_template: Mapping[str, Any], container: str) -> Requests:
    containers = (pod_template.get("spec") or {}).get("containers") or []
    for candidate in containers:
        if candidate.get("name") == container:
            return requests_of(candidate.get("resources"))
    raise SystemPodsError(f"no {container!r} container in the pod template: its requests are unknown")


def custom_resource_pods(manifests: Sequence[Mapping[str, Any]]) -> list[SystemPod]:
    """The pods ECK runs for the program's Elasticsearch (`count` per node set) and Kibana
    (`count`) objects, each at its main container's requests (the program sets them; ECK's own
    defaults apply only when the template names none, which the program never does)."""
    pods: list[SystemPod] = []
    for manifest in manifests:
        container = OPERATOR_PODS.get((str(manifest.get("apiVersion")), str(manifest.get("kind"))))
        if container is None:
            continue
        name = manifest.get("metadata", {}).get("name", "?")
        spec = manifest.get("spec") or {}
        source = f"the program's {manifest['kind']} {name} (ECK runs its pods)"
        sets = spec.get("nodeSets") if manifest["kind"] == "Elasticsearch" else [spec]
        for node_set in sets or []:
            requests = _container_requests(node_set.get("podTemplate") or {}, container)
            label = f"{name}-{node_set.get('name', container)}"
            pods.append(SystemPod(label, "Deployment", requests, int(node_set.get("count", 1)), source))
    return pods
