"""The capacity plan (tools/capacity.py): the prod table's numbers, the check on every stack,
and the check failing for a share it cannot serve and for pods that do not fit."""

import io
import json
import re
from typing import Any

import pytest
from rich.console import Console

from stacks.config.loader import CONFIG_NAMESPACE, UNREAD_PROVIDER_NAMESPACES, parse_platform_config
from tests.conftest import STACKS
from tools.capacity import capacity_report, stack_config
from tools.capacity_report import CapacityReport, PoolCapacity, WorkloadCapacity
from tools.chart_pods import chart_values
from tools.machine_types import (
    EC2_TYPES,
    GCE_TYPES,
    MachineTypeError,
    eks_node,
    gke_node,
    gke_reserved_memory_mib,
    reserved_cpu_m,
)
from tools.manifests import HelmChart, collect
from tools.plan import main, run_plan
from tools.quotas import EC2_VCPUS
from tools.system_pods import Requests, SystemPodsError

READ_NAMESPACES = (CONFIG_NAMESPACE, *UNREAD_PROVIDER_NAMESPACES)


def _report(stack: str, synthed, raw: dict[str, Any] | None = None) -> CapacityReport:
    """The report of `stack` (or of `raw`, its config changed) with the add-ons its program installs."""
    config = (
        stack_config(stack)
        if raw is None
        else parse_platform_config({k: v for k, v in raw.items() if k.split(":", 1)[0] in READ_NAMESPACES}, stack)
    )
    return capacity_report(config, synthed(stack))


def _workload(report: CapacityReport, cluster: str, name: str) -> WorkloadCapacity:
    return next(w for w in report.workloads if w.cluster == cluster and w.workload == name)


def _pool(report: CapacityReport, cluster: str, pool: str) -> PoolCapacity:
    return next(p for p in report.pools if p.cluster == cluster and p.pool == pool)


# -- the prod table -----------------------------------------------------------------------


def test_prod_workloads_serve_their_share_of_ten_thousand_rps_on_either_cluster(synthed):
    report = _report("prod", synthed)
    assert report.target_rps == 10000
    rows = {
        (w.cluster, w.workload): (w.share, w.required_rps, w.per_pod_rps, w.min_replicas, w.max_replicas, w.rps_at_max)
        for w in report.workloads
    }
    # Each cluster carries the whole target: web and API appear on both at full share.
    assert rows == {
        ("heal7-prod-eks", "heal7-web-main"): (0.5, 5000, 100, 3, 50, 5000),
        ("heal7-prod-eks", "heal7-api-gateway"): (0.4, 4000, 100, 3, 40, 4000),
        ("heal7-prod-eks", "heal7-saju-engine"): (0.08, 800, 100, 2, 10, 1000),
        ("heal7-prod-gke", "heal7-web-main"): (0.5, 5000, 100, 3, 50, 5000),
        ("heal7-prod-gke", "heal7-api-gateway"): (0.4, 4000, 100, 3, 40, 4000),
        ("heal7-prod-gke", "heal7-ai-models"): (0.02, 200, 100, 1, 4, 400),
    }
    # Pods request the app container plus istiod's sidecar (Istio 1.31: 100m / 128Mi).
    assert _workload(report, "heal7-prod-eks", "heal7-web-main").pod == Requests(250 + 100, 256 + 128)
    assert _workload(report, "heal7-prod-eks", "heal7-saju-engine").pod == Requests(1000 + 100, 512 + 128)
    assert _workload(report, "heal7-prod-gke", "heal7-ai-models").pod == Requests(2000 + 100, 8192 + 128, 1)


