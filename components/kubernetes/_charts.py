"""Every Helm chart the platform installs: repository, chart and exact version, in one place.

A version is always exact (never a range, never `latest`): a chart upgrade is a reviewed
change to this file. The README's chart table lists the same coordinates.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartCoordinates:
    """Where a chart comes from and which release of it runs."""

    repository: str
    chart: str
    version: str


# kubernetes/autoscaler, tag vertical-pod-autoscaler-chart-0.11.0 (VPA 1.7.1). The repository
# is the one the chart's README installs from (`helm repo add autoscalers ...`).
VERTICAL_POD_AUTOSCALER = ChartCoordinates(
    repository="https://kubernetes.github.io/autoscaler", chart="vertical-pod-autoscaler", version="0.11.0"
)
# aws/eks-charts stable/aws-load-balancer-controller 3.5.0 (controller v3.5.0): the same
# chart and values as kubernetes-sigs/aws-load-balancer-controller's helm/ at tag v3.5.0.
AWS_LOAD_BALANCER_CONTROLLER = ChartCoordinates(
    repository="https://aws.github.io/eks-charts", chart="aws-load-balancer-controller", version="3.5.0"
)
# kubernetes-sigs/metrics-server, tag metrics-server-helm-chart-3.13.1 (metrics-server 0.8.1).
METRICS_SERVER = ChartCoordinates(
    repository="https://kubernetes-sigs.github.io/metrics-server/", chart="metrics-server", version="3.13.1"
)
