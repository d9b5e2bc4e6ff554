"""Load and validate a stack's configuration: the only module that reads Pulumi config.

Flow: the stack's raw config (`platform:*` keys plus the provider keys we use) is laid
over the tier defaults of `platform:environment`, validated by the pydantic models in
`stacks/config/models.py`, then checked by the cross-field rules of `stacks/config/rules.py`. Any problem raises
`ConfigError` before a single resource is registered; every line of its message names
the stack file, the key path and what was expected. Any other exception while loading is a
bug in these rules, but the user still gets a ConfigError naming the file (and the key
whose value set it off, where it can be found), never a traceback.
"""

import json
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config, get_config_env, is_config_secret
from pydantic import BaseModel, TypeAdapter, ValidationError

from stacks.config.certificates import rds_ca_certificate
from stacks.config.models import PlatformConfig
from stacks.config.rules import cross_field_problems
from stacks.config.tiers import TIER_DEFAULTS, deep_merge
from stacks.config.types import KeyedValueError

CONFIG_NAMESPACE = "platform"
# Provider keys the platform reads as well, because the explicit providers need them.
PROVIDER_KEYS = ("aws:region", "gcp:project", "gcp:region")
# The one provider credential the program reads itself, and only as a secret: the
# explicit Cloudflare provider gets it; without it the provider reads CLOUDFLARE_API_TOKEN.
CLOUDFLARE_TOKEN_KEY = "cloudflare:apiToken"
# Namespaces of providers the platform builds explicitly (see _unread_provider_keys).
UNREAD_PROVIDER_NAMESPACES = ("aws", "gcp", "cloudflare")


class ConfigError(pulumi.RunError):
    """Bad stack configuration. RunError makes `pulumi up` print it without a traceback."""

    def __init__(self, stack_file: str, problems: list[str]):
        self.stack_file = stack_file
        self.problems = problems
        lines = "\n".join(f"  {stack_file}: {problem}" for problem in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem(s)):\n{lines}")


def parse_platform_config(raw: dict[str, Any], stack: str, secret_keys: frozenset[str] = frozenset()) -> PlatformConfig:
    """Validate stack `stack`'s raw config (full config keys to decoded values).

    `secret_keys` are the keys set with `--secret`; the Cloudflare token must be one.
    """
    stack_file = f"Pulumi.{stack}.yaml"
    try:
        return _parse(raw, stack, stack_file, secret_keys)
    except ConfigError:
        raise
    except Exception as error:  # a rule that crashed: still the user's config, still no traceback
        key = _crashing_key(raw)
        raise ConfigError(
            stack_file,
            [
                f"{key}: could not be checked ({type(error).__name__}: {error}); expected a value the config rules accept"
            ],
        ) from error


def _parse(raw: dict[str, Any], stack: str, stack_file: str, secret_keys: frozenset[str]) -> PlatformConfig:
    raw = dict(raw)
    api_token = raw.pop(CLOUDFLARE_TOKEN_KEY, None)
    problems = _unread_provider_keys(raw)
    if api_token is not None and CLOUDFLARE_TOKEN_KEY not in secret_keys:
        problems.append(
            f"{CLOUDFLARE_TOKEN_KEY}: stored in plain text; remove it and run "
            f"`pulumi config set --secret {CLOUDFLARE_TOKEN_KEY}`, or export CLOUDFLARE_API_TOKEN"
        )
    if problems:
        raise ConfigError(stack_file, problems)
    tier = raw.get("platform:environment")
    if tier is None:
        raise ConfigError(stack_file, ["platform:environment: required key is missing; expected dev, staging or prod"])
    if not isinstance(tier, str) or tier not in TIER_DEFAULTS:
        expected = ", ".join(TIER_DEFAULTS)
        raise ConfigError(stack_file, [f"platform:environment: expected one of {expected}, got {tier!r}"])
    merged = deep_merge(TIER_DEFAULTS[tier], raw)
    try:
        config = PlatformConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(stack_file, [_describe(e) for e in error.errors()]) from None
    # The stack name is part of every resource name: the cross-field rules check its length.
    config._stack = stack
    problems = cross_field_problems(config)
    if problems:
        raise ConfigError(stack_file, problems)
    config._rds_ca_certificate = rds_ca_certificate(config.aws_region) or ""
    config._cloudflare_api_token = None if api_token is None else pulumi.Output.secret(str(api_token))
    return config


