"""The data stores' exporters and the monitoring role's credential, synthesized alone.

Relationships are followed through the registrations: the exporter's password comes from the
Secret an ExternalSecret writes, which reads the Secrets Manager secret MonitoringCredentials
created (encrypted with its own key, the value a secret); the DSN's `sslrootcert` is the file
the pod mounts from the ConfigMap holding the RDS root; the Redis exporter dials `rediss://`
to the primary endpoint with the AUTH token's secret; each ServiceMonitor gives the contract's
`job` and `service` labels and selects the Service its chart renders.
"""

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pulumi
import pulumi_kubernetes as kubernetes
import pytest

from components.aws.monitoring_credentials import MonitoringCredentials, MonitoringCredentialsArgs
from components.kubernetes._app_specs import CA_DIRECTORY, RDS_CA_FILE
from components.kubernetes.data_store_exporters import (
    DataStoreExporters,
    DataStoreExportersArgs,
    PostgresTarget,
    RedisTarget,
)
from stacks.config.certificates import rds_ca_certificate
from tests.kubernetes_validation import validate_builtin
from tools import manifests
from tools.chart_pods import chart_pods
from tools.synth import Registration, Secret, SynthError, SynthResult, synth_component

CHART = "kubernetes:helm.sh/v4:Chart"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CLUSTER = "heal7-test-eks"
NAME = "heal7-test-eks-exporters"
RDS_HOST = "heal7-test-db.c1a2b3c4d5e6.ap-northeast-2.rds.amazonaws.com"
REDIS_HOST = "master.heal7-test-redis-group.abcdef.apn2.cache.amazonaws.com"
TOKEN_ARN = "arn:aws:secretsmanager:ap-northeast-2:111122223333:secret:heal7-test-redis-auth-token-AbCdEf"
PASSWORD_NAME = "heal7-test/monitoring/postgres-exporter"
RDS_CA = rds_ca_certificate("ap-northeast-2")


def _build(user: str = "heal7_monitor", statement_statistics: bool = True, secret_name: str = PASSWORD_NAME):
    def build(p):
        provider = kubernetes.Provider(f"{CLUSTER}-k8s", kubeconfig="{}")
        credentials = MonitoringCredentials(
            "heal7-test-monitoring-credentials",
            MonitoringCredentialsArgs(secret_name=secret_name, protect=False),
            pulumi.ResourceOptions(providers=[p.aws, p.random]),
        )
        DataStoreExporters(
            NAME,
            DataStoreExportersArgs(
                namespace="monitoring",
                secret_store_name="platform-secrets",
                postgres=PostgresTarget(
                    host=RDS_HOST,
                    port=5432,
                    database="heal7",
                    user=user,
                    password_remote_key=credentials.secret_name,
                    ca_certificate=RDS_CA or "",
                ),
                redis=RedisTarget(host=REDIS_HOST, port=6379, auth_token_remote_key=TOKEN_ARN),
                statement_statistics=statement_statistics,
                after=[credentials.version],
            ),
            pulumi.ResourceOptions(provider=provider),
        )
        return {"password": credentials.password, "keyArn": credentials.key_arn, "secretArn": credentials.secret_arn}

    return build


@pytest.fixture(scope="module")
def result() -> SynthResult:
    return synth_component(_build())


def _chart(result: SynthResult, store: str) -> Registration:
    return result.one(CHART, f"{NAME}-{store}-chart")


def _external_secret(result: SynthResult, target: str) -> dict[str, Any]:
    (found,) = [r for r in result.of_type(EXTERNAL_SECRET) if r.inputs["metadata"]["name"] == target]
    return found.inputs


def _synced_key(result: SynthResult, secret_ref: dict[str, str]) -> str:
    """The store's key behind a chart's secretKeyRef: the ExternalSecret writing that Secret and key."""
    spec = _external_secret(result, secret_ref["name"])["spec"]
    assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "platform-secrets"}
    assert spec["target"]["name"] == secret_ref["name"]
    (item,) = [d for d in spec["data"] if d["secretKey"] == secret_ref["key"]]
    return item["remoteRef"]["key"]


def _relabeled(relabelings: list[dict[str, Any]]) -> dict[str, str]:
    """Target label -> value of a list of `replace` relabelings with fixed replacements."""
    assert all(r["action"] == "replace" and "sourceLabels" not in r for r in relabelings)
    return {r["targetLabel"]: r["replacement"] for r in relabelings}


