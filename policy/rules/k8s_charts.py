"""Helm charts: every chart the program installs is pinned to an exact release from a
repository the platform trusts (a floating version or an unknown repository changes what
runs in the cluster without a reviewed diff)."""

import re
from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import Config, get, platform_baseline
from .k8s_workloads import kubernetes_control as _control

CHARTS = ["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release"]
# An exact SemVer release, with or without the `v` some charts keep from their tag
# (cert-manager's v1.21.1); no range (^1.2, ~1.2, >=1.2, 1.x), no `latest`, no pre-release.
EXACT_VERSION = re.compile(r"^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
TRUSTED_REPOSITORIES = [
    "https://charts.jetstack.io",
    "https://charts.external-secrets.io",
    "https://kubernetes.github.io/autoscaler",
    "https://aws.github.io/eks-charts",
    "https://kubernetes-sigs.github.io/metrics-server/",
    "https://istio-release.storage.googleapis.com/charts",
    "https://argoproj.github.io/argo-helm",
    "https://helm.elastic.co",
    "https://fluent.github.io/helm-charts",
]


def _pinned(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    version = get(args.props, "version")
    if not isinstance(version, str) or not EXACT_VERSION.match(version):
        yield f"the chart version {version!r} is not an exact release (version)"
    repository = get(args.props, "repositoryOpts.repo")
    if repository not in config["trustedRepositories"]:
        yield f"the chart comes from {repository!r}, not a trusted repository (repositoryOpts.repo)"


POLICIES = [
    _control(
        "helm-chart-pinned",
        "Helm charts are pinned to an exact release from a trusted repository.",
        Severity.HIGH,
        platform_baseline("charts pinned to exact versions"),
        CHARTS,
        "insecure: without a version Helm installs the newest release",
        "set version to an exact release and repositoryOpts.repo to a trusted repository "
        "(components/kubernetes/_charts.py)",
        _pinned,
        settings={
            "trustedRepositories": {"type": "array", "items": {"type": "string"}, "default": TRUSTED_REPOSITORIES}
        },
    ),
]
