"""Every control, both ways: its compliant fixture passes, and one property changed
produces exactly that control's violation, naming the resource and the fix.

Cloud fixtures are the prod stack's own resources (the synth record); Kubernetes fixtures
are hardened objects from tests/policy_fixtures.py."""

import json
from collections.abc import Callable
from dataclasses import replace

import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from policy.rules import ALL_POLICIES
from policy.runner import evaluate
from tests import policy_fixtures as k8s
from tests.policy_fixtures import BY_NAME, DELETE, mutated, record
from tools.mock_outputs import CLOUDFLARE_IPV4_RANGES
from tools.synth import Registration, SynthResult

RESOURCE_POLICIES = [p for p in ALL_POLICIES if isinstance(p, ResourceValidationPolicy)]

# Prod resources used as compliant fixtures, by synth name.
PROD = {
    "eks": "heal7-prod-eks-cluster",
    "launch-template": "heal7-prod-eks-general-lt",
    "node-group": "heal7-prod-eks-general-nodes",
    "rds": "heal7-prod-postgres-db",
    "redis": "heal7-prod-redis-group",
    "public-access": "heal7-prod-backups-public-access",
    "encryption": "heal7-prod-backups-encryption",
    "versioning": "heal7-prod-backups-versioning",
    "bucket-policy": "heal7-prod-backups-policy",
    "kms": "heal7-prod-postgres-key",
    "ecr": "heal7-prod-ecr-api-gateway",
    "log-group": "heal7-prod-network-flow-logs-group",
    "secret": "heal7-prod-redis-auth-token",
    "cidr-rule": "heal7-prod-postgres-from-cloudsql-replica",
    "default-sg": "heal7-prod-network-default-sg",
    "gke": "heal7-prod-gke-cluster",
    "node-pool": "heal7-prod-gke-general-nodes",
    "cloudsql": "heal7-prod-postgres-replica-db",
    "crypto-key": "heal7-prod-gke-secrets-key",
    "firewall": "heal7-prod-gcp-allow-internal",
    "registry": "heal7-prod-registry-docker",
    "zone-ssl": "heal7-prod-zone-ssl",
    "zone-min-tls": "heal7-prod-zone-min-tls-version",
    "zone-hsts": "heal7-prod-zone-security-header",
    "zone-https": "heal7-prod-zone-always-use-https",
    "lb": "heal7-prod-edge-lb-ai-heal7-com",
    "pool": "heal7-prod-edge-aws-primary",
    # Kubernetes objects prod deploys, for the stack controls' single changes.
    "mesh-mtls": "heal7-prod-eks-mesh-strict-mtls",
    "authorization-deny": "heal7-prod-eks-heal7-production-authorization-deny",
    "gateway": "heal7-prod-eks-ingress-gateway",
}
KUBERNETES: dict[str, Callable[[], Registration]] = {
    "deployment": k8s.deployment,
    "gpu-deployment": k8s.gpu_deployment,
    "dedicated-deployment": k8s.dedicated_deployment,
    "rollout": k8s.rollout,
    "cron-job": k8s.cron_job,
    "network-policy": k8s.network_policy,
    "role": k8s.role,
    "role-binding": k8s.role_binding,
    "service": k8s.service,
    "ingress-service": k8s.ingress_service,
    "peer-authentication": k8s.peer_authentication,
    "secret-object": k8s.external_secret_target,
    "hpa": k8s.autoscaler,
    "helm-chart": k8s.helm_chart,
}
ENFORCE = "pod-security.kubernetes.io/enforce"
POD = "spec.template.spec"
CONTAINER = f"{POD}.containers.0"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
KMS_POLICY_OPEN = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}
        ],
    }
)
BUCKET_POLICY_WITHOUT_TLS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyTlsBelow12",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
            }
        ],
    }
)

