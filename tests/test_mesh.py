"""The Istio mesh on both clusters, asserted as relationships over the synthesized stacks:
mesh-wide STRICT mTLS, authorization by default deny whose principals are the gateway
chart's own service account and the config's callers, the charts' values per platform and
tier, what waits for istiod, and the transform that hides istiod's webhook rewrites."""

import pulumi
import pytest

from components.kubernetes.istio_mesh import IstioMesh, IstioMeshArgs, ignore_istiod_webhook_rewrites
from stacks.config.loader import parse_platform_config
from stacks.config.models import PlatformConfig
from tests.conftest import STACKS, assert_rejected_before_any_resource
from tools.mock_outputs import PlatformMocks
from tools.synth import Registration, SynthResult, read_stack_config, synth_component

CHART = "kubernetes:helm.sh/v4:Chart"
NAMESPACE = "kubernetes:core/v1:Namespace"
PEER_AUTHENTICATION = "kubernetes:security.istio.io/v1:PeerAuthentication"
AUTHORIZATION_POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
FIREWALL = "gcp:compute/firewall:Firewall"
CLUSTERS = ("eks", "gke")
VALIDATING_WEBHOOK = "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration"
ISTIOD_WEBHOOK_FIELDS = ["webhooks[*].clientConfig.caBundle"]
# The gateway's HPA floor: 3 pods in the highly available tiers (staging, prod), 1 in dev.
GATEWAY_MIN_REPLICAS = {"dev": 1, "staging": 3, "prod": 3}


def _config(stack: str) -> PlatformConfig:
    """The stack file's config as the program reads it (provider-level keys left out)."""
    raw = {k: v for k, v in read_stack_config(stack).items() if k.split(":", 1)[0] in ("platform", "aws", "gcp")}
    return parse_platform_config(raw, stack)


def _provider_urn(result: SynthResult, config: PlatformConfig, cluster: str) -> str:
    return result.one("pulumi:providers:kubernetes", f"{config.resource_prefix}-{cluster}-k8s").urn


def _on_cluster(result: SynthResult, type_token: str, provider_urn: str) -> list[Registration]:
    return [r for r in result.of_type(type_token) if r.provider == provider_urn]


def _charts(result: SynthResult, provider_urn: str) -> dict[str, Registration]:
    """Chart name (`base`, `cni`, `istiod`, `gateway`, ...) -> its registration on one cluster."""
    return {c.inputs["chart"]: c for c in _on_cluster(result, CHART, provider_urn)}


