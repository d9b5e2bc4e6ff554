"""Prometheus target discovery and relabeling, in Python, for tests of PodMonitors.

`discovered` is Kubernetes service discovery's role pod (one target per declared container
port, with its `__meta_kubernetes_*` labels); `operator_relabelings` is what
prometheus-operator v0.93.0 writes for one PodMetricsEndpoint (pkg/prometheus/promcfg.go,
generatePodMonitorConfig: running filter, selector, port, namespace/container/pod, job and
jobLabel, endpoint, then the monitor's own relabelings); `relabel` applies them as
prometheus/model/relabel does (anchored regexes, `$1` expansion, empty result deletes).
`scraped` runs the three and returns each kept target's labels.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any


def _expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.ExpandString for the `$1` / `${1}` forms."""
    return re.sub(r"\$\{?(\d+)\}?", lambda m: match.group(int(m.group(1))) or "", template)


def relabel(labels: dict[str, str], configs: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    """Apply relabel configs (CRD or Prometheus spelling); None when the target is dropped."""
    labels = dict(labels)
    for config in configs:
        action = config.get("action", "replace").lower()
        sources = config.get("sourceLabels", config.get("source_labels", []))
        value = config.get("separator", ";").join(labels.get(s, "") for s in sources)
        regex = re.compile(f"^(?:{config.get('regex', '(.*)')})$")
        match = regex.match(value)
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "labeldrop":
            labels = {k: v for k, v in labels.items() if not regex.match(k)}
        if action == "replace" and match:
            target = config.get("targetLabel", config.get("target_label"))
            result = _expand(config.get("replacement", "$1"), match)
            if result:
                labels[target] = result
            else:
                labels.pop(target, None)
    return labels


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def operator_relabelings(monitor: dict[str, Any], endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    """The relabel_configs prometheus-operator v0.93 writes for one PodMetricsEndpoint, for the
    fields the platform's PodMonitors use (selector, port, jobLabel, relabelings)."""
    spec, name = monitor["spec"], monitor["metadata"]["name"]
    configs: list[dict[str, Any]] = [
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
        {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
    ]
    for key, value in sorted(spec["selector"].get("matchLabels", {}).items()):
        sources = [
            f"__meta_kubernetes_pod_label_{_sanitize(key)}",
            f"__meta_kubernetes_pod_labelpresent_{_sanitize(key)}",
        ]
        configs.append({"action": "keep", "source_labels": sources, "regex": f"({value});true"})
    assert not spec["selector"].get("matchExpressions"), "extend operator_relabelings for matchExpressions"
    configs.append(
        {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": endpoint["port"]}
    )
    configs += [
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"target_label": "job", "replacement": f"{monitor['metadata']['namespace']}/{name}"},
    ]
    if spec.get("jobLabel"):
        source = f"__meta_kubernetes_pod_label_{_sanitize(spec['jobLabel'])}"
        configs.append({"source_labels": [source], "target_label": "job", "regex": "(.+)", "replacement": "${1}"})
    configs.append({"target_label": "endpoint", "replacement": endpoint["port"]})
    return configs + endpoint.get("relabelings", [])


def discovered(
    namespace: str,
    pod: str,
    ip: str,
    labels: dict[str, str],
    containers: list[tuple[str, list[tuple[str, int]]]],
    phase: str = "Running",
) -> list[dict[str, str]]:
    """Kubernetes service discovery, role pod: one target per declared container port."""
    base = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": pod,
        "__meta_kubernetes_pod_ip": ip,
        "__meta_kubernetes_pod_phase": phase,
        **{f"__meta_kubernetes_pod_label_{_sanitize(k)}": v for k, v in labels.items()},
        **{f"__meta_kubernetes_pod_labelpresent_{_sanitize(k)}": "true" for k in labels},
    }
    host = f"[{ip}]" if ":" in ip else ip
    return [
        {
            **base,
            "__address__": f"{host}:{number}",
            "__meta_kubernetes_pod_container_name": container,
            "__meta_kubernetes_pod_container_port_name": port,
            "__meta_kubernetes_pod_container_port_number": str(number),
        }
        for container, ports in containers
        for port, number in ports
    ]


def scraped(monitor: dict[str, Any], pods: list[list[dict[str, str]]]) -> list[dict[str, str]]:
    """The targets `monitor` scrapes among `pods`, with their final labels (what every series
    gets) plus __address__, __metrics_path__ and __scheme__."""
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    namespaces = monitor["spec"]["namespaceSelector"]["matchNames"]
    found = []
    for targets in pods:
        for target in targets:
            if target["__meta_kubernetes_namespace"] not in namespaces:
                continue
            start = {
                **target,
                "job": f"podMonitor/{monitor['metadata']['namespace']}/{monitor['metadata']['name']}/0",
                "__metrics_path__": endpoint.get("path", "/metrics"),
                "__scheme__": endpoint.get("scheme", "http"),
            }
            result = relabel(start, operator_relabelings(monitor, endpoint))
            if result is not None:
                kept = {"__address__", "__metrics_path__", "__scheme__"}
                found.append({k: v for k, v in result.items() if not k.startswith("__") or k in kept})
    return found
