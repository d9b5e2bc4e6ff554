"""Shared fixtures: synth each stack once per test session (each run takes ~1-2 s)."""

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from stacks.config.loader import ConfigError  # noqa: E402
from tests.report_fixtures import plan  # noqa: E402
from tools.synth import SynthError, SynthResult, read_stack_config, synth  # noqa: E402

STACKS = ("dev", "staging", "prod")
_CACHE: dict[str, SynthResult] = {}


@pytest.fixture(scope="session")
def synthed() -> Callable[[str], SynthResult]:
    """`synthed("prod")`: the synth result of an unchanged stack file, cached."""

    def get(stack: str) -> SynthResult:
        if stack not in _CACHE:
            _CACHE[stack] = synth(stack)
        return _CACHE[stack]

    return get


@pytest.fixture
def stack_config() -> Callable[[str], dict[str, Any]]:
    """A deep copy of a stack file's config, safe to mutate in a test."""
    return lambda stack: copy.deepcopy(read_stack_config(stack))


def assert_rejected_before_any_resource(stack: str, config: dict[str, Any], expected: str) -> None:
    """Synth `config` as `stack`: it must fail with a ConfigError line starting with
    `expected`, say which stack file, and register nothing, not even a provider."""
    with pytest.raises(SynthError) as caught:
        synth(stack, config)
    error = caught.value.cause
    assert isinstance(error, ConfigError)
    assert any(line.startswith(expected) for line in error.problems), error.problems
    assert f"Pulumi.{stack}.yaml: {expected}" in str(error)
    assert caught.value.result.resources == []


@pytest.fixture(scope="session")
def planned(tmp_path_factory, synthed) -> Callable[[str], tuple[Path, dict[str, Any]]]:
    """`planned("prod")`: the stack planned once (tools.plan.run_plan on its cached synth, so with
    its architecture.svg and report.html): (its build/<stack> directory, its inventory). The report
    tests render from these; copy_plan (tests/report_fixtures.py) gives a test a copy to change."""
    root = tmp_path_factory.mktemp("build")
    plans: dict[str, tuple[Path, dict[str, Any]]] = {}

    def get(stack: str) -> tuple[Path, dict[str, Any]]:
        if stack not in plans:
            plans[stack] = plan(stack, root, synthed(stack))
        return plans[stack]

    return get
