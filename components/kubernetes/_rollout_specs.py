"""Progressive delivery as plain specs: the Argo Rollouts objects AppDeployment registers for
a workload whose delivery is `canary` or `blueGreen`, so tests read exactly what is sent.

Field names are Argo Rollouts v1.9.0's argoproj.io/v1alpha1 Rollout and AnalysisTemplate (the
CRDs the pinned chart installs, `_charts.ARGO_ROLLOUTS`; docs/features/canary,
traffic-management/istio.md, bluegreen.md and analysis/prometheus.md at that tag) and Istio's
networking.istio.io/v1 VirtualService and DestinationRule.

What replaces the HEAL7 design's deploy-strategy.sh, step by step:

- canary: the new version's pods form the DestinationRule subset `canary`, the running ones
  `stable` (Argo injects each ReplicaSet's `rollouts-pod-template-hash` into the subsets'
  labels); the workload's mesh VirtualService splits its `primary` route between the two by
  the config's weights, with a pause of the analysis window between weights; requests with
  the header `canary: true` (the script's header) reach the canary from the first weight on.
  The AnalysisTemplate runs in the background for the whole rollout and aborts it, sending
  every request back to `stable`, as soon as a measurement fails.
- blueGreen: the new version comes up behind the preview Service; a person checks it and
  promotes (the script's health check), then the same analysis watches the new version under
  the real traffic and switches the active Service back if it fails.
"""

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

ROLLOUTS_API = "argoproj.io/v1alpha1"
STABLE_SUBSET = "stable"
CANARY_SUBSET = "canary"
# The VirtualService route whose weights the controller sets.
PRIMARY_ROUTE = "primary"
# The route the controller adds for the header (and removes when the rollout ends or aborts).
HEADER_ROUTE = "canary-header"
# deploy-strategy.sh's canary header: `canary: "true"` reaches the new version.
CANARY_HEADER = "canary"
CANARY_HEADER_VALUE = "true"
# The label Argo Rollouts puts on each ReplicaSet's pods (and into the subsets' labels).
POD_TEMPLATE_HASH_LABEL = "rollouts-pod-template-hash"
# The Prometheus the observability issue installs (the Prometheus Operator's `prometheus-operated`
# Service in `monitoring`); an AnalysisTemplate argument, so a run can name another.
DEFAULT_PROMETHEUS_ADDRESS = "http://prometheus-operated.monitoring.svc:9090"
# One measurement a minute: a 10-minute window is judged ten times.
MEASUREMENT_INTERVAL = "1m"
HASH_ARGUMENT = "canary-hash"
ADDRESS_ARGUMENT = "prometheus-address"

Strategy = Literal["canary", "blueGreen"]


@dataclass(frozen=True)
class Analysis:
    """What the new version must show (the HEAL7 design's targets)."""

    max_error_ratio: float = 0.01
    """5xx responses over all responses, 0-1. Default 0.01 (the HEAL7 design's 99 %+ success)."""
    max_p95_latency_ms: int = 500
    """95th-percentile request duration, in milliseconds. Default 500 (the HEAL7 design)."""
    window_minutes: int = 10
    """The window each measurement covers and the pause between canary weights, in minutes.
    Default 10 (deploy-strategy.sh watches for ten minutes)."""


@dataclass(frozen=True)
class Delivery:
    """How a new version of the workload replaces the running one."""

    strategy: Strategy
    """Required: `canary` (weights over the mesh) or `blueGreen` (preview, then switch)."""
    steps: tuple[int, ...] = (10, 50, 100)
    """Canary weights in percent, rising strictly to 100. Default 10, 50, 100 (the HEAL7 design's
    10 % canary, then half, then all)."""
    header_route: bool = True
    """Canary: send requests carrying `canary: true` to the new version. Default true."""
    analysis: Analysis = field(default_factory=Analysis)
    """The thresholds and window. Default the HEAL7 design's."""
    prometheus_address: str = DEFAULT_PROMETHEUS_ADDRESS
    """Prometheus' URL, the AnalysisTemplate argument's default. Default DEFAULT_PROMETHEUS_ADDRESS."""

    def problems(self) -> list[str]:
        """What makes this delivery unusable, empty when none."""
        found = []
        if self.strategy not in ("canary", "blueGreen"):
            found.append(f"strategy must be canary or blueGreen, got {self.strategy!r}")
        steps = self.steps
        if not steps or any(b <= a for a, b in itertools.pairwise(steps)) or steps[-1] != 100:
            found.append(f"steps must rise strictly to 100, got {list(steps)}")
        if any(not 1 <= weight <= 100 for weight in steps):
            found.append(f"steps must be percentages 1-100, got {list(steps)}")
        if not 0 < self.analysis.max_error_ratio < 1:
            found.append(f"max_error_ratio must be between 0 and 1, got {self.analysis.max_error_ratio}")
        if self.analysis.max_p95_latency_ms < 1 or self.analysis.window_minutes < 1:
            found.append("max_p95_latency_ms and window_minutes must be positive")
        return found


