"""IstioMesh: Istio's control plane, its CNI node agent and the mesh-wide STRICT mTLS.

Three charts of one pinned release (`_charts.ISTIO_*`): `base` (the CRDs and the default
revision's validating webhook), `cni` (the node agent that sets up each pod's traffic
redirection) and `istiod`. With the CNI agent the injected containers need neither
`NET_ADMIN` nor root (no `istio-init`), so workload namespaces keep Pod Security
`restricted` (Istio's docs, "Pod Security Admission": use the CNI node agent). The agent
itself is a privileged DaemonSet, so it has a namespace of its own, `istio-cni`, the only
one the mesh leaves at `privileged`; istiod's `istio-system` stays `restricted`.

Charts are helm.v4.Chart (objects visible to diffs and policies; the PeerAuthentication
needs the CRDs as Pulumi resources in the same run). None of the three has a Helm hook.

istiod rewrites its webhook configurations at run time, two ways, each handled:

- It turns the validating webhooks' `failurePolicy` from `Ignore` (what the charts render
  on a first install) to `Fail` once it serves. Pulumi applies server-side and would send
  `Ignore` again at every update of the object: a conflict with istiod's field manager, or
  a flip-flop. So both charts render `Fail` from the start (`base.validationFailurePolicy`,
  which the istiod chart's values.yaml recommends for server-side apply tools); Pulumi and
  istiod then agree on the value. The Istio objects this program creates wait for istiod.
- It patches each webhook's `caBundle` with its own CA. The charts render none, so Pulumi
  never sends one; `ignore_istiod_webhook_rewrites` (a transform on the two charts that
  carry webhooks) also marks the field `ignoreChanges`, so a refreshed state never shows
  istiod's value as drift (the Pulumi form of Istio's documented Argo CD
  `ignoreDifferences`).
"""

from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes._charts import (
    ISTIO_BASE,
    ISTIO_CNI,
    ISTIOD,
    install_chart,
    pod_security_labels,
    restricted_namespace,
)

ROOT_NAMESPACE = "istio-system"
"""istiod's namespace and the mesh's root namespace: a policy here applies mesh-wide."""
CNI_NAMESPACE = "istio-cni"
SECURITY_API = "security.istio.io/v1"
# GKE installs CNI plugins in /home/kubernetes/bin, not /opt/cni/bin. The chart guesses it
# from the Kubernetes version string, which helm.v4.Chart may render without; say it.
GKE_CNI_BIN_DIR = "/home/kubernetes/bin"
WEBHOOK_TYPES = (
    "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
    "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
)
# The field istiod owns at run time (see the module docstring).
ISTIOD_MANAGED_WEBHOOK_FIELDS = ("webhooks[*].clientConfig.caBundle",)
# Both charts' validating webhooks start at the value istiod would set (module docstring).
VALIDATION_FAILURE_POLICY = {"base": {"validationFailurePolicy": "Fail"}}

Platform = Literal["eks", "gke"]


@dataclass
class IstioMeshArgs:
    """Inputs of IstioMesh. Defaults: one istiod, no PodDisruptionBudget."""

    platform: Platform
    """Required: the cluster's platform, `eks` or `gke` (GKE needs the CNI's GKE profile and bin dir)."""
    high_availability: bool = False
    """Run istiod with at least 2 replicas spread over zones, with a PodDisruptionBudget. Default false.
    Sidecars keep their configuration while istiod is away, but new pods cannot be injected."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on the two namespaces (ownership). Default none."""


