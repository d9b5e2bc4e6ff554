"""Cluster add-ons: pinned charts, the VPA in recommendation mode, the Load Balancer
Controller's identity (the role its chart's service account names is the role that trusts
that service account) and its least-privilege policy, metrics-server on EKS only."""

import json

import pulumi
import pytest

from components.aws.eks.irsa_role import OidcIdentity
from components.kubernetes import _charts
from components.kubernetes._charts import ChartCoordinates
from components.kubernetes.cluster_addons import ClusterAddons, ClusterAddonsArgs, LoadBalancerControllerSpec
from tests.conftest import STACKS
from tools.synth import SynthError, synth_component

CHART = "kubernetes:helm.sh/v4:Chart"
PROVIDER = "pulumi:providers:kubernetes"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"


def _charts_by_release(result, provider_name: str) -> dict[str, dict]:
    provider = next(p for p in result.of_type(PROVIDER) if p.name == provider_name)
    return {c.inputs["name"]: c for c in result.of_type(CHART) if c.provider == provider.urn}


def _lbc(result, stack: str):
    chart = _charts_by_release(result, f"heal7-{stack}-eks-k8s")["aws-load-balancer-controller"]
    role = result.one(ROLE, f"heal7-{stack}-eks-addons-lbc-role")
    policy = json.loads(result.one(ROLE_POLICY, f"heal7-{stack}-eks-addons-lbc-policy").inputs["policy"])
    return chart, role, policy


def test_chart_coordinates_are_exact_versions_from_known_repositories():
    assert (
        ChartCoordinates("https://kubernetes.github.io/autoscaler", "vertical-pod-autoscaler", "0.11.0")
        == _charts.VERTICAL_POD_AUTOSCALER
    )
    assert (
        ChartCoordinates("https://aws.github.io/eks-charts", "aws-load-balancer-controller", "3.5.0")
        == _charts.AWS_LOAD_BALANCER_CONTROLLER
    )
    assert (
        ChartCoordinates("https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.13.1")
        == _charts.METRICS_SERVER
    )


@pytest.mark.parametrize("stack", STACKS)
def test_eks_runs_vpa_lbc_and_metrics_server_and_gke_none_of_the_charts(synthed, stack):
    result = synthed(stack)
    # On both clusters (test_cert_manager_external_secrets.py, test_mesh.py, test_delivery_controller.py).
    both = {
        "cert-manager",
        "external-secrets",
        "istio-base",
        "istio-cni",
        "istiod",
        "istio-ingressgateway",
        "argo-rollouts",
        # test_monitoring_stack.py, test_observability_wiring.py, test_logging_stack.py
        "kube-prometheus-stack",
        "prometheus-adapter",
        "elastic-operator",
        "fluent-bit",
    }
    # The data stores' exporters run beside RDS and ElastiCache (test_observability_wiring.py).
    exporters = {"postgres-exporter", "redis-exporter"}
    eks = {k: v for k, v in _charts_by_release(result, f"heal7-{stack}-eks-k8s").items() if k not in both | exporters}
    assert set(eks) == {"vertical-pod-autoscaler", "aws-load-balancer-controller", "metrics-server"}
    assert {release: chart.inputs["namespace"] for release, chart in eks.items()} == {
        "vertical-pod-autoscaler": "vertical-pod-autoscaler",
        "aws-load-balancer-controller": "kube-system",
        "metrics-server": "kube-system",
    }
    # GKE runs its own metrics-server and its own VPA: none of these charts on its provider ...
    assert set(_charts_by_release(result, f"heal7-{stack}-gke-k8s")) == both
    # ... and the VPA capability is the cluster's own.
    gke = result.one("gcp:container/cluster:Cluster")
    assert gke.inputs["verticalPodAutoscaling"] == {"enabled": True}


