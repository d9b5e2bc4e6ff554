"""DatabaseBackups: the RDS primary's nightly logical dump to the backup bucket and the weekly drill
that proves the newest one restores (EKS only: RDS and the bucket's IRSA roles are AWS's).

Both run as CronJobs in a namespace of their own (Pod Security restricted, default-deny
NetworkPolicies: DNS, PostgreSQL to the private subnets, HTTPS to S3 and STS; nothing inbound):

- `postgres-dump` at 02:00 Asia/Seoul, the email-platform ops guide's schedule ("0 2 * * *", 2 a.m.).
  `timeZone` because the controller's clock is UTC on EKS, which would make it 11:00 in Seoul, the
  platform's busy hours. `pg_dump --format=custom` over TLS (verify-full against the RDS root CA)
  as `<database>_backup`, a role holding `pg_read_all_data` (PostgreSQL 14 and later) and nothing
  else; its password is generated in Secrets Manager (MonitoringCredentials) and copied by External
  Secrets. The dump streams to `s3://<bucket>/postgres/<database>/<UTC timestamp>.dump` with
  `<...>.dump.sha256` beside it, under the bucket's write-only, create-only IRSA role.
- `postgres-restore-drill` weekly: with a read-only IRSA role it fetches the newest dump, verifies
  its checksum, restores it into a throwaway PostgreSQL server in the same pod (same major as RDS)
  and runs sanity queries. No RDS instance is created; the cost is the pod's requests (1.35 vCPU,
  ~1.5 GiB and `drill_scratch_gib` of node disk) for the drill's duration, on nodes already paid for.

The result is each CronJob's last successful run, which kube-state-metrics exports
(`kube_cronjob_status_last_successful_time`); platform-data.rules alerts when it is too old.
Job pods carry no Istio sidecar: a proxy would keep a finished Job's pod running.
"""

from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_kubernetes as kubernetes

from components.aws.backup_bucket import POSTGRES_PREFIX
from components.kubernetes import _backup_specs as specs
from components.kubernetes._app_specs import RDS_CA_FILE
from components.kubernetes._charts import pod_security_labels
from components.kubernetes._external_secrets_models import API_VERSION as EXTERNAL_SECRETS_API
from components.kubernetes._external_secrets_models import ExternalSecretSpec, SecretKeyRef
from components.kubernetes._network_policies import deny_all_but_dns
from components.kubernetes.data_store_exporters import PG_IDENTIFIER

DUMP = "postgres-dump"
DRILL = "postgres-restore-drill"
PASSWORD_SECRET = "postgres-dump-credentials"
PASSWORD_KEY = "password"
CA_CONFIGMAP = "rds-ca"
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
# A cron field list: five space-separated fields (the API server checks the rest).
_CRON_FIELDS = 5


@dataclass
class DatabaseBackupsArgs:
    """Inputs of DatabaseBackups. Defaults: 02:00 daily dump, Sunday 06:00 drill, Asia/Seoul."""

    host: pulumi.Input[str]
    """Required: the RDS primary's address (its certificate names it)."""
    port: pulumi.Input[int]
    """Required: its TCP port (RdsPrimary.port, 5432)."""
    database: str
    """Required: the database to dump (a lowercase PostgreSQL identifier)."""
    user: str
    """Required: the dump role (`<database>_backup`, pg_read_all_data), created by hand (runbook)."""
    password_remote_key: pulumi.Input[str]
    """Required: the Secrets Manager name of its password (MonitoringCredentials.secret_name)."""
    ca_certificate: pulumi.Input[str]
    """Required: PEM of the RDS root CA the server's certificate chains to."""
    engine_major_version: int
    """Required: RDS's PostgreSQL major; pg_dump, pg_restore and the drill's server use the same."""
    bucket_name: pulumi.Input[str]
    """Required: BackupBucket.bucket_name."""
    writer_role_arn: pulumi.Input[str]
    """Required: the dump's IRSA role (write-only), trusting `namespace`/`dump_service_account`."""
    reader_role_arn: pulumi.Input[str]
    """Required: the drill's IRSA role (read-only on postgres/), trusting `namespace`/`drill_service_account`."""
    region: pulumi.Input[str]
    """Required: the bucket's AWS region (the CLI's endpoints and STS)."""
    secret_store_name: pulumi.Input[str]
    """Required: the ClusterSecretStore that reads the password and serves `namespace`."""
    database_cidrs: list[str]
    """Required: where RDS lives (the private subnets' CIDRs): the only PostgreSQL egress allowed."""
    namespace: str = "backups"
    """The namespace this component creates. Default `backups`."""
    dump_service_account: str = DUMP
    """The dump's service account (the writer role's trusted subject). Default `postgres-dump`."""
    drill_service_account: str = DRILL
    """The drill's service account (the reader role's trusted subject). Default `postgres-restore-drill`."""
    dump_schedule: str = "0 2 * * *"
    """Cron schedule of the dump in `time_zone`. Default 02:00 daily (the email-platform ops guide's)."""
    drill_schedule: str = "0 6 * * 0"
    """Cron schedule of the drill. Default Sundays 06:00: after that night's dump's deadline (04:00), so it
    restores the dump of the same night."""
    time_zone: str = "Asia/Seoul"
    """IANA zone of both schedules. Default Asia/Seoul, the platform's users' (the region is Seoul)."""
    starting_deadline_seconds: int = 3600
    """How late after a missed schedule (controller down) a run may still start, in seconds. Default 3600."""
    dump_timeout_seconds: int = 2 * 3600
    """activeDeadlineSeconds of a dump Job, all attempts, in seconds. Default 7200 (2 h): a day's dump is
    done by 04:00, which PostgreSQLDumpMissing's 26 hours assume."""
    drill_timeout_seconds: int = 4 * 3600
    """activeDeadlineSeconds of a drill Job, in seconds. Default 14400 (4 h)."""
    backoff_limit: int = 2
    """Retries of a failed pod per Job, in pods (each a fresh pod and upload). Default 2."""
    successful_history: int = 3
    """Successful runs kept per CronJob (with their pods' logs), in Jobs. Default 3."""
    failed_history: int = 3
    """Failed runs kept per CronJob, for their logs, in Jobs. Default 3."""
    part_size_mib: int = 64
    """Multipart part size, in MiB (S3: 5 MiB minimum, 10,000 parts, so 625 GiB of dump at 64). Default 64."""
    drill_scratch_gib: int = 10
    """The drill's emptyDir for the dump and the restored database (node disk), in GiB. Default 10."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What must exist first: the External Secrets store and the password's secret version. Default none."""
    labels: dict[str, str] = field(default_factory=dict)
    """Labels on every object. Default none."""


