"""Rendered Kubernetes manifests (tools/manifests.py), the Kubernetes mocks, and strict
validation of every built-in object against the cluster's Kubernetes version."""

import io
import re
from collections import Counter
from dataclasses import replace

import pulumi
import pulumi_kubernetes as kubernetes
import pytest
import yaml
from rich.console import Console

from stacks.config.aws_models import DEFAULT_EKS_VERSION
from tests.conftest import STACKS
from tests.kubernetes_validation import validate_builtin
from tests.policy_fixtures import registration
from tools import manifests
from tools.inventory import build_inventory
from tools.mock_values import hex_of
from tools.plan import run_plan
from tools.synth import SynthResult, synth_component

NAMESPACE = "heal7-apps"
CLUSTER = "heal7-test-eks"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$")


def _objects(providers) -> dict[str, pulumi.Output]:
    """A namespace with its default-deny policy, RBAC both scopes, a custom resource and a Helm
    release, on a provider named as the stacks name theirs (`<cluster>-k8s`)."""
    provider = kubernetes.Provider(f"{CLUSTER}-k8s", kubeconfig="{}", namespace=NAMESPACE)
    opts = pulumi.ResourceOptions(provider=provider)
    namespace = kubernetes.core.v1.Namespace(
        "apps-namespace",
        metadata={"name": NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
        opts=opts,
    )
    deny = kubernetes.networking.v1.NetworkPolicy(
        "apps-default-deny",
        metadata={"namespace": namespace.metadata.name},
        spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        opts=opts,
    )
    role = kubernetes.rbac.v1.Role(
        "apps-reader",
        metadata={"name": "reader"},  # no namespace: lands in the provider's
        rules=[{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        opts=opts,
    )
    kubernetes.rbac.v1.ClusterRoleBinding(
        "viewers",
        metadata={"name": "heal7-viewers"},
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "heal7-viewers"}],
        opts=opts,
    )
    kubernetes.apiextensions.CustomResource(
        "apps-mtls",
        api_version="security.istio.io/v1",
        kind="PeerAuthentication",
        metadata={"name": "default", "namespace": NAMESPACE},
        spec={"mtls": {"mode": "STRICT"}},
        opts=opts,
    )
    release = kubernetes.helm.v3.Release(
        "istio-base",
        chart="base",
        version="1.27.1",
        namespace="istio-system",
        repository_opts={"repo": "https://istio-release.storage.googleapis.com/charts"},
        opts=opts,
    )
    return {"denyName": deny.metadata.name, "denyId": deny.id, "roleId": role.id, "release": release.status}


@pytest.fixture(scope="module")
def rendered() -> SynthResult:
    return synth_component(_objects)


def _cluster(result: SynthResult) -> manifests.ClusterManifests:
    clusters = manifests.collect(result)
    assert list(clusters) == [CLUSTER]
    return clusters[CLUSTER]


def test_mock_outputs_are_shaped_like_the_providers(rendered):
    deny = rendered.one("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    metadata = deny.outputs["metadata"]
    # Auto-named: resource name, a dash, 8 hex characters, and the provider's annotation.
    assert metadata["name"] == f"apps-default-deny-{hex_of('apps-default-deny', 8)}" == rendered.outputs["denyName"]
    assert metadata["annotations"] == {"pulumi.com/autonamed": "true"}
    assert UUID.match(metadata["uid"]) and metadata["resourceVersion"].isdigit()
    assert metadata["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert deny.id == rendered.outputs["denyId"] == f"{NAMESPACE}/{metadata['name']}"
    assert "status" not in deny.outputs and deny.outputs["spec"] == deny.inputs["spec"]
    namespace = rendered.one("kubernetes:core/v1:Namespace")
    assert namespace.id == NAMESPACE and "namespace" not in namespace.outputs["metadata"]
    assert namespace.outputs["metadata"]["labels"] == {"pod-security.kubernetes.io/enforce": "restricted"}
    assert rendered.outputs["roleId"] == f"{NAMESPACE}/reader"  # the provider's namespace
    assert rendered.outputs["release"] == {
        "name": f"istio-base-{hex_of('istio-base', 8)}",
        "namespace": "istio-system",
        "chart": "base",
        "version": "1.27.1",
        "revision": 1,
        "status": "deployed",
    }


def test_objects_are_grouped_by_cluster_and_built_as_applied(rendered):
    cluster = _cluster(rendered)
    assert cluster.version == DEFAULT_EKS_VERSION  # no EKS cluster in the record
    assert [str(o.path) for o in cluster.objects] == [
        "_cluster/clusterrolebinding-heal7-viewers.yaml",
        "_cluster/namespace-heal7-apps.yaml",
        f"heal7-apps/networkpolicy-apps-default-deny-{hex_of('apps-default-deny', 8)}.yaml",
        "heal7-apps/peerauthentication-default.yaml",
        "heal7-apps/role-reader.yaml",
    ]
    deny = next(o for o in cluster.objects if o.kind == "NetworkPolicy")
    assert deny.manifest == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "annotations": {"pulumi.com/autonamed": "true"},
            "name": f"apps-default-deny-{hex_of('apps-default-deny', 8)}",
            "namespace": NAMESPACE,
        },
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    binding = next(o for o in cluster.objects if o.kind == "ClusterRoleBinding")
    assert binding.api_version == "rbac.authorization.k8s.io/v1" and binding.namespace is None
    assert binding.manifest["roleRef"]["name"] == "view" and binding.manifest["subjects"][0]["name"] == "heal7-viewers"
    role = next(o for o in cluster.objects if o.kind == "Role")
    assert role.namespace == NAMESPACE  # the provider's `namespace`, as the provider applies it
    assert cluster.charts == [
        manifests.HelmChart(
            CLUSTER,
            rendered.one("kubernetes:helm.sh/v3:Release").urn,
            "base",
            "1.27.1",
            "https://istio-release.storage.googleapis.com/charts",
            "istio-system",
        )
    ]
    assert cluster.namespaces == ["heal7-apps", "istio-system"] and cluster.created_namespaces == ["heal7-apps"]
    assert cluster.kinds == {
        "ClusterRoleBinding": 1,
        "Namespace": 1,
        "NetworkPolicy": 1,
        "PeerAuthentication": 1,
        "Role": 1,
    }


def test_an_inventory_gives_the_same_objects(rendered):
    from_record, from_inventory = _cluster(rendered), manifests.collect(build_inventory(rendered))[CLUSTER]
    assert [o.manifest for o in from_inventory.objects] == [o.manifest for o in from_record.objects]


def test_manifests_are_written_one_document_per_object(rendered, tmp_path):
    clusters = manifests.collect(rendered)
    stale = tmp_path / CLUSTER / "heal7-apps" / "deployment-removed.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("kind: Deployment\n")
    written = manifests.write(clusters, tmp_path)
    assert written == [tmp_path / CLUSTER / o.path for o in clusters[CLUSTER].objects]
    assert not stale.exists()
    for path, obj in zip(written, clusters[CLUSTER].objects, strict=True):
        documents = list(yaml.safe_load_all(path.read_text()))
        assert documents == [obj.manifest]
    first = {p: p.read_text() for p in written}
    manifests.write(manifests.collect(rendered), tmp_path)
    assert {p: p.read_text() for p in written} == first  # stable across runs


def test_the_same_object_twice_is_refused(rendered, tmp_path):
    clusters = manifests.collect(rendered)
    twin = replace(clusters[CLUSTER].objects[0], urn="urn:pulumi:test::multicloud-platform::x::twin")
    clusters[CLUSTER].objects.append(twin)
    with pytest.raises(ValueError, match=r"twin and .* are the same object _cluster/clusterrolebinding-heal7-viewers"):
        manifests.write(clusters, tmp_path)


def test_cluster_versions_follow_eks_and_gke(rendered):
    eks = registration("aws:eks/cluster:Cluster", "heal7-test-eks-cluster", {"version": "1.34"})
    gke = registration("gcp:container/cluster:Cluster", "heal7-test-gke-cluster", {"releaseChannel": {}})
    eks_provider = rendered.one("pulumi:providers:kubernetes", f"{CLUSTER}-k8s")
    gke_provider = replace(
        eks_provider,
        name="heal7-test-gke-k8s",
        urn=eks_provider.urn.replace(CLUSTER, "heal7-test-gke"),
        dependencies=[gke.urn],
    )
    deny = rendered.one("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    on_gke = replace(deny, urn=deny.urn + "-gke", provider=gke_provider.urn)
    record = SynthResult("test", [eks, gke, eks_provider, gke_provider, deny, on_gke], {}, [])
    # EKS by name (<cluster>-cluster); GKE by the provider's dependency, on the EKS minor.
    assert {c: m.version for c, m in manifests.collect(record).items()} == {
        CLUSTER: "1.34",
        "heal7-test-gke": "1.34",
    }
    pinned = replace(gke, inputs={"minMasterVersion": "1.35.2-gke.1085000"})
    record.resources[1] = pinned
    assert manifests.collect(record)["heal7-test-gke"].version == "1.35"


def test_an_object_without_a_kubernetes_provider_is_refused():
    orphan = registration("kubernetes:core/v1:Namespace", "orphan", {"metadata": {"name": "orphan"}})
    with pytest.raises(ValueError, match="orphan: no explicit Kubernetes provider"):
        manifests.collect(SynthResult("test", [orphan], {}, []))


def test_built_in_objects_pass_strict_validation(rendered):
    cluster = _cluster(rendered)
    report = validate_builtin([o.manifest for o in cluster.objects], cluster.version)
    assert report.errors == []
    assert sorted(report.validated) == [
        "networking.k8s.io/v1 NetworkPolicy heal7-apps/" + f"apps-default-deny-{hex_of('apps-default-deny', 8)}",
        "rbac.authorization.k8s.io/v1 ClusterRoleBinding heal7-viewers",
        "rbac.authorization.k8s.io/v1 Role heal7-apps/reader",
        "v1 Namespace heal7-apps",
    ]
    assert [c["kind"] for c in report.custom] == ["PeerAuthentication"]


def test_strict_validation_bites(rendered):
    deny = next(o for o in _cluster(rendered).objects if o.kind == "NetworkPolicy").manifest
    typo = {**deny, "spec": {"podSelectr": {}, "policyTypes": ["Ingress"]}}
    wrong_type = {**deny, "spec": {"podSelector": {}, "policyTypes": "Ingress"}}
    removed = {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "old"}}
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw"}}
    report = validate_builtin([typo, wrong_type, removed, gateway], DEFAULT_EKS_VERSION)
    assert report.validated == [] and [c["kind"] for c in report.custom] == ["Gateway"]
    assert len(report.errors) == 3
    assert "spec: Additional properties are not allowed ('podSelectr' was unexpected)" in report.errors[0]
    assert "spec.policyTypes: 'Ingress' is not of type 'array'" in report.errors[1]
    assert report.errors[2].startswith("policy/v1beta1 PodSecurityPolicy old: Couldn't find schema")


# What each cluster holds, the same in every stack. Built-in: the namespaces (the workload
# namespace, cert-manager, external-secrets, istio-system, istio-cni, istio-ingress, and on
# EKS vertical-pod-autoscaler), the workload namespace's network policies (egress to Redis on
# EKS only, where ElastiCache runs) and RBAC (GKE adds the viewers' RoleBinding), the gateway
# Service and the origin-pull CA ConfigMap.
# Per cluster: the namespaces (workload, add-ons, mesh, gateway, Argo Rollouts), the workload
# namespace's policies, RBAC, the gateway's Service and CA, and the workloads' objects (three
# on each cluster: web-main as a Rollout, api-gateway and the cluster's own third as
# Deployments; a ServiceAccount each, plus the workload secret store's; the gateway's client CA
# and a CA ConfigMap per workload that uses the database: three on EKS, two on GKE).
# The monitoring and logging layer adds per cluster: 5 namespaces (monitoring, node-exporter,
# elastic-system, logging, fluent-bit), the encrypted StorageClass, 2 ServiceAccounts, a Role and
# a RoleBinding (the log shipper's Secret reader, the retention Job), 4 NetworkPolicies (logging),
# the retention Job and its ConfigMap, 4 dashboard ConfigMaps; on EKS the postgres exporter's CA
# ConfigMap, on GKE the Prometheus internal load balancer's Service.
BUILT_IN_KINDS = {
    # EKS also runs DatabaseBackups: its namespace, 4 NetworkPolicies, 2 ServiceAccounts, the RDS CA
    # ConfigMap and the dump and drill CronJobs.
    "eks": {"Namespace": 14, "NetworkPolicy": 15, "Role": 2, "RoleBinding": 2, "Service": 4, "ConfigMap": 11}
    | {"ServiceAccount": 8, "Deployment": 2, "PodDisruptionBudget": 3, "HorizontalPodAutoscaler": 3}
    | {"StorageClass": 1, "Job": 1, "CronJob": 2},
    "gke": {"Namespace": 12, "NetworkPolicy": 12, "Role": 2, "RoleBinding": 3, "Service": 5, "ConfigMap": 8}
    | {"ServiceAccount": 6, "Deployment": 2, "PodDisruptionBudget": 3, "HorizontalPodAutoscaler": 3}
    | {"StorageClass": 1, "Job": 1},
}
MESH_AND_INGRESS_BUILT_INS = {
    "v1 Namespace istio-system",
    "v1 Namespace istio-cni",
    "v1 Namespace istio-ingress",
    "v1 Service istio-ingress/istio-ingressgateway",
    "v1 ConfigMap istio-ingress/cloudflare-origin-pull-ca",
}
# Custom resources, left to the CRD-schema tests (test_cert_manager_external_secrets.py,
# test_custom_resources.py; External Secrets' objects are built from typed models). One
# VirtualService per hostname: `ai` is served from GKE only.
CUSTOM_KINDS = {
    flavour: {"ClusterIssuer": 2, "ClusterSecretStore": 2, "ExternalSecret": external_secrets, "Certificate": 1}
    | {"PeerAuthentication": 1, "AuthorizationPolicy": 2, "Gateway": 1, "VirtualService": virtual_services}
    | {"DestinationRule": 3, "VerticalPodAutoscaler": 3, "Rollout": 1, "AnalysisTemplate": 1}
    # Monitoring: the two PrometheusRules, the PodMonitors of the mesh and add-ons (EKS's LBC and
    # VPA besides), redis-exporter's ServiceMonitor on EKS; logging: the log cluster, its two
    # generated users and the shipper's SecretStore.
    | {"PrometheusRule": 2, "PodMonitor": pod_monitors, **({"ServiceMonitor": 1} if flavour == "eks" else {})}
    | {"Elasticsearch": 1, "Kibana": 1, "Password": 2, "SecretStore": 1}
    # A VirtualService per hostname (`ai` on GKE only) plus web-main's mesh and edge ones; an
    # ExternalSecret for cert-manager's token and one per workload that uses a data store, Grafana's
    # admin and the receivers', the logging users, roles and copies,
    # and on EKS the exporters' two and the backup job's database password.
    for flavour, virtual_services, external_secrets, pod_monitors in (("eks", 5, 14, 12), ("gke", 6, 10, 10))
}


@pytest.mark.parametrize("stack", STACKS)
def test_every_stacks_built_in_objects_pass_strict_validation(synthed, stack):
    clusters = manifests.collect(synthed(stack))
    assert sorted(clusters) == [f"heal7-{stack}-eks", f"heal7-{stack}-gke"]
    for cluster in clusters.values():
        report = validate_builtin([o.manifest for o in cluster.objects], cluster.version)
        assert report.errors == [], f"{cluster.cluster}: {report.errors}"
        flavour = cluster.cluster.rsplit("-", 1)[1]
        assert Counter(v.split(" ")[1] for v in report.validated) == BUILT_IN_KINDS[flavour]
        assert set(report.validated) >= MESH_AND_INGRESS_BUILT_INS
        assert Counter(c["kind"] for c in report.custom) == CUSTOM_KINDS[flavour]


def test_plan_writes_manifests_and_a_table_per_cluster(rendered, tmp_path):
    console = Console(record=True, width=200, file=io.StringIO())
    context = run_plan("test", tmp_path, console=console, result=rendered)
    root = tmp_path / "test" / "manifests" / CLUSTER
    written = [p for p in context.written if "manifests" in p.parts]
    assert written == [root / o.path for o in _cluster(rendered).objects]
    text = console.export_text()
    assert f"test: Kubernetes on {CLUSTER} (Kubernetes {DEFAULT_EKS_VERSION})" in text
    rows = {tuple(cell.strip() for cell in line.split("│")[1:-1]) for line in text.splitlines() if "│" in line}
    assert ("namespace", "heal7-apps", "") in rows and ("namespace", "istio-system", "existing") in rows
    assert ("kind", "NetworkPolicy", "1") in rows and ("", "objects", "5") in rows
    assert any(r[0] == "chart" and r[1].startswith("base (https://istio-release") and r[2] == "1.27.1" for r in rows)
