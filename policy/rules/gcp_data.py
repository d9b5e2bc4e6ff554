"""GCP data and network controls: Cloud SQL privacy, TLS and deletion protection, Cloud KMS
rotation, VPC firewall exposure and Artifact Registry tag immutability."""

import re
from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs, Severity

from .framework import (
    ANYWHERE,
    PUBLIC_INGRESS_SETTINGS,
    Config,
    ResourceControl,
    as_list,
    cis_gcp,
    get,
    is_true,
    platform_baseline,
)

FAMILY = "gcp-data"
SQL_INSTANCE = "gcp:sql/databaseInstance:DatabaseInstance"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
FIREWALL = "gcp:compute/firewall:Firewall"
REGISTRY = "gcp:artifactregistry/repository:Repository"
# Cloud SQL modes that refuse unencrypted connections.
ENFORCED_SSL_MODES = ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")
NINETY_DAYS_SECONDS = 90 * 24 * 3600


def _sql_no_public_ip(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if get(args.props, "settings.ipConfiguration.ipv4Enabled") is not False:
        yield "the instance has a public IPv4 address (settings.ipConfiguration.ipv4Enabled)"
    for network in as_list(get(args.props, "settings.ipConfiguration.authorizedNetworks")):
        if get(network, "value") in ANYWHERE:
            yield "an authorized network admits the whole internet"


def _sql_ssl(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    mode = get(args.props, "settings.ipConfiguration.sslMode")
    if mode not in ENFORCED_SSL_MODES:
        yield f"unencrypted connections are accepted (settings.ipConfiguration.sslMode {mode or 'unset'})"


def _sql_deletion_protection(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    # Two guards: Pulumi's own (deletionProtection, default true) and the Cloud SQL API's
    # (settings.deletionProtectionEnabled, default false) that also stops the console and gcloud.
    if get(args.props, "deletionProtection") is False:
        yield "Pulumi may delete the instance (deletionProtection false)"
    if not is_true(get(args.props, "settings.deletionProtectionEnabled")):
        yield "the Cloud SQL API accepts a delete (settings.deletionProtectionEnabled)"


def _seconds(duration: str | None) -> float | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", duration or "")
    return float(match.group(1)) if match else None


def _kms_rotation(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    if get(args.props, "purpose") not in (None, "ENCRYPT_DECRYPT"):
        return  # only symmetric encryption keys rotate automatically
    period = _seconds(get(args.props, "rotationPeriod"))
    if period is None or period > config["maxRotationSeconds"]:
        yield (
            f"the key rotates {'never' if period is None else f'every {period:g}s'}, "
            f"less often than every {config['maxRotationSeconds']}s (rotationPeriod)"
        )


def _firewall_public_ingress(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    if get(args.props, "direction") not in (None, "INGRESS") or get(args.props, "disabled") is True:
        return
    if not any(source in ANYWHERE for source in as_list(get(args.props, "sourceRanges"))):
        return
    is_ingress_lb = re.search(config["ingressLoadBalancerPattern"], args.name) is not None
    allowed = {int(port) for port in config["allowedPublicPorts"]}  # settings arrive as floats
    for allow in as_list(get(args.props, "allows")):
        ports = [_ports(str(entry)) for entry in as_list(get(allow, "ports"))]
        opens_only_web = bool(ports) and all(set(range(low, high + 1)) <= allowed for low, high in ports)
        protocol = str(get(allow, "protocol")).lower()
        if not (is_ingress_lb and protocol == "tcp" and opens_only_web):
            yield f"allows {protocol} {as_list(get(allow, 'ports')) or 'on all ports'} from the internet"


def _ports(entry: str) -> tuple[int, int]:
    """A firewall port entry, "443" or "8000-8080", as a range."""
    low, _, high = entry.partition("-")
    return int(low), int(high or low)


def _registry_immutable(args: ResourceValidationArgs, _: Config) -> Iterator[str]:
    if get(args.props, "format") == "DOCKER" and not is_true(get(args.props, "dockerConfig.immutableTags")):
        yield "image tags can be moved to another image (dockerConfig.immutableTags)"


POLICIES = [
    ResourceControl(
        name="cloudsql-no-public-ip",
        description="Cloud SQL instances have no public IP and no internet-wide authorized network.",
        severity=Severity.CRITICAL,
        framework=cis_gcp("6.6"),
        family=FAMILY,
        resource_types=[SQL_INSTANCE],
        when_absent="insecure: ipv4Enabled defaults to true",
        remediation="set settings.ipConfiguration.ipv4Enabled false and privateNetwork to the VPC",
        check=_sql_no_public_ip,
    ),
    ResourceControl(
        name="cloudsql-ssl-enforced",
        description="Cloud SQL refuses unencrypted connections.",
        severity=Severity.HIGH,
        framework=cis_gcp("6.4"),
        family=FAMILY,
        resource_types=[SQL_INSTANCE],
        when_absent="insecure: sslMode defaults to ALLOW_UNENCRYPTED_AND_ENCRYPTED",
        remediation="set settings.ipConfiguration.sslMode 'ENCRYPTED_ONLY'",
        check=_sql_ssl,
    ),
    ResourceControl(
        name="cloudsql-deletion-protection",
        description="Cloud SQL instances are protected from deletion by Pulumi and by the API.",
        severity=Severity.HIGH,
        framework=platform_baseline("data-protection"),
        family=FAMILY,
        resource_types=[SQL_INSTANCE],
        when_absent="mixed: deletionProtection defaults to true (secure), settings.deletionProtectionEnabled "
        "to false (insecure)",
        remediation="set deletionProtection true and settings.deletionProtectionEnabled true",
        check=_sql_deletion_protection,
    ),
    ResourceControl(
        name="gcp-kms-key-rotation",
        description="Cloud KMS symmetric keys rotate at least every 90 days.",
        severity=Severity.MEDIUM,
        framework=cis_gcp("1.10"),
        family=FAMILY,
        resource_types=[CRYPTO_KEY],
        when_absent="insecure: without rotationPeriod the key never rotates",
        remediation="set rotationPeriod to '7776000s' (90 days) or less",
        settings={"maxRotationSeconds": {"type": "integer", "minimum": 86400, "default": NINETY_DAYS_SECONDS}},
        check=_kms_rotation,
    ),
    ResourceControl(
        name="gcp-firewall-no-public-ingress",
        description="No VPC firewall rule allows the internet in, except HTTP(S) to the ingress load balancer.",
        severity=Severity.CRITICAL,
        framework=cis_gcp("3.6, 3.7"),
        family=FAMILY,
        resource_types=[FIREWALL],
        when_absent="secure: a rule without sourceRanges 0.0.0.0/0 admits no internet source; deny rules pass",
        remediation="restrict sourceRanges to private or Google health-check ranges; only the ingress rule may "
        "open tcp 80/443",
        settings=PUBLIC_INGRESS_SETTINGS,
        check=_firewall_public_ingress,
    ),
    ResourceControl(
        name="artifact-registry-immutable-tags",
        description="Artifact Registry Docker repositories make tags immutable.",
        severity=Severity.MEDIUM,
        framework=platform_baseline("supply-chain"),
        family=FAMILY,
        resource_types=[REGISTRY],
        when_absent="insecure: immutableTags defaults to false",
        remediation="set dockerConfig.immutableTags true",
        check=_registry_immutable,
    ),
]
