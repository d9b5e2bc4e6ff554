"""Every key of the dev and prod stacks, mutated as a careless user would.

Each leaf (and each list and each map) of the fully resolved config, the stack file's keys,
the tier defaults and the model defaults alike, is written into the stack file with a bad
value. The loader must refuse it with a ConfigError whose lines name the key (or a key
related to it), and never fail any other way; the few mutations that produce a genuinely
valid config are listed, with the reason, in ACCEPTED.
"""

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stacks.config.loader import CONFIG_NAMESPACE, PROVIDER_KEYS, ConfigError, parse_platform_config
from tests.test_config import READ_NAMESPACES, parse
from tools.synth import read_stack_config

Path = tuple[str | int, ...]

WRONG_TYPE: dict[type, Any] = {bool: "yes", str: 12345, int: "12", float: "0.5", list: "x", dict: "x", type(None): 7}

# Mutations of a scalar, a list or a map (the value it replaces is the argument).
VALUE_MUTATIONS: dict[str, Callable[[Any], Any]] = {
    "wrong type": lambda value: WRONG_TYPE[type(value)],
    "empty string": lambda value: "",
    "empty list": lambda value: [],
    "huge int": lambda value: 10**12,
    "negative": lambda value: -1,
    "inf": lambda value: float("inf"),
    "nan": lambda value: float("nan"),
    "None": lambda value: None,
    "nested list": lambda value: [value],
    # YAML 1.1 reads `yes` as true.
    "true": lambda value: True,
    "bare address": lambda value: "10.132.0.0",
    "shell injection": lambda value: "c6i.4xlarge; rm -rf /",
    "empty window": lambda value: "03:00-03:00",
}

# (stack, key path, mutation) -> why the result is a valid config. Mutations that leave a
# value as it was (an empty list for a list already empty) are not tried.
ACCEPTED: dict[tuple[str, str, str], str] = {("dev", "platform:protect", "true"): "protecting dev is allowed"}
ACCEPTED[("dev", "platform:aws.rds.multiAz", "true")] = "a standby is allowed in dev"
ACCEPTED[("prod", "platform:aws.rds.applyImmediately", "true")] = "applying RDS changes at once is a valid choice"
ACCEPTED[("dev", "platform:kubernetes.highAvailability", "true")] = "highly available add-ons are allowed in dev"
for _stack in ("dev", "prod"):
    # A relay login is often a bare user name, not an address.
    ACCEPTED[(_stack, "platform:monitoring.alerting.smtpUsername", "bare address")] = "a valid SMTP login"
for _stack, _namespace in (("dev", "heal7-dev"), ("prod", "heal7-production")):
    ACCEPTED.update(
        {
            (_stack, "platform:kubernetes.viewers", "empty list"): "no read-only groups beyond the admins",
            (_stack, "platform:kubernetes.deployers", "empty list"): "no pipeline identity yet",
            # Digits and dots are valid in IAM role names.
            (_stack, "platform:kubernetes.viewers[0].awsRoles[0]", "bare address"): "a valid IAM role name",
            (_stack, "platform:kubernetes.deployers[0].awsRole", "bare address"): "a valid IAM role name",
            (_stack, "platform:kubernetes.renderTo", "bare address"): "a valid directory name",
            # A plain environment value may be any text without a `$(` reference.
            **{
                (
                    _stack,
                    "platform:workloads.heal7-web-main.env.NODE_ENV",
                    mutation,
                ): "any literal text is a valid value"
                for mutation in ("bare address", "empty string", "empty window", "shell injection")
            },
            **{
                case: reason
                for workload in ("heal7-web-main", "heal7-api-gateway", "heal7-saju-engine", "heal7-ai-models")
                for case, reason in {
                    (_stack, f"platform:workloads.{workload}.image.tag", "bare address"): "a valid image tag",
                }.items()
            },
            # Digits and dots make a valid image path in Artifact Registry (GKE only); an EKS
            # workload's repository must be one of the ECR repositories.
            (_stack, "platform:workloads.heal7-ai-models.image.repository", "bare address"): (
                "a valid Artifact Registry image path"
            ),
            **{
                (_stack, f"platform:workloads.{workload}.uses", "empty list"): "a workload may use no data store"
                for workload in ("heal7-web-main", "heal7-api-gateway", "heal7-saju-engine")
            },
            (_stack, f"platform:kubernetes.namespaces.{_namespace}.meshCallers", "empty list"): (
                "no calls between workloads: the gateway and monitoring only"
            ),
            (_stack, f"platform:kubernetes.namespaces.{_namespace}.meshCallers[0].methods", "empty list"): (
                "a caller may use any method"
            ),
        }
    )
