"""Alertmanager's configuration (alertmanager.yaml) as a dict: the email-platform ops guide's routing
tree made real.

What changes from the guide's Alertmanager section, and why:
- No literal credential. The guide's `smtp_auth_password: 'password'`, its Slack webhook URL and its
  PagerDuty bridge are replaced by *_file references to the keys of one Kubernetes Secret (filled by
  the secret store) that the Alertmanager pods mount: the prometheus-operator mounts every Secret named
  in `alertmanagerSpec.secrets` at /etc/alertmanager/secrets/<name>/<key>. Alertmanager 0.25 reads
  `smtp_auth_password_file`, `slack_api_url_file` and PagerDuty's `routing_key_file`; the rendered
  file holds paths only.
- PagerDuty through Alertmanager's native `pagerduty_configs` (Events API v2) instead of the guide's
  webhook to a `pagerduty:9094` bridge that the platform does not run.
- `matchers` instead of the deprecated `match` / `source_match` / `target_match`.
- Email receivers use `headers: {Subject: ...}` and `text`: the guide's `subject` and `body` are not
  fields of Alertmanager's email_config, and the configuration is rejected with them.
- Critical routes carry `continue: true`, so the owning team's route also matches (see `_routes`).
- kube-prometheus-stack's own always-firing `Watchdog` and its `InfoInhibitor` go to a receiver that
  sends nothing, as the chart's default configuration does; otherwise they would mail the default
  receiver every repeat interval.
"""

import re
from dataclasses import dataclass, field
from typing import Any

# The prometheus-operator mounts each Secret of `alertmanagerSpec.secrets` here, one directory per
# Secret and one file per key (its API reference, AlertmanagerSpec.secrets).
SECRETS_MOUNT_DIR = "/etc/alertmanager/secrets"

GROUP_BY = ["alertname", "cluster", "service"]
"""The guide's grouping: one notification per alert, cluster and service (the HEAL7 design's two
clusters are told apart by the external label `cluster`)."""

DEFAULT_RECEIVER = "default"
ONCALL_RECEIVER = "oncall"
NULL_RECEIVER = "null"

_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SMARTHOST = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
# Kubernetes Secret names are DNS-1123 subdomains; Secret keys are [-._a-zA-Z0-9]+.
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# A team becomes a receiver name and a label value matched exactly: keep it a plain slug.
_TEAM = re.compile(r"^[a-z][a-z0-9-]*$")


def _seconds(duration: str) -> float:
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration))