def _gateway_service_account(chart: Registration) -> str:
    """The service account the Istio gateway chart gives its pods (gateway/_helpers.tpl,
    release-1.31: serviceAccount.name, else the `name` value, else the release name)."""
    values = chart.inputs["values"]
    assert (values.get("serviceAccount") or {}).get("create", True) is True
    return (values.get("serviceAccount") or {}).get("name") or values.get("name") or chart.inputs["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_cluster_has_one_mesh_wide_strict_peer_authentication(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    for cluster in CLUSTERS:
        provider = _provider_urn(result, config, cluster)
        (peer,) = _on_cluster(result, PEER_AUTHENTICATION, provider)
        istiod = _charts(result, provider)["istiod"]
        # The root namespace is istiod's: a policy there without a selector is the mesh default.
        assert peer.inputs["metadata"]["namespace"] == istiod.inputs["namespace"] == "istio-system"
        assert peer.inputs["spec"] == {"mtls": {"mode": "STRICT"}}
        assert istiod.urn in peer.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_namespace_denies_by_default_and_admits_the_gateway_monitoring_and_callers(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    for cluster in CLUSTERS:
        provider = _provider_urn(result, config, cluster)
        charts = _charts(result, provider)
        gateway_chart = charts["gateway"]
        gateway_principal = (
            f"cluster.local/ns/{gateway_chart.inputs['namespace']}/sa/{_gateway_service_account(gateway_chart)}"
        )
        assert gateway_principal == "cluster.local/ns/istio-ingress/sa/istio-ingressgateway"
        policies: dict[tuple[str, str], Registration] = {
            (p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]): p
            for p in _on_cluster(result, AUTHORIZATION_POLICY, provider)
        }
        namespaces = config.kubernetes.namespaces
        assert set(policies) == {(ns, name) for ns in namespaces for name in ("default-deny", "allow-callers")}
        for name, namespace in namespaces.items():
            # An ALLOW policy that matches nothing: whatever no allow rule admits is refused.
            assert policies[(name, "default-deny")].inputs["spec"] == {}
            allow = policies[(name, "allow-callers")].inputs["spec"]
            assert allow["action"] == "ALLOW" and "selector" not in allow
            callers = [
                {
                    "from": [{"source": {"principals": [f"cluster.local/ns/{c.namespace}/sa/{c.service_account}"]}}],
                    **({"to": [{"operation": {"methods": list(c.methods)}}]} if c.methods else {}),
                }
                for c in namespace.mesh_callers
            ]
            assert callers, f"{stack}: the stack file declares meshCallers for {name}"
            assert allow["rules"] == [
                {"from": [{"source": {"principals": [gateway_principal]}}]},
                {"from": [{"source": {"namespaces": ["monitoring"]}}]},
                *callers,
            ]
            for policy in (policies[(name, "default-deny")], policies[(name, "allow-callers")]):
                assert charts["istiod"].urn in policy.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_workload_namespaces_ask_for_sidecar_injection(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    for cluster in CLUSTERS:
        provider = _provider_urn(result, config, cluster)
        workload = {
            n.inputs["metadata"]["name"]: n.inputs["metadata"]["labels"]
            for n in _on_cluster(result, NAMESPACE, provider)
            if n.inputs["metadata"]["labels"].get("platform.heal7.io/workload") == "true"
        }
        assert set(workload) == set(config.kubernetes.namespaces)
        assert {labels["istio-injection"] for labels in workload.values()} == {"enabled"}


@pytest.mark.parametrize("stack", STACKS)
def test_istio_charts_values_per_platform_and_tier(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    assert config.kubernetes.high_availability is (stack != "dev")
    for cluster in CLUSTERS:
        charts = _charts(result, _provider_urn(result, config, cluster))
        istiod = charts["istiod"].inputs["values"]
        # Sidecars redirected by the CNI agent, and every injected proxy under RuntimeDefault seccomp.
        assert istiod["cni"] == {"enabled": True}
        assert istiod["global"]["proxy"]["seccompProfile"] == {"type": "RuntimeDefault"}
        # Both validating webhooks start at Fail, the value istiod sets at run time, so
        # Pulumi's server-side apply and istiod never fight over it.
        assert istiod["base"] == charts["base"].inputs["values"]["base"] == {"validationFailurePolicy": "Fail"}
        cni = charts["cni"].inputs["values"]
        if cluster == "gke":
            assert cni["global"]["platform"] == "gke"
            assert cni["cniBinDir"] == "/home/kubernetes/bin"
        else:
            assert "platform" not in (cni.get("global") or {})
            assert "cniBinDir" not in cni
        gateway = charts["gateway"]
        values = gateway.inputs["values"]
        # The component writes the gateway's Service itself; the chart's stays off.
        assert values["service"]["type"] == "None"
        assert values["autoscaling"]["enabled"] is True
        assert int(values["autoscaling"]["minReplicas"]) == GATEWAY_MIN_REPLICAS[stack]
        # The gateway's proxy is filled in by istiod's injector.
        assert charts["istiod"].urn in gateway.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_gke_control_plane_reaches_istiod_webhooks_on_the_nodes(synthed, stack):
    result = synthed(stack)
    config = _config(stack)
    cluster = result.one("gcp:container/cluster:Cluster")
    node_accounts = {
        p.inputs["nodeConfig"]["serviceAccount"] for p in result.of_type("gcp:container/nodePool:NodePool")
    }
    master_cidr = str(config.gcp.network.master_cidr)
    assert cluster.inputs["privateClusterConfig"]["masterIpv4CidrBlock"] == master_cidr
    (rule,) = [
        f
        for f in result.of_type(FIREWALL)
        if any("15017" in allow.get("ports", []) for allow in f.inputs.get("allows", []))
    ]
    assert rule.inputs["direction"] == "INGRESS"
    assert rule.inputs["network"] == cluster.inputs["network"]
    assert rule.inputs["sourceRanges"] == [master_cidr]
    # istiod's webhooks and prometheus-adapter's aggregated API (custom.metrics.k8s.io).
    assert rule.inputs["allows"] == [{"protocol": "tcp", "ports": ["15017", "6443"]}]
    assert sorted(rule.inputs["targetServiceAccounts"]) == sorted(node_accounts)


# -- istiod's webhook rewrites ------------------------------------------------------------


def _transform_args(type_token: str, opts: pulumi.ResourceOptions) -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(
        custom=True,
        type_=type_token,
        name="istiod-default-validator",
        props={"metadata": {"name": "istiod-default-validator"}, "webhooks": [{"failurePolicy": "Ignore"}]},
        opts=opts,
    )


def test_the_transform_ignores_the_fields_istiod_rewrites_and_keeps_existing_ones():
    args = _transform_args(VALIDATING_WEBHOOK, pulumi.ResourceOptions(ignore_changes=["metadata.labels"], protect=True))
    result = ignore_istiod_webhook_rewrites(args)
    assert result is not None
    assert result.props == args.props
    # Each path once: the existing one, then the field istiod patches.
    assert result.opts.ignore_changes == ["metadata.labels", *ISTIOD_WEBHOOK_FIELDS]
    assert result.opts.protect is True


def test_the_transform_leaves_other_objects_alone():
    args = _transform_args("kubernetes:apps/v1:Deployment", pulumi.ResourceOptions(ignore_changes=["spec.replicas"]))
    assert ignore_istiod_webhook_rewrites(args) is None


def test_base_and_istiod_charts_are_registered_with_the_transform(monkeypatch):
    # The synth record keeps no transforms (Registration has no field for them); the mock
    # monitor hands each registration's transform callbacks to the mocks, so read them there.
    transforms: dict[str, list] = {}
    new_resource = PlatformMocks.new_resource

    def recording(self: PlatformMocks, args: pulumi.runtime.MockResourceArgs):
        transforms[args.name] = list(args.transforms)
        return new_resource(self, args)

    monkeypatch.setattr(PlatformMocks, "new_resource", recording)
    result = synth_component(
        lambda providers: {"root": IstioMesh("mesh", IstioMeshArgs(platform="eks"), providers.opts).root_namespace}
    )
    charts = {c.name: c.inputs["chart"] for c in result.of_type(CHART)}
    assert charts == {"mesh-base": "base", "mesh-cni": "cni", "mesh-istiod": "istiod"}
    assert transforms["mesh-base"] == [ignore_istiod_webhook_rewrites]
    assert transforms["mesh-istiod"] == [ignore_istiod_webhook_rewrites]
    # The CNI chart has no webhook to rewrite.
    assert transforms["mesh-cni"] == []


@pytest.mark.parametrize("caller_namespace", ["payments", "heal7-batch"])
def test_a_mesh_caller_from_another_namespace_is_refused_before_any_resource(stack_config, caller_namespace):
    config = stack_config("prod")
    # Unknown, or a second workload namespace: either way its pods could not connect, since
    # each namespace's network policies admit only its own pods and the platform's.
    config["platform:kubernetes"]["namespaces"]["heal7-batch"] = {}
    config["platform:kubernetes"]["namespaces"]["heal7-production"]["meshCallers"][0]["namespace"] = caller_namespace
    assert_rejected_before_any_resource(
        "prod",
        config,
        "platform:kubernetes.namespaces.heal7-production.meshCallers[0].namespace: expected heal7-production "
        f"(calls from another workload namespace need network policies the platform does not build yet), got "
        f"{caller_namespace!r}",
    )