# (policy, fixture, the single change that must violate exactly that policy)
RESOURCE_CASES = [
    ("eks-control-plane-logging", "eks", {"enabledClusterLogTypes": ["api", "authenticator"]}),
    ("eks-secrets-encryption", "eks", {"encryptionConfig": DELETE}),
    ("eks-private-endpoint", "eks", {"vpcConfig.endpointPublicAccess": True}),
    ("eks-node-imdsv2", "launch-template", {"metadataOptions.httpTokens": "optional"}),
    ("eks-node-no-ssh", "node-group", {"remoteAccess": {"ec2SshKey": "ops"}}),
    ("eks-node-volumes-encrypted", "launch-template", {"blockDeviceMappings.0.ebs.encrypted": "false"}),
    ("rds-storage-encrypted", "rds", {"storageEncrypted": False}),
    ("rds-not-public", "rds", {"publiclyAccessible": True}),
    ("rds-backup-retention", "rds", {"backupRetentionPeriod": 3.0}),
    ("rds-multi-az", "rds", {"multiAz": False}),
    ("rds-deletion-protection", "rds", {"deletionProtection": DELETE}),
    ("rds-iam-authentication", "rds", {"iamDatabaseAuthenticationEnabled": DELETE}),
    ("rds-performance-insights-encrypted", "rds", {"performanceInsightsKmsKeyId": DELETE}),
    ("rds-log-exports", "rds", {"enabledCloudwatchLogsExports": ["postgresql"]}),
    ("elasticache-at-rest-encryption", "redis", {"atRestEncryptionEnabled": DELETE}),
    ("elasticache-in-transit-encryption", "redis", {"transitEncryptionEnabled": False}),
    ("elasticache-auth", "redis", {"authToken": DELETE}),
    ("elasticache-automatic-failover", "redis", {"automaticFailoverEnabled": False}),
    ("s3-public-access-block", "public-access", {"restrictPublicBuckets": False}),
    ("s3-kms-encryption", "encryption", {"rules.0.applyServerSideEncryptionByDefault.sseAlgorithm": "AES256"}),
    ("s3-versioning", "versioning", {"versioningConfiguration.status": "Suspended"}),
    ("s3-tls-only", "bucket-policy", {"policy": BUCKET_POLICY_WITHOUT_TLS}),
    ("kms-key-rotation", "kms", {"enableKeyRotation": DELETE}),
    ("kms-no-wildcard-principal", "kms", {"policy": KMS_POLICY_OPEN}),
    ("ecr-immutable-tags", "ecr", {"imageTagMutability": DELETE}),
    ("ecr-scan-on-push", "ecr", {"imageScanningConfiguration.scanOnPush": False}),
    ("ecr-kms-encryption", "ecr", {"encryptionConfigurations": DELETE}),
    ("log-group-kms-encryption", "log-group", {"kmsKeyId": DELETE}),
    ("secretsmanager-kms-encryption", "secret", {"kmsKeyId": DELETE}),
    ("security-group-no-public-ingress", "cidr-rule", {"cidrIpv4": "0.0.0.0/0"}),
    ("security-group-rule-descriptions", "cidr-rule", {"description": DELETE}),
    (
        "default-security-group-closed",
        "default-sg",
        {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]},
    ),
    ("gke-private-nodes", "gke", {"privateClusterConfig.enablePrivateNodes": False}),
    ("gke-private-endpoint", "gke", {"privateClusterConfig.enablePrivateEndpoint": False}),
    ("gke-master-authorized-networks", "gke", {"masterAuthorizedNetworksConfig": DELETE}),
    ("gke-workload-identity", "gke", {"workloadIdentityConfig": DELETE}),
    ("gke-metadata-server", "node-pool", {"nodeConfig.workloadMetadataConfig.mode": "GCE_METADATA"}),
    ("gke-shielded-nodes", "gke", {"enableShieldedNodes": False}),
    ("gke-secure-boot", "node-pool", {"nodeConfig.shieldedInstanceConfig.enableSecureBoot": DELETE}),
    ("gke-integrity-monitoring", "node-pool", {"nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring": False}),
    ("gke-network-policy", "gke", {"datapathProvider": "LEGACY_DATAPATH"}),
    ("gke-no-legacy-abac", "gke", {"enableLegacyAbac": True}),
    ("gke-no-client-certificate", "gke", {"masterAuth.clientCertificateConfig.issueClientCertificate": True}),
    ("gke-release-channel", "gke", {"releaseChannel": DELETE}),
    ("gke-secrets-encryption", "gke", {"databaseEncryption.state": "DECRYPTED"}),
    (
        "gke-node-service-account",
        "node-pool",
        {"nodeConfig.serviceAccount": "123456789012-compute@developer.gserviceaccount.com"},
    ),
    ("gke-node-auto-repair", "node-pool", {"management.autoRepair": False}),
    ("gke-node-auto-upgrade", "node-pool", {"management.autoUpgrade": False}),
    ("cloudsql-no-public-ip", "cloudsql", {"settings.ipConfiguration.ipv4Enabled": DELETE}),
    ("cloudsql-ssl-enforced", "cloudsql", {"settings.ipConfiguration.sslMode": "ALLOW_UNENCRYPTED_AND_ENCRYPTED"}),
    ("cloudsql-deletion-protection", "cloudsql", {"settings.deletionProtectionEnabled": False}),
    ("gcp-kms-key-rotation", "crypto-key", {"rotationPeriod": "31536000s"}),
    ("gcp-firewall-no-public-ingress", "firewall", {"sourceRanges": ["0.0.0.0/0"]}),
    ("artifact-registry-immutable-tags", "registry", {"dockerConfig.immutableTags": False}),
    ("cloudflare-ssl-strict", "zone-ssl", {"value": "full"}),
    ("cloudflare-min-tls-1-2", "zone-min-tls", {"value": "1.0"}),
    ("cloudflare-always-use-https", "zone-https", {"value": "off"}),
    ("cloudflare-lb-proxied", "lb", {"proxied": DELETE}),
    ("cloudflare-pool-monitored", "pool", {"monitor": DELETE}),
    ("k8s-liveness-probe", "deployment", {f"{CONTAINER}.livenessProbe": DELETE}),
    ("k8s-readiness-probe", "deployment", {f"{CONTAINER}.readinessProbe": DELETE}),
    ("k8s-cpu-requests", "deployment", {f"{CONTAINER}.resources.requests.cpu": DELETE}),
    ("k8s-cpu-limits", "deployment", {f"{CONTAINER}.resources.limits.cpu": DELETE}),
    (
        "k8s-memory-requests",
        "cron-job",
        {"spec.jobTemplate.spec.template.spec.containers.0.resources.requests.memory": DELETE},
    ),
    ("k8s-memory-limits", "deployment", {f"{CONTAINER}.resources.limits.memory": DELETE}),
    ("k8s-image-no-latest", "deployment", {f"{CONTAINER}.image": k8s.IMAGE.replace(":1.4.2@", ":latest@")}),
    ("k8s-image-digest", "deployment", {f"{CONTAINER}.image": k8s.IMAGE.split("@")[0]}),
    ("k8s-no-privileged", "deployment", {f"{CONTAINER}.securityContext.privileged": True}),
    ("k8s-no-host-pid", "deployment", {f"{POD}.hostPID": True}),
    ("k8s-no-host-ipc", "deployment", {f"{POD}.hostIPC": True}),
    ("k8s-no-host-network", "deployment", {f"{POD}.hostNetwork": True}),
    ("k8s-no-privilege-escalation", "deployment", {f"{CONTAINER}.securityContext.allowPrivilegeEscalation": DELETE}),
    ("k8s-read-only-root-filesystem", "deployment", {f"{CONTAINER}.securityContext.readOnlyRootFilesystem": False}),
    ("k8s-run-as-non-root", "deployment", {f"{POD}.securityContext.runAsNonRoot": DELETE}),
    ("k8s-application-uid", "deployment", {f"{POD}.securityContext.runAsUser": 2000}),
    ("k8s-drop-all-capabilities", "deployment", {f"{CONTAINER}.securityContext.capabilities.drop": ["NET_RAW"]}),
    ("k8s-seccomp-runtime-default", "deployment", {f"{POD}.securityContext.seccompProfile.type": "Unconfined"}),
    ("k8s-no-token-automount", "deployment", {f"{POD}.automountServiceAccountToken": DELETE}),
    ("k8s-no-default-service-account", "deployment", {f"{POD}.serviceAccountName": "default"}),
    ("k8s-rolling-update-zero-unavailable", "deployment", {"spec.strategy.rollingUpdate.maxUnavailable": "25%"}),
    ("k8s-rolling-update-zero-unavailable", "rollout", {"spec.strategy.canary.maxUnavailable": DELETE}),
    # A Rollout's pod template is checked like a Deployment's.
    ("k8s-liveness-probe", "rollout", {f"{CONTAINER}.livenessProbe": DELETE}),
    ("k8s-dedicated-pool-placement", "gpu-deployment", {f"{POD}.tolerations": DELETE}),
    ("k8s-dedicated-pool-placement", "gpu-deployment", {f"{POD}.nodeSelector": DELETE}),
    ("k8s-dedicated-pool-placement", "deployment", {f"{POD}.tolerations": [GPU_TOLERATION]}),
    ("k8s-dedicated-pool-placement", "dedicated-deployment", {f"{POD}.nodeSelector": DELETE}),
    ("k8s-no-default-namespace", "service", {"metadata.namespace": DELETE}),
    ("k8s-rbac-no-wildcards", "role", {"rules.0.resources": ["*"]}),
    ("k8s-rbac-no-escalation-verbs", "role", {"rules.0.verbs": ["get", "bind"]}),
    (
        "k8s-rbac-no-cluster-admin",
        "role-binding",
        {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}},
    ),
    ("k8s-load-balancer-only-ingress", "ingress-service", {"metadata.namespace": k8s.NAMESPACE}),
    ("k8s-load-balancer-source-ranges", "ingress-service", {"spec.loadBalancerSourceRanges": DELETE}),
    ("helm-chart-pinned", "helm-chart", {"version": "^1.21"}),
    (
        "k8s-network-policy-sources",
        "network-policy",
        {"spec.ingress.0.from.1.namespaceSelector.matchLabels.name": "default"},
    ),
    ("istio-strict-mtls", "peer-authentication", {"spec.mtls.mode": "PERMISSIVE"}),
    ("k8s-secret-no-literal-data", "secret-object", {"stringData": {"DATABASE_URL": "postgres://app@db/heal7"}}),
    ("hpa-throughput-reachable", "hpa", {"spec.maxReplicas": 15}),
    ("required-tags", "node-pool", {"nodeConfig.resourceLabels.owner": DELETE}),
]