@pytest.mark.parametrize("stack", STACKS)
def test_vpa_runs_the_recommender_only_in_a_restricted_namespace(synthed, stack):
    result = synthed(stack)
    values = _charts_by_release(result, f"heal7-{stack}-eks-k8s")["vertical-pod-autoscaler"].inputs["values"]
    assert values["recommender"]["enabled"] is True
    # No updater evicting pods, no admission controller rewriting requests (and so none of
    # the admission controller's certgen hook jobs, which helm.v4.Chart would skip).
    assert values["updater"]["enabled"] is False
    assert values["admissionController"]["enabled"] is False
    # Restricted Pod Security holds for the recommender's pod and container.
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert values["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["containerSecurityContext"]["allowPrivilegeEscalation"] is False
    assert values["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}
    namespace = next(
        n
        for n in result.of_type("kubernetes:core/v1:Namespace")
        if n.inputs["metadata"]["name"] == "vertical-pod-autoscaler"
    )
    labels = namespace.inputs["metadata"]["labels"]
    assert {labels[f"pod-security.kubernetes.io/{mode}"] for mode in ("enforce", "warn", "audit")} == {"restricted"}


@pytest.mark.parametrize("stack", STACKS)
def test_metrics_server_is_highly_available(synthed, stack):
    values = _charts_by_release(synthed(stack), f"heal7-{stack}-eks-k8s")["metrics-server"].inputs["values"]
    assert values["replicas"] == 2
    assert values["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    # Fewer pods may be down than run, so a drain never takes both.
    assert values["podDisruptionBudget"]["minAvailable"] < values["replicas"]


@pytest.mark.parametrize("stack", STACKS)
def test_lbc_chart_service_account_is_the_one_its_irsa_role_trusts(synthed, stack):
    result = synthed(stack)
    chart, role, _ = _lbc(result, stack)
    values = chart.inputs["values"]
    service_account = values["serviceAccount"]["name"]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    conditions = statement["Condition"]["StringEquals"]
    subject = next(value for key, value in conditions.items() if key.endswith(":sub"))
    assert subject == f"system:serviceaccount:{chart.inputs['namespace']}:{service_account}"
    assert subject == "system:serviceaccount:kube-system:aws-load-balancer-controller"
    # The role the chart's service account names is this role.
    assert values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"] == role.outputs["arn"]
    # The trusted OIDC provider is the EKS cluster's.
    oidc = result.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert statement["Principal"]["Federated"] == oidc.outputs["arn"]
    # The chart waits for the role and its policy (a dependency on the IrsaRole component
    # reaches its children), so the first pod's STS call is not refused.
    policy = result.one(ROLE_POLICY, f"heal7-{stack}-eks-addons-lbc-policy")
    assert {role.urn, policy.urn} <= set(chart.dependencies)


@pytest.mark.parametrize("stack", STACKS)
def test_lbc_values_name_this_cluster_vpc_and_region(synthed, stack):
    result = synthed(stack)
    chart, _, _ = _lbc(result, stack)
    values = chart.inputs["values"]
    cluster = result.one("aws:eks/cluster:Cluster")
    assert values["clusterName"] == cluster.inputs["name"] == f"heal7-{stack}-eks"
    assert values["vpcId"] == result.one("aws:ec2/vpc:Vpc").id
    aws_provider = next(p for p in result.of_type("pulumi:providers:aws") if p.name == f"heal7-{stack}-aws")
    assert values["region"] == aws_provider.inputs["region"]
    assert values["replicaCount"] == 2
    assert values["podDisruptionBudget"] == {"maxUnavailable": 1}
    # The webhook certificate comes from cert-manager, not from genCA at every render.
    assert values["enableCertManager"] is True
    # WAF Classic off, matching a policy without waf-regional.
    assert values["enableWaf"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_lbc_policy_has_no_wildcard_actions_and_scopes_writes_to_this_cluster(synthed, stack):
    result = synthed(stack)
    _, role, policy = _lbc(result, stack)
    cluster_name = f"heal7-{stack}-eks"
    account = role.outputs["arn"].split(":")[4]
    vpc_arn = result.one("aws:ec2/vpc:Vpc").outputs["arn"]
    statements = policy["Statement"]
    actions = [a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert all("*" not in action for action in actions), [a for a in actions if "*" in a]
    assert not any(a.startswith("waf-regional:") for a in actions)
    assert all(s["Effect"] == "Allow" for s in statements)

    tagged = [s for s in statements if CLUSTER_TAG in json.dumps(s.get("Condition", {}))]
    assert {s["Sid"] for s in tagged} == {
        "CreateOwnedSecurityGroup",
        "TagSecurityGroupOnCreate",
        "RetagOwnedSecurityGroups",
        "ManageOwnedSecurityGroups",
        "CreateOwnedLoadBalancers",
        "TagLoadBalancersOnCreate",
        "RetagOwnedLoadBalancers",
        "ModifyOwnedLoadBalancers",
    }
    for statement in tagged:
        # Every tag condition asks for this cluster's name, not just any value.
        equals = statement["Condition"]["StringEquals"]
        owners = {value for key, value in equals.items() if key.endswith(f"Tag/{CLUSTER_TAG}")}
        assert owners == {cluster_name}, statement["Sid"]
        if "Null" in statement["Condition"]:
            # Re-tagging may not touch the ownership tag.
            assert statement["Condition"]["Null"] == {f"aws:RequestTag/{CLUSTER_TAG}": "true"}

    # Only reads and calls without resource-level permissions keep Resource "*".
    unscoped = {s["Sid"] for s in statements if s["Resource"] == "*"}
    assert unscoped == {"Describe", "ListenerIntegrations"}
    for statement in statements:
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        for resource in resources:
            if resource != "*":
                assert f":{account}:" in resource, (statement["Sid"], resource)
    # Security groups: created and opened in this cluster's VPC only.
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["CreateSecurityGroupInClusterVpc"]["Resource"] == vpc_arn
    assert by_sid["IngressRulesInClusterVpc"]["Condition"] == {"ArnEquals": {"ec2:Vpc": vpc_arn}}
    # The one IAM write is ELB's service-linked role, nothing else.
    iam_actions = {a for a in actions if a.startswith("iam:")}
    assert iam_actions == {"iam:CreateServiceLinkedRole", "iam:ListServerCertificates", "iam:GetServerCertificate"}
    assert by_sid["CreateElbServiceLinkedRole"]["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}
    }


def _addons(args: ClusterAddonsArgs):
    return lambda p: {
        "charts": pulumi.Output.from_input(
            ClusterAddons("c", args, pulumi.ResourceOptions(providers=[p.kubernetes, p.aws])).charts
        ).apply(lambda charts: sorted(charts))
    }


def test_defaults_run_the_vpa_recommender_alone():
    result = synth_component(_addons(ClusterAddonsArgs(cluster_name="c")))
    assert [c.inputs["name"] for c in result.of_type(CHART)] == ["vertical-pod-autoscaler"]
    assert result.of_type(ROLE) == []
    assert result.outputs["charts"] == ["vertical-pod-autoscaler"]


def test_replica_counts_below_one_are_refused_before_anything_registers():
    oidc = OidcIdentity(provider_arn="arn:aws:iam::111122223333:oidc-provider/x", issuer_url="https://x")
    spec = LoadBalancerControllerSpec(region="ap-northeast-2", vpc_id="vpc-1", oidc=oidc, replicas=0)
    for args, message in (
        (ClusterAddonsArgs(cluster_name="c", load_balancer_controller=spec), "load_balancer_controller.replicas"),
        (
            ClusterAddonsArgs(cluster_name="c", metrics_server=True, metrics_server_replicas=0),
            "metrics_server_replicas",
        ),
    ):
        with pytest.raises(SynthError, match=f"ClusterAddons c: {message} must be >= 1") as caught:
            synth_component(_addons(args))
        # Only the test's own providers registered: no component, no chart, no role.
        assert {r.type.split(":")[0] for r in caught.value.result.resources} == {"pulumi"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_load_balancer_controller_waits_for_cert_manager(synthed, stack):
    """Its webhook certificate is a cert-manager object (enableCertManager): the chart must
    not install before cert-manager's CRDs and webhook exist."""
    result = synthed(stack)
    charts = _charts_by_release(result, f"heal7-{stack}-eks-k8s")
    assert charts["cert-manager"].urn in charts["aws-load-balancer-controller"].dependencies