def test_the_postgres_password_is_the_generated_one_synced_through_an_external_secret(result):
    datasource = _chart(result, "postgres").inputs["values"]["config"]["datasource"]
    # DATA_SOURCE_PASS comes from the Secret the ExternalSecret writes (the chart renders no
    # Secret of its own when passwordSecret is set), never from a value.
    assert "password" not in datasource and "passwordFile" not in datasource
    remote = _synced_key(result, datasource["passwordSecret"])
    secret = result.one("aws:secretsmanager/secret:Secret", "heal7-test-monitoring-credentials-secret")
    assert remote == secret.inputs["name"] == PASSWORD_NAME
    assert datasource["user"] == "heal7_monitor"


def test_the_password_is_encrypted_with_its_own_key_and_kept_secret(result):
    component = result.one("platform:aws:MonitoringCredentials")
    (key,) = [r for r in result.children_of(component) if r.type == "aws:kms/key:Key"]
    secret = result.one("aws:secretsmanager/secret:Secret")
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"] == result.outputs["keyArn"]
    assert secret.inputs["recoveryWindowInDays"] == 30
    assert key.inputs["enableKeyRotation"] is True
    password = result.one("random:index/randomPassword:RandomPassword")
    assert (password.inputs["length"], password.inputs["special"]) == (40, False)
    (version,) = [r for r in result.children_of(component) if r.type.endswith("secretVersion:SecretVersion")]
    assert version.inputs["secretId"] == secret.id
    assert isinstance(version.inputs["secretString"], Secret)
    assert version.inputs["secretString"].value == password.outputs["result"]
    assert "password" in result.secret_outputs and result.outputs["password"] == password.outputs["result"]


def test_no_kubernetes_object_or_value_carries_the_password(result):
    password = result.one("random:index/randomPassword:RandomPassword").outputs["result"]
    assert len(password) == 40
    kubernetes_inputs = [r.inputs for r in result.resources if r.type.startswith("kubernetes:")]
    assert kubernetes_inputs and password not in json.dumps(kubernetes_inputs, default=str)
    redis_values = _chart(result, "redis").inputs["values"]
    assert redis_values["auth"].get("redisPassword", "") == ""


def test_the_dsn_verifies_the_rds_certificate_against_the_mounted_root(result):
    values = _chart(result, "postgres").inputs["values"]
    datasource = values["config"]["datasource"]
    assert datasource["sslmode"] == "verify-full"
    # DATA_SOURCE_URI as the chart's helper prints it, joined with user and password the way
    # the exporter does (exporter/datasource.go): a libpq URI.
    uri = (
        f"postgresql://{datasource['user']}:pw@{datasource['host']}:{int(datasource['port'])}/"
        f"{datasource['database']}?sslmode={datasource['sslmode']}&{datasource['extraParams']}"
    )
    parsed = urlsplit(uri)
    assert (parsed.hostname, parsed.port, parsed.path) == (RDS_HOST, 5432, "/heal7")
    query = parse_qs(parsed.query)
    assert query["sslmode"] == ["verify-full"]
    (root_cert,) = query["sslrootcert"]
    # That file is in the directory the pod mounts read-only from the CA ConfigMap, and holds
    # the RDS root.
    directory, file_name = root_cert.rsplit("/", 1)
    (mount,) = [m for m in values["extraVolumeMounts"] if m["mountPath"] == directory == CA_DIRECTORY]
    assert mount["readOnly"] is True
    (volume,) = [v for v in values["extraVolumes"] if v["name"] == mount["name"]]
    config_map = result.one(CONFIG_MAP, f"{NAME}-postgres-ca").inputs
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert RDS_CA is not None and config_map["data"] == {file_name: RDS_CA} and file_name == RDS_CA_FILE


def test_redis_is_scraped_over_tls_with_the_auth_token_and_verification(result):
    values = _chart(result, "redis").inputs["values"]
    address = urlsplit(values["redisAddress"])
    assert (address.scheme, address.hostname, address.port) == ("rediss", REDIS_HOST, 6379)
    assert address.username is None and address.password is None
    assert values["auth"]["enabled"] is True
    assert _synced_key(result, values["auth"]["secret"]) == TOKEN_ARN
    # Verification is on: the chart's skip switch is off and no env turns it on.
    assert values["redisTlsConfig"]["skipTlsVerification"] is False
    assert "REDIS_EXPORTER_SKIP_TLS_VERIFICATION" not in json.dumps(values)
    assert values["extraArgs"] == {"config-command": "-"}


def test_the_postgres_service_monitor_labels_the_contract(result):
    monitor = _chart(result, "postgres").inputs["values"]["serviceMonitor"]
    assert monitor["enabled"] is True
    assert _relabeled(monitor["relabelings"]) == {
        "job": "postgres-exporter",
        "service": "postgresql",
        "instance": f"{RDS_HOST}:5432",
    }