class DatabaseBackups(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    cronjobs: list[str]
    """The CronJobs' names (the `cronjob` label of their kube-state-metrics series)."""

    def __init__(self, name: str, args: DatabaseBackupsArgs, opts: pulumi.ResourceOptions | None = None):
        postgres_image = _validate(name, args)
        super().__init__("platform:kubernetes:DatabaseBackups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {**args.labels, "app.kubernetes.io/part-of": "database-backups"}

        namespace = kubernetes.core.v1.Namespace(
            f"{name}-namespace",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=args.namespace, labels={**labels, **pod_security_labels("restricted")}
            ),
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        def metadata(object_name: str, **extra: Any) -> kubernetes.meta.v1.ObjectMetaArgs:
            return kubernetes.meta.v1.ObjectMetaArgs(name=object_name, namespace=args.namespace, labels=labels, **extra)

        for policy, spec in network_policies(args.database_cidrs).items():
            kubernetes.networking.v1.NetworkPolicy(
                f"{name}-{policy}", metadata=metadata(policy), spec=cast(Any, spec), opts=in_namespace
            )
        accounts = {
            role: kubernetes.core.v1.ServiceAccount(
                f"{name}-{role}-account",
                metadata=metadata(account, annotations={ROLE_ARN_ANNOTATION: role_arn}),
                automount_service_account_token=False,
                opts=in_namespace,
            )
            for role, account, role_arn in (
                ("dump", args.dump_service_account, args.writer_role_arn),
                ("drill", args.drill_service_account, args.reader_role_arn),
            )
        }
        password = kubernetes.apiextensions.CustomResource(
            f"{name}-credentials",
            api_version=EXTERNAL_SECRETS_API,
            kind="ExternalSecret",
            metadata=metadata(PASSWORD_SECRET),
            spec=pulumi.Output.all(args.secret_store_name, args.password_remote_key).apply(
                lambda values: ExternalSecretSpec(
                    store_name=str(values[0]),
                    target_secret=PASSWORD_SECRET,
                    data=(SecretKeyRef(secret_key=PASSWORD_KEY, remote_key=str(values[1])),),
                ).manifest()
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.after]),
        )
        # The RDS root is a public certificate, not a secret.
        ca = kubernetes.core.v1.ConfigMap(
            f"{name}-rds-ca",
            metadata=metadata(CA_CONFIGMAP),
            data={RDS_CA_FILE: args.ca_certificate},
            opts=in_namespace,
        )
        prefix = f"{POSTGRES_PREFIX}{args.database}"

        def cronjob(role: str, job: str, schedule: str, timeout: int, pod: pulumi.Input[Any], needs: list) -> None:
            kubernetes.batch.v1.CronJob(
                f"{name}-{role}",
                metadata=metadata(job),
                spec=cast(Any, pulumi.Output.from_input(pod)).apply(
                    lambda pod_spec: {
                        "schedule": schedule,
                        "timeZone": args.time_zone,
                        # A run still going when the next is due is not doubled (the dump would compete
                        # with itself for RDS's I/O; the drill for node disk).
                        "concurrencyPolicy": "Forbid",
                        "startingDeadlineSeconds": args.starting_deadline_seconds,
                        "successfulJobsHistoryLimit": args.successful_history,
                        "failedJobsHistoryLimit": args.failed_history,
                        "jobTemplate": {
                            "metadata": {"labels": labels},
                            "spec": specs.job_spec(
                                pod_spec,
                                name=job,
                                timeout_seconds=timeout,
                                backoff_limit=args.backoff_limit,
                                labels=labels,
                            ),
                        },
                    }
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, accounts[role], *needs]),
            )

        dump_pod = pulumi.Output.all(args.host, args.port, args.bucket_name, args.region).apply(
            lambda values: specs.dump_pod(
                postgres_image=postgres_image,
                service_account=args.dump_service_account,
                host=str(values[0]),
                port=int(values[1]),
                database=args.database,
                user=args.user,
                password_secret=PASSWORD_SECRET,
                password_key=PASSWORD_KEY,
                ca_configmap=CA_CONFIGMAP,
                ca_file=RDS_CA_FILE,
                bucket=str(values[2]),
                prefix=prefix,
                region=str(values[3]),
                part_mib=args.part_size_mib,
            )
        )
        drill_pod = pulumi.Output.all(args.bucket_name, args.region).apply(
            lambda values: specs.drill_pod(
                postgres_image=postgres_image,
                service_account=args.drill_service_account,
                bucket=str(values[0]),
                prefix=prefix,
                region=str(values[1]),
                scratch_gib=args.drill_scratch_gib,
            )
        )
        cronjob("dump", DUMP, args.dump_schedule, args.dump_timeout_seconds, dump_pod, [password, ca])
        cronjob("drill", DRILL, args.drill_schedule, args.drill_timeout_seconds, drill_pod, [])

        self.namespace = namespace.metadata.name
        self.cronjobs = [DUMP, DRILL]
        self.register_outputs({"namespace": self.namespace, "cronjobs": self.cronjobs})


