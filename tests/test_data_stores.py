"""RdsPrimary and ElastiCacheRedis under mocks: the HEAL7 design's shape, encryption, access."""

import json

import pytest

from tests.conftest import STACKS, assert_rejected_before_any_resource
from tools.synth import Secret, synth

# Each stack file's platform:gcp.network.podsCidr: GKE pods reach RDS and Redis across the
# VPN from their pod IPs (tests/test_data_path.py follows that path end to end).
GKE_PODS = {"dev": "10.112.0.0/14", "staging": "10.124.0.0/14", "prod": "10.132.0.0/14"}

INSTANCE = "aws:rds/instance:Instance"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
KEY = "aws:kms/key:Key"


def _children(result, component, type_token):
    return [r for r in result.children_of(component) if r.type == type_token]


# -- RDS -------------------------------------------------------------------------------


def test_prod_database_has_the_heal7_shape(synthed):
    result = synthed("prod")
    db = result.one(INSTANCE)
    assert db.inputs["identifier"] == "heal7-prod-postgres"
    assert (db.inputs["engine"], db.inputs["engineVersion"]) == ("postgres", "16")
    assert db.inputs["instanceClass"] == "db.r6g.xlarge"
    assert (db.inputs["storageType"], db.inputs["allocatedStorage"], db.inputs["maxAllocatedStorage"]) == (
        "gp3",
        1000,
        5000,
    )
    assert (db.inputs["backupWindow"], db.inputs["maintenanceWindow"]) == ("03:00-04:00", "sun:04:00-sun:05:00")
    assert db.inputs["backupRetentionPeriod"] == 7
    assert (db.inputs["dbName"], db.inputs["username"]) == ("heal7", "heal7_admin")
    assert db.inputs["monitoringInterval"] == 60


@pytest.mark.parametrize("stack", STACKS)
def test_database_is_encrypted_private_and_keyless(synthed, stack):
    result = synthed(stack)
    component = result.one("platform:aws:RdsPrimary")
    db = result.one(INSTANCE)
    (key,) = [k for k in _children(result, component, KEY) if "region" not in k.inputs]
    assert key.inputs["enableKeyRotation"] is True
    assert db.inputs["storageEncrypted"] is True and db.inputs["kmsKeyId"] == key.outputs["arn"]
    # The password is RDS-managed in Secrets Manager: no password input exists at all.
    assert db.inputs["manageMasterUserPassword"] is True and "password" not in db.inputs
    assert db.inputs["masterUserSecretKmsKeyId"] == key.outputs["arn"]
    assert db.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert db.inputs["publiclyAccessible"] is False
    assert db.inputs["performanceInsightsEnabled"] is True
    assert db.inputs["performanceInsightsKmsKeyId"] == key.outputs["arn"]
    assert db.inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    log_groups = {g.inputs["name"]: g for g in _children(result, component, "aws:cloudwatch/logGroup:LogGroup")}
    assert set(log_groups) == {f"/aws/rds/instance/heal7-{stack}-postgres/{log}" for log in ("postgresql", "upgrade")}
    assert all(g.urn in db.dependencies and g.inputs["kmsKeyId"] == key.outputs["arn"] for g in log_groups.values())
    role = result.one("aws:iam/role:Role", f"heal7-{stack}-postgres-monitoring-role")
    assert db.inputs["monitoringRoleArn"] == role.outputs["arn"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "monitoring.rds.amazonaws.com"
    }
    subnet_group = _children(result, component, "aws:rds/subnetGroup:SubnetGroup")[0]
    assert subnet_group.inputs["subnetIds"] == result.outputs["privateSubnetIds"]
    assert db.inputs["dbSubnetGroupName"] == subnet_group.outputs["name"]
    assert result.outputs["rdsMasterSecretArn"] == db.outputs["masterUserSecrets"][0]["secretArn"]
    assert result.outputs["rdsEndpoint"] == db.outputs["endpoint"] and result.outputs["rdsPort"] == 5432