def _stack_case(name: str) -> Callable[[SynthResult], SynthResult]:
    """Stack policies' single changes, applied to a whole compliant record."""

    def without(result: SynthResult, resource_name: str) -> SynthResult:
        return SynthResult(result.stack, [r for r in result.resources if r.name != resource_name], {}, [])

    def changed(result: SynthResult, resource_name: str, change: Callable[[Registration], Registration]):
        return SynthResult(
            result.stack, [change(r) if r.name == resource_name else r for r in result.resources], {}, []
        )

    def literal_auth_token(redis: Registration) -> Registration:
        # Written into the program: the value no longer flows from the RandomPassword.
        return replace(
            mutated(redis, {"authToken": "Zq3xV9pL2mK8rT4wY7bN1cF6hJ0sD5gA"}),
            property_dependencies={k: v for k, v in redis.property_dependencies.items() if k != "authToken"},
        )

    return {
        "prod-stateful-protected": lambda r: changed(r, PROD["rds"], lambda rds: replace(rds, protect=False)),
        "no-literal-secrets": lambda r: changed(r, PROD["redis"], literal_auth_token),
        "s3-bucket-guardrails": lambda r: without(r, PROD["versioning"]),
        "vpc-flow-logs-and-default-group": lambda r: without(r, "heal7-prod-network-flow-logs-vpc"),
        "cloudflare-zone-baseline": lambda r: without(r, PROD["zone-min-tls"]),
        # prod's load balancers serve, so its header must keep full strength: a day's max_age is the finding.
        "cloudflare-hsts": lambda r: changed(
            r, PROD["zone-hsts"], lambda s: mutated(s, {"value.strict_transport_security.max_age": 86400})
        ),
        # The mesh-wide policy narrowed to some workloads no longer covers the EKS mesh.
        "istio-mesh-strict-mtls": lambda r: changed(
            r, PROD["mesh-mtls"], lambda pa: mutated(pa, {"spec.selector": {"matchLabels": {"app": "web-main"}}})
        ),
        # The allow-nothing policy given an empty rule allows everything.
        "istio-namespace-default-deny": lambda r: changed(
            r, PROD["authorization-deny"], lambda ap: mutated(ap, {"spec": {"rules": [{}]}})
        ),
        # The zone turns origin pulls on; the EKS gateway stops asking for the client certificate.
        "istio-gateway-origin-pull-mtls": lambda r: changed(
            r, PROD["gateway"], lambda gw: mutated(gw, {"spec.servers.0.tls.mode": "SIMPLE"})
        ),
        # The Deployment moves to a namespace no NetworkPolicy covers.
        "k8s-namespace-network-policy": lambda r: SynthResult(
            r.stack,
            [
                mutated(x, {"metadata.namespace": "heal7-batch"}) if x.type == "kubernetes:apps/v1:Deployment" else x
                for x in r.resources
            ],
            {},
            [],
        ),
        # Label keys hold dots, so the labels are replaced whole: only the enforce level differs.
        "k8s-workload-namespace-baseline": lambda r: changed(
            r, k8s.NAMESPACE, lambda ns: mutated(ns, {"metadata.labels": {**k8s.WORKLOAD_LABELS, ENFORCE: "baseline"}})
        ),
    }[name]