def analysis_template_name(workload: str) -> str:
    return f"{workload}-analysis"


def preview_service_name(workload: str) -> str:
    return f"{workload}-preview"


def _istio_selector(workload: str, namespace: str) -> str:
    # The requests the new version's own sidecars received (reporter "destination"), from the
    # pods of its ReplicaSet: Argo names them `<rollout>-<pod template hash>-<suffix>`. Istio
    # gives every pod of a Rollout the same `destination_workload`, so the pod name is what
    # tells the versions apart. Prometheus must keep the scraped pod's name as `pod` (the
    # contract the HPA's requests_per_second metric states in _app_specs.py).
    pods = f"{workload}-{{{{args.{HASH_ARGUMENT}}}}}-.*"
    return (
        f'reporter="destination", destination_workload_namespace="{namespace}", '
        f'destination_workload="{workload}", pod=~"{pods}"'
    )


def _no_traffic_or(condition: str) -> str:
    # No requests in the window gives no sample (an empty result) or 0/0 (NaN): nothing
    # failed, as in deploy-strategy.sh, whose query result defaults to "0" (`// "0"`).
    return f"len(result) == 0 || isNaN(result[0]) || {condition}"


def error_ratio_query(workload: str, namespace: str, window_minutes: int) -> str:
    selector = _istio_selector(workload, namespace)
    window = f"[{window_minutes}m]"
    return (
        f'sum(rate(istio_requests_total{{{selector}, response_code=~"5.."}}{window}))\n'
        f"/\nsum(rate(istio_requests_total{{{selector}}}{window}))"
    )


def p95_latency_query(workload: str, namespace: str, window_minutes: int) -> str:
    selector = _istio_selector(workload, namespace)
    return (
        "histogram_quantile(0.95, sum by (le) ("
        f"rate(istio_request_duration_milliseconds_bucket{{{selector}}}[{window_minutes}m])))"
    )


def analysis_template_spec(workload: str, namespace: str, delivery: Delivery) -> dict[str, Any]:
    """The workload's AnalysisTemplate: its new version's 5xx ratio and p95 latency from Istio's
    standard metrics, each measured every minute over the window; one failed measurement fails
    the run (abort and roll back). Unreachable Prometheus: Argo's default of 4 consecutive
    errors, then the run errors and the rollout aborts too."""
    analysis = delivery.analysis
    address = f"{{{{args.{ADDRESS_ARGUMENT}}}}}"

    def metric(name: str, query: str, condition: str) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "name": name,
            "interval": MEASUREMENT_INTERVAL,
            "successCondition": _no_traffic_or(condition),
            "failureLimit": 0,
            "provider": {"prometheus": {"address": address, "query": query}},
        }
        if delivery.strategy == "blueGreen":
            # A post-promotion analysis must end for the promotion to complete: one
            # measurement a minute for the window. A canary's runs in the background until the
            # last step, so it has no count.
            spec["count"] = analysis.window_minutes
        return spec

    return {
        "args": [
            {"name": HASH_ARGUMENT},
            {"name": ADDRESS_ARGUMENT, "value": delivery.prometheus_address},
        ],
        "metrics": [
            metric(
                "error-ratio",
                error_ratio_query(workload, namespace, analysis.window_minutes),
                f"result[0] < {analysis.max_error_ratio}",
            ),
            metric(
                "p95-latency-ms",
                p95_latency_query(workload, namespace, analysis.window_minutes),
                f"result[0] < {analysis.max_p95_latency_ms}",
            ),
        ],
    }


def _analysis_reference(workload: str) -> dict[str, Any]:
    return {
        "templates": [{"templateName": analysis_template_name(workload)}],
        # The new ReplicaSet's hash: the query selects its pods.
        "args": [{"name": HASH_ARGUMENT, "valueFrom": {"podTemplateHashValue": "Latest"}}],
    }


def canary_steps(delivery: Delivery) -> list[dict[str, Any]]:
    """setWeight per configured weight, the header route from the first weight on (the canary
    then has pods), and a pause of the analysis window between weights."""
    steps: list[dict[str, Any]] = []
    pause = {"pause": {"duration": f"{delivery.analysis.window_minutes}m"}}
    for index, weight in enumerate(delivery.steps):
        steps.append({"setWeight": weight})
        if index == 0 and delivery.header_route:
            steps.append(
                {
                    "setHeaderRoute": {
                        "name": HEADER_ROUTE,
                        "match": [{"headerName": CANARY_HEADER, "headerValue": {"exact": CANARY_HEADER_VALUE}}],
                    }
                }
            )
        if index < len(delivery.steps) - 1:
            steps.append(pause)
    return steps


