"""Rule groups checked and unit-tested by promtool (Debian's `prometheus` package, installed by `make test`).

- `check_rules(path)`: `promtool check rules` (syntax, PromQL, templates, duplicate rules).
- `run_rule_tests(tmp_path, rule_file, tests)`: a `promtool test rules` file generated from Python test
  groups (input series, alert tests, PromQL tests), run against the rendered rule file.
- `expected_alert(rule, labels, value)`: what promtool should report for a firing alert of `rule`:
  the rule's labels over the series' labels, and its annotations rendered the way Prometheus renders
  them (`render`), so a test states the alert's labels and value and the annotations follow.

promtool missing fails the test, never skips it: a CI image without it would otherwise pass with the
alerts unproven.
"""

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found on PATH: run `make test`, which installs it (Debian's `prometheus` package), "
            "or `apt-get install prometheus`. The alert rules' unit tests cannot run without it."
        )
    return path


def write_rule_file(directory: Path, name: str, groups: Sequence[Mapping[str, Any]]) -> Path:
    """The groups as a Prometheus rule file, the layout a PrometheusRule's spec carries."""
    path = directory / name
    path.write_text(yaml.safe_dump({"groups": list(groups)}, sort_keys=False, width=1000))
    return path


def check_rules(path: Path) -> str:
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"promtool check rules {path.name} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def run_rule_tests(directory: Path, rule_file: Path, tests: Sequence[Mapping[str, Any]]) -> str:
    """Write and run a promtool unit-test file over `rule_file`; fail with promtool's report."""
    test_file = directory / f"{rule_file.stem}_test.yaml"
    document = {"rule_files": [rule_file.name], "evaluation_interval": "1m", "tests": list(tests)}
    test_file.write_text(yaml.safe_dump(document, sort_keys=False, width=1000))
    result = subprocess.run(
        [promtool(), "test", "rules", test_file.name],
        capture_output=True,
        text=True,
        cwd=directory,
        timeout=600,
    )
    assert result.returncode == 0, f"promtool test rules failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def series(name: str, labels: Mapping[str, str], values: str) -> dict[str, str]:
    """One input series in promtool's notation (`0+6x30`: 0, 6, ..., 180 one interval apart)."""
    inner = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def alert_test(alertname: str, eval_time: str, alerts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"eval_time": eval_time, "alertname": alertname, "exp_alerts": list(alerts)}


def rule_for(groups: Sequence[Mapping[str, Any]], alertname: str, **labels: str) -> Mapping[str, Any]:
    """The one alerting rule named `alertname` whose labels include `labels`."""
    found = [
        rule
        for group in groups
        for rule in group["rules"]
        if rule.get("alert") == alertname and all(rule["labels"].get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, f"expected one {alertname} rule with labels {labels}, found {len(found)}"
    return found[0]


def expected_alert(rule: Mapping[str, Any], series_labels: Mapping[str, str], value: float) -> dict[str, Any]:
    """The alert promtool reports: the series' labels overridden by the rule's, annotations rendered."""
    labels = {**series_labels, **rule["labels"]}
    annotations = {key: render(text, labels, value) for key, text in rule["annotations"].items()}
    return {"exp_labels": labels, "exp_annotations": annotations}


_TEMPLATE = re.compile(r"\{\{\s*(\$labels\.(\w+)|\$value(\s*\|\s*(\w+))?)\s*\}\}")


def render(template: str, labels: Mapping[str, str], value: float) -> str:
    """Prometheus' rendering of the template forms the rules use: `{{ $labels.x }}`, `{{ $value }}`
    piped or not through humanize / humanize1024 / humanizePercentage. Anything else is refused."""
    leftover = _TEMPLATE.sub("", template)
    assert "{{" not in leftover, f"a template form the test renderer does not know: {template!r}"

    def one(match: re.Match[str]) -> str:
        if match.group(2):
            return labels.get(match.group(2), "")
        function = match.group(4)
        if function == "humanize":
            return humanize(value)
        if function == "humanizePercentage":
            return f"{_go_g4(value * 100)}%"
        if function == "humanize1024":
            return humanize1024(value)
        assert function is None, f"unknown template function {function!r}"
        return repr(value)

    return _TEMPLATE.sub(one, template)


def humanize(value: float) -> str:
    """Prometheus' `humanize`: 4 significant digits and an SI prefix."""
    if value == 0:
        return _go_g4(value)
    prefix = ""
    if abs(value) >= 1:
        for p in ("k", "M", "G", "T"):
            if abs(value) < 1000:
                break
            prefix, value = p, value / 1000
    else:
        for p in ("m", "u", "n", "p"):
            if abs(value) >= 1:
                break
            prefix, value = p, value * 1000
    return f"{_go_g4(value)}{prefix}"


def humanize1024(value: float) -> str:
    """Prometheus' `humanize1024`: 4 significant digits and a binary prefix (ki, Mi, Gi, ...)."""
    if abs(value) <= 1:
        return _go_g4(value)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi"):
        if abs(value) < 1024:
            break
        prefix, value = p, value / 1024
    return f"{_go_g4(value)}{prefix}"


def _go_g4(value: float) -> str:
    # Go's %.4g and Python's agree for the magnitudes the tests use (no exponent form).
    text = f"{value:.4g}"
    assert "e" not in text, f"value {value} would print in exponent form; pick a test value without"
    return text