def ignore_istiod_webhook_rewrites(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Transform for the Istio charts: webhook configurations ignore the fields istiod rewrites."""
    if args.type_ not in WEBHOOK_TYPES:
        return None
    # merge() appends list options: pass only the new paths, and none already ignored.
    present = args.opts.ignore_changes or []
    added = [path for path in ISTIOD_MANAGED_WEBHOOK_FIELDS if path not in present]
    return pulumi.ResourceTransformResult(
        props=args.props, opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(ignore_changes=added))
    )


def _zone_spread(labels: dict[str, str]) -> list[dict[str, Any]]:
    # One replica per zone first: a zone loss then leaves the others serving.
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": labels},
        }
    ]


def cni_values(platform: Platform) -> dict[str, Any]:
    """Values for the `cni` chart (keys of istio-cni/values.yaml, release-1.31)."""
    values: dict[str, Any] = {
        # Sidecar mode: the agent only installs the redirection; ambient stays off.
        "ambient": {"enabled": False},
        # Hardening, not a Pod Security need (its namespace is privileged): the agent's
        # syscalls stay within the runtime's default profile.
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if platform == "gke":
        # The GKE profile adds the ResourceQuota GKE requires before it admits
        # system-node-critical pods outside kube-system (Istio's GKE platform guide).
        values["global"] = {"platform": "gke"}
        values["cniBinDir"] = GKE_CNI_BIN_DIR
    return values


def istiod_values(*, high_availability: bool) -> dict[str, Any]:
    """Values for the `istiod` chart (top-level keys of istio-discovery/values.yaml, release-1.31)."""
    replicas = 2 if high_availability else 1
    return {
        **VALIDATION_FAILURE_POLICY,
        # Pods are redirected by the CNI agent: the injector adds no istio-init container
        # with NET_ADMIN/NET_RAW and runs istio-validation as the proxy's non-root user.
        "cni": {"enabled": True},
        "autoscaleMin": replicas,
        "autoscaleMax": 5,
        "topologySpreadConstraints": _zone_spread({"app": "istiod"}),
        # The chart adds a PodDisruptionBudget (minAvailable 1) once autoscaleMin > 1.
        "pdb": {"minAvailable": 1},
        # Pod Security `restricted` needs a seccomp profile on every container: istiod's own
        # and the injected proxies' (the chart sets none by default).
        "seccompProfile": {"type": "RuntimeDefault"},
        "global": {"proxy": {"seccompProfile": {"type": "RuntimeDefault"}}},
        "meshConfig": {
            # Applications start once their proxy is ready, so their first calls (to the
            # database, to other services) do not fail before the sidecar has its config.
            "defaultConfig": {"holdApplicationUntilProxyStarts": True},
            # Access logs on stdout, for the logging issue's collectors.
            "accessLogFile": "/dev/stdout",
        },
    }


class IstioMesh(pulumi.ComponentResource):
    root_namespace: pulumi.Output[str]
    control_plane: kubernetes.helm.v4.Chart
    """istiod's chart: objects that need the injector or the CRDs' validation depend on it."""

    def __init__(self, name: str, args: IstioMeshArgs, opts: pulumi.ResourceOptions | None = None):
        if args.platform not in ("eks", "gke"):
            raise ValueError(f"IstioMesh {name}: platform must be eks or gke, got {args.platform!r}")
        super().__init__("platform:kubernetes:IstioMesh", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        istio_charts = pulumi.ResourceOptions(parent=self, transforms=[ignore_istiod_webhook_rewrites])

        # istiod runs non-root with a read-only root, all capabilities dropped and (values
        # above) RuntimeDefault seccomp: restricted.
        root = restricted_namespace(f"{name}-root-namespace", ROOT_NAMESPACE, args.labels, child)
        # The CNI agent writes the node's CNI configuration and enters pods' network
        # namespaces: it needs privileged (hostPath, host network), and nothing else runs here.
        cni_namespace = kubernetes.core.v1.Namespace(
            f"{name}-cni-namespace",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=CNI_NAMESPACE, labels={**args.labels, **pod_security_labels("privileged")}
            ),
            opts=child,
        )

        base = install_chart(
            f"{name}-base",
            ISTIO_BASE,
            release="istio-base",
            namespace=root.metadata.name,
            # The default revision's validating webhook (istiod-default-validator) starts at
            # Fail like istiod's own; everything else keeps the chart's defaults.
            values=dict(VALIDATION_FAILURE_POLICY),
            opts=istio_charts,
        )
        cni = install_chart(
            f"{name}-cni",
            ISTIO_CNI,
            release="istio-cni",
            namespace=cni_namespace.metadata.name,
            values=cni_values(args.platform),
            opts=child,
        )
        # After the CNI agent: a pod injected for CNI mode before the agent runs on its node
        # would start without redirection (the agent's repair controller would restart it).
        istiod = install_chart(
            f"{name}-istiod",
            ISTIOD,
            release="istiod",
            namespace=root.metadata.name,
            values=istiod_values(high_availability=args.high_availability),
            opts=pulumi.ResourceOptions.merge(istio_charts, pulumi.ResourceOptions(depends_on=[base, cni])),
        )

        # Mesh-wide STRICT mTLS: a PeerAuthentication without selector in the root namespace
        # is the mesh default (the HEAL7 design's heal7-mtls, for every namespace). A workload
        # may not relax it: the policy pack refuses a PERMISSIVE PeerAuthentication.
        kubernetes.apiextensions.CustomResource(
            f"{name}-strict-mtls",
            api_version=SECURITY_API,
            kind="PeerAuthentication",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name="default", namespace=root.metadata.name),
            spec={"mtls": {"mode": "STRICT"}},
            # The CRD from base, the validating webhook served by istiod.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[istiod]),
        )

        self.root_namespace = root.metadata.name
        self.control_plane = istiod
        self.register_outputs({"root_namespace": self.root_namespace})
