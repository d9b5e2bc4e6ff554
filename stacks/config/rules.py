"""Cross-field rules: the checks that span several keys of a validated stack config.

Field rules live on the models; these run once every field is valid, and return every
violation (not just the first) as `<key path>: <what was expected>, got <value>`.
"""

import ipaddress

from components.aws._context import role_key
from components.gcp.cloudsql_replica import MAX_SOURCE_HOST_LENGTH
from components.kubernetes._backup_specs import POSTGRES_IMAGES
from components.kubernetes.observability.slo_rules import ISTIO_DURATION_BUCKETS_MS
from stacks.config.aws_models import SubnetPlanError
from stacks.config.certificates import CERTS_DIR, rds_ca_certificate, rds_ca_path
from stacks.config.cloudflare_models import check_region_of, front_door_problems
from stacks.config.image_models import image_problems
from stacks.config.ingress_models import ingress_problems
from stacks.config.models import PlatformConfig
from stacks.config.names import ARTIFACT_REGISTRY_ID_MAX, prefix_problems
from stacks.config.workload_models import workload_problems

MIN_AVAILABILITY_ZONES = 2


def replica_source_hostname(config: PlatformConfig) -> str:
    """The short DNS alias of the RDS primary in the stack's Cloudflare zone, the name the
    Cloud SQL replica connects to (the RDS endpoint itself exceeds Cloud SQL's limit)."""
    return f"{config.resource_prefix}-postgres.{config.cloudflare.zone}"