@pytest.mark.parametrize(("stack", "protected"), [("dev", False), ("staging", False), ("prod", True)])
def test_database_resilience_follows_the_tier(synthed, stack, protected):
    db = synthed(stack).one(INSTANCE)
    assert db.inputs["multiAz"] is (stack != "dev")
    assert db.inputs["deletionProtection"] is protected and db.protect is protected
    assert db.inputs["skipFinalSnapshot"] is False
    suffix = synthed(stack).one("random:index/randomId:RandomId", f"heal7-{stack}-postgres-final-snapshot")
    assert db.inputs["finalSnapshotIdentifier"] == f"heal7-{stack}-postgres-final-{suffix.outputs['hex']}"
    assert db.inputs["deleteAutomatedBackups"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_database_never_enrols_in_paid_extended_support(synthed, stack):
    # The API's default is open-source-rds-extended-support: billed once the major leaves
    # standard support. The EKS cluster refuses the same (upgrade policy STANDARD).
    db = synthed(stack).one(INSTANCE)
    assert db.inputs["engineLifecycleSupport"] == "open-source-rds-extended-support-disabled"


# dev/staging apply changes when made; prod's database waits for its maintenance window,
# while prod's Redis applies at once (ElastiCache refuses a log-delivery change otherwise).
APPLY_IMMEDIATELY = {"dev": (True, True), "staging": (True, True), "prod": (False, True)}


@pytest.mark.parametrize("stack", STACKS)
def test_when_changes_apply_is_an_explicit_tier_choice(synthed, stack):
    result = synthed(stack)
    database, cache = result.one(INSTANCE), result.one(REPLICATION_GROUP)
    # Set explicitly on both (an absent input would be the provider's silent false).
    assert (database.inputs["applyImmediately"], cache.inputs["applyImmediately"]) == APPLY_IMMEDIATELY[stack]


@pytest.mark.parametrize("override", [True, False])
def test_a_stack_file_can_override_when_changes_apply(stack_config, override):
    config = stack_config("prod")
    config["platform:aws"]["rds"]["applyImmediately"] = override
    config["platform:aws"].setdefault("redis", {})["applyImmediately"] = not override
    result = synth("prod", config)
    assert result.one(INSTANCE).inputs["applyImmediately"] is override
    assert result.one(REPLICATION_GROUP).inputs["applyImmediately"] is (not override)


@pytest.mark.parametrize("section", ["rds", "redis"])
def test_apply_immediately_takes_only_true_or_false(stack_config, section):
    config = stack_config("dev")
    config["platform:aws"].setdefault(section, {})["applyImmediately"] = "yes"
    assert_rejected_before_any_resource(
        "dev", config, f"platform:aws.{section}.applyImmediately: expected true or false, got 'yes'"
    )


def test_prod_replicates_automated_backups_to_tokyo_with_a_local_key(synthed):
    result = synthed("prod")
    db = result.one(INSTANCE)
    replication = result.one("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
    replica_key = result.one(KEY, "heal7-prod-postgres-backup-replica-key")
    assert replication.inputs["sourceDbInstanceArn"] == db.outputs["arn"]
    assert replication.inputs["region"] == "ap-northeast-1" and replica_key.inputs["region"] == "ap-northeast-1"
    assert replication.inputs["kmsKeyId"] == replica_key.outputs["arn"]
    assert replica_key.outputs["arn"].startswith("arn:aws:kms:ap-northeast-1:")
    assert replication.inputs["retentionPeriod"] == 7
    assert replication.protect and replica_key.protect


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_lower_tiers_do_not_replicate_backups(synthed, stack):
    assert (
        synthed(stack).of_type("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication") == []
    )


def test_parameter_group_carries_the_heal7_tuning_in_rds_units(synthed):
    result = synthed("prod")
    group = result.one("aws:rds/parameterGroup:ParameterGroup")
    assert group.inputs["family"] == "postgres16"
    assert result.one(INSTANCE).inputs["parameterGroupName"] == group.outputs["name"]
    parameters = {p["name"]: (p["value"], p["applyMethod"]) for p in group.inputs["parameters"]}
    assert parameters == {
        # Static parameters wait for a reboot; RDS rejects "immediate" for them.
        "max_connections": ("200", "pending-reboot"),
        "shared_buffers": ("524288", "pending-reboot"),  # 4GB in 8 kB pages
        "shared_preload_libraries": ("pg_stat_statements,pglogical", "pending-reboot"),
        "rds.logical_replication": ("1", "pending-reboot"),
        "effective_cache_size": ("1572864", "immediate"),  # 12GB in 8 kB pages
        "work_mem": ("16384", "immediate"),  # 16MB in kB
        "maintenance_work_mem": ("524288", "immediate"),  # 512MB in kB
        "rds.force_ssl": ("1", "immediate"),
    }


@pytest.mark.parametrize("stack", STACKS)
def test_database_admits_only_the_nodes_the_cloud_sql_range_and_the_gke_pods(synthed, stack):
    result = synthed(stack)
    component = result.one("platform:aws:RdsPrimary")
    sg = result.one("aws:ec2/securityGroup:SecurityGroup", f"heal7-{stack}-postgres-sg")
    assert result.one(INSTANCE).inputs["vpcSecurityGroupIds"] == [sg.id]
    assert "ingress" not in sg.inputs and "egress" not in sg.inputs  # rules are separate resources
    rules = _children(result, component, INGRESS)
    sources = sorted((r.inputs.get("referencedSecurityGroupId") or r.inputs["cidrIpv4"]) for r in rules)
    cloud_sql = {"dev": "10.118.0.0/20", "staging": "10.122.0.0/20", "prod": "10.138.0.0/20"}[stack]
    # GKE pods write across the VPN from their pod IPs (tests/test_data_path.py follows the path).
    assert sources == sorted([result.outputs["eksNodeSecurityGroupId"], cloud_sql, GKE_PODS[stack]])
    for rule in rules:
        assert rule.inputs["securityGroupId"] == sg.id
        assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 5432, 5432)
        assert rule.inputs["description"]


# -- Redis -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "node_type", "nodes", "snapshots"),
    [("dev", "cache.t4g.small", 2, 1), ("staging", "cache.r6g.large", 2, 3), ("prod", "cache.r6g.large", 3, 7)],
)
def test_redis_replication_group_shape(synthed, stack, node_type, nodes, snapshots):
    result = synthed(stack)
    group = result.one(REPLICATION_GROUP)
    assert (group.inputs["engine"], group.inputs["engineVersion"]) == ("redis", "7.1")
    assert group.inputs["nodeType"] == node_type and group.inputs["numCacheClusters"] == nodes
    assert group.inputs["automaticFailoverEnabled"] is True and group.inputs["multiAzEnabled"] is True
    zones = {
        "dev": ["ap-northeast-2a", "ap-northeast-2c"],
        "staging": ["ap-northeast-2a", "ap-northeast-2c"],
        "prod": ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"],
    }[stack]
    assert set(group.inputs["preferredCacheClusterAzs"]) == set(zones)  # a copy in every AZ
    assert group.inputs["snapshotRetentionLimit"] == snapshots
    assert (group.inputs["snapshotWindow"], group.inputs["maintenanceWindow"]) == ("02:00-03:00", "sun:05:00-sun:06:00")
    assert group.protect is (stack == "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_redis_is_encrypted_both_ways_with_a_generated_token(synthed, stack):
    result = synthed(stack)
    component = result.one("platform:aws:ElastiCacheRedis")
    group = result.one(REPLICATION_GROUP)
    (key,) = _children(result, component, KEY)
    assert group.inputs["atRestEncryptionEnabled"] is True and group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert group.inputs["transitEncryptionEnabled"] is True
    password = result.one("random:index/randomPassword:RandomPassword", f"heal7-{stack}-redis-auth-token")
    assert password.inputs["length"] == 64 and password.inputs["special"] is False
    token = group.inputs["authToken"]
    # The token is the generated password, and it reaches the engine marked secret.
    assert isinstance(token, Secret) and token.value == password.outputs["result"]
    assert "authToken" in group.additional_secret_outputs
    secret = result.one("aws:secretsmanager/secret:Secret", f"heal7-{stack}-redis-auth-token")
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"]
    (version,) = _children(result, component, "aws:secretsmanager/secretVersion:SecretVersion")
    assert version.inputs["secretId"] == secret.id
    assert isinstance(version.inputs["secretString"], Secret)
    assert version.inputs["secretString"].value == password.outputs["result"]
    assert result.outputs["redisAuthTokenSecretArn"] == secret.outputs["arn"]


@pytest.mark.parametrize("stack", STACKS)
def test_redis_parameters_slow_log_and_network(synthed, stack):
    result = synthed(stack)
    component = result.one("platform:aws:ElastiCacheRedis")
    group = result.one(REPLICATION_GROUP)
    params = result.one("aws:elasticache/parameterGroup:ParameterGroup")
    assert params.inputs["family"] == "redis7" and group.inputs["parameterGroupName"] == params.outputs["name"]
    assert {p["name"]: p["value"] for p in params.inputs["parameters"]} == {
        "maxmemory-policy": "allkeys-lru",
        "slowlog-log-slower-than": "10000",
    }
    (slow_log,) = _children(result, component, "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["logDeliveryConfigurations"] == [
        {
            "logType": "slow-log",
            "logFormat": "json",
            "destinationType": "cloudwatch-logs",
            "destination": slow_log.outputs["name"],
        }
    ]
    subnets = result.one("aws:elasticache/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == result.outputs["privateSubnetIds"]
    assert group.inputs["subnetGroupName"] == subnets.outputs["name"]
    sg = result.one("aws:ec2/securityGroup:SecurityGroup", f"heal7-{stack}-redis-sg")
    assert group.inputs["securityGroupIds"] == [sg.id]
    rules = {
        rule.name.removeprefix(f"heal7-{stack}-redis-from-"): rule for rule in _children(result, component, INGRESS)
    }
    # The EKS nodes, and the GKE pods across the VPN (tests/test_data_path.py follows that path).
    assert set(rules) == {"eks-nodes", "gke-pods"}
    assert rules["eks-nodes"].inputs["referencedSecurityGroupId"] == result.outputs["eksNodeSecurityGroupId"]
    assert rules["gke-pods"].inputs["cidrIpv4"] == GKE_PODS[stack]
    for rule in rules.values():
        assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["securityGroupId"]) == (6379, 6379, sg.id)
    assert result.outputs["redisPrimaryEndpoint"] == group.outputs["primaryEndpointAddress"]
    assert result.outputs["redisReaderEndpoint"] == group.outputs["readerEndpointAddress"]