STACK_CASES = [
    "prod-stateful-protected",
    "no-literal-secrets",
    "s3-bucket-guardrails",
    "vpc-flow-logs-and-default-group",
    "cloudflare-zone-baseline",
    "cloudflare-hsts",
    "k8s-namespace-network-policy",
    "k8s-workload-namespace-baseline",
    "istio-mesh-strict-mtls",
    "istio-namespace-default-deny",
    "istio-gateway-origin-pull-mtls",
]


@pytest.fixture(scope="module")
def prod_record(synthed) -> SynthResult:
    """The prod stack plus one compliant namespace of Kubernetes objects."""
    result = synthed("prod")
    return SynthResult(result.stack, [*result.resources, *k8s.kubernetes_layer()], {}, [])


def _fixture(prod_record: SynthResult, key: str) -> Registration:
    if key in KUBERNETES:
        return KUBERNETES[key]()
    # Cloud resources only: a RandomPassword may share its secret's name.
    return next(r for r in prod_record.resources if r.name == PROD[key] and r.package in ("aws", "gcp", "cloudflare"))


def _evaluate_one(prod_record: SynthResult, resource: Registration):
    providers = [r for r in prod_record.resources if r.type.startswith("pulumi:providers:")]
    return evaluate(record(*providers, resource, stack="prod"), policies=RESOURCE_POLICIES)


