"""How the stacks wire monitoring and logging into both clusters: each cluster's rules cover the
workloads it runs and SLOs only for the public ones; prometheus-adapter runs on both, the data
stores' exporters on EKS beside them, pointed at the real endpoints with the generated monitoring
credential; the ELK stack runs on both, sized by tier; the email example's workloads get the email
alerts, the dashboard and the metric annotations; bad monitoring config is refused by key.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config.tiers import TIER_DEFAULTS, deep_merge
from tests.conftest import assert_rejected_before_any_resource
from tests.test_delivery import CHART, _cluster
from tools.synth import SynthResult, read_stack_config, synth

RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
EXAMPLE = Path("examples/email-platform/stack.yaml")


def _groups(result: SynthResult, stack: str, cluster: str, rule: str) -> list[dict[str, Any]]:
    return result.one(RULE, f"{_cluster(stack, cluster)}-monitoring-rules-{rule}").inputs["spec"]["groups"]


def _alerting_workloads(groups: list[dict[str, Any]]) -> set[str]:
    return {
        rule["labels"]["service"]
        for group in groups
        for rule in group["rules"]
        if rule.get("alert") == "BackendServiceDown"
    }


@pytest.fixture(scope="module")
def email_prod() -> SynthResult:
    return synth("prod", deep_merge(read_stack_config("prod"), yaml.safe_load(EXAMPLE.read_text())))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_clusters_rules_cover_the_workloads_it_runs_and_slos_its_public_ones(synthed, stack):
    result = synthed(stack)
    config = read_stack_config(stack)
    workloads = config["platform:workloads"]
    routed = {
        route["service"].split("/")[1]
        for routes in config["platform:kubernetes"]["ingress"]["routes"].values()
        for route in routes
    }
    for cluster in ("eks", "gke"):
        placed = {name for name, workload in workloads.items() if cluster in workload["placement"]}
        documents = _groups(result, stack, cluster, "document-alerts")
        assert [group["name"] for group in documents] == ["heal7-alerts", "email-platform.rules", "platform-data.rules"]
        # The Cloud SQL replica's replication alerts and the backups' (their CronJobs run on EKS only;
        # on GKE no series match), whatever workloads the cluster runs.
        assert [rule["alert"] for rule in documents[2]["rules"]] == [
            "PostgreSQLReplicationSlotInactive",
            "PostgreSQLReplicationLagHigh",
            "PostgreSQLReplicationSlotRetainingWal",
            "PostgreSQLDumpMissing",
            "PostgreSQLRestoreDrillFailing",
        ]
        assert _alerting_workloads(documents) == placed
        slo = _groups(result, stack, cluster, "slo")
        public = placed & routed
        assert {group["name"] for group in slo} == {
            f"slo-{name}-{objective}" for name in public for objective in ("availability", "latency")
        }
        # No email-queue alert without an email workload.
        alerts = {rule.get("alert") for group in documents for rule in group["rules"]}
        assert not alerts & {"EmailQueueSizeHigh", "EmailDeliveryRateLow", "EmailBounceRateHigh"}
    # saju-engine runs on EKS only (its high-CPU pool): GKE's Prometheus never expects it.
    assert "heal7-saju-engine" not in _alerting_workloads(_groups(result, stack, "gke", "document-alerts"))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_adapter_runs_on_both_clusters_and_the_exporters_beside_the_data_stores(synthed, stack):
    result = synthed(stack)
    for cluster in ("eks", "gke"):
        adapter = result.one(CHART, f"{_cluster(stack, cluster)}-metrics-adapter-chart").inputs
        assert adapter["chart"] == "prometheus-adapter" and adapter["namespace"] == "monitoring"
        (rule,) = adapter["values"]["rules"]["custom"]
        assert rule["name"]["as"] == "requests_per_second"
    exporters = {c.inputs["chart"]: c for c in result.of_type(CHART) if c.name.startswith(_cluster(stack, "eks"))}
    assert {"prometheus-postgres-exporter", "prometheus-redis-exporter"} <= set(exporters)
    gke_charts = {c.inputs["chart"] for c in result.of_type(CHART) if c.name.startswith(_cluster(stack, "gke"))}
    assert not gke_charts & {"prometheus-postgres-exporter", "prometheus-redis-exporter"}
    # The postgres exporter reads the generated monitoring password from the platform store.
    secret = result.one("aws:secretsmanager/secret:Secret", f"heal7-{stack}-monitoring-credentials-secret")
    assert secret.inputs["name"] == f"heal7-{stack}/monitoring/postgres-exporter"
    password = next(
        r
        for r in result.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if r.name.startswith(f"{_cluster(stack, 'eks')}-exporters") and "postgres" in r.name
    )
    assert password.inputs["spec"]["secretStoreRef"]["name"] == "platform-secrets"
    assert [item["remoteRef"]["key"] for item in password.inputs["spec"]["data"]] == [secret.inputs["name"]]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_log_cluster_runs_on_both_clusters_sized_by_the_tier(synthed, stack):
    result = synthed(stack)
    tier = TIER_DEFAULTS[stack]["platform:logging"]
    for cluster in ("eks", "gke"):
        elasticsearch = result.one(
            "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch",
            f"{_cluster(stack, cluster)}-logging-elasticsearch",
        ).inputs["spec"]
        assert sum(node_set["count"] for node_set in elasticsearch["nodeSets"]) == tier["elasticsearch"]["nodes"]
        (node_set,) = elasticsearch["nodeSets"]
        claim = node_set["volumeClaimTemplates"][0]["spec"]
        assert claim["storageClassName"] == "encrypted"
        assert claim["resources"]["requests"]["storage"] == f"{tier['elasticsearch']['storageGib']}Gi"
        # No Secret the program writes carries data: the users come from External Secrets.
        names = [
            s.name for s in result.of_type("kubernetes:core/v1:Secret") if s.name.startswith(_cluster(stack, cluster))
        ]
        assert names == []


def test_the_email_example_gets_its_alerts_dashboard_and_merged_metrics(email_prod):
    for cluster in ("eks", "gke"):
        documents = _groups(email_prod, "prod", cluster, "document-alerts")
        email_alerts = [
            rule
            for group in documents
            for rule in group["rules"]
            if rule.get("alert") in {"EmailQueueSizeHigh", "EmailDeliveryRateLow", "EmailBounceRateHigh"}
        ]
        assert {rule["alert"] for rule in email_alerts} == {
            "EmailQueueSizeHigh",
            "EmailDeliveryRateLow",
            "EmailBounceRateHigh",
        }
        assert {rule["labels"]["team"] for rule in email_alerts} == {"email"}
        dashboard = email_prod.one(
            "kubernetes:core/v1:ConfigMap", f"{_cluster('prod', cluster)}-monitoring-dashboard-email-platform-overview"
        )
        assert dashboard.inputs["metadata"]["labels"] == {"grafana_dashboard": "1"}
        deployment = email_prod.one(
            "kubernetes:apps/v1:Deployment", f"{_cluster('prod', cluster)}-email-backend-deployment"
        )
        annotations = deployment.inputs["spec"]["template"]["metadata"]["annotations"]
        assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == ("3000", "/metrics")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"platform:workloads": {"heal7-web-main": {"team": "frontend"}}},
            "platform:workloads.heal7-web-main.team: expected a team of platform:monitoring.alerting.teamEmails",
        ),
        (
            {"platform:monitoring": {"emailWorkloads": ["heal7-web-main"]}},
            "platform:monitoring.emailWorkloads[0]: expected a workload of platform:workloads with `metrics`",
        ),
        (
            {"platform:monitoring": {"slo": {"latencyThresholdMs": 400}}},
            "platform:monitoring.slo.latencyThresholdMs: expected a bucket of Istio's request-duration histogram",
        ),
        (
            {"platform:logging": {"elasticsearch": {"nodes": 2}}},
            "platform:logging.elasticsearch.nodes",
        ),
        (
            {"platform:monitoring": {"slo": {"periodDays": 30}}},
            "platform:monitoring.slo.periodDays: expected at most platform:monitoring.prometheus.retentionDays (7)",
        ),
    ],
    ids=[
        "unrouted-team",
        "email-workload-without-metrics",
        "latency-not-a-bucket",
        "even-master-count",
        "slo-past-retention",
    ],
)
def test_bad_monitoring_config_is_refused_by_key(stack_config, change, expected):
    config = deep_merge(stack_config("dev"), change)
    if "platform:logging" in change:
        config["platform:logging"] = deep_merge(TIER_DEFAULTS["dev"]["platform:logging"], change["platform:logging"])
    assert_rejected_before_any_resource("dev", config, expected)
