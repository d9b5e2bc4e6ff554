"""Alertmanager's configuration: amtool (Debian's prometheus-alertmanager, 0.25) accepts it, routes a
critical database alert to on-call and the database team and an email-team warning to the email team,
inhibits warnings under a firing critical, and holds no credential, only paths into the mounted Secret."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.observability.alertmanager_config import (
    GROUP_BY,
    SECRETS_MOUNT_DIR,
    AlertRoutingSpec,
    alertmanager_config,
)

SPEC = AlertRoutingSpec(
    smtp_smarthost="smtp.example.com:587",
    smtp_from="alerts@example.com",
    smtp_username="alerts@example.com",
    oncall_email="oncall@example.com",
    oncall_slack_channel="#alerts-critical",
    default_email="ops@example.com",
    team_emails={
        "backend": "backend-team@example.com",
        "database": "database-team@example.com",
        "email": "email-team@example.com",
    },
    secret_name="alertmanager-receivers",
)


def _amtool() -> str:
    found = shutil.which("amtool") or ("/usr/bin/amtool" if Path("/usr/bin/amtool").exists() else None)
    if not found:
        pytest.fail(
            "amtool not found: install Debian's prometheus-alertmanager (`make test` does it) so the "
            "Alertmanager configuration is checked; this test never skips"
        )
    return found


def _render(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_amtool(), *args], capture_output=True, text=True, timeout=60, check=False)


def _receivers_for(config_file: Path, *labels: str) -> list[str]:
    result = _run("config", "routes", "test", f"--config.file={config_file}", *labels)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(",")


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _render(tmp_path_factory.mktemp("alertmanager"), alertmanager_config(SPEC))


def test_amtool_accepts_the_configuration(config_file: Path):
    result = _run("check-config", str(config_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "2 inhibit rules" in result.stdout
    assert "6 receivers" in result.stdout  # default, oncall, three teams, null


def test_amtool_rejects_the_guides_email_fields(tmp_path: Path):
    """The check has teeth: the ops guide's `subject` is not a field of email_config."""
    config = alertmanager_config(SPEC)
    config["receivers"][0]["email_configs"][0]["subject"] = "[Email Platform] {{ .GroupLabels.alertname }}"
    result = _run("check-config", str(_render(tmp_path, config)))
    assert result.returncode != 0
    assert "subject" in result.stdout + result.stderr


def test_a_critical_database_alert_pages_on_call_and_reaches_the_database_team(config_file: Path):
    labels = ["severity=critical", "team=database", "service=postgresql", "alertname=PostgreSQLDown", "cluster=eks"]
    assert _receivers_for(config_file, *labels) == ["oncall", "team-database"]


def test_a_warning_from_the_email_team_goes_to_the_email_team_only(config_file: Path):
    labels = ["severity=warning", "team=email", "service=email-backend", "alertname=EmailQueueSizeHigh", "cluster=gke"]
    assert _receivers_for(config_file, *labels) == ["team-email"]


def test_alerts_no_team_claims_go_to_the_default_receiver_and_criticals_without_a_team_only_page(config_file: Path):
    assert _receivers_for(config_file, "severity=warning", "team=platform", "alertname=HighCPUUsage") == ["default"]
    assert _receivers_for(config_file, "severity=critical", "alertname=KubeAPIDown") == ["oncall"]
    assert _receivers_for(config_file, "severity=none", "alertname=Watchdog") == ["null"]


def test_the_tree_groups_and_repeats_as_the_guide_says():
    route = alertmanager_config(SPEC)["route"]
    assert route["group_by"] == ["alertname", "cluster", "service"]
    assert (route["receiver"], route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "default",
        "10s",
        "10s",
        "1h",
    )
    critical = next(r for r in route["routes"] if r["receiver"] == "oncall")
    assert critical == {
        "receiver": "oncall",
        "matchers": ['severity="critical"'],
        "repeat_interval": "5m",
        "continue": True,
    }
    teams = [r for r in route["routes"] if r["receiver"].startswith("team-")]
    assert [(r["matchers"], r["receiver"]) for r in teams] == [
        (['team="backend"'], "team-backend"),
        (['team="database"'], "team-database"),
        (['team="email"'], "team-email"),
    ]
    # The deprecated `match` form appears nowhere.
    assert "match" not in yaml.safe_dump(route).replace("matchers", "")