def canary_strategy(workload: str, delivery: Delivery) -> dict[str, Any]:
    traffic: dict[str, Any] = {
        "istio": {
            # The VirtualService and DestinationRule share the workload's name and namespace.
            # Two VirtualServices: the mesh callers' (the Service host) and the edge delegate
            # the ingress gateway hands the workload's paths to, so requests from the front
            # door follow the weights and the header route too.
            "virtualServices": [
                {"name": workload, "routes": [PRIMARY_ROUTE]},
                {"name": edge_virtual_service_name(workload), "routes": [PRIMARY_ROUTE]},
            ],
            "destinationRule": {
                "name": workload,
                "canarySubsetName": CANARY_SUBSET,
                "stableSubsetName": STABLE_SUBSET,
            },
        }
    }
    if delivery.header_route:
        # Routes the controller may add to the VirtualService, placed above `primary`.
        traffic["managedRoutes"] = [{"name": HEADER_ROUTE}]
    return {
        # The HEAL7 design's rule, never fewer pods than wanted (with traffic routing the
        # stable ReplicaSet stays at full size until the new one is promoted anyway).
        "maxUnavailable": 0,
        "trafficRouting": traffic,
        "analysis": _analysis_reference(workload),
        "steps": canary_steps(delivery),
    }


def blue_green_strategy(workload: str) -> dict[str, Any]:
    return {
        # The Service every caller and the ingress gateway use; the controller points it at
        # the new version on promotion.
        "activeService": workload,
        "previewService": preview_service_name(workload),
        # A person checks the preview and promotes (deploy-strategy.sh's health check).
        "autoPromotionEnabled": False,
        # Explicit: the controller's default is 25 %, and a restart would then evict a quarter
        # of the pods at once (the HEAL7 design's rule is never one fewer than wanted).
        "maxUnavailable": 0,
        # After the switch the analysis watches the real traffic; a failure switches the
        # active Service back. No scaleDownDelaySeconds: the old version then stays up until
        # the analysis has passed (Argo's documented behaviour with post-promotion analysis).
        "postPromotionAnalysis": _analysis_reference(workload),
    }


def rollout_spec(workload: str, template: dict[str, Any], labels: dict[str, str], delivery: Delivery) -> dict:
    """argoproj.io/v1alpha1 Rollout spec: the Deployment's pod template under `delivery`."""
    strategy = (
        {"canary": canary_strategy(workload, delivery)}
        if delivery.strategy == "canary"
        else {"blueGreen": blue_green_strategy(workload)}
    )
    return {
        # No `replicas`: the HPA owns the count through the Rollout's scale subresource.
        "selector": {"matchLabels": labels},
        "template": template,
        "strategy": strategy,
    }


def canary_subsets(labels: dict[str, str]) -> list[dict[str, Any]]:
    """The DestinationRule subsets the Rollout names; Argo adds each ReplicaSet's hash to their
    labels, so until a rollout starts both select every pod of the workload."""
    return [{"name": name, "labels": dict(labels)} for name in (STABLE_SUBSET, CANARY_SUBSET)]


def edge_virtual_service_name(workload: str) -> str:
    """The delegate VirtualService the ingress gateway's routes hand a canary workload to."""
    return f"{workload}-edge"


def _split(host: str, port: int) -> list[dict[str, Any]]:
    """The `primary` route: all to `stable` until a rollout moves the weights."""

    def destination(subset: str, weight: int) -> dict[str, Any]:
        return {"destination": {"host": host, "subset": subset, "port": {"number": port}}, "weight": weight}

    return [{"name": PRIMARY_ROUTE, "route": [destination(STABLE_SUBSET, 100), destination(CANARY_SUBSET, 0)]}]


def edge_virtual_service_spec(host: str, port: int, gateway_namespace: str) -> dict[str, Any]:
    """The edge delegate: no hosts and no gateways (Istio's delegate form); the gateway's route
    for the workload's paths names it, and its match narrows within that route's. Exported
    only to the gateway's namespace, where the root VirtualServices live."""
    return {"exportTo": [gateway_namespace], "http": _split(host, port)}


def mesh_virtual_service_spec(host: str, port: int) -> dict[str, Any]:
    """The workload's VirtualService for mesh callers: its Service host, the `primary` route split
    between the subsets, all to `stable` until a rollout moves the weights."""

    return {"hosts": [host], "http": _split(host, port)}
