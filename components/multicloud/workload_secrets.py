"""WorkloadSecrets: the workloads' connection URLs, in both clouds' secret stores.

The workloads on EKS read AWS Secrets Manager, those on GKE read GCP Secret Manager (each
cluster's External Secrets store), but they reach the same data stores: the RDS primary and
ElastiCache in AWS, and on GCP also the Cloud SQL replica. So one component builds every
URL from the stores' real endpoints and writes each into the store of the cloud that reads
it:

- PostgreSQL: `postgresql://<user>:<password>@<host>:<port>/<database>?sslmode=...`, as the
  application user (never the master user, whose password RDS alone manages). Its password
  is generated here; the role itself is created once inside PostgreSQL by an operator
  (no cloud API reaches inside the database; the README's runbook).
- Redis: `rediss://:<AUTH token>@<primary endpoint>:<port>`: TLS (`rediss`), the AUTH token
  ElastiCache was created with.

Values never appear in code or config: they are built from resource outputs and marked
secret. Secrets Manager entries are encrypted with a customer key of their own, which only
the readers granted on it can use; Secret Manager entries use Google-managed encryption, as
the platform's other Secret Manager secret (the Cloud SQL replication password) does.
"""

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_random as random

from components.aws._context import AwsContext
from components.aws._kms import customer_key

# What a key may be: it ends Secrets Manager names and Secret Manager ids (the stricter:
# letters, digits, '-' and '_').
KEY = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
PG_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Secrets Manager keeps a deleted secret this long before it is gone (7-30 days): the
# longest, so a mistaken delete can be restored. Its name stays taken meanwhile.
RECOVERY_WINDOW_DAYS = 30


@dataclass(frozen=True)
class PostgresConnection:
    """A PostgreSQL server the workloads connect to as the application user."""

    host: pulumi.Input[str]
    """Required: the server's DNS name or IP address (the RDS address, the replica's private IP)."""
    port: pulumi.Input[int]
    """Required: its TCP port (5432)."""
    database: str
    """Required: the database name."""
    sslmode: Literal["verify-full", "verify-ca"]
    """Required: libpq's TLS mode. verify-full checks the CA and the host name (RDS's certificate
    names its endpoint); verify-ca checks the CA only, for a server whose certificate does not
    name the address the client dials (a Cloud SQL per-instance CA's certificate holds no IP)."""
    root_cert: str
    """Required: the path in the pod of the CA file the server's certificate chains to (libpq's
    `sslrootcert`; neither the RDS root nor a Cloud SQL instance CA is in a system trust store)."""


@dataclass(frozen=True)
class RedisConnection:
    """A Redis endpoint with TLS in transit and an AUTH token."""

    host: pulumi.Input[str]
    """Required: the primary endpoint's DNS name (writes go to the primary)."""
    port: pulumi.Input[int]
    """Required: its TCP port (6379)."""
    auth_token: pulumi.Input[str]
    """Required: the AUTH token, a secret output (never a literal)."""


Connection = PostgresConnection | RedisConnection


@dataclass
class WorkloadSecretsArgs:
    """Inputs of WorkloadSecrets. Defaults: protected, nothing stored unless listed."""

    aws_name_prefix: str
    """Required: Secrets Manager names start with it (`<prefix>/workloads/`); the readers' IAM
    policy names exactly this prefix."""
    gcp_id_prefix: str
    """Required: Secret Manager ids start with it (`<prefix>-workloads-`); the readers' IAM
    condition names exactly this prefix."""
    database_user: str
    """Required: the PostgreSQL application role the URLs log in as (not pg_*, rds*, or the master user)."""
    aws: dict[str, Connection] = field(default_factory=dict)
    """Key -> connection, stored in Secrets Manager as `<aws_name_prefix><key>`. Default none."""
    gcp: dict[str, Connection] = field(default_factory=dict)
    """Key -> connection, stored in Secret Manager as `<gcp_id_prefix><key>`. Default none."""
    protect: bool = True
    """`protect` the secrets and the key (a deleted URL stops every pod's next sync). Default true."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the AWS resources. Default none (the provider's default tags still apply)."""
    labels: dict[str, str] = field(default_factory=dict)
    """Labels on the GCP secrets. Default none (the provider's default labels still apply)."""


def postgres_url(user: str, password: str, host: str, port: int, database: str, sslmode: str, root_cert: str) -> str:
    """A libpq connection URI; user and password percent-encoded (RFC 3986 userinfo)."""
    return (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
        f"{quote(database, safe='')}?sslmode={sslmode}&sslrootcert={quote(root_cert)}"
    )


def redis_url(host: str, port: int, auth_token: str) -> str:
    """A Redis URI with TLS (`rediss`) and the AUTH token as the password (no user name: the
    token authenticates Redis's default user)."""
    return f"rediss://:{quote(auth_token, safe='')}@{host}:{port}"