for _stack, _zone in (("dev", "heal7-dev.com"), ("prod", "heal7.com")):
    ACCEPTED.update(
        {
            **{
                (_stack, f"platform:cloudflare.loadBalancers.{host}.rateLimit", "None"): "no rate limit is valid"
                for host in (_zone, f"www.{_zone}", f"api.{_zone}", f"ai.{_zone}")
            },
            # Digits and dots are valid in IAM role names and ECR repository names.
            (_stack, "platform:aws.eks.adminRoles[0]", "bare address"): "a valid IAM role name",
            (_stack, "platform:aws.eks.adminRoles[1]", "bare address"): "a valid IAM role name",
        }
    )
# The first three ECR repositories hold the EKS workloads' images, so renaming one is refused
# (at the workload's image.repository); the fourth holds the base image, which only a stack
# that builds it (platform:images.buildBase, off in dev) must push there.
ACCEPTED[("dev", "platform:aws.ecr.repositories[3]", "bare address")] = "a valid ECR repository name"
ACCEPTED[("dev", "platform:images.baseRepository", "bare address")] = "dev does not push the base image"
ACCEPTED[("dev", "platform:images.buildBase", "true")] = "building the base image in dev is allowed"


def _key(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _nodes(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every key path below the root with its value: maps, lists and scalars."""
    if path:
        yield path, node
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _nodes(child, (*path, key))


def _mutations(value: Any) -> Iterator[tuple[str, Any]]:
    for name, mutate in VALUE_MUTATIONS.items():
        bad = mutate(value)
        if not (bad == value and type(bad) is type(value)):
            yield name, bad
    if isinstance(value, list) and value:
        yield "duplicated element", [*value, value[0]]
    if isinstance(value, dict):
        yield "unknown key", {**value, "bogusKey": "x"}


def _written(stack_file: dict[str, Any], resolved: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """The stack file with `value` at `path` (maps it does not write are added; lists it
    does not write are copied from the resolved config first)."""
    config = copy.deepcopy(stack_file)
    node: Any = config
    source: Any = resolved
    for part in path[:-1]:
        source = source[part]
        if isinstance(node, dict) and part not in node:
            node[part] = copy.deepcopy(source) if isinstance(source, list) else {}
        node = node[part]
    node[path[-1]] = value
    return config


def _related(line: str, path: Path) -> bool:
    """The line names the mutated key or a key below it, or mentions the whole key; or it
    names a key above it and says which field (so "a bad sharedBuffers names only tuning"
    fails); or it reports a sibling missing from the map the mutation rewrote (a map in
    the stack file replaces the default map whole); or, for a list element, its message
    names the list (a rule about the list's members)."""
    line_key, _, message = line.partition(": ")
    key = _key(path)
    leaf = next((part for part in reversed(path) if isinstance(part, str)), "")
    if line_key.startswith(key) or key in line:
        return True
    # A rule about a list's members (a workload's image in platform:aws.ecr.repositories)
    # names the list, not the element the mutation changed.
    if isinstance(path[-1], int) and _key(path[:-1]) in message:
        return True
    if key.startswith(line_key) and leaf and leaf in message:
        return True
    parent = _key(path[:-1])
    return message.startswith("required key is missing") and line_key.startswith(f"{parent}.")


def _fuzz(stack: str) -> tuple[set[tuple[str, str, str]], list[str]]:
    stack_file = {k: v for k, v in read_stack_config(stack).items() if k.split(":", 1)[0] in READ_NAMESPACES}
    resolved = parse(stack).model_dump(by_alias=True, mode="json")
    accepted: set[tuple[str, str, str]] = set()
    failures: list[str] = []
    tried = 0
    for path, value in _nodes(resolved):
        for name, bad in _mutations(value):
            tried += 1
            where = f"{_key(path)} <- {name} ({bad!r:.40})"
            try:
                parse_platform_config(_written(stack_file, resolved, path, bad), stack)
            except ConfigError as error:
                for line in error.problems:
                    if not line.startswith((f"{CONFIG_NAMESPACE}:", *PROVIDER_KEYS)):
                        failures.append(f"{where}: line names no config key: {line}")
                    elif not _related(line, path):
                        failures.append(f"{where}: line names an unrelated key: {line}")
                    if "could not be checked" in line:
                        failures.append(f"{where}: a rule crashed (the guard caught it): {line}")
            except Exception as error:  # the point of the test: nothing but ConfigError
                failures.append(f"{where}: {type(error).__name__}: {error}")
            else:
                accepted.add((stack, _key(path), name))
    assert tried > 1000, tried  # every key of the resolved config, not a sample
    return accepted, failures


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_key_refuses_bad_values_with_a_config_error_naming_it(stack):
    accepted, failures = _fuzz(stack)
    assert failures == []
    # Only the listed mutations may pass, and each listed one must (the list stays true).
    assert accepted == {case for case in ACCEPTED if case[0] == stack}