def test_prod_pools_allocatable_at_maximum_size(synthed):
    report = _report("prod", synthed)
    general = _pool(report, "heal7-prod-eks", "general")
    # m6i.2xlarge: 8 vCPU, 32 GiB, 4 ENIs x 15 addresses -> 58 pods. kube-reserved CPU
    # 60 + 10 + 2 x 5 + 4 x 2.5 = 90m; memory 11 x 58 + 255 = 893 MiB, plus 100 MiB eviction.
    assert (general.node.machine_type, general.max_nodes, general.zones, general.zone_nodes) == (
        "m6i.2xlarge",
        12,
        3,
        4,
    )
    assert (general.node.allocatable_cpu_m, general.node.allocatable_memory_mib, general.node.max_pods) == (
        7910,
        32768 - 893 - 100,
        58,
    )
    assert general.allocatable_at_max == Requests(12 * 7910, 12 * 31775, 0)
    # aws-node 25m, kube-proxy 100m, ebs-csi-node 30m / 104Mi, istio-cni 100m / 100Mi, pod identity none,
    # node-exporter 20m / 32Mi, fluent-bit 50m / 64Mi.
    assert {d.name for d in general.daemonsets} == {
        "aws-node",
        "kube-proxy",
        "eks-pod-identity-agent",
        "ebs-csi-node",
        "istio-cni-node",
        "node-exporter",
        "fluent-bit",
    }
    assert general.daemonset_requests == Requests(255 + 20 + 50, 204 + 32 + 64)
    assert general.free_at_max == Requests(12 * (7910 - 325), 12 * (31775 - 300))
    placed = {p.name: (p.count, p.pod) for p in general.placed}
    assert placed["heal7-web-main"] == (50, Requests(350, 384)) and placed["heal7-api-gateway"][0] == 40
    # The add-ons at their maxima on the general group: istiod's HPA at 5 x 500m / 2Gi.
    assert placed["istiod"] == (5, Requests(500, 2048)) and placed["istio-ingressgateway"] == (5, Requests(100, 128))
    assert placed["coredns"] == (2, Requests(100, 70)) and placed["vpa-recommender"] == (2, Requests(50, 500))
    # Busiest zone: 17 web + 14 API pods (ceil of 50/3 and 40/3) and its add-ons fill 2 of its 4 nodes.
    assert (general.zone_nodes_needed, general.fits) == (2, True)

    high_cpu = _pool(report, "heal7-prod-eks", "highCpu")
    # c6i.4xlarge: 16 vCPU, 32 GiB; ENI figure 8 x 29 + 2 = 234 (memory reserved for it),
    # pods capped at 110 under 30 vCPUs by the managed node group.
    assert (high_cpu.node.allocatable_cpu_m, high_cpu.node.allocatable_memory_mib, high_cpu.node.max_pods) == (
        16000 - 110,
        32768 - (11 * 234 + 255) - 100,
        110,
    )
    assert high_cpu.allocatable_at_max == Requests(10 * 15890, 10 * 29839, 0)
    assert [(p.name, p.count) for p in high_cpu.placed] == [("heal7-saju-engine", 10)]

    gke_general = _pool(report, "heal7-prod-gke", "general")
    # n2-standard-8, 4 per zone in 3 zones. GKE keeps 25 % of 4 GiB, 20 % of the next 4,
    # 10 % of the next 8 and 6 % of the last 16 GiB (3645.44 MiB), plus 100 MiB.
    assert (gke_general.max_nodes, gke_general.zones, gke_general.zone_nodes) == (12, 3, 4)
    assert gke_general.node.allocatable_memory_mib == pytest.approx(32768 - 3645.44 - 100)
    assert gke_general.allocatable_at_max.cpu_m == 12 * 7910
    assert gke_general.allocatable_at_max.memory_mib == pytest.approx(12 * 29022.56)

    gpu = _pool(report, "heal7-prod-gke", "gpu")
    # n1-standard-8 (30 GiB) with one T4, 3 per zone in the two T4 zones: 6 GPUs at max.
    assert (gpu.node.machine_type, gpu.max_nodes, gpu.zones, gpu.node.gpus) == ("n1-standard-8", 6, 2, 1)
    assert gpu.allocatable_at_max.gpus == 6 and gpu.requested_at_max.gpus == 4
    assert gpu.node.allocatable_memory_mib == pytest.approx(30720 - (1024 + 819.2 + 819.2 + 0.06 * 14336) - 100)
    assert {"nvidia-gpu-device-plugin", "nvidia-driver-installer"} <= {d.name for d in gpu.daemonsets}
    assert not {"nvidia-gpu-device-plugin"} & {d.name for d in gke_general.daemonsets}
    assert [(p.name, p.count) for p in gpu.placed] == [("heal7-ai-models", 4)]


