"""Load and validate a stack's configuration: the only module that reads Pulumi config.

Flow: the stack's raw config (`platform:*` keys plus the provider keys we use) is laid
over the tier defaults of `platform:environment`, validated by the pydantic models in
`stacks/models.py`, then checked by the cross-field rules below. Any problem raises
`ConfigError` before a single resource is registered; every line of its message names
the stack file, the key path and what was expected.

`python -m stacks.config --schema [PATH]` writes a JSON schema for the stack files.
"""

import argparse
import ipaddress
import json
import re
import sys
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config, get_config_env, is_config_secret
from pydantic import BaseModel, ValidationError

from stacks.aws_models import SubnetPlanError
from stacks.cloudflare_models import check_region_of, front_door_problems
from stacks.models import PlatformConfig
from stacks.tiers import TIER_DEFAULTS, deep_merge

CONFIG_NAMESPACE = "platform"
# Provider keys the platform reads as well, because the explicit providers need them.
PROVIDER_KEYS = ("aws:region", "gcp:project", "gcp:region")
# The one provider credential the program reads itself, and only as a secret: the
# explicit Cloudflare provider gets it; without it the provider reads CLOUDFLARE_API_TOKEN.
CLOUDFLARE_TOKEN_KEY = "cloudflare:apiToken"
# Namespaces of providers the platform builds explicitly (see _unread_provider_keys).
UNREAD_PROVIDER_NAMESPACES = ("aws", "gcp", "cloudflare")
MIN_AVAILABILITY_ZONES = 2
# The RDS root CA of each region, committed under certs/ (public certificates). RdsPrimary
# picks the rds-ca-rsa2048-g1 authority; the Cloud SQL replica verifies RDS against its root.
CERTS_DIR = Path(__file__).resolve().parent.parent / "certs"
RDS_CA_AUTHORITY = "rsa2048-g1"
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?")


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
    if tier not in TIER_DEFAULTS:
        expected = ", ".join(TIER_DEFAULTS)
        raise ConfigError(stack_file, [f"platform:environment: expected one of {expected}, got {tier!r}"])
    merged = deep_merge(TIER_DEFAULTS[tier], raw)
    try:
        config = PlatformConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(stack_file, [_describe(e) for e in error.errors()]) from None
    problems = cross_field_problems(config)
    if problems:
        raise ConfigError(stack_file, problems)
    config._stack = stack
    config._rds_ca_certificate = _rds_ca_certificate(config.aws_region) or ""
    config._cloudflare_api_token = None if api_token is None else pulumi.Output.secret(str(api_token))
    return config


def _rds_ca_path(region: str) -> Path:
    return CERTS_DIR / f"rds-{region}-{RDS_CA_AUTHORITY}.pem"


def _rds_ca_certificate(region: str) -> str | None:
    """The PEM block of the region's RDS root CA, without the file's comment lines."""
    path = _rds_ca_path(region)
    if not path.is_file():
        return None
    match = PEM_CERTIFICATE.search(path.read_text())
    return match.group(0) if match else None


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