@dataclass(frozen=True)
class AlertRoutingSpec:
    """Where alerts go: receivers' addresses, the Secret that holds their credentials, the timings."""

    smtp_smarthost: str
    """Required: the SMTP relay as host:port (the guide's `smtp.example.com:587`); STARTTLS is required."""
    smtp_from: str
    """Required: the sender address of alert mail."""
    smtp_username: str
    """Required: the SMTP login; its password is the Secret's `smtp_password_key`."""
    oncall_email: str
    """Required: the on-call mailbox that receives every critical alert (the guide's oncall@)."""
    oncall_slack_channel: str
    """Required: the Slack channel of critical alerts (the guide's `#alerts-critical`); the webhook
    URL is the Secret's `slack_webhook_key`."""
    default_email: str
    """Required: the mailbox of alerts no team route claims (the guide's ops@)."""
    team_emails: dict[str, str] = field(default_factory=dict)
    """Team (the alerts' `team` label: platform, backend, database, cache, email) -> its mailbox.
    Default empty: every non-critical alert goes to `default_email`."""
    secret_name: str = "alertmanager-receivers"
    """The Kubernetes Secret (in Alertmanager's namespace, listed in `alertmanagerSpec.secrets`) whose
    keys hold the credentials. Default `alertmanager-receivers`."""
    smtp_password_key: str = "smtp-password"
    """The Secret's key holding the SMTP password. Default `smtp-password`."""
    slack_webhook_key: str = "slack-webhook-url"
    """The Secret's key holding the Slack incoming-webhook URL (the URL is the credential). Default
    `slack-webhook-url`."""
    pagerduty_routing_key_key: str = "pagerduty-routing-key"
    """The Secret's key holding the PagerDuty Events API v2 integration (routing) key. Default
    `pagerduty-routing-key`."""
    group_wait: str = "10s"
    """How long a new group waits for more alerts before its first notification, a Prometheus
    duration. Default 10s (the guide's)."""
    group_interval: str = "10s"
    """How long before a group's next notification when alerts join it, a Prometheus duration.
    Default 10s (the guide's; Alertmanager's own default is 5m)."""
    repeat_interval: str = "1h"
    """How often a still-firing group is re-sent to teams and the default mailbox, a Prometheus
    duration. Default 1h (the guide's)."""
    critical_repeat_interval: str = "5m"
    """How often a still-firing critical group is re-sent to on-call, a Prometheus duration. Default
    5m (the guide's short repeat; PagerDuty deduplicates the repeats into one incident by group key)."""

    def __post_init__(self) -> None:
        problems = []
        for name in ("smtp_from", "oncall_email", "default_email"):
            if not _EMAIL.match(getattr(self, name)):
                problems.append(f"{name}: must be an email address, got {getattr(self, name)!r}")
        # The SMTP login may be a plain user name, not an address.
        if not self.smtp_username.strip():
            problems.append("smtp_username: must not be empty")
        if not _SMARTHOST.match(self.smtp_smarthost):
            problems.append(f"smtp_smarthost: must be host:port, got {self.smtp_smarthost!r}")
        if not self.oncall_slack_channel.strip():
            problems.append("oncall_slack_channel: must not be empty")
        for team, address in self.team_emails.items():
            if not _TEAM.match(team):
                problems.append(f"team_emails: team must be a lowercase slug ([a-z][a-z0-9-]*), got {team!r}")
            if not _EMAIL.match(address):
                problems.append(f"team_emails.{team}: must be an email address, got {address!r}")
        if not _SECRET_NAME.match(self.secret_name):
            problems.append(f"secret_name: must be a DNS-1123 subdomain, got {self.secret_name!r}")
        keys = [self.smtp_password_key, self.slack_webhook_key, self.pagerduty_routing_key_key]
        for name, key in zip(
            ("smtp_password_key", "slack_webhook_key", "pagerduty_routing_key_key"), keys, strict=True
        ):
            if not _SECRET_KEY.match(key):
                problems.append(f"{name}: must match [-._a-zA-Z0-9]+ (a Secret key), got {key!r}")
        if len(set(keys)) != len(keys):
            problems.append(f"the Secret's keys must differ, got {keys}")
        for name in ("group_wait", "group_interval", "repeat_interval", "critical_repeat_interval"):
            if not _DURATION.match(getattr(self, name)):
                problems.append(f"{name}: must be a Prometheus duration like 10s or 5m, got {getattr(self, name)!r}")
        if not problems and _seconds(self.critical_repeat_interval) < _seconds(self.group_interval):
            # A repeat shorter than the group interval cannot happen: notifications go out on group ticks.
            problems.append(
                f"critical_repeat_interval: must be >= group_interval ({self.group_interval}), "
                f"got {self.critical_repeat_interval!r}"
            )
        if problems:
            raise ValueError("AlertRoutingSpec: " + "; ".join(problems))

    @property
    def secret_keys(self) -> dict[str, str]:
        """What each key of the receivers' Secret holds -> the key's name, for the ExternalSecret that
        fills it from the secret store."""
        return {
            "smtp_password": self.smtp_password_key,
            "slack_webhook_url": self.slack_webhook_key,
            "pagerduty_routing_key": self.pagerduty_routing_key_key,
        }

    def secret_file(self, key: str) -> str:
        """The path at which the Alertmanager pods read one key of the receivers' Secret."""
        return f"{SECRETS_MOUNT_DIR}/{self.secret_name}/{key}"


def team_receiver(team: str) -> str:
    """The receiver name of a team's route."""
    return f"team-{team}"


# The guide's message templates, with its `body` as Alertmanager's `text`.
_DEFAULT_TEXT = (
    "{{ range .Alerts }}\n"
    "Alert: {{ .Annotations.summary }}\n"
    "Description: {{ .Annotations.description }}\n"
    "Runbook: {{ .Annotations.runbook_url }}\n"
    "Labels: {{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}\n"
    "{{ end }}"
)
_CRITICAL_TEXT = (
    "Critical Alert Detected!\n"
    "{{ range .Alerts }}\n"
    "Alert: {{ .Annotations.summary }}\n"
    "Description: {{ .Annotations.description }}\n"
    "Runbook: {{ .Annotations.runbook_url }}\n"
    "Time: {{ .StartsAt }}\n"
    "{{ end }}"
)


