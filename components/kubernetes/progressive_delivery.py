"""ProgressiveDelivery: the Argo Rollouts controller of one cluster.

It replaces the HEAL7 design's deploy-strategy.sh (deploy green, health check, shift 10 %
with a `canary: true` header route, watch the 5xx rate for ten minutes, promote or roll
back by hand) with a controller that runs the same steps for every release and rolls back
by itself when the analysis fails. AppDeployment creates the Rollouts, AnalysisTemplates,
VirtualServices and DestinationRules it drives (components/kubernetes/_rollout_specs.py).

Why Argo Rollouts, not Flagger: the Rollout is an object the program declares, so `pulumi
preview` diffs the strategy, steps and analysis like any other resource (Flagger generates
its own `-primary` Deployment, Services and routes from a Canary object, so what serves
traffic is invisible to the program and to the policy pack); Argo drives Istio natively with
DestinationRule subsets and a managed `canary: true` header route (the script's header), and
its AnalysisTemplates query Prometheus directly.

Chart: helm.v4.Chart, not helm.v3.Release. AppDeployment's Rollouts and AnalysisTemplates
are custom resources whose CRDs this chart installs (`installCRDs`, as chart templates, not
Helm's crds/ directory); pulumi-kubernetes resolves them at preview in the same run only
when the CRDs are Pulumi resources, which v4 makes of every object. v4 skips Helm hooks: the
chart at 2.41.0 has none (no template carries `helm.sh/hook`), so nothing is lost.
`keepCRDs` marks the CRDs `helm.sh/resource-policy: keep`, which v4 maps to retainOnDelete:
removing the chart never deletes every Rollout (and its pods) with the CRD.

The controller reads every namespace's Rollouts, ReplicaSets, Services and Istio routes and,
as every Argo Rollouts install does, Secrets cluster-wide (AnalysisTemplates may reference
them); the RBAC for other traffic providers (ALB, SMI, Ambassador, ...) is left out, Istio's
only. The dashboard (an unauthenticated UI that can promote and abort) is not installed: the
`kubectl argo rollouts` plugin, under the caller's own RBAC, is the interface.
"""

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.kubernetes._charts import ARGO_ROLLOUTS, install_chart, restricted_namespace

NAMESPACE = "argo-rollouts"
RELEASE = "argo-rollouts"
# The chart's traffic providers (values.yaml providerRBAC.providers at 2.41.0): only Istio's
# RBAC is granted, the platform's only traffic router.
TRAFFIC_PROVIDERS = (
    "istio",
    "smi",
    "ambassador",
    "awsLoadBalancerController",
    "awsAppMesh",
    "traefik",
    "apisix",
    "contour",
    "glooPlatform",
    "gatewayAPI",
)


@dataclass
class ProgressiveDeliveryArgs:
    """Inputs of ProgressiveDelivery. Defaults: one controller, no PodDisruptionBudget."""

    high_availability: bool = False
    """Two controller replicas (one leader, one standby; leader election is the controller's default)
    spread over zones, with a PodDisruptionBudget. Default false: one replica. A Rollout keeps serving
    while the controller is away; only its steps and analysis wait."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on the namespace (ownership). Default none."""


def argo_rollouts_values(*, high_availability: bool) -> dict[str, Any]:
    """Values for the argo-rollouts chart (keys checked against its values.yaml at 2.41.0)."""
    replicas = 2 if high_availability else 1
    controller: dict[str, Any] = {
        # The chart's default is 2; one in tiers without high availability.
        "replicas": replicas,
        # Chart default disabled; when enabled without a bound it renders minAvailable 0,
        # which protects nothing: one of the two may go at a time.
        "pdb": {"enabled": high_availability, "maxUnavailable": 1},
        # Requests so the scheduler reserves room (the chart sets none); no CPU limit
        # (throttling only delays a step), a memory limit bounds its informers' caches.
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        # Chart defaults: `metrics.enabled` only adds a Service; the controller declares port
        # `metrics` (8090) regardless, and the monitoring's PodMonitor scrapes the pods
        # (_scrape_targets.py), so neither the Service nor the chart's ServiceMonitor is needed.
        "metrics": {"enabled": False, "serviceMonitor": {"enabled": False}},
    }
    if high_availability:
        # The standby in another zone, so a zone loss leaves a controller (the chart fills
        # in the controller's own selector).
        controller["topologySpreadConstraints"] = [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
        ]
    return {
        # Chart defaults, stated: the CRDs must be objects of this chart (module docstring).
        "installCRDs": True,
        "keepCRDs": True,
        # Rollouts live in the workload namespaces: the controller watches the cluster.
        "clusterInstall": True,
        "controller": controller,
        "providerRBAC": {
            "enabled": True,
            "providers": {provider: provider == "istio" for provider in TRAFFIC_PROVIDERS},
        },
        "dashboard": {"enabled": False},
        # Chart defaults, stated (values.yaml at 2.41.0): the pod runs non-root, and its one
        # container drops every capability, cannot escalate, has a read-only root and the
        # RuntimeDefault seccomp profile; its volumes are emptyDirs. That is Pod Security
        # `restricted`; the image's USER is 999 (argo-rollouts' Dockerfile at v1.9.0).
        "podSecurityContext": {"runAsNonRoot": True},
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # No notification secret from the chart: a literal would land in the values.
        "notifications": {"secret": {"create": False}},
    }


class ProgressiveDelivery(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    ready: pulumi.Resource
    """The chart: Rollouts and AnalysisTemplates depend on it (their CRDs, the controller)."""

    def __init__(self, name: str, args: ProgressiveDeliveryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:kubernetes:ProgressiveDelivery", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The chart's pods meet `restricted` (argo_rollouts_values), so the namespace enforces it.
        namespace = restricted_namespace(f"{name}-namespace", NAMESPACE, args.labels, child)
        self.ready = install_chart(
            f"{name}-chart",
            ARGO_ROLLOUTS,
            release=RELEASE,
            namespace=namespace.metadata.name,
            values=argo_rollouts_values(high_availability=args.high_availability),
            opts=child,
        )
        self.namespace = namespace.metadata.name
        self.register_outputs({"namespace": self.namespace})
