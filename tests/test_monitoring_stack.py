"""The MonitoringStack on both clusters: kube-prometheus-stack pinned and trusted, Prometheus
sized per tier on the encrypted StorageClass with the cluster's label, Alertmanager and
Grafana credentials from the platform's secret store (never literals), node-exporter alone in
a privileged namespace, and the operator webhook's injected CA ignored.
"""

import pulumi
import pytest

from components.kubernetes import _charts
from components.kubernetes._monitoring_values import ALERTING_GROUPS, REPLACED_ALERTS, UNSCRAPABLE_GROUPS
from components.kubernetes.encrypted_storage import STORAGE_CLASS as ENCRYPTED_STORAGE_CLASS
from components.kubernetes.monitoring_stack import (
    GRAFANA_ADMIN_SECRET,
    NAMESPACE,
    NODE_EXPORTER_NAMESPACE,
    ignore_injected_ca_bundle,
)
from policy.rules.k8s_charts import TRUSTED_REPOSITORIES
from stacks.config.tiers import TIER_DEFAULTS
from tests.test_delivery import CHART, CLUSTERS, _cluster
from tools.synth import SynthResult

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
SECRET_PREFIX = {"eks": "heal7-{stack}/", "gke": "heal7-{stack}-"}


def _values(result: SynthResult, stack: str, cluster: str) -> dict:
    return result.one(CHART, f"{_cluster(stack, cluster)}-monitoring-chart").inputs["values"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_prometheus_is_sized_by_the_tier_on_encrypted_volumes_with_the_clusters_label(synthed, stack):
    result = synthed(stack)
    tier = TIER_DEFAULTS[stack]["platform:monitoring"]["prometheus"]
    highly_available = stack != "dev"
    for cluster in CLUSTERS:
        chart = result.one(CHART, f"{_cluster(stack, cluster)}-monitoring-chart").inputs
        pinned = _charts.KUBE_PROMETHEUS_STACK
        assert (chart["repositoryOpts"]["repo"], chart["chart"], chart["version"]) == (
            pinned.repository,
            "kube-prometheus-stack",
            "88.5.3",
        )
        assert pinned.repository in TRUSTED_REPOSITORIES and chart["namespace"] == NAMESPACE
        spec = chart["values"]["prometheus"]["prometheusSpec"]
        assert spec["externalLabels"] == {"cluster": cluster}
        assert spec["replicas"] == (2 if highly_available else 1)
        # The HEAL7 design's 15 s.
        assert spec["scrapeInterval"] == spec["evaluationInterval"] == "15s"
        assert spec["retention"] == f"{tier['retentionDays']}d"
        claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
        assert claim["storageClassName"] == ENCRYPTED_STORAGE_CLASS
        assert claim["resources"]["requests"]["storage"] == f"{tier['volumeSizeGib']}Gi"
        # Blocks go before the disk fills.
        assert spec["retentionSize"] == f"{tier['volumeSizeGib'] * 85 // 100}GiB"
        assert spec["resources"]["limits"]["memory"] == f"{tier['memoryGib']}Gi"
        zone_spread = spec["topologySpreadConstraints"][0]
        assert zone_spread["topologyKey"] == "topology.kubernetes.io/zone"
        assert zone_spread["whenUnsatisfiable"] == "DoNotSchedule"
        # Every monitor and rule of the cluster, not only the release's.
        for selector in ("rule", "serviceMonitor", "podMonitor", "probe", "scrapeConfig"):
            assert spec[f"{selector}SelectorNilUsesHelmValues"] is False
        alertmanager = chart["values"]["alertmanager"]
        assert alertmanager["alertmanagerSpec"]["replicas"] == (3 if highly_available else 1)
        assert alertmanager["podDisruptionBudget"]["enabled"] is highly_available
        assert alertmanager["alertmanagerSpec"]["storage"]["volumeClaimTemplate"]["spec"]["storageClassName"] == (
            ENCRYPTED_STORAGE_CLASS
        )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_storage_class_is_encrypted_and_binds_in_the_pods_zone(synthed, stack):
    result = synthed(stack)
    for cluster, provisioner in (("eks", "ebs.csi.aws.com"), ("gke", "pd.csi.storage.gke.io")):
        storage = result.one(
            "kubernetes:storage.k8s.io/v1:StorageClass", f"{_cluster(stack, cluster)}-encrypted-storage-class"
        )
        inputs = storage.inputs
        assert inputs["metadata"]["name"] == ENCRYPTED_STORAGE_CLASS
        assert inputs["provisioner"] == provisioner
        assert inputs["volumeBindingMode"] == "WaitForFirstConsumer" and inputs["allowVolumeExpansion"] is True
        if cluster == "eks":
            assert inputs["parameters"]["type"] == "gp3" and inputs["parameters"]["encrypted"] == "true"
        else:
            # Persistent Disks are encrypted at rest always; pd-balanced as the issue asks.
            assert inputs["parameters"] == {"type": "pd-balanced"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_credentials_come_from_the_platforms_store_by_name_never_as_values(synthed, stack):
    result = synthed(stack)
    for cluster in CLUSTERS:
        prefix = SECRET_PREFIX[cluster].format(stack=stack)
        values = _values(result, stack, cluster)
        grafana = values["grafana"]
        assert grafana["admin"] == {
            "existingSecret": GRAFANA_ADMIN_SECRET,
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        }
        assert "adminPassword" not in grafana
        admin = result.one(EXTERNAL_SECRET, f"{_cluster(stack, cluster)}-monitoring-grafana-admin").inputs
        assert admin["metadata"] == {"name": GRAFANA_ADMIN_SECRET, "namespace": NAMESPACE}
        assert admin["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "platform-secrets"}
        assert [(item["secretKey"], item["remoteRef"]) for item in admin["spec"]["data"]] == [
            (key, {"key": f"{prefix}grafana-admin", "property": key}) for key in ("admin-user", "admin-password")
        ]
        receivers = result.one(EXTERNAL_SECRET, f"{_cluster(stack, cluster)}-monitoring-alertmanager-receivers").inputs
        mounted = values["alertmanager"]["alertmanagerSpec"]["secrets"]
        assert mounted == [receivers["metadata"]["name"]] == [receivers["spec"]["target"]["name"]]
        assert {item["remoteRef"]["key"] for item in receivers["spec"]["data"]} == {f"{prefix}alertmanager-receivers"}
        assert {item["secretKey"] for item in receivers["spec"]["data"]} == {
            "smtp-password",
            "slack-webhook-url",
            "pagerduty-routing-key",
        }
        # The platform store serves the monitoring namespace (and cert-manager, and on EKS the
        # backup job's), no workload's.
        store = result.one(
            "kubernetes:external-secrets.io/v1:ClusterSecretStore", f"{_cluster(stack, cluster)}-external-secrets-store"
        ).inputs
        backups = ["backups"] if cluster == "eks" else []
        assert store["spec"]["conditions"] == [{"namespaces": ["cert-manager", NAMESPACE, *backups]}]


def test_node_exporter_alone_is_privileged_and_every_other_monitoring_pod_restricted(synthed):
    result = synthed("prod")
    for cluster in CLUSTERS:
        prefix = _cluster("prod", cluster)
        monitoring = result.one("kubernetes:core/v1:Namespace", f"{prefix}-monitoring-namespace").inputs["metadata"]
        assert monitoring["name"] == NAMESPACE
        assert monitoring["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        node = result.one("kubernetes:core/v1:Namespace", f"{prefix}-monitoring-node-exporter-namespace").inputs
        assert node["metadata"]["name"] == NODE_EXPORTER_NAMESPACE
        assert node["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
        values = _values(result, "prod", cluster)
        assert values["prometheus-node-exporter"]["namespaceOverride"] == NODE_EXPORTER_NAMESPACE
        # `instance` is the node's name, so host alerts join kube-state-metrics' node series.
        (relabel,) = values["prometheus-node-exporter"]["prometheus"]["monitor"]["relabelings"]
        assert relabel["sourceLabels"] == ["__meta_kubernetes_pod_node_name"] and relabel["targetLabel"] == "instance"


def test_the_charts_own_alerts_link_this_repositorys_runbooks_and_skip_what_managed_clusters_hide(synthed):
    values = _values(synthed("prod"), "prod", "eks")
    rules = values["defaultRules"]
    assert rules["additionalRuleLabels"] == {"team": "platform"}
    base = "https://github.com/heal7/multicloud-platform/blob/main/docs/runbooks"
    annotations = rules["additionalRuleGroupAnnotations"]
    assert annotations == {
        group: {"runbook_url": f"{base}/kube-prometheus.md#{group.lower()}"} for group in ALERTING_GROUPS
    }
    assert all(rules["rules"][group] is False for group in UNSCRAPABLE_GROUPS)
    assert not set(UNSCRAPABLE_GROUPS) & set(ALERTING_GROUPS)
    assert rules["disabled"] == dict.fromkeys(REPLACED_ALERTS, True)
    for monitor in ("kubeEtcd", "kubeControllerManager", "kubeScheduler", "kubeProxy"):
        assert values[monitor] == {"enabled": False}
    # The chart's rules wait for the operator whose webhook admits them.
    assert rules["annotations"] == {
        "config.kubernetes.io/depends-on": "apps/namespaces/monitoring/Deployment/kube-prometheus-stack-operator"
    }
    # Each group's section exists on the page (GitHub's anchor: the heading in lower case).
    with open("docs/runbooks/kube-prometheus.md", encoding="utf-8") as page:
        anchors = {line[3:].strip().lower() for line in page if line.startswith("## ")}
    assert {group.lower() for group in ALERTING_GROUPS} <= anchors
    # The webhook's certificate comes from cert-manager, not the chart's hook Jobs.
    webhooks = values["prometheusOperator"]["admissionWebhooks"]
    assert webhooks["certManager"] == {"enabled": True} and webhooks["patch"] == {"enabled": False}
    assert values["grafana"]["testFramework"] == {"enabled": False}


def test_the_operators_webhooks_ignore_the_ca_cert_manager_injects():
    for type_ in (
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
        "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
    ):
        args = pulumi.ResourceTransformArgs(
            custom=True, type_=type_, name="w", props={}, opts=pulumi.ResourceOptions(ignore_changes=["metadata"])
        )
        result = ignore_injected_ca_bundle(args)
        assert result is not None and result.opts.ignore_changes == ["metadata", "webhooks[*].clientConfig.caBundle"]
    other = pulumi.ResourceTransformArgs(
        custom=True, type_="kubernetes:core/v1:Service", name="s", props={}, opts=pulumi.ResourceOptions()
    )
    assert ignore_injected_ca_bundle(other) is None


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_eks_grafana_reads_gkes_prometheus_through_the_internal_load_balancer_on_the_reserved_address(
    synthed, stack_config, stack
):
    result = synthed(stack)
    address = result.one("gcp:compute/address:Address", f"heal7-{stack}-gcp-monitoring")
    assert address.inputs["addressType"] == "INTERNAL"
    assert address.inputs["subnetwork"] == result.one("gcp:compute/subnetwork:Subnetwork").id
    service = result.one("kubernetes:core/v1:Service", f"{_cluster(stack, 'gke')}-monitoring-prometheus-internal")
    annotations = service.inputs["metadata"]["annotations"]
    assert annotations["networking.gke.io/load-balancer-type"] == "Internal"
    assert annotations == {"networking.gke.io/load-balancer-type": "Internal"}
    spec = service.inputs["spec"]
    # GKE's internal load balancer claims a reserved address by IP (loadBalancerIP).
    assert spec["loadBalancerIP"] == address.outputs["address"]
    assert spec["type"] == "LoadBalancer" and [p["port"] for p in spec["ports"]] == [9090]
    # Only the AWS VPC reaches it (across the VPN).
    assert spec["loadBalancerSourceRanges"] == [stack_config(stack)["platform:aws"]["network"]["vpcCidr"]]
    assert spec["selector"] == {
        "app.kubernetes.io/name": "prometheus",
        "operator.prometheus.io/name": "kube-prometheus-stack-prometheus",
    }
    eks = _values(result, stack, "eks")["grafana"]
    (peer,) = eks["additionalDataSources"]
    assert peer["uid"] == "prometheus-gke" and peer["type"] == "prometheus"
    assert peer["url"] == f"http://{address.outputs['address']}:9090"
    assert eks["sidecar"]["datasources"]["uid"] == "prometheus-eks"
    # GKE's Grafana needs nothing from AWS; EKS exposes no Prometheus.
    assert _values(result, stack, "gke")["grafana"]["additionalDataSources"] == []
    assert not [
        s
        for s in result.of_type("kubernetes:core/v1:Service")
        if s.name.startswith(f"{_cluster(stack, 'eks')}-monitoring")
    ]


def test_every_stored_series_carries_its_cluster(synthed):
    result = synthed("prod")
    for cluster in CLUSTERS:
        (scrape_class,) = _values(result, "prod", cluster)["prometheus"]["prometheusSpec"]["scrapeClasses"]
        assert scrape_class["default"] is True
        assert scrape_class["relabelings"] == [{"targetLabel": "cluster", "replacement": cluster, "action": "replace"}]


def test_each_cluster_scrapes_its_own_dns(synthed):
    result = synthed("prod")
    # CoreDNS on EKS; kube-dns on GKE, where a CoreDNS job could only report its target down.
    eks, gke = _values(result, "prod", "eks"), _values(result, "prod", "gke")
    assert (eks["coreDns"], eks["kubeDns"]) == ({"enabled": True}, {"enabled": False})
    assert (gke["coreDns"], gke["kubeDns"]) == ({"enabled": False}, {"enabled": True})