def test_the_table_follows_what_the_program_registers(synthed):
    """The HPA maxima and per-pod rates, and the node groups' maxima, are the ones the stack registers."""
    result = synthed("prod")
    report = _report("prod", synthed)
    hpas = {
        r.name.removesuffix("-hpa"): r.inputs["spec"]
        for r in result.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    }
    assert len(hpas) == len(report.workloads)
    for w in report.workloads:
        spec = hpas[f"{w.cluster}-{w.workload}"]
        assert int(spec["maxReplicas"]) == w.max_replicas and int(spec["minReplicas"]) == w.min_replicas
        pods_metric = next(m for m in spec["metrics"] if m["type"] == "Pods")
        assert int(pods_metric["pods"]["target"]["averageValue"]) == w.per_pod_rps
    groups = {r.name: r.inputs for r in result.of_type("aws:eks/nodeGroup:NodeGroup")}
    for pool, role in (("general", "general"), ("highCpu", "high-cpu")):
        group = groups[f"heal7-prod-eks-{role}-nodes"]
        assert int(group["scalingConfig"]["maxSize"]) == _pool(report, "heal7-prod-eks", pool).max_nodes
        assert group["instanceTypes"] == [_pool(report, "heal7-prod-eks", pool).node.machine_type]
    node_pools = {r.name: r.inputs for r in result.of_type("gcp:container/nodePool:NodePool")}
    for pool in ("general", "gpu"):
        spec = node_pools[f"heal7-prod-gke-{pool}-nodes"]
        assert int(spec["autoscaling"]["maxNodeCount"]) == _pool(report, "heal7-prod-gke", pool).zone_nodes
        assert spec["nodeConfig"]["machineType"] == _pool(report, "heal7-prod-gke", pool).node.machine_type


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_serves_its_target_and_fits(synthed, stack):
    report = _report(stack, synthed)
    assert report.problems == []
    assert report.target_rps == {"dev": 100, "staging": 1000, "prod": 10000}[stack]
    assert all(w.serves_share for w in report.workloads) and len(report.workloads) == 6
    assert all(p.fits and 0 < p.zone_nodes_needed <= p.zone_nodes for p in report.pools) and len(report.pools) == 4


def test_the_plan_writes_capacity_json(tmp_path, synthed):
    run_plan("prod", tmp_path, console=Console(file=io.StringIO()), result=synthed("prod"))
    written = json.loads((tmp_path / "prod" / "capacity.json").read_text())
    assert written["targetRequestsPerSecond"] == 10000 and written["problems"] == []
    web = next(
        w for w in written["workloads"] if w["cluster"] == "heal7-prod-gke" and w["workload"] == "heal7-web-main"
    )
    assert (web["requiredRequestsPerSecond"], web["maxReplicas"], web["requestsPerSecondAtMax"]) == (5000, 50, 5000)
    gpu = next(p for p in written["pools"] if p["cluster"] == "heal7-prod-gke" and p["pool"] == "gpu")
    assert gpu["allocatableAtMax"]["gpus"] == 6 and gpu["podsAtMax"]["heal7-ai-models"]["count"] == 4


# -- the check failing ----------------------------------------------------------------------


def _ai_share_ten_times(stack_config_fixture) -> dict[str, Any]:
    """prod with heal7-ai-models' share 10x (0.02 -> 0.2); web-main gives up 0.18 so shares still sum to 1."""
    raw = stack_config_fixture("prod")
    raw["platform:workloads"]["heal7-ai-models"]["share"] = 0.2
    raw["platform:workloads"]["heal7-web-main"]["share"] = 0.32
    return raw


def test_a_share_ten_times_too_large_fails_naming_the_workload(synthed, stack_config):
    report = _report("prod", synthed, _ai_share_ten_times(stack_config))
    assert [w.workload for w in report.workloads if not w.serves_share] == ["heal7-ai-models"]
    assert report.problems == [
        "Pulumi.prod.yaml: platform:workloads.heal7-ai-models.autoscaling.maxReplicas: heal7-ai-models on "
        "heal7-prod-gke must serve share 0.2 x 10000 rps = 2000 rps (each cluster serves the whole target: a "
        "region loss fails all traffic over to the other cloud), but 4 pods x 100 rps per pod serve 400 rps; "
        "expected maxReplicas >= 20"
    ]