def network_policies(database_cidrs: list[str]) -> dict[str, dict[str, Any]]:
    """The namespace's NetworkPolicy specs by name: deny everything, then DNS to kube-system's
    resolver, PostgreSQL to RDS's subnets and HTTPS out of the VPC (S3 and STS have public
    addresses only: no VPC endpoint, so through the NAT gateways). Nothing may connect in."""
    private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    return {
        **deny_all_but_dns(),
        "allow-postgres": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": DUMP}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": cidr}} for cidr in database_cidrs],
                    "ports": [{"protocol": "TCP", "port": 5432}],
                }
            ],
        },
        # HTTPS anywhere but private addresses: S3's and STS's ranges are AWS's public ones (they
        # change; AWS publishes them in ip-ranges.json), and no in-cluster or VPC service is reachable.
        "allow-https-to-aws": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": private}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                }
            ],
        },
    }


def _validate(name: str, args: DatabaseBackupsArgs) -> str:
    """The PostgreSQL image for the major, or an error before anything registers."""
    problems = []
    if not PG_IDENTIFIER.match(args.database):
        problems.append(f"database must be a lowercase PostgreSQL identifier, got {args.database!r}")
    if not PG_IDENTIFIER.match(args.user) or args.user.startswith(("pg_", "rds")):
        problems.append(f"user must be a lowercase PostgreSQL identifier (not pg_* or rds*), got {args.user!r}")
    if args.engine_major_version not in specs.POSTGRES_IMAGES:
        problems.append(
            f"engine_major_version {args.engine_major_version} has no pinned PostgreSQL image "
            f"(pg_dump must match RDS's major; pinned: {sorted(specs.POSTGRES_IMAGES)})"
        )
    for field_name in ("dump_schedule", "drill_schedule"):
        if len(getattr(args, field_name).split()) != _CRON_FIELDS:
            problems.append(f"{field_name} must be a five-field cron expression, got {getattr(args, field_name)!r}")
    if not 5 <= args.part_size_mib <= 5120:
        problems.append(f"part_size_mib must be 5-5120 (S3's part sizes), got {args.part_size_mib}")
    if min(args.dump_timeout_seconds, args.drill_timeout_seconds, args.starting_deadline_seconds) < 60:
        problems.append("timeouts and the starting deadline must be at least 60 seconds")
    if args.backoff_limit < 0 or min(args.successful_history, args.failed_history) < 1:
        problems.append("backoff_limit must be >= 0 and the history limits >= 1 (a run's logs are kept)")
    if args.drill_scratch_gib < 1:
        problems.append(f"drill_scratch_gib must be at least 1, got {args.drill_scratch_gib}")
    if not args.database_cidrs:
        problems.append("database_cidrs must name RDS's subnets")
    if problems:
        raise ValueError(f"DatabaseBackups {name}: " + "; ".join(problems))
    return specs.POSTGRES_IMAGES[args.engine_major_version]
