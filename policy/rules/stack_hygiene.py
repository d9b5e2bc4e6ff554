"""Stack-wide hygiene: stateful resources protected, ownership tags and labels on every
taggable resource, and no literal secret anywhere in the resource graph."""

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .framework import (
    Config,
    ResourceControl,
    StackControl,
    StackFinding,
    as_json,
    get,
    known,
    platform_baseline,
    requirement,
)

FAMILY = "stack"

STATEFUL_TYPES = [
    "aws:kms/key:Key",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:eks/cluster:Cluster",
    "aws:rds/instance:Instance",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:secretsmanager/secret:Secret",
    "aws:ecr/repository:Repository",
    "aws:s3/bucket:Bucket",
    "gcp:artifactregistry/repository:Repository",
    "gcp:container/cluster:Cluster",
    "gcp:kms/keyRing:KeyRing",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:sql/databaseInstance:DatabaseInstance",
    "gcp:sql/sourceRepresentationInstance:SourceRepresentationInstance",
    "gcp:secretmanager/secret:Secret",
    "gcp:compute/address:Address",
]


def _stateful_unprotected(args: StackValidationArgs, config: Config) -> Iterator[StackFinding]:
    def check(resource: PolicyResource) -> list[str]:
        # Elastic IPs are stateful only as the front door's origins; NAT addresses are replaceable.
        stateful = resource.resource_type in config["statefulTypes"] or (
            resource.resource_type == "aws:ec2/eip:Eip" and get(resource.props, "tags.role") == "ingress"
        )
        return (
            ["the stateful resource is not protected (ResourceOptions(protect=True))"]
            if stateful and not resource.opts.protect
            else []
        )

    yield from known(args.resources, check)


# -- tags and labels -----------------------------------------------------------------

# Where each GCP type keeps its labels; the provider's defaultLabels fill only `labels`.
GCP_LABEL_PATHS = {
    "gcp:container/cluster:Cluster": "resourceLabels",
    "gcp:container/nodePool:NodePool": "nodeConfig.resourceLabels",
    "gcp:sql/databaseInstance:DatabaseInstance": "settings.userLabels",
    "gcp:kms/cryptoKey:CryptoKey": "labels",
    "gcp:secretmanager/secret:Secret": "labels",
    "gcp:compute/address:Address": "labels",
    "gcp:artifactregistry/repository:Repository": "labels",
}
# Billable or stateful AWS types; every one takes `tags` and the provider's defaultTags.
AWS_TAGGABLE = [
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/vpnGateway:VpnGateway",
    "aws:ec2/vpnConnection:VpnConnection",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:rds/instance:Instance",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:ecr/repository:Repository",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:secretsmanager/secret:Secret",
    "aws:iam/role:Role",
]


def _provider_defaults(args: ResourceValidationArgs, key: str) -> Mapping[str, Any]:
    """The provider's default tags/labels; the engine passes nested provider config as JSON strings."""
    if args.provider is None:
        return {}
    defaults = as_json(args.provider.props.get(key)) or {}
    return (defaults.get("tags") or {}) if key == "defaultTags" else defaults


def _required_tags(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    if args.resource_type in GCP_LABEL_PATHS:
        path = GCP_LABEL_PATHS[args.resource_type]
        present = dict(get(args.props, path) or {})
        if path == "labels":
            present = {**_provider_defaults(args, "defaultLabels"), **present}
        where = path
    else:
        present = {**_provider_defaults(args, "defaultTags"), **(get(args.props, "tags") or {})}
        where = "tags (or the provider's defaultTags)"
    missing = [key for key in config["requiredTags"] if not present.get(key)]
    if missing:
        yield f"{where} lack {missing}"


# -- literal secrets -----------------------------------------------------------------

SECRET_KEY = re.compile(
    r"password|passwd|passphrase|secret|token|api_?key|private_?key|access_?key|credential|"
    r"preshared_?key|psk|auth_?key|hmac",
    re.IGNORECASE,
)
# Names that mention a secret but hold a reference, a setting, a flag or a digest.
REFERENCE_KEY = re.compile(
    r"(id|ids|arn|arns|name|names|ref|length|version|enabled|type|mode|days|ttl|count|"
    r"kmskeyid|window|config|configuration|location|path|url|endpoint|tokens|hash|status|"
    r"strategy|policy|rotation)$",
    re.IGNORECASE,
)
# Enum-like values ("ROTATE", "active") are settings, not secrets.
ENUM_VALUE = re.compile(r"[A-Z0-9_]+|[a-z]+")
# Well-known credential shapes, whatever the key.
TOKEN_PATTERNS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),  # PEM private key
    re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}"),  # GitHub token
    re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}"),  # Slack token
    re.compile(r"AIza[0-9A-Za-z_-]{35}"),  # Google API key
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+"),  # JWT
]
# Certificates, digests, hashes and encoded payloads are long and random-looking but not secret.
PUBLIC_RANDOM_KEY = re.compile(
    r"certificate|cert|fingerprint|digest|hash|checksum|etag|sha|publickey|userdata|"
    r"base64",
    re.IGNORECASE,
)
# Resources whose job is to generate secrets (their outputs are the generated values).
GENERATOR_PREFIXES = ("random:", "tls:", "aws:iam/accessKey:", "gcp:serviceaccount/key:")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    return -sum(n / len(text) * math.log2(n / len(text)) for n in (text.count(c) for c in set(text)))


