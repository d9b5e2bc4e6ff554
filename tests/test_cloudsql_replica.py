"""CloudSqlReplica under mocks: replica of the RDS primary, private only, generated credentials."""

import pytest

from components.gcp.cloudsql_replica import MAX_SOURCE_HOST_LENGTH, CloudSqlReplica, CloudSqlReplicaArgs
from tests.conftest import PROJECT_ROOT, STACKS, assert_rejected_before_any_resource
from tools.synth import Secret, synth

SOURCE = "gcp:sql/sourceRepresentationInstance:SourceRepresentationInstance"
INSTANCE = "gcp:sql/databaseInstance:DatabaseInstance"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"


def _replication_secret(result, type_token):
    """The replica's own secret (or its version); the workloads' URLs are Secret Manager secrets too."""
    (found,) = [r for r in result.of_type(type_token) if "-postgres-replica-replication-password" in r.name]
    return found


RDS = "aws:rds/instance:Instance"
PROTECTED = {"dev": False, "staging": False, "prod": True}
TIER_SHAPES = {"dev": "db-custom-1-3840", "staging": "db-custom-2-7680", "prod": "db-custom-4-16384"}


def _settings(result):
    return result.one(INSTANCE).inputs["settings"]


RECORD = "cloudflare:index/dnsRecord:DnsRecord"
ZONES = {"dev": "heal7-dev.com", "staging": "heal7-staging.com", "prod": "heal7.com"}


@pytest.mark.parametrize("stack", STACKS)
def test_source_host_is_a_short_dns_alias_that_follows_the_rds_endpoint(synthed, stack):
    result = synthed(stack)
    source, rds, record = result.one(SOURCE), result.one(RDS), result.one(RECORD)
    # The RDS address itself is longer than Cloud SQL accepts for a source host ...
    assert len(rds.outputs["address"]) > MAX_SOURCE_HOST_LENGTH == 60
    # ... so the replica connects to a CNAME of it, which follows a Multi-AZ failover.
    assert source.inputs["host"] == record.outputs["name"] == f"heal7-{stack}-postgres.{ZONES[stack]}"
    assert len(source.inputs["host"]) <= MAX_SOURCE_HOST_LENGTH
    assert (record.inputs["type"], record.inputs["content"]) == ("CNAME", rds.outputs["address"])
    # DNS-only: PostgreSQL is no HTTP origin; a proxied name would answer with the edge's IPs.
    assert record.inputs["proxied"] is False
    zone_ids = {lb.inputs["zoneId"] for lb in result.of_type("cloudflare:index/loadBalancer:LoadBalancer")}
    assert zone_ids == {record.inputs["zoneId"]}  # the stack's own zone
    assert rds.urn in record.dependencies and record.urn in source.dependencies
    alias = result.one("platform:cloudflare:DnsAlias")
    assert record.parent == alias.urn and record.provider == result.one("pulumi:providers:cloudflare").urn


def _with_zone(config, zone):
    config["platform:cloudflare"]["zone"] = zone
    config["platform:cloudflare"]["loadBalancers"] = {zone: {"pools": ["aws-primary", "gcp-secondary"]}}
    config["platform:cloudflare"]["monitor"] = {"host": zone}
    namespace = "heal7-production"
    config["platform:kubernetes"]["ingress"]["routes"] = {
        zone: [{"pathPrefix": "/", "service": f"{namespace}/heal7-web-main"}]
    }
    return config


def test_a_zone_that_makes_the_source_alias_too_long_is_refused_before_any_resource(stack_config):
    zone = "platform-heal7-production-databases.com"
    # "heal7-prod-postgres." (20) + 39 = 59 characters: within Cloud SQL's 60.
    fits = synth("prod", _with_zone(stack_config("prod"), zone))
    assert fits.one(SOURCE).inputs["host"] == f"heal7-prod-postgres.{zone}"
    # Two characters more (61): refused, naming the zone key and the resulting name.
    assert_rejected_before_any_resource(
        "prod",
        _with_zone(stack_config("prod"), "db" + zone),
        f"platform:cloudflare.zone: the Cloud SQL replica reaches RDS as 'heal7-prod-postgres.db{zone}' "
        "(platform:name, the stack and the zone), expected at most 60 characters (Cloud SQL's limit on a source "
        "host), got 61",
    )