def test_every_control_has_a_case():
    assert {name for name, _, _ in RESOURCE_CASES} == {p.name for p in RESOURCE_POLICIES}
    assert set(STACK_CASES) == {p.name for p in ALL_POLICIES if isinstance(p, StackValidationPolicy)}


@pytest.mark.parametrize("fixture", sorted({fixture for _, fixture, _ in RESOURCE_CASES}))
def test_compliant_fixture_passes_every_control(prod_record, fixture):
    report = _evaluate_one(prod_record, _fixture(prod_record, fixture))
    assert report.violations == [] and report.not_evaluated == []


@pytest.mark.parametrize(("policy_name", "fixture", "change"), RESOURCE_CASES, ids=[c[0] for c in RESOURCE_CASES])
def test_one_change_violates_exactly_its_control(prod_record, policy_name, fixture, change):
    resource = mutated(_fixture(prod_record, fixture), change)
    report = _evaluate_one(prod_record, resource)
    assert {v.policy for v in report.violations} == {policy_name}
    policy = BY_NAME[policy_name]
    for violation in report.violations:
        assert violation.resource_name == resource.name and violation.urn == resource.urn
        assert violation.message.startswith(f"{resource.name} ({resource.type}): ")
        assert violation.message.endswith(f"Fix: {policy.remediation_steps}")
        assert violation.severity == policy.severity.value


def test_the_whole_compliant_record_passes_every_control(prod_record):
    report = evaluate(prod_record)
    assert report.violations == [] and report.not_evaluated == []


