"""MonitoringCredentials: the password of the PostgreSQL monitoring role, in Secrets Manager.

The database exporter logs in to the RDS primary as a role of its own that holds `pg_monitor`
(statistics, nothing else). As for the application role (WorkloadSecrets), Pulumi generates
the password and stores it; the role itself is created inside PostgreSQL once by an operator
with that password (no cloud API reaches inside the database; the README's runbook reads it
from here). External Secrets copies it into the monitoring namespace.

The secret is encrypted with a customer key of its own, so reading it takes a grant on that
key as well as on the secret: the platform store's identity gets both from the caller
(`secret_arn`, `key_arn`), nothing else does.
"""

import re
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws._context import AwsContext
from components.aws._kms import customer_key

# Secrets Manager names: letters, digits and /_+=.@- (at most 512); the platform's are lowercase paths.
SECRET_NAME = re.compile(r"^[a-z0-9][a-z0-9/_.-]{0,510}[a-z0-9]$")
# As long as WorkloadSecrets keeps a deleted URL: the longest Secrets Manager allows.
RECOVERY_WINDOW_DAYS = 30


@dataclass
class MonitoringCredentialsArgs:
    """Inputs of MonitoringCredentials. Defaults: protected, 40 alphanumerics."""

    secret_name: str
    """Required: the Secrets Manager name of the password, under the platform's prefix (e.g.
    `heal7-prod/monitoring/postgres-exporter`), so the platform store's identity may read it by
    name; the ExternalSecret names it."""
    description: str = "Password of the PostgreSQL monitoring role (pg_monitor); External Secrets syncs it"
    """The secret's description in Secrets Manager. Default the monitoring role's; another database role
    (the backup job's, pg_read_all_data) names itself."""
    password_length: int = 40
    """Length of the generated password, in characters (letters and digits). Default 40 (~238 bits,
    as the application role's): alphanumerics, because the runbook passes it to psql's
    `\\getenv` and libpq URLs without escaping."""
    protect: bool = True
    """`protect` the secret and its key (a deleted password stops the exporter's next login). Default true."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the key and the secret. Default none (the provider's default tags still apply)."""


class MonitoringCredentials(pulumi.ComponentResource):
    secret_name: str
    """The name an ExternalSecret's remoteRef.key names."""
    secret_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    """The customer key encrypting the secret (its readers need kms:Decrypt on it, through Secrets Manager)."""
    password: pulumi.Output[str]
    """The password itself, marked secret (never exported in clear)."""
    version: aws.secretsmanager.SecretVersion
    """The version holding the value: a reader waits for it, so a first sync finds it."""

    def __init__(self, name: str, args: MonitoringCredentialsArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(name, args)
        super().__init__("platform:aws:MonitoringCredentials", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = customer_key(
            name,
            context=AwsContext.of(self),
            description=f"Encrypts the database monitoring role's password of {name} in Secrets Manager",
            parent=self,
            protect=args.protect,
            tags=args.tags,
        )
        password = random.RandomPassword(
            f"{name}-password",
            length=args.password_length,
            special=False,
            min_lower=1,
            min_upper=1,
            min_numeric=1,
            opts=child,
        )
        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            # A fixed name: the ExternalSecret names it, the readers' policy its prefix.
            name=args.secret_name,
            description=args.description,
            kms_key_id=key.arn,
            recovery_window_in_days=RECOVERY_WINDOW_DAYS,
            tags={**args.tags, "Name": args.secret_name},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.version = aws.secretsmanager.SecretVersion(
            f"{name}-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(password.result),
            opts=child,
        )
        self.secret_name = args.secret_name
        self.secret_arn = secret.arn
        self.key_arn = key.arn
        self.password = pulumi.Output.secret(password.result)
        self.register_outputs({"secret_name": self.secret_name, "secret_arn": self.secret_arn, "key_arn": self.key_arn})


def _validate(name: str, args: MonitoringCredentialsArgs) -> None:
    """Raise before anything registers when the name could not be stored or the password is weak."""
    problems = []
    if not SECRET_NAME.match(args.secret_name) or "//" in args.secret_name:
        problems.append(
            f"secret_name must be a lowercase Secrets Manager path (letters, digits, /_.-), got {args.secret_name!r}"
        )
    if not 32 <= args.password_length <= 128:
        # At least 32 alphanumerics (~190 bits); more than 128 adds nothing but length.
        problems.append(f"password_length must be 32-128 characters, got {args.password_length}")
    if problems:
        raise ValueError(f"MonitoringCredentials {name}: " + "; ".join(problems))
