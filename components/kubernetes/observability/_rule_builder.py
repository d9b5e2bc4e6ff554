"""What every alert of this platform carries, in one place: the labels Alertmanager routes and groups on,
the annotations on-call reads, and the link to the alert's runbook.

Alertmanager groups and inhibits on [alertname, cluster, service] and routes by `team` and `severity`
(the email-platform ops guide's routing tree), so an alert without them would be grouped with strangers
or land on the default receiver: every rule built here has all three.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The teams Alertmanager has routes for (the email-platform ops guide's team labels: platform, backend,
# database, cache, email). A team outside this set would fall through to the default receiver.
TEAMS = ("platform", "backend", "database", "cache", "email")

# critical pages on-call; warning goes to the team's channel (a ticket, not a page).
SEVERITIES = ("critical", "warning")

# One runbook page per alert family under docs/runbooks/ (the "one page per alert family").
RUNBOOK_FAMILIES = ("host", "kubernetes", "workloads", "postgresql", "redis", "email", "slo")

# A Kubernetes object name (DNS-1123 label): what the workload, namespace and pod labels hold. Checked
# because the names are pasted into PromQL string literals.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DURATION = re.compile(r"^[0-9]+[smhd]$")


def runbook_url(runbook_base_url: str, family: str, alert: str) -> str:
    """The alert's section of its family's runbook page; the anchor is the heading's GitHub slug."""
    if family not in RUNBOOK_FAMILIES:
        raise ValueError(f"runbook family must be one of {', '.join(RUNBOOK_FAMILIES)}, got {family!r}")
    return f"{runbook_base_url.rstrip('/')}/{family}.md#{alert.lower()}"


def check_runbook_base_url(runbook_base_url: str) -> None:
    """The base must be an absolute https URL: Alertmanager's notifications link to it as is."""
    if not runbook_base_url.startswith("https://") or len(runbook_base_url) <= len("https://"):
        raise ValueError(f"runbook_base_url: must be an https:// URL of docs/runbooks, got {runbook_base_url!r}")


def check_name(what: str, value: str) -> None:
    """A workload or namespace name must be a DNS-1123 label (it is quoted into PromQL)."""
    if not _DNS_LABEL.match(value):
        raise ValueError(f"{what}: must be a Kubernetes name (lowercase letters, digits, '-'), got {value!r}")


def check_team(what: str, team: str) -> None:
    if team not in TEAMS:
        raise ValueError(f"{what}: team must be one of {', '.join(TEAMS)}, got {team!r}")


def alert_rule(
    name: str,
    *,
    family: str,
    expr: str,
    for_: str,
    severity: str,
    team: str,
    service: str | None,
    summary: str,
    description: str,
    runbook_base_url: str,
    extra_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One alerting rule with the platform's labels and annotations.

    `service=None` keeps the `service` label the expression already carries (e.g. PodCrashLooping's,
    derived from the pod name); any other value is set by the rule.
    """
    if severity not in SEVERITIES:
        raise ValueError(f"{name}: severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    check_team(name, team)
    if not _DURATION.match(for_):
        raise ValueError(f"{name}: `for` must be a Prometheus duration like 5m, got {for_!r}")
    labels = {"severity": severity, "team": team}
    if service is not None:
        labels["service"] = service
    labels.update(extra_labels or {})
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": labels,
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(runbook_base_url, family, name),
        },
    }


@dataclass(frozen=True)
class WatchedWorkload:
    """A workload (AppDeployment) the documents' service alerts watch."""

    name: str
    """The workload's name: its pods' `app` label, and the `job` and `service` labels of its series."""
    namespace: str
    """Its namespace: Istio's `destination_workload_namespace`."""
    team: str = "backend"
    """Default backend (the email-platform ops guide's team for service alerts): the `team` label
    Alertmanager routes the workload's alerts by."""
    app_metrics: bool = False
    """Whether the app exports the email-platform ops guide's HTTP metrics (http_requests_total with
    `status`, http_request_duration_seconds). Default False: its HighBackendResponseTime and
    HighErrorRate would watch series that never exist, so they are left out; the mesh's HEAL7
    HighErrorRate and the SLOs watch such a workload instead."""
