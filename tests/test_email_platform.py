"""The email platform (examples/email-platform/stack.yaml) as a second workload set on the
prod stack: the same components serve it, with its own namespace, hostname and limits."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from policy.runner import evaluate
from stacks.config.tiers import deep_merge
from tools.synth import SynthResult, synth

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "email-platform" / "stack.yaml"
NAMESPACE = "email-platform"
HOST = "email.heal7.com"
WORKLOADS = {"email-backend": 3000, "email-frontend": 8080}


@pytest.fixture(scope="module")
def email_prod() -> SynthResult:
    from tools.synth import read_stack_config

    overlay: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return synth("prod", deep_merge(read_stack_config("prod"), overlay))


def _on(result: SynthResult, type_token: str, cluster: str) -> list:
    provider = f"heal7-prod-{cluster}-k8s"
    return [r for r in result.of_type(type_token) if r.provider and r.provider.split("::")[3] == provider]


@pytest.mark.parametrize("cluster", ["eks", "gke"])
def test_its_workloads_run_from_the_same_components_in_their_own_namespace(email_prod, cluster):
    deployments = {
        d.inputs["metadata"]["name"]: d
        for d in _on(email_prod, "kubernetes:apps/v1:Deployment", cluster)
        if d.inputs["metadata"]["namespace"] == NAMESPACE
    }
    assert set(deployments) == set(WORKLOADS)
    for name, port in WORKLOADS.items():
        component = email_prod.one("platform:kubernetes:AppDeployment", f"heal7-prod-{cluster}-{name}")
        assert deployments[name].parent == component.urn
        (container,) = deployments[name].inputs["spec"]["template"]["spec"]["containers"]
        assert container["ports"][0]["containerPort"] == port
        assert container["securityContext"]["runAsUser"] == 1001
    # The ops guide's backend readiness path, and its HPA bounds.
    backend = deployments["email-backend"].inputs["spec"]["template"]["spec"]["containers"][0]
    assert backend["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    hpas = {
        h.inputs["metadata"]["name"]: h.inputs["spec"]
        for h in _on(email_prod, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", cluster)
        if h.inputs["metadata"]["namespace"] == NAMESPACE
    }
    assert (hpas["email-backend"]["minReplicas"], hpas["email-backend"]["maxReplicas"]) == (3, 20)
    # Its namespace is a workload namespace like HEAL7's: restricted, default-deny.
    namespace = next(
        n for n in _on(email_prod, "kubernetes:core/v1:Namespace", cluster) if n.inputs["metadata"]["name"] == NAMESPACE
    )
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["platform.heal7.io/workload"] == "true"


def test_its_hostname_is_served_by_both_gateways_and_the_front_door(email_prod):
    balancers = {lb.inputs["name"]: lb for lb in email_prod.of_type("cloudflare:index/loadBalancer:LoadBalancer")}
    assert balancers[HOST].inputs["enabled"] is True
    for cluster in ("eks", "gke"):
        (route,) = [
            v
            for v in _on(email_prod, "kubernetes:networking.istio.io/v1:VirtualService", cluster)
            if v.inputs["spec"].get("hosts") == [HOST]
        ]
        destinations = [
            (r["match"][0]["uri"]["prefix"], r["route"][0]["destination"]["host"], r["route"][0]["destination"]["port"])
            for r in route.inputs["spec"]["http"]
        ]
        assert destinations == [
            ("/api/", f"email-backend.{NAMESPACE}.svc.cluster.local", {"number": 3000}),
            ("/", f"email-frontend.{NAMESPACE}.svc.cluster.local", {"number": 8080}),
        ]
        (certificate,) = _on(email_prod, "kubernetes:cert-manager.io/v1:Certificate", cluster)
        assert HOST in certificate.inputs["spec"]["dnsNames"]
    # The ops guide's nginx limit, 100 requests a minute per client, as its own rule.
    ruleset = email_prod.one("cloudflare:index/ruleset:Ruleset")
    email_rule = next(r for r in ruleset.inputs["rules"] if r["ref"] == "rate-limit-email")
    assert email_rule["expression"] == f'http.host in {{"{HOST}"}}'
    assert (email_rule["ratelimit"]["period"], email_rule["ratelimit"]["requestsPerPeriod"]) == (60, 100)


def test_the_stack_with_it_passes_the_policy_pack(email_prod):
    assert [v for v in evaluate(email_prod).violations if v.enforcement == "mandatory"] == []