def looks_random(text: str, config: Config) -> bool:
    """A long single token mixing cases and digits with high entropy: a key, not a name or id."""
    return (
        len(text) >= config["minimumSecretLength"]
        and re.fullmatch(r"[A-Za-z0-9+/=_\-]+", text) is not None
        and re.search(r"[a-z]", text) is not None
        and re.search(r"[A-Z]", text) is not None
        and re.search(r"[0-9]", text) is not None
        and entropy(text) >= config["entropyThreshold"]
    )


def _children(value: Any) -> Iterator[tuple[str, Any]]:
    """(path suffix, item) of a mapping or list behind the engine's proxy; unknown items are skipped."""
    keys = (
        [(f".{key}", key) for key in value]
        if isinstance(value, Mapping)
        else [(f"[{index}]", index) for index in range(len(value))]
    )
    for suffix, key in keys:
        try:
            yield suffix, value[key]
        except UnknownValueError:
            continue  # not known until the update; it cannot hold a literal written in code


def _literal_secrets_in(value: Any, path: str, config: Config) -> Iterator[str]:
    if isinstance(value, Mapping) or (isinstance(value, Sequence) and not isinstance(value, str)):
        for suffix, item in _children(value):
            yield from _literal_secrets_in(item, path + suffix, config)
    elif isinstance(value, str) and value:
        key = path.rsplit(".", 1)[-1].split("[", 1)[0]
        if any(pattern.search(value) for pattern in TOKEN_PATTERNS):
            yield f"{path} holds a credential-shaped literal"
        elif (
            SECRET_KEY.search(key)
            and not REFERENCE_KEY.search(key)
            and len(value) >= 8
            and not ENUM_VALUE.fullmatch(value)
        ):
            yield f"{path} is a secret-named input set to a literal"
        elif not PUBLIC_RANDOM_KEY.search(path) and looks_random(value, config):
            yield f"{path} holds a high-entropy literal"


def _no_literal_secrets(args: StackValidationArgs, config: Config) -> Iterator[StackFinding]:
    # Provider resources are left out: their credentials come from secret config or the
    # environment (stacks/config/loader.py refuses a plain-text token).
    for resource in args.resources:
        if resource.resource_type.startswith((*GENERATOR_PREFIXES, "pulumi:providers:")):
            continue
        for path, value in _children(resource.props):
            # A value that flows from another resource (a generated password, a secret's id)
            # is not a literal; only values written into the program or stack file are.
            if not resource.property_dependencies.get(path[1:]):
                for problem in _literal_secrets_in(value, path[1:], config):
                    yield resource, problem


POLICIES = [
    StackControl(
        name="prod-stateful-protected",
        description="Every stateful resource (data, keys, clusters, origin addresses) is protected.",
        severity=Severity.HIGH,
        framework=platform_baseline("stateful-protection"),
        family=FAMILY,
        when_absent="insecure: resources are unprotected unless protect=True",
        remediation="pass ResourceOptions(protect=True) (platform:protect true in the stack file)",
        settings={"statefulTypes": {"type": "array", "items": {"type": "string"}, "default": STATEFUL_TYPES}},
        check=_stateful_unprotected,
    ),
    ResourceControl(
        name="required-tags",
        description="Taggable AWS resources and labelable GCP resources carry the ownership tags.",
        severity=Severity.MEDIUM,
        framework=platform_baseline("tagging"),
        family=FAMILY,
        resource_types=[*AWS_TAGGABLE, *GCP_LABEL_PATHS],
        when_absent="insecure: a resource without tags is unowned in billing and incident response",
        remediation="keep the provider's defaultTags/defaultLabels, or set the missing keys on the resource",
        settings={
            "requiredTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["project", "environment", "owner", "cost-center", "managed-by"],
            }
        },
        check=_required_tags,
    ),
    StackControl(
        name="no-literal-secrets",
        description="No resource property holds a literal secret (by key name, credential shape or entropy).",
        severity=Severity.CRITICAL,
        framework=requirement("no plaintext secrets"),
        family=FAMILY,
        when_absent="secure: an absent value holds no secret",
        remediation="generate it with pulumi_random or the cloud (manage_master_user_password), keep it in "
        "Secrets Manager / Secret Manager, and pass the Output; never write the value",
        settings={
            "minimumSecretLength": {"type": "integer", "minimum": 8, "default": 24},
            "entropyThreshold": {"type": "number", "minimum": 0, "default": 4.0},
        },
        check=_no_literal_secrets,
    ),
]