def test_on_call_is_reached_by_email_slack_and_native_pagerduty():
    oncall = next(r for r in alertmanager_config(SPEC)["receivers"] if r["name"] == "oncall")
    assert [c["to"] for c in oncall["email_configs"]] == ["oncall@example.com"]
    assert [c["channel"] for c in oncall["slack_configs"]] == ["#alerts-critical"]
    assert oncall["pagerduty_configs"] == [
        {
            "routing_key_file": "/etc/alertmanager/secrets/alertmanager-receivers/pagerduty-routing-key",
            "severity": "critical",
            "send_resolved": True,
        }
    ]
    assert "webhook_configs" not in oncall


def test_a_firing_critical_inhibits_the_warning_of_the_same_alert_cluster_and_service():
    rules = alertmanager_config(SPEC)["inhibit_rules"]
    assert rules[0] == {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname", "cluster", "service"],
    }
    assert rules[0]["equal"] == GROUP_BY


def _walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in _walk(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [item for index, value in enumerate(node) for item in _walk(value, f"{path}[{index}]")]
    return [(path, node)]


def test_no_credential_is_literal_every_one_is_a_file_of_the_mounted_secret():
    leaves = _walk(alertmanager_config(SPEC))
    credential_fields = ("password", "api_url", "routing_key", "service_key", "auth_secret", "token", "url")
    credentials = [
        (path, value) for path, value in leaves if any(f in path.rsplit(".", 1)[-1] for f in credential_fields)
    ]
    assert credentials, "no credential fields found at all"
    for path, value in credentials:
        assert path.endswith("_file"), f"{path}: a literal credential field"
        assert value.startswith(f"{SECRETS_MOUNT_DIR}/alertmanager-receivers/"), f"{path}: {value}"
    # Each of the Secret's keys is read, and nothing else is.
    read = sorted(value.rsplit("/", 1)[1] for _, value in credentials)
    assert read == sorted(SPEC.secret_keys.values()) == ["pagerduty-routing-key", "slack-webhook-url", "smtp-password"]
    rendered = yaml.safe_dump(alertmanager_config(SPEC))
    assert "hooks.slack.com" not in rendered
    assert "'password'" not in rendered


def test_the_secret_key_names_are_exposed_for_the_external_secret():
    custom = AlertRoutingSpec(
        **{**SPEC.__dict__, "secret_name": "am-creds", "smtp_password_key": "smtp", "slack_webhook_key": "slack"}
    )
    assert custom.secret_keys == {
        "smtp_password": "smtp",
        "slack_webhook_url": "slack",
        "pagerduty_routing_key": "pagerduty-routing-key",
    }
    assert alertmanager_config(custom)["global"]["smtp_auth_password_file"] == "/etc/alertmanager/secrets/am-creds/smtp"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"smtp_smarthost": "smtp.example.com"}, "smtp_smarthost: must be host:port, got 'smtp.example.com'"),
        ({"oncall_email": "oncall"}, "oncall_email: must be an email address, got 'oncall'"),
        ({"team_emails": {"Data Base": "db@example.com"}}, "team_emails: team must be a lowercase slug"),
        ({"group_wait": "10 seconds"}, "group_wait: must be a Prometheus duration like 10s or 5m, got '10 seconds'"),
        (
            {"critical_repeat_interval": "5s", "group_interval": "1m"},
            "critical_repeat_interval: must be >= group_interval (1m)",
        ),
        ({"slack_webhook_key": "smtp-password"}, "the Secret's keys must differ"),
        ({"secret_name": "Alertmanager_Creds"}, "secret_name: must be a DNS-1123 subdomain"),
    ],
)
def test_bad_input_is_rejected_with_the_field_and_what_was_expected(change: dict[str, Any], message: str):
    with pytest.raises(ValueError, match="AlertRoutingSpec: ") as raised:
        AlertRoutingSpec(**{**SPEC.__dict__, **change})
    assert message in str(raised.value)
