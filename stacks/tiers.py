"""Per-tier defaults: the one place where dev, staging and prod differ.

A stack file names its tier with `platform:environment` and states only what differs
from these values. Keys are the stack file's own keys (full config key, then camelCase),
so a default here reads exactly like the line a stack file would write to override it.

Tiers differ in size, high availability and protection, never in code paths.
"""

from typing import Any

TIER_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        # Stateful resources stay deletable so a dev stack can be torn down at will.
        "platform:protect": False,
        "platform:aws": {
            "network": {
                # One NAT gateway: dev accepts losing egress with its AZ to save ~$35/month/AZ.
                "natGateways": "single",
                "flowLogRetentionDays": 14,
            },
            "eks": {
                "nodeGroups": {
                    "general": {"instanceTypes": ["m6i.large"], "minSize": 1, "desiredSize": 2, "maxSize": 3},
                    "highCpu": {"instanceTypes": ["c6i.xlarge"], "minSize": 0, "desiredSize": 1, "maxSize": 2},
                },
            },
        },
    },
    "staging": {
        "platform:protect": False,
        "platform:aws": {
            "network": {
                # Staging mirrors prod's per-AZ egress so AZ-routing faults show up before prod.
                "natGateways": "perAz",
                "flowLogRetentionDays": 30,
            },
            "eks": {
                "nodeGroups": {
                    "general": {"instanceTypes": ["m6i.xlarge"], "minSize": 2, "desiredSize": 2, "maxSize": 6},
                    "highCpu": {"instanceTypes": ["c6i.2xlarge"], "minSize": 1, "desiredSize": 2, "maxSize": 4},
                },
            },
        },
    },
    "prod": {
        # Every stateful resource is `protect`ed in prod: a `pulumi destroy` or a rename
        # must never delete data without a deliberate unprotect.
        "platform:protect": True,
        "platform:aws": {
            "network": {
                # NAT per AZ so losing one AZ does not cut egress for the others.
                "natGateways": "perAz",
                # One year of flow logs for incident forensics.
                "flowLogRetentionDays": 365,
            },
            "eks": {
                "nodeGroups": {
                    # At least one general node per AZ (3 AZs) so a zone loss leaves capacity.
                    "general": {"instanceTypes": ["m6i.2xlarge"], "minSize": 3, "desiredSize": 3, "maxSize": 12},
                    # The seed runs the CPU-heavy saju-engine on compute-optimised instances.
                    "highCpu": {"instanceTypes": ["c6i.4xlarge"], "minSize": 2, "desiredSize": 3, "maxSize": 10},
                },
            },
        },
    },
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return `base` overlaid with `override`; nested dicts merge, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
