"""JSON schema for `Pulumi.<stack>.yaml`, built from the pydantic models.

Editors (yaml-language-server, IntelliJ) use it to flag unknown keys and wrong types as
you type. A key is required in a stack file only when neither a model default nor every
tier's defaults supply it, because the program lays the stack file over those defaults.
"""

from typing import Any

from stacks.config.loader import CLOUDFLARE_TOKEN_KEY, CONFIG_NAMESPACE, UNREAD_PROVIDER_NAMESPACES
from stacks.config.models import PlatformConfig
from stacks.config.tiers import TIER_DEFAULTS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def stack_file_schema() -> dict[str, Any]:
    """The schema of a whole stack file (its `config:` map plus Pulumi's own keys)."""
    model_schema = PlatformConfig.model_json_schema(by_alias=True)
    config_schema = _inline_refs(model_schema, model_schema.get("$defs", {}))
    config_schema.pop("$defs", None)
    tier_defaults = list(TIER_DEFAULTS.values())
    _relax_required(config_schema, tier_defaults)
    # The Cloudflare token may sit in the stack file only encrypted (`config set --secret`).
    config_schema["properties"][CLOUDFLARE_TOKEN_KEY] = {
        "description": "Cloudflare API token; set it with `pulumi config set --secret`, never in plain text.",
        "type": "object",
        "properties": {"secure": {"type": "string"}},
        "required": ["secure"],
        "additionalProperties": False,
    }
    # Other namespaces (pulumi:*) belong to the engine. In `platform:` and in the
    # namespaces of our explicit providers (aws:, gcp:, cloudflare:), only the keys the
    # program reads are allowed: anything else would be silently ignored.
    known = sorted(config_schema["properties"])
    config_schema.pop("additionalProperties", None)
    owned = "|".join((CONFIG_NAMESPACE, *UNREAD_PROVIDER_NAMESPACES))
    config_schema["propertyNames"] = {"anyOf": [{"enum": known}, {"pattern": f"^(?!({owned}):)[A-Za-z0-9_.-]+:.+$"}]}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "multicloud-platform stack file",
        "type": "object",
        "properties": {
            "config": config_schema,
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
            "environment": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    }


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """Replace each `$ref` to `#/$defs/X` with a copy of X (the models are not recursive)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = dict(defs[ref.removeprefix("#/$defs/")])
            target.update({k: v for k, v in node.items() if k != "$ref"})
            return _inline_refs(target, defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


def _relax_required(node: dict[str, Any], defaults: list[Any]) -> None:
    """Drop from `required` the keys that every tier's defaults already provide."""
    properties = node.get("properties", {})
    required = node.get("required", [])
    node["required"] = [key for key in required if not all(isinstance(d, dict) and key in d for d in defaults)]
    if not node["required"]:
        node.pop("required")
    for key, child in properties.items():
        if isinstance(child, dict) and child.get("type") == "object":
            _relax_required(child, [d.get(key) if isinstance(d, dict) else None for d in defaults])