@pytest.mark.parametrize("policy_name", STACK_CASES)
def test_one_stack_change_violates_exactly_its_control(prod_record, policy_name):
    report = evaluate(_stack_case(policy_name)(prod_record))
    assert {v.policy for v in report.violations} == {policy_name}
    for violation in report.violations:
        assert violation.resource_name and violation.message.startswith(f"{violation.resource_name} (")
        assert violation.message.endswith(f"Fix: {BY_NAME[policy_name].remediation_steps}")


@pytest.mark.parametrize(
    "change",
    [
        {"version": "latest"},
        {"version": DELETE},
        {"version": "1.21.x"},
        {"version": "v1.21.1-rc.1"},
        {"repositoryOpts": {"repo": "https://charts.example.com"}},
        {"repositoryOpts": DELETE},
    ],
    ids=["latest", "no version", "range", "pre-release", "unknown repository", "no repository"],
)
def test_every_way_a_chart_floats_is_refused(prod_record, change):
    resource = mutated(_fixture(prod_record, "helm-chart"), change)
    assert {v.policy for v in _evaluate_one(prod_record, resource).violations} == {"helm-chart-pinned"}


def test_the_stacks_charts_are_pinned(prod_record):
    charts = [r for r in prod_record.resources if r.type.startswith("kubernetes:helm.sh/")]
    # cert-manager, External Secrets, Argo Rollouts, kube-prometheus-stack, prometheus-adapter, ECK and
    # Fluent Bit on both clusters, Istio's four charts on both, three add-ons and the two data-store
    # exporters on EKS.
    assert len(charts) == 27
    istio = sorted(
        (r.name.split("-")[2], r.inputs["chart"], r.inputs["version"], r.inputs["repositoryOpts"]["repo"])
        for r in charts
        if r.inputs["repositoryOpts"]["repo"].startswith("https://istio-release.")
    )
    assert istio == [
        (cluster, chart, "1.31.4", "https://istio-release.storage.googleapis.com/charts")
        for cluster in ("eks", "gke")
        for chart in sorted(("base", "cni", "istiod", "gateway"))
    ]
    report = evaluate(prod_record)
    assert [v for v in report.violations if v.policy == "helm-chart-pinned"] == []


def _problems(report) -> list[str]:
    return [v.message.split(": ", 1)[1].split(". Fix:")[0] for v in report.violations]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"spec.mtls.mode": "PERMISSIVE"}, "mutual TLS is PERMISSIVE, not STRICT (spec.mtls.mode)"),
        ({"spec.mtls.mode": "DISABLE"}, "mutual TLS is DISABLE, not STRICT (spec.mtls.mode)"),
        ({"spec.mtls.mode": "UNSET"}, "mutual TLS is UNSET, not STRICT (spec.mtls.mode)"),
        (
            {"spec.mtls.mode": DELETE},
            "mutual TLS is unset (inherits its parent, PERMISSIVE without one), not STRICT (spec.mtls.mode)",
        ),
        (
            {"spec.mtls": DELETE},
            "mutual TLS is unset (inherits its parent, PERMISSIVE without one), not STRICT (spec.mtls.mode)",
        ),
        (
            {
                "spec.selector": {"matchLabels": {"app": "web-main"}},
                "spec.portLevelMtls": {"8080": {"mode": "PERMISSIVE"}},
            },
            "port 8080 relaxes mTLS to PERMISSIVE",
        ),
    ],
    ids=["permissive", "disable", "unset-enum", "no-mode", "no-mtls", "port-level-permissive"],
)
def test_every_way_a_workload_namespace_relaxes_mtls_is_refused(prod_record, change, problem):
    """istio-strict-mtls is the "no PERMISSIVE PeerAuthentication in a workload namespace" control:
    it refuses any mode but STRICT in any namespace, the workload namespace's included."""
    resource = mutated(_fixture(prod_record, "peer-authentication"), change)
    assert resource.inputs["metadata"]["namespace"] == k8s.NAMESPACE
    report = _evaluate_one(prod_record, resource)
    assert {v.policy for v in report.violations} == {"istio-strict-mtls"}
    assert _problems(report) == [problem]