def cross_field_problems(config: PlatformConfig) -> list[str]:
    """Rules that span several keys. Returns every violation, not just the first."""
    problems: list[str] = prefix_problems(config.name, config.stack)
    problems += _monitoring_problems(config)
    azs = config.aws.availability_zones
    if len(azs) < MIN_AVAILABILITY_ZONES:
        # EKS refuses a control plane with subnets in fewer than two AZs, and prod must
        # survive the loss of one zone.
        problems.append(
            f"platform:aws.availabilityZones: expected at least {MIN_AVAILABILITY_ZONES} AZs "
            f"(EKS and zone-loss tolerance need them), got {len(azs)}"
        )
    for index, zone in enumerate(azs):
        if not zone.startswith(config.aws_region):
            problems.append(
                f"platform:aws.availabilityZones[{index}]: expected an AZ of aws:region {config.aws_region}, got {zone!r}"
            )
    if config.environment == "prod":
        if config.aws.network.nat_gateways != "perAz":
            problems.append(
                "platform:aws.network.natGateways: prod needs 'perAz' so a zone loss keeps egress, got 'single'"
            )
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
    if config.aws.rds.engine_major_version not in POSTGRES_IMAGES:
        # The nightly dump's pg_dump and the restore drill's server must be RDS's major version.
        problems.append(
            f"platform:aws.rds.engineMajorVersion: expected a major the backup jobs have a pinned PostgreSQL "
            f"image for ({', '.join(map(str, sorted(POSTGRES_IMAGES)))}), got {config.aws.rds.engine_major_version}"
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
    if rds_ca_certificate(config.aws_region) is None:
        path = rds_ca_path(config.aws_region).relative_to(CERTS_DIR.parent)
        problems.append(
            f"aws:region: expected the RDS root CA of {config.aws_region} in {path} (the Cloud SQL replica "
            f"verifies RDS with it); copy the 'Root CA RSA2048 G1' certificate from "
            f"https://truststore.pki.rds.amazonaws.com/{config.aws_region}/{config.aws_region}-bundle.pem"
        )
    try:
        config.aws.subnet_plan()
    except SubnetPlanError as error:
        problems.append(_subnet_plan_problem(config, error))
    source_host = replica_source_hostname(config)
    if len(source_host) > MAX_SOURCE_HOST_LENGTH:
        problems.append(
            f"platform:cloudflare.zone: the Cloud SQL replica reaches RDS as {source_host!r} (platform:name, "
            f"the stack and the zone), expected at most {MAX_SOURCE_HOST_LENGTH} characters (Cloud SQL's limit on "
            f"a source host), got {len(source_host)}"
        )
    problems.extend(_overlap_problems(config))
    problems.extend(_access_entry_problems(config))
    problems.extend(_composed_name_problems(config))
    problems.extend(front_door_problems(config.cloudflare, aws_origin_count=len(azs)))
    problems.extend(workload_problems(config.workloads, set(config.kubernetes.namespaces)))
    problems.extend(image_problems(config.images, config.workloads, list(config.aws.ecr.repositories)))
    placements = {f"{w.namespace}/{name}": [str(c) for c in w.placement] for name, w in config.workloads.items()}
    problems.extend(ingress_problems(config.kubernetes.ingress, placements, config.cloudflare))
    for key, region in (("aws:region", config.aws_region), ("gcp:region", config.gcp_region)):
        if check_region_of(region) is None:
            problems.append(
                f"{key}: no Cloudflare health-check region is known near {region!r} (CHECK_REGION_BY_PREFIX in stacks/config/cloudflare_models.py)"
            )
    return problems


def _subnet_plan_problem(config: PlatformConfig, error: SubnetPlanError) -> str:
    """Blame a key the stack file wrote: a subnet prefix left at its default is not the
    user's doing, so the VPC range it does not fit is named instead (with the default)."""
    network = config.aws.network
    key = error.key
    if key.startswith("network.") and key.endswith("SubnetPrefix"):
        field = "private_subnet_prefix" if key == "network.privateSubnetPrefix" else "public_subnet_prefix"
        if field not in network.model_fields_set:
            default = getattr(network, field)
            return (
                f"platform:aws.network.vpcCidr: expected a range the subnet layout fits ({error}; "
                f"{key.removeprefix('network.')} is its default {default}), got {network.vpc_cidr}"
            )
    return f"platform:aws.{key}: {error}"


def _composed_name_problems(config: PlatformConfig) -> list[str]:
    """Names built from the resource prefix and a configured part must fit their service.

    (ECR names, `<prefix>/<repository>`, fit by construction: a 200-character repository
    name after a prefix of at most MAX_PREFIX_LENGTH stays under ECR's 256.)"""
    prefix = config.resource_prefix
    problems = []
    repository_id = f"{prefix}-{config.gcp.artifact_registry.repository_id}"
    if len(repository_id) > ARTIFACT_REGISTRY_ID_MAX:
        problems.append(
            f"platform:gcp.artifactRegistry.repositoryId: expected the Artifact Registry repository id "
            f"('<name>-<stack>-<repositoryId>') in at most {ARTIFACT_REGISTRY_ID_MAX} characters, "
            f"got {repository_id!r} ({len(repository_id)})"
        )
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


def _access_entry_problems(config: PlatformConfig) -> list[str]:
    """EKS allows one access entry per principal and cluster: an admin, a viewer and a
    deployer must be different roles, and a deployer role deploys into one namespace only.

    Roles are compared by name without case (IAM ignores case; a name and its ARN are one
    role). A role in two viewer groups is fine: it gets one entry viewing both groups'
    namespaces (KubernetesConfig.viewer_namespaces_by_role). A deployer's service account
    likewise deploys into one namespace only.
    """
    kubernetes = config.kubernetes
    holders: dict[str, tuple[str, str]] = {}  # role name -> (key, what it holds)

    def claim(role: str, key: str, holds: str, *, same_kind_ok: bool = False) -> str | None:
        name = role_key(role)
        if name in holders and not (same_kind_ok and holders[name][1] == holds):
            other_key, other_holds = holders[name]
            return (
                f"{key}: expected a role with no other access entry on EKS (one per principal and cluster), "
                f"got {role!r}, which {other_key} already makes {other_holds}"
            )
        holders.setdefault(name, (key, holds))
        return None

    claims = [
        (role, f"platform:aws.eks.adminRoles[{index}]", "cluster admin", False)
        for index, role in enumerate(config.aws.eks.admin_roles)
    ]
    claims += [
        (role, f"platform:kubernetes.viewers[{index}].awsRoles[{position}]", "a viewer", True)
        for index, viewer in enumerate(kubernetes.viewers)
        for position, role in enumerate(viewer.aws_roles)
    ]
    claims += [
        (
            deployer.aws_role,
            f"platform:kubernetes.deployers[{index}].awsRole",
            f"the deployer of {deployer.namespace}",
            False,
        )
        for index, deployer in enumerate(kubernetes.deployers)
    ]
    problems = [problem for role, key, holds, ok in claims if (problem := claim(role, key, holds, same_kind_ok=ok))]
    accounts: dict[str, str] = {}
    for index, deployer in enumerate(kubernetes.deployers):
        key = f"platform:kubernetes.deployers[{index}].googleServiceAccount"
        account = deployer.google_service_account
        if account in accounts:
            problems.append(
                f"{key}: expected a service account that deploys into one namespace only, got {account!r}, "
                f"which {accounts[account]} already names"
            )
        accounts.setdefault(account, key)
    return problems


def _monitoring_problems(config: PlatformConfig) -> list[str]:
    """Every workload's team has an Alertmanager route (an alert labelled with a team nobody reads
    would fall to the default receiver unnoticed); the email alerts' workloads export metrics; the
    latency SLO's threshold is a bucket boundary of Istio's histogram (anything else would be
    read as the next boundary up)."""
    monitoring = config.monitoring
    teams = monitoring.alerting.team_emails
    problems = [
        f"platform:workloads.{name}.team: expected a team of platform:monitoring.alerting.teamEmails "
        f"({', '.join(sorted(teams))}), got {workload.team!r}"
        for name, workload in config.workloads.items()
        if workload.team not in teams
    ]
    if monitoring.email_workloads and "email" not in teams:
        problems.append(
            "platform:monitoring.alerting.teamEmails: expected an address for team `email` (the email-queue "
            "alerts of platform:monitoring.emailWorkloads)"
        )
    for index, name in enumerate(monitoring.email_workloads):
        workload = config.workloads.get(name)
        if workload is None or workload.metrics is None:
            problems.append(
                f"platform:monitoring.emailWorkloads[{index}]: expected a workload of platform:workloads with "
                f"`metrics` (it exports the email metrics), got {name!r}"
            )
    if monitoring.prometheus.retention_days < monitoring.slo.period_days:
        # The budget's 30-day average would silently cover only the retained days.
        problems.append(
            f"platform:monitoring.slo.periodDays: expected at most platform:monitoring.prometheus.retentionDays "
            f"({monitoring.prometheus.retention_days}), the samples the error budget is computed from, got "
            f"{monitoring.slo.period_days}"
        )
    threshold = monitoring.slo.latency_threshold_ms
    if threshold not in ISTIO_DURATION_BUCKETS_MS:
        problems.append(
            f"platform:monitoring.slo.latencyThresholdMs: expected a bucket of Istio's request-duration "
            f"histogram ({', '.join(str(b) for b in ISTIO_DURATION_BUCKETS_MS)}), got {threshold}"
        )
    return problems