def test_the_failed_check_fails_the_plan(tmp_path, capsys, monkeypatch, stack_config):
    broken = _ai_share_ten_times(stack_config)
    monkeypatch.setattr("tools.synth.read_stack_config", lambda stack, root=None: broken)
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["prod", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "platform:workloads.heal7-ai-models.autoscaling.maxReplicas: heal7-ai-models on heal7-prod-gke" in out
    assert "1 capacity problem(s)" in out.splitlines()[-1]
    written = json.loads((tmp_path / "prod" / "capacity.json").read_text())
    assert len(written["problems"]) == 1 and "heal7-ai-models" in written["problems"][0]


def test_pods_that_do_not_fit_a_shrunk_node_group_fail(synthed, stack_config):
    raw = stack_config("prod")
    # One m6i.2xlarge per AZ: the busiest zone needs 2 for its web, API and add-on pods.
    raw["platform:aws"]["eks"] = {**raw["platform:aws"]["eks"], "nodeGroups": {"general": {"maxSize": 3}}}
    report = _report("prod", synthed, raw)
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert problem.startswith(
        "Pulumi.prod.yaml: platform:aws.eks.nodeGroups.general.maxSize: the pods at HPA max do not fit "
        "heal7-prod-eks general (3 x m6i.2xlarge at maximum, 1 in the busiest of 3 zones): the busiest zone "
        "needs 2 nodes for its share of the pods, has 1 (each node has 7585m CPU, 31475Mi, 0 GPU, 51 pods"
    )
    assert "heal7-web-main 50 x (350m CPU, 384Mi)" in problem and "heal7-api-gateway 40 x (350m CPU, 384Mi)" in problem
    assert "istiod 5 x (500m CPU, 2048Mi)" in problem


def test_gpu_pods_beyond_the_gpu_pool_fail(synthed, stack_config):
    raw = stack_config("prod")
    raw["platform:gcp"]["gke"] = {"nodePools": {"gpu": {"minNodesPerZone": 1, "maxNodesPerZone": 1}}}
    report = _report("prod", synthed, raw)
    [problem] = report.problems
    assert problem.startswith("Pulumi.prod.yaml: platform:gcp.gke.nodePools.gpu.maxNodesPerZone:")
    assert "needs 2 nodes for its share of the pods, has 1" in problem and "heal7-ai-models 4 x" in problem


def test_a_pod_larger_than_any_node_is_named(synthed, stack_config):
    raw = stack_config("prod")
    raw["platform:workloads"]["heal7-ai-models"]["gpus"] = 2  # the pool's nodes carry one T4 each
    report = _report("prod", synthed, raw)
    [problem] = report.problems
    assert "a pod of heal7-ai-models is larger than a whole node (each node has 7125m CPU" in problem
    assert "1 GPU" in problem


# -- the tables and rules behind it ----------------------------------------------------------


def test_reservation_formulas():
    # 6 % of the first core, 1 % of the second, 0.5 % of the next two, 0.25 % beyond.
    assert [reserved_cpu_m(v) for v in (2, 4, 8, 16, 32)] == [70, 80, 90, 110, 150]
    assert gke_reserved_memory_mib(512) == 255
    assert gke_reserved_memory_mib(16384) == pytest.approx(1024 + 819.2 + 819.2)
    assert gke_reserved_memory_mib(256 * 1024) == pytest.approx(
        1024 + 819.2 + 819.2 + 0.06 * 112 * 1024 + 0.02 * 128 * 1024
    )
    assert eks_node("m6i.large").max_pods == 29 and eks_node("m6i.8xlarge").max_pods == 234
    assert gke_node("e2-standard-4").allocatable_cpu_m == 3920


def test_the_vcpu_tables_agree_with_the_quota_counts():
    assert {t: EC2_TYPES[t][0] for t in EC2_VCPUS} == EC2_VCPUS
    for machine_type, (vcpus, _) in GCE_TYPES.items():
        assert machine_type.endswith(f"-{vcpus}")


def test_unknown_types_and_charts_are_errors_not_guesses():
    with pytest.raises(
        MachineTypeError, match=re.escape("no capacity for EC2 instance type 'm7i.large'; add it to EC2_TYPES")
    ):
        eks_node("m7i.large")
    with pytest.raises(MachineTypeError, match="no capacity for GCE machine type 'c3-standard-8'"):
        gke_node("c3-standard-8")
    chart = HelmChart("heal7-prod-eks", "urn", "keda", "2.17.0", None, "keda")
    with pytest.raises(SystemPodsError, match="no pod requests recorded for chart 'keda' on heal7-prod-eks"):
        chart_values(chart)
    newer = HelmChart("heal7-prod-eks", "urn", "istiod", "1.32.0", None, "istio-system")
    with pytest.raises(SystemPodsError, match=re.escape("is version 1.32.0, its defaults were read from 1.31.4")):
        chart_values(newer)


def test_chart_values_lay_the_programs_over_the_charts_defaults(synthed):
    charts = {c.chart: c for c in collect(synthed("prod"))["heal7-prod-eks"].charts}
    istiod = chart_values(charts["istiod"])
    # The program sets autoscaleMin/Max and seccomp; the requests are the chart's 500m / 2048Mi.
    assert (istiod["autoscaleMax"], istiod["autoscaleMin"]) == (5, 2)
    assert istiod["resources"] == {"requests": {"cpu": "500m", "memory": "2048Mi"}}
    cert_manager = chart_values(charts["cert-manager"])
    assert cert_manager["webhook"]["replicaCount"] == 2 and cert_manager["webhook"]["resources"]["requests"] == {
        "cpu": "10m",
        "memory": "64Mi",
    }