class WorkloadSecrets(pulumi.ComponentResource):
    aws_remote_keys: dict[str, str]
    """Key -> the Secrets Manager name an ExternalSecret's remoteRef.key names."""
    gcp_remote_keys: dict[str, str]
    """Key -> the Secret Manager id an ExternalSecret's remoteRef.key names."""
    aws_secret_arns: dict[str, pulumi.Output[str]]
    aws_versions: dict[str, aws.secretsmanager.SecretVersion]
    """Key -> the version holding the value (a reader waits for it, so a first read finds it)."""
    gcp_versions: dict[str, gcp.secretmanager.SecretVersion]
    aws_key_arn: pulumi.Output[str] | None
    """The customer key encrypting the Secrets Manager entries (readers need kms:Decrypt on it);
    None when nothing is stored in AWS."""
    gcp_secret_names: dict[str, pulumi.Output[str]]
    """Key -> `projects/<number>/secrets/<id>`, the name IAM conditions see."""
    database_password: pulumi.Output[str] | None
    """The application user's password (secret), None without a PostgreSQL connection."""

    def __init__(self, name: str, args: WorkloadSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(name, args)
        super().__init__("platform:multicloud:WorkloadSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        connections = [*args.aws.values(), *args.gcp.values()]
        password: random.RandomPassword | None = None
        if any(isinstance(c, PostgresConnection) for c in connections):
            # Alphanumerics only: the runbook pastes it into CREATE ROLE ... PASSWORD '...' and a
            # shell, and it sits in a URL, where quotes, '$', '@' or '/' would each need escaping.
            # 40 characters from 62 is ~238 bits, as the replication password.
            password = random.RandomPassword(
                f"{name}-database-password",
                length=40,
                special=False,
                min_lower=1,
                min_upper=1,
                min_numeric=1,
                opts=child,
            )

        def value(connection: Connection) -> pulumi.Output[str]:
            if isinstance(connection, PostgresConnection):
                assert password is not None
                url = pulumi.Output.all(password.result, connection.host, connection.port).apply(
                    lambda v, c=connection: postgres_url(
                        args.database_user, v[0], v[1], v[2], c.database, c.sslmode, c.root_cert
                    )
                )
            else:
                url = pulumi.Output.all(connection.auth_token, connection.host, connection.port).apply(
                    lambda v: redis_url(v[1], v[2], v[0])
                )
            return pulumi.Output.secret(url)

        self.aws_remote_keys = {key: f"{args.aws_name_prefix}{key}" for key in args.aws}
        self.aws_secret_arns = {}
        self.aws_versions = {}
        self.aws_key_arn = None
        if args.aws:
            key = customer_key(
                name,
                context=AwsContext.of(self),
                description=f"Encrypts the workloads' connection URLs of {name} in Secrets Manager",
                parent=self,
                protect=args.protect,
                tags=args.tags,
            )
            self.aws_key_arn = key.arn
            for entry, connection in args.aws.items():
                secret = aws.secretsmanager.Secret(
                    f"{name}-aws-{entry}",
                    # A fixed name: the ExternalSecrets name it, and the readers' policy its prefix.
                    name=self.aws_remote_keys[entry],
                    description=f"{entry} of the workloads; External Secrets syncs it into the clusters",
                    kms_key_id=key.arn,
                    recovery_window_in_days=RECOVERY_WINDOW_DAYS,
                    tags={**args.tags, "Name": self.aws_remote_keys[entry]},
                    opts=stateful,
                )
                self.aws_versions[entry] = aws.secretsmanager.SecretVersion(
                    f"{name}-aws-{entry}-value", secret_id=secret.id, secret_string=value(connection), opts=child
                )
                self.aws_secret_arns[entry] = secret.arn

        self.gcp_remote_keys = {key: f"{args.gcp_id_prefix}{key}" for key in args.gcp}
        self.gcp_secret_names = {}
        self.gcp_versions = {}
        for entry, connection in args.gcp.items():
            secret = gcp.secretmanager.Secret(
                f"{name}-gcp-{entry}",
                secret_id=self.gcp_remote_keys[entry],
                replication=gcp.secretmanager.SecretReplicationArgs(auto=gcp.secretmanager.SecretReplicationAutoArgs()),
                labels={**args.labels, "purpose": "workload-connection"},
                deletion_protection=args.protect,
                # A fixed id: a replacement must delete the old secret before creating it.
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect, delete_before_replace=True),
            )
            self.gcp_versions[entry] = gcp.secretmanager.SecretVersion(
                f"{name}-gcp-{entry}-value", secret=secret.id, secret_data=value(connection), opts=child
            )
            self.gcp_secret_names[entry] = secret.name

        self.database_password = pulumi.Output.secret(password.result) if password is not None else None
        self.register_outputs(
            {
                "aws_remote_keys": self.aws_remote_keys,
                "gcp_remote_keys": self.gcp_remote_keys,
                "aws_secret_arns": self.aws_secret_arns,
                "aws_key_arn": self.aws_key_arn,
                "gcp_secret_names": self.gcp_secret_names,
            }
        )


def _validate(name: str, args: WorkloadSecretsArgs) -> None:
    """Raise before anything registers when a name could not be stored or logged in as."""
    problems = []
    for cloud, entries in (("aws", args.aws), ("gcp", args.gcp)):
        bad = sorted(key for key in entries if not KEY.match(key))
        if bad:
            problems.append(f"{cloud} keys must be lowercase letters, digits and '-' (max 63), got {bad}")
    if not args.aws and not args.gcp:
        problems.append("no connections given; there is nothing to store")
    if not PG_IDENTIFIER.match(args.database_user) or args.database_user.startswith(("pg_", "rds")):
        problems.append(
            "database_user must be a lowercase PostgreSQL identifier (max 63, not pg_* or rds*), "
            f"got {args.database_user!r}"
        )
    if not args.aws_name_prefix.endswith("/"):
        problems.append(f"aws_name_prefix must end in '/', got {args.aws_name_prefix!r}")
    if not args.gcp_id_prefix.endswith("-"):
        problems.append(f"gcp_id_prefix must end in '-', got {args.gcp_id_prefix!r}")
    if problems:
        raise ValueError(f"WorkloadSecrets {name}: " + "; ".join(problems))