def cross_field_problems(config: PlatformConfig) -> list[str]:
    """Rules that span several keys. Returns every violation, not just the first."""
    problems: list[str] = []
    azs = config.aws.availability_zones
    if len(azs) < MIN_AVAILABILITY_ZONES:
        # EKS refuses a control plane with subnets in fewer than two AZs, and prod must
        # survive the loss of one zone.
        problems.append(
            f"platform:aws.availabilityZones: expected at least {MIN_AVAILABILITY_ZONES} AZs "
            f"(EKS and zone-loss tolerance need them), got {len(azs)}"
        )
    if len(set(azs)) != len(azs):
        problems.append(f"platform:aws.availabilityZones: expected distinct AZs, got {azs}")
    for index, zone in enumerate(azs):
        if not zone.startswith(config.aws_region):
            problems.append(
                f"platform:aws.availabilityZones[{index}]: expected an AZ of aws:region {config.aws_region}, got {zone!r}"
            )
    if config.environment == "prod":
        if config.aws.network.nat_gateways != "perAz":
            problems.append("platform:aws.network.natGateways: prod needs 'perAz' so a zone loss keeps egress, got 'single'")
        if not config.protect:
            problems.append("platform:protect: prod must protect its stateful resources, got false")
        if not config.aws.rds.multi_az:
            problems.append("platform:aws.rds.multiAz: prod needs a standby in a second AZ, got false")
        if config.aws.rds.backup_replica_region is None:
            problems.append(
                "platform:aws.rds.backupReplicaRegion: prod must copy automated backups to a second region, got nothing"
            )
    if config.aws.rds.backup_replica_region == config.aws_region:
        problems.append(
            "platform:aws.rds.backupReplicaRegion: expected a region other than aws:region "
            f"({config.aws_region}), got {config.aws.rds.backup_replica_region!r}"
        )
    replica_major = config.gcp.cloud_sql.engine_major_version
    if replica_major != config.aws.rds.engine_major_version:
        # Cloud SQL replicates an external PostgreSQL only from the same major version.
        problems.append(
            f"platform:gcp.cloudSql.engineMajorVersion: expected the RDS primary's major version "
            f"(platform:aws.rds.engineMajorVersion = {config.aws.rds.engine_major_version}), got {replica_major}"
        )
    for pool_name, pool in (("general", config.gcp.gke.node_pools.general), ("gpu", config.gcp.gke.node_pools.gpu)):
        for index, zone in enumerate(pool.node_locations):
            if not zone.startswith(f"{config.gcp_region}-"):
                problems.append(
                    f"platform:gcp.gke.nodePools.{pool_name}.nodeLocations[{index}]: expected a zone of "
                    f"gcp:region {config.gcp_region}, got {zone!r}"
                )
    if _rds_ca_certificate(config.aws_region) is None:
        path = _rds_ca_path(config.aws_region).relative_to(CERTS_DIR.parent)
        problems.append(
            f"aws:region: expected the RDS root CA of {config.aws_region} in {path} (the Cloud SQL replica "
            f"verifies RDS with it); copy the 'Root CA RSA2048 G1' certificate from "
            f"https://truststore.pki.rds.amazonaws.com/{config.aws_region}/{config.aws_region}-bundle.pem"
        )
    try:
        config.aws.subnet_plan()
    except SubnetPlanError as error:
        problems.append(f"platform:aws.{error.key}: {error}")
    problems.extend(_overlap_problems(config))
    problems.extend(front_door_problems(config.cloudflare, aws_origin_count=len(azs)))
    for key, region in (("aws:region", config.aws_region), ("gcp:region", config.gcp_region)):
        if check_region_of(region) is None:
            problems.append(f"{key}: no Cloudflare health-check region is known near {region!r} (stacks/cloudflare_models.py)")
    return problems


def _overlap_problems(config: PlatformConfig) -> list[str]:
    """Every network range must be unique: the clouds are routed together over the VPN."""
    ranges: dict[str, ipaddress.IPv4Network] = {
        "platform:aws.network.vpcCidr": config.aws.network.vpc_cidr,
        "platform:aws.eks.serviceCidr": config.aws.eks.service_cidr,
        "platform:gcp.network.subnetCidr": config.gcp.network.subnet_cidr,
        "platform:gcp.network.podsCidr": config.gcp.network.pods_cidr,
        "platform:gcp.network.servicesCidr": config.gcp.network.services_cidr,
        "platform:gcp.network.masterCidr": config.gcp.network.master_cidr,
        "platform:gcp.network.privateServiceAccessCidr": config.gcp.network.private_service_access_cidr,
    }
    keys = list(ranges)
    problems = []
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            if ranges[first].overlaps(ranges[second]):
                problems.append(
                    f"{second}: expected a range that does not overlap {first} ({ranges[first]}), got {ranges[second]}"
                )
    return problems


def _describe(error: Any) -> str:
    """Turn one pydantic error into `key.path: what was expected, got <value>`."""
    location = list(error["loc"])
    path = _key_path(location)
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(_allowed_keys(location[:-1])))
        return f"{path}: unknown key; expected one of: {allowed}"
    if error["type"] == "missing":
        return f"{path}: required key is missing"
    message = error["msg"].removeprefix("Value error, ")
    # Our own validators already say what they got; pydantic's built-in ones do not.
    return f"{path}: {message}" if ", got " in message else f"{path}: {message}, got {error['input']!r}"


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.config", description="Stack configuration tools.")
    parser.add_argument("--schema", nargs="?", const="stacks/stack.schema.json", metavar="PATH",
                        help="write the stack-file JSON schema (default: %(const)s)")
    args = parser.parse_args(argv)
    if args.schema is None:
        parser.print_help()
        return 2
    from stacks.schema import stack_file_schema

    Path(args.schema).write_text(json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.schema}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