def test_port_level_strict_mtls_passes(prod_record):
    strict_port = {
        "spec.selector": {"matchLabels": {"app": "web-main"}},
        "spec.portLevelMtls": {"8080": {"mode": "STRICT"}},
    }
    report = _evaluate_one(prod_record, mutated(_fixture(prod_record, "peer-authentication"), strict_port))
    assert report.violations == [] and report.not_evaluated == []


CLOUDFLARE_RANGES = list(CLOUDFLARE_IPV4_RANGES)


@pytest.mark.parametrize(
    ("ranges", "problems"),
    [
        (DELETE, ["the load balancer admits every address (spec.loadBalancerSourceRanges is empty)"]),
        ([], ["the load balancer admits every address (spec.loadBalancerSourceRanges is empty)"]),
        (
            [*CLOUDFLARE_RANGES, "0.0.0.0/0"],
            ["spec.loadBalancerSourceRanges[15] 0.0.0.0/0 admits every IPv4 address"],
        ),
        (["::/0"], ["spec.loadBalancerSourceRanges[0] ::/0 admits every IPv6 address"]),
        (["10.0.0.0/0"], ["spec.loadBalancerSourceRanges[0] 10.0.0.0/0 admits every IPv4 address"]),
        (
            ["0.0.0.0/1", "128.0.0.0/1", "2400:cb00::/32"],
            ["spec.loadBalancerSourceRanges together admit every IPv4 address"],
        ),
        (["cloudflare"], ["spec.loadBalancerSourceRanges[0] 'cloudflare' is not a CIDR range"]),
    ],
    ids=["absent", "empty", "ipv4-anywhere", "ipv6-anywhere", "other-slash-0", "halves", "not-a-cidr"],
)
def test_every_way_a_load_balancer_opens_to_the_internet_is_refused(prod_record, ranges, problems):
    resource = mutated(_fixture(prod_record, "ingress-service"), {"spec.loadBalancerSourceRanges": ranges})
    report = _evaluate_one(prod_record, resource)
    assert {v.policy for v in report.violations} == {"k8s-load-balancer-source-ranges"}
    assert _problems(report) == problems


def test_only_load_balancers_need_source_ranges(prod_record):
    cluster_ip = _fixture(prod_record, "service")
    assert "loadBalancerSourceRanges" not in cluster_ip.inputs["spec"]
    assert _evaluate_one(prod_record, cluster_ip).violations == []
    # Cloudflare's published IPv4 ranges alone (what the stacks' gateway Services get) pass too.
    ipv4_only = mutated(_fixture(prod_record, "ingress-service"), {"spec.loadBalancerSourceRanges": CLOUDFLARE_RANGES})
    assert _evaluate_one(prod_record, ipv4_only).violations == []


def test_an_internal_load_balancer_may_live_outside_the_ingress_namespaces(prod_record):
    """GKE's internal passthrough and the AWS LBC's internal NLB are private to the VPCs (the
    GKE Prometheus EKS's Grafana reads across the VPN); their source ranges are still checked."""
    internet_facing = mutated(_fixture(prod_record, "ingress-service"), {"metadata.namespace": "monitoring"})
    assert {v.policy for v in _evaluate_one(prod_record, internet_facing).violations} == {
        "k8s-load-balancer-only-ingress"
    }
    for key, value in (
        ("networking.gke.io/load-balancer-type", "Internal"),
        ("service.beta.kubernetes.io/aws-load-balancer-scheme", "internal"),
    ):
        internal = mutated(internet_facing, {"metadata.annotations": {key: value}})
        assert _evaluate_one(prod_record, internal).violations == []
        wide_open = mutated(internal, {"spec.loadBalancerSourceRanges": ["0.0.0.0/0"]})
        assert {v.policy for v in _evaluate_one(prod_record, wide_open).violations} == {
            "k8s-load-balancer-source-ranges"
        }
    # The EKS scheme annotation says internet-facing: still refused outside istio-ingress.
    facing = mutated(
        internet_facing,
        {"metadata.annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}},
    )
    assert {v.policy for v in _evaluate_one(prod_record, facing).violations} == {"k8s-load-balancer-only-ingress"}