def _email(to: str, subject: str, text: str) -> dict[str, Any]:
    # send_resolved: the guide leaves it at the email default (false); a team that was told an alert
    # fired should also be told it stopped, or it keeps checking a recovered service.
    return {"to": to, "headers": {"Subject": subject}, "text": text, "send_resolved": True}


def _receivers(spec: AlertRoutingSpec) -> list[dict[str, Any]]:
    oncall = {
        "name": ONCALL_RECEIVER,
        "email_configs": [
            _email(
                spec.oncall_email,
                "[CRITICAL] {{ .GroupLabels.alertname }} on {{ .GroupLabels.cluster }}",
                _CRITICAL_TEXT,
            )
        ],
        "slack_configs": [
            {
                # The webhook URL comes from the global slack_api_url_file.
                "channel": spec.oncall_slack_channel,
                "title": "Critical Alert: {{ .GroupLabels.alertname }} ({{ .GroupLabels.cluster }})",
                "text": "{{ range .Alerts }}{{ .Annotations.description }} {{ .Annotations.runbook_url }}\n{{ end }}",
                "send_resolved": True,
            }
        ],
        "pagerduty_configs": [
            {
                "routing_key_file": spec.secret_file(spec.pagerduty_routing_key_key),
                "severity": "critical",
                # Resolving the incident when the alert clears, as the guide's webhook did.
                "send_resolved": True,
            }
        ],
    }
    teams = [
        {
            "name": team_receiver(team),
            "email_configs": [
                _email(
                    address,
                    f"[{team}] {{{{ .GroupLabels.alertname }}}} on {{{{ .GroupLabels.cluster }}}}",
                    _DEFAULT_TEXT,
                )
            ],
        }
        for team, address in sorted(spec.team_emails.items())
    ]
    default = {
        "name": DEFAULT_RECEIVER,
        "email_configs": [
            _email(
                spec.default_email,
                "[Platform] {{ .GroupLabels.alertname }} on {{ .GroupLabels.cluster }}",
                _DEFAULT_TEXT,
            )
        ],
    }
    return [default, oncall, *teams, {"name": NULL_RECEIVER}]


def _routes(spec: AlertRoutingSpec) -> list[dict[str, Any]]:
    return [
        # kube-prometheus-stack's dead man's switch fires all the time by design and InfoInhibitor only
        # exists to inhibit; neither is news to a person (the chart's default routes them to 'null').
        {"receiver": NULL_RECEIVER, "matchers": ['alertname=~"Watchdog|InfoInhibitor"']},
        {
            "receiver": ONCALL_RECEIVER,
            "matchers": ['severity="critical"'],
            "repeat_interval": spec.critical_repeat_interval,
            # continue: the guide stops at the on-call route, so the team that owns the service never
            # hears of its own outage (PostgreSQLDown never reaches the database team). With continue
            # the team route also matches and the team gets the record at its calmer repeat interval,
            # while only on-call is paged.
            "continue": True,
        },
        *({"receiver": team_receiver(team), "matchers": [f'team="{team}"']} for team in sorted(spec.team_emails)),
    ]


def alertmanager_config(spec: AlertRoutingSpec) -> dict[str, Any]:
    """alertmanager.yaml as a dict (kube-prometheus-stack's `alertmanager.config`)."""
    return {
        "global": {
            "smtp_smarthost": spec.smtp_smarthost,
            "smtp_from": spec.smtp_from,
            "smtp_auth_username": spec.smtp_username,
            "smtp_auth_password_file": spec.secret_file(spec.smtp_password_key),
            # STARTTLS before AUTH, so the password never crosses the network in clear.
            "smtp_require_tls": True,
            "slack_api_url_file": spec.secret_file(spec.slack_webhook_key),
        },
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": list(GROUP_BY),
            "group_wait": spec.group_wait,
            "group_interval": spec.group_interval,
            "repeat_interval": spec.repeat_interval,
            "routes": _routes(spec),
        },
        "inhibit_rules": [
            # The guide's rule: a firing critical silences the warning of the same alert, cluster and
            # service (e.g. an SLO's ticket while its page fires).
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": list(GROUP_BY),
            },
            # kube-prometheus-stack's: its info-level alerts stay quiet while InfoInhibitor fires in the
            # same namespace (its rules raise InfoInhibitor exactly for that).
            {
                "source_matchers": ['alertname="InfoInhibitor"'],
                "target_matchers": ['severity="info"'],
                "equal": ["namespace"],
            },
        ],
        "receivers": _receivers(spec),
    }