def test_the_redis_service_monitor_selects_the_chart_service_and_labels_the_contract(result):
    chart = _chart(result, "redis")
    assert chart.inputs["values"]["serviceMonitor"] == {"enabled": False}
    monitor = result.one(SERVICE_MONITOR, f"{NAME}-redis-monitor")
    assert monitor.inputs["metadata"] == {"name": "redis-exporter", "namespace": "monitoring"}
    spec = monitor.inputs["spec"]
    # The chart's Service: selector labels name the chart and the release; port name its default.
    assert spec["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": chart.inputs["chart"],
        "app.kubernetes.io/instance": chart.inputs["name"],
    }
    assert spec["namespaceSelector"] == {"matchNames": [chart.inputs["namespace"]]}
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] == "redis-exporter"
    assert _relabeled(endpoint["relabelings"]) == {
        "job": "redis-exporter",
        "service": "redis",
        "instance": f"{REDIS_HOST}:6379",
    }
    assert chart.urn in monitor.dependencies


def test_charts_are_pinned_and_wait_for_their_credentials(result):
    expected = {"postgres": ("prometheus-postgres-exporter", "8.2.0"), "redis": ("prometheus-redis-exporter", "6.29.0")}
    version = result.one("aws:secretsmanager/secretVersion:SecretVersion")
    for store, (chart_name, chart_version) in expected.items():
        chart = _chart(result, store)
        assert (chart.inputs["chart"], chart.inputs["version"], chart.inputs["namespace"]) == (
            chart_name,
            chart_version,
            "monitoring",
        )
        assert chart.inputs["repositoryOpts"]["repo"] == "https://prometheus-community.github.io/helm-charts"
        secret = _external_secret(result, chart.inputs["values"]["fullnameOverride"] + "-credentials")
        secret_urn = next(r.urn for r in result.of_type(EXTERNAL_SECRET) if r.inputs is secret)
        assert secret_urn in chart.dependencies and version.urn in chart.dependencies
    assert result.one(CONFIG_MAP).urn in _chart(result, "postgres").dependencies


def test_pods_are_restricted_requested_out_of_the_mesh_and_counted_by_the_plan(result):
    for store, uid in (("postgres", 1001), ("redis", 59000)):
        values = _chart(result, store).inputs["values"]
        pod, container = values["podSecurityContext"], values["securityContext"]
        assert (pod["runAsNonRoot"], pod["runAsUser"], pod["seccompProfile"]) == (
            True,
            uid,
            {"type": "RuntimeDefault"},
        )
        assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}
        assert container["readOnlyRootFilesystem"] is True and container["privileged"] is False
        assert values["rbac"] == {"create": False} and values["replicaCount"] == 1
        labels = values["podLabels"] if store == "postgres" else values["labels"]
        assert labels == {"sidecar.istio.io/inject": "false"}
    charts = manifests.collect(result)[CLUSTER].charts
    pods = {pod.name: pod for chart in charts for pod in chart_pods(chart)}
    assert {name: (p.replicas, p.requests.cpu_m, p.requests.memory_mib) for name, p in pods.items()} == {
        "postgres-exporter": (1, 10, 64),
        "redis-exporter": (1, 10, 32),
    }


def test_built_in_objects_validate_strictly(result):
    cluster = manifests.collect(result)[CLUSTER]
    builtin = [o.manifest for o in cluster.objects if o.manifest["kind"] == "ConfigMap"]
    assert len(builtin) == 1
    report = validate_builtin(builtin, cluster.version)
    assert report.errors == [] and len(report.validated) == 1


@pytest.mark.parametrize(("enabled", "args"), [(True, ["--collector.stat_statements"]), (False, [])])
def test_statement_statistics_switch_the_collector(enabled, args):
    result = synth_component(_build(statement_statistics=enabled))
    assert _chart(result, "postgres").inputs["values"]["config"]["extraArgs"] == args


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"user": "pg_monitor"}, "DataStoreExporters heal7-test-eks-exporters: postgres.user must be"),
        ({"user": "Monitor"}, "postgres.user must be a lowercase PostgreSQL identifier"),
        (
            {"secret_name": "heal7-test//monitoring"},
            "MonitoringCredentials heal7-test-monitoring-credentials: secret_name",
        ),
    ],
)
def test_bad_names_are_refused_before_anything_registers(changes, message):
    with pytest.raises(SynthError, match=re.escape(message)) as caught:
        synth_component(_build(**changes))
    assert caught.value.result.of_type(CHART) == [] and caught.value.result.of_type(EXTERNAL_SECRET) == []