@pytest.mark.parametrize("stack", STACKS)
def test_source_representation_points_at_the_rds_primary(synthed, stack):
    result = synthed(stack)
    source, rds = result.one(SOURCE), result.one(RDS)
    assert source.inputs["port"] == 5432  # the SDK would default to MySQL's 3306
    assert source.inputs["databaseVersion"] == f"POSTGRES_{rds.inputs['engineVersion']}" == "POSTGRES_16"
    assert source.inputs["username"] == "cloudsql_replicator"
    assert source.inputs["region"] == "asia-northeast3"
    # Server-verified TLS: the RDS root CA of the instance's own authority (rds-ca-rsa2048-g1).
    assert rds.inputs["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    pem = source.inputs["caCertificate"]
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n") and pem.rstrip().endswith("-----END CERTIFICATE-----")
    assert "#" not in pem  # the file's provenance comments are not part of the certificate
    assert pem in (PROJECT_ROOT / "certs" / "rds-ap-northeast-2-rsa2048-g1.pem").read_text()


@pytest.mark.parametrize("stack", STACKS)
def test_replica_replicates_from_the_source_representation(synthed, stack):
    result = synthed(stack)
    source, replica = result.one(SOURCE), result.one(INSTANCE)
    assert replica.inputs["masterInstanceName"] == source.outputs["name"]
    assert source.urn in replica.dependencies
    assert replica.inputs["databaseVersion"] == source.inputs["databaseVersion"]
    assert replica.inputs["region"] == source.inputs["region"]
    # PostgreSQL's connection details live on the representation, not on the replica.
    assert "replicaConfiguration" not in replica.inputs
    component = result.one("platform:gcp:CloudSqlReplica")
    assert {r.urn for r in result.children_of(component)} >= {source.urn, replica.urn}


@pytest.mark.parametrize("stack", STACKS)
def test_replica_has_a_private_ip_only_and_needs_tls(synthed, stack):
    result = synthed(stack)
    replica = result.one(INSTANCE)
    ip = replica.inputs["settings"]["ipConfiguration"]
    network = result.one("gcp:compute/network:Network")
    psa_range = result.one("gcp:compute/globalAddress:GlobalAddress", f"heal7-{stack}-gcp-private-services")
    connection = result.one("gcp:servicenetworking/connection:Connection")
    assert ip["ipv4Enabled"] is False and "authorizedNetworks" not in ip
    assert ip["privateNetwork"] == network.id
    assert ip["allocatedIpRange"] == psa_range.outputs["name"]
    assert ip["sslMode"] == "ENCRYPTED_ONLY"
    # The private IP is allocated through the peering, so the peering comes first.
    assert connection.urn in replica.dependencies


def test_prod_replica_has_the_heal7_shape(synthed):
    settings = _settings(synthed("prod"))
    assert settings["tier"] == "db-custom-4-16384"
    # Custom tiers exist only on Enterprise; PostgreSQL 16 would default to Enterprise Plus.
    assert settings["edition"] == "ENTERPRISE"
    assert (settings["diskType"], settings["diskSize"], settings["diskAutoresize"]) == ("PD_SSD", 1000, True)
    assert settings["availabilityType"] == "ZONAL"
    assert settings["insightsConfig"]["queryInsightsEnabled"] is True
    assert settings["insightsConfig"]["recordClientAddress"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_replica_tier_and_disk_follow_the_stack(synthed, stack):
    result = synthed(stack)
    settings = _settings(result)
    assert settings["tier"] == TIER_SHAPES[stack]
    # Auto-resize grows the disk; Pulumi must not try to shrink it back.
    assert result.one(INSTANCE).ignore_changes == ["settings.diskSize"]


@pytest.mark.parametrize("stack", STACKS)
def test_replica_flags_carry_max_connections_and_the_cis_logging_flags(synthed, stack):
    flags = {f["name"]: f["value"] for f in _settings(synthed(stack))["databaseFlags"]}
    assert flags == {
        "max_connections": "200",  # the HEAL7 design's, same pool as the primary
        "log_error_verbosity": "default",
        "log_connections": "on",
        "log_disconnections": "on",
        "log_statement": "ddl",
        "log_min_messages": "warning",
        "log_min_error_statement": "error",
        "log_min_duration_statement": "-1",
        "log_checkpoints": "on",
        "log_lock_waits": "on",
        "log_temp_files": "0",
    }


@pytest.mark.parametrize("stack", STACKS)
def test_replica_has_no_maintenance_window(synthed, stack):
    # Read replicas do not support one: the provider would show a permanent diff or a 400.
    assert "maintenanceWindow" not in _settings(synthed(stack))


@pytest.mark.parametrize("stack", STACKS)
def test_replica_has_no_backups(synthed, stack):
    # Cloud SQL rejects backups and PITR on read replicas; RDS keeps the backups.
    assert "backupConfiguration" not in _settings(synthed(stack))


@pytest.mark.parametrize("stack", STACKS)
def test_deletion_protection_follows_the_tier(synthed, stack):
    result = synthed(stack)
    protected = PROTECTED[stack]
    replica, source, secret = result.one(INSTANCE), result.one(SOURCE), _replication_secret(result, SECRET)
    assert replica.inputs["deletionProtection"] is protected
    assert replica.inputs["settings"]["deletionProtectionEnabled"] is protected
    assert secret.inputs["deletionProtection"] is protected
    assert (replica.protect, source.protect, secret.protect) == (protected, protected, protected)


@pytest.mark.parametrize("stack", STACKS)
def test_replication_password_is_generated_secret_and_stored(synthed, stack):
    result = synthed(stack)
    source, secret, version = (
        result.one(SOURCE),
        _replication_secret(result, SECRET),
        _replication_secret(result, SECRET_VERSION),
    )
    password = result.one(
        "random:index/randomPassword:RandomPassword", f"heal7-{stack}-postgres-replica-replication-password"
    )
    assert password.inputs["special"] is False and password.inputs["length"] == 40
    assert isinstance(source.inputs["password"], Secret)
    assert source.inputs["password"] == version.inputs["secretData"] == Secret(password.outputs["result"])
    assert version.inputs["secret"] == secret.id
    assert secret.inputs["replication"] == {"auto": {}}
    assert secret.inputs["labels"]["purpose"] == "cloudsql-replication"
    assert result.outputs["cloudSqlReplicationSecretId"] == secret.id


@pytest.mark.parametrize("stack", STACKS)
def test_stack_exports_the_replica_and_its_sync_commands(synthed, stack):
    result = synthed(stack)
    replica = result.one(INSTANCE)
    outputs = result.outputs
    assert outputs["cloudSqlReplicaName"] == replica.outputs["name"]
    assert outputs["cloudSqlReplicaConnectionName"] == replica.outputs["connectionName"]
    assert outputs["cloudSqlPrivateIp"] == replica.outputs["privateIpAddress"]
    project = replica.outputs["connectionName"].split(":")[0]
    instance_url = f"https://sqladmin.googleapis.com/v1/projects/{project}/instances/{replica.outputs['name']}"
    for key, method in (
        ("cloudSqlVerifyExternalSyncCommand", "verifyExternalSyncSettings"),
        ("cloudSqlStartExternalSyncCommand", "startExternalSync"),
    ):
        command = outputs[key]
        assert command.startswith("curl ") and command.endswith(f"{instance_url}/{method}")
        assert '"syncMode": "ONLINE"' in command and "gcloud auth print-access-token" in command


# -- constructor validation ----------------------------------------------------------------


def _args(**overrides) -> CloudSqlReplicaArgs:
    values = dict(
        region="asia-northeast3",
        network_id="net",
        psa_range_name="psa",
        private_services_peering=[],
        source_host="db.example",
        source_ca_certificate="pem",
        engine_major_version=16,
        disk_size_gb=100,
    )
    return CloudSqlReplicaArgs(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"engine_major_version": 13}, "engine_major_version must be >= 14, got 13"),
        ({"tier": "db-n1-standard-4"}, "tier must be db-custom-<vCPU>-<MiB> or db-perf-optimized-N-<vCPU>"),
        ({"tier": "db-f1-micro"}, "tier must be"),
        ({"replication_username": "Replicator"}, "replication_username must be a lowercase PostgreSQL identifier"),
        ({"replication_username": "repl-user"}, "replication_username"),
        ({"replication_username": "rds_replicator"}, "not pg_\\* or rds\\*"),
        ({"replication_username": "x" * 64}, "max 63"),
        (
            {"database_flags": {"Max_Connections": "200"}},
            r"database flag names must be lowercase identifiers, got \['Max_Connections'\]",
        ),
        ({"database_flags": {"max connections": "200"}}, "database flag names"),
        ({"region": "Seoul"}, "region must be a GCP region"),
        ({"disk_size_gb": 5}, "disk_size_gb must be >= 10"),
        ({"source_port": 0}, "source_port must be 1-65535"),
        ({"source_host": "x" * 61}, "source_host must be at most 60 characters"),
    ],
)
def test_replica_rejects_bad_args(overrides, message):
    # Validation runs before registration, so nothing reaches the (session's) mock monitor.
    with pytest.raises(ValueError, match=f"CloudSqlReplica x: .*{message}"):
        CloudSqlReplica("x", _args(**overrides))


@pytest.mark.parametrize("tier", ["db-custom-4-16384", "db-custom-1-3840", "db-perf-optimized-N-8"])
def test_replica_accepts_both_tier_families(tier):
    from components.gcp.cloudsql_replica import _validate

    assert _validate("x", _args(tier=tier)) == ("ENTERPRISE_PLUS" if "perf" in tier else "ENTERPRISE")


def test_replica_lists_every_problem_at_once():
    with pytest.raises(ValueError) as error:
        CloudSqlReplica("x", _args(engine_major_version=12, tier="big", replication_username="pg_repl"))
    assert str(error.value).count("; ") == 2
