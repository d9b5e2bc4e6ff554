"""Bad `platform:workloads` config is refused before any resource, naming file and key."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import assert_rejected_before_any_resource

Mutation = Callable[[dict[str, Any]], None]


def _set(path: list[str], value: Any) -> Mutation:
    def mutate(workloads: dict[str, Any]) -> None:
        node = workloads
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            _set(["heal7-web-main", "placement"], ["eks", "aks"]),
            "platform:workloads.heal7-web-main.placement[1]: ",
        ),
        (
            # The GPU models on EKS, which has no GPU node group.
            _set(["heal7-ai-models", "placement"], ["eks"]),
            "platform:workloads.heal7-ai-models.placement[0]: expected a cluster with a gpu node pool (gke), got 'eks'",
        ),
        (
            _set(["heal7-web-main", "delivery"], {"strategy": "canary", "canary": {"steps": [10, 50, 40]}}),
            "platform:workloads.heal7-web-main.delivery.canary.steps: expected weights rising strictly to 100, "
            "got [10, 50, 40]",
        ),
        (
            _set(["heal7-web-main", "delivery"], {"strategy": "canary", "canary": {"steps": [10, 50]}}),
            "platform:workloads.heal7-web-main.delivery.canary.steps: expected weights rising strictly to 100, "
            "got [10, 50]",
        ),
        (_set(["heal7-api-gateway", "port"], 70000), "platform:workloads.heal7-api-gateway.port: "),
        (_set(["heal7-api-gateway", "port"], 0), "platform:workloads.heal7-api-gateway.port: "),
        (
            _set(["heal7-web-main", "image", "tag"], "latest"),
            "platform:workloads.heal7-web-main.image.tag: expected a release tag (it is resolved to a digest), "
            "got 'latest'",
        ),
        (
            _set(["heal7-web-main", "namespace"], "heal7-batch"),
            "platform:workloads.heal7-web-main.namespace: expected one of platform:kubernetes.namespaces "
            "(heal7-production), got 'heal7-batch'",
        ),
        (
            _set(["heal7-saju-engine", "placement"], ["gke"]),
            "platform:workloads.heal7-saju-engine.placement[0]: expected a cluster with a highCpu node pool (eks), "
            "got 'gke'",
        ),
        (
            _set(["heal7-web-main", "autoscaling"], {"minReplicas": 5, "maxReplicas": 3}),
            "platform:workloads.heal7-web-main.autoscaling.minReplicas: expected at most maxReplicas (3), got 5",
        ),
        (
            _set(["heal7-web-main", "gpus"], 1),
            "platform:workloads.heal7-web-main.gpus: expected GPUs exactly when nodePool is gpu (nodePool general), "
            "got 1",
        ),
        (
            _set(["heal7-web-main", "env"], {"NODE_ENV": "$(DATABASE_URL)"}),
            "platform:workloads.heal7-web-main.env.NODE_ENV: expected a literal value without a $(...) reference",
        ),
        (
            _set(["heal7-web-main", "delivery"], {"analysis": {"maxErrorRatio": 1.5}}),
            "platform:workloads.heal7-web-main.delivery.analysis.maxErrorRatio: ",
        ),
    ],
    ids=[
        "unknown placement cluster",
        "GPU workload on EKS",
        "canary steps falling",
        "canary steps short of 100",
        "port above 65535",
        "port 0",
        "image tag latest",
        "undeclared namespace",
        "high-CPU workload on GKE",
        "HPA min above max",
        "GPUs off the GPU pool",
        "an env value reading another variable",
        "an error ratio above 1",
    ],
)
def test_bad_workload_config_is_refused_before_any_resource(stack_config, mutate, expected):
    config = stack_config("prod")
    mutate(config["platform:workloads"])
    assert_rejected_before_any_resource("prod", config, expected)


def test_a_route_to_a_workload_not_running_where_the_hostname_is_served_is_refused(stack_config):
    config = stack_config("prod")
    # ai.heal7.com is served by GKE only; route api.heal7.com (both clouds) to the GPU models.
    config["platform:kubernetes"]["ingress"]["routes"]["api.heal7.com"] = [
        {"pathPrefix": "/", "service": "heal7-production/heal7-ai-models"}
    ]
    assert_rejected_before_any_resource(
        "prod",
        config,
        "platform:kubernetes.ingress.routes.api.heal7.com[0].service: heal7-production/heal7-ai-models runs on gke, "
        "but api.heal7.com's pools also send it to eks",
    )