def load_platform_config() -> PlatformConfig:
    """Read the running stack's config from the Pulumi runtime and validate it."""
    raw = _read_runtime_config()
    secret_keys = frozenset(key for key in raw if is_config_secret(key))
    return parse_platform_config(raw, pulumi.get_stack(), secret_keys)


def _unread_provider_keys(raw: dict[str, Any]) -> list[str]:
    """Provider keys the program would silently ignore.

    Explicit providers do not read the `aws:`/`gcp:`/`cloudflare:` stack config that default providers
    would, so `aws:profile` or `gcp:credentials` there would have no effect. Reject them
    rather than let a stack deploy with credentials nobody chose.
    """
    return [
        f"{key}: explicit providers do not read this key; supply credentials through the "
        "environment (AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS, CLOUDFLARE_API_TOKEN) instead"
        for key in sorted(raw)
        if key.split(":", 1)[0] in UNREAD_PROVIDER_NAMESPACES and key not in PROVIDER_KEYS
    ]


def _describe(error: Any) -> str:
    """Turn one pydantic error into `key.path: what was expected, got <value>`."""
    location = list(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    path = _key_path(location)
    if isinstance(cause, KeyedValueError):
        # A section's rule that belongs to one key below the section.
        path += cause.key if cause.key.startswith("[") else f".{cause.key}"
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(_allowed_keys(location[:-1])))
        return f"{path}: unknown key; expected one of: {allowed}"
    if error["type"] == "missing":
        return f"{path}: required key is missing"
    message = error["msg"].removeprefix("Value error, ")
    # Our own validators already say what they got; pydantic's built-in ones do not.
    return f"{path}: {message}" if ", got " in message else f"{path}: {message}, got {error['input']!r}"


def _crashing_key(raw: dict[str, Any]) -> str:
    """The deepest key whose value alone makes validation crash (not merely fail).

    Validates each top-level key on its own, then each field of the section that crashed,
    and so on down; falls back to `platform:` when no single key is to blame (a rule across
    sections crashed).
    """
    tier = raw.get("platform:environment")
    defaults = TIER_DEFAULTS.get(tier, {}) if isinstance(tier, str) else {}
    data: Any = deep_merge(defaults, raw)
    model: Any = PlatformConfig
    path: list[str | int] = []
    while isinstance(model, type) and issubclass(model, BaseModel) and isinstance(data, dict):
        for name, field in model.model_fields.items():
            key = field.alias or name
            if key not in data:
                continue
            try:
                TypeAdapter(field.rebuild_annotation()).validate_python(data[key])
            except ValidationError:
                continue
            except Exception:
                path.append(key)
                model, data = field.annotation, data[key]
                break
        else:
            break
    return _key_path(path) if path else f"{CONFIG_NAMESPACE}:*"


def _key_path(location: list[Any]) -> str:
    path = ""
    for part in location:
        if part == "[key]":  # pydantic's marker for a bad mapping key; the key itself precedes it
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "<root>"


def _allowed_keys(location: list[Any]) -> list[str]:
    """The keys a stack file may write at `location` (for 'unknown key' errors)."""
    model: Any = PlatformConfig
    for part in location:
        if isinstance(part, int) or not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        model = field.annotation if field is not None else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _read_runtime_config() -> dict[str, Any]:
    """Our keys from the Pulumi runtime; structured values arrive as JSON strings."""
    keys = set(CONFIG.get()) | set(get_config_env())
    wanted = sorted(k for k in keys if k.split(":", 1)[0] in (CONFIG_NAMESPACE, *UNREAD_PROVIDER_NAMESPACES))
    return {key: _decode(get_config(key)) for key in wanted}


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
