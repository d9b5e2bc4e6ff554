"""LoggingStack on both clusters: a 3-node zone-aware Elasticsearch with a heap from its memory,
encrypted volumes, Kibana without a load balancer, Fluent Bit on every node writing to its own
cluster over verified TLS, retention in the lifecycle policy, and no literal secret.

Relationships are followed through the registrations: the password Fluent Bit reads is the copy
of the file-realm user External Secrets generates; the CA it trusts is the copy of the Secret ECK
makes for the Elasticsearch it writes to.
"""

import json
import re
from functools import cache
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import pytest

from components.gcp.gke_node_pool import GPU_TAINT
from components.kubernetes import _charts
from components.kubernetes import _log_shipping_specs as shipping
from components.kubernetes import _logging_specs as specs
from components.kubernetes.logging_stack import LIFECYCLE_SECRET, WRITER_REALM_SECRET, LoggingStack, LoggingStackArgs
from stacks.aws_platform import SAJU_ENGINE_TAINT
from tests.elastic_validation import elastic_errors
from tests.kubernetes_validation import validate_builtin
from tools import manifests
from tools.chart_pods import chart_pods
from tools.synth import Registration, Secret, SynthError, SynthResult, synth_component

ES = "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch"
KIBANA = "kubernetes:kibana.k8s.elastic.co/v1:Kibana"
CHART = "kubernetes:helm.sh/v4:Chart"
SECRET = "kubernetes:core/v1:Secret"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
NAMESPACE = "kubernetes:core/v1:Namespace"
JOB = "kubernetes:batch/v1:Job"
PASSWORD = "random:index/randomPassword:RandomPassword"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
GENERATOR = "kubernetes:generators.external-secrets.io/v1alpha1:Password"
EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
# What each cluster passes (the LEAD's wiring): the tainted pools' tolerations, its StorageClass.
CLUSTERS = {
    "eks": ("gp3-encrypted", SAJU_ENGINE_TAINT),
    "gke": ("pd-balanced-encrypted", GPU_TAINT),
}


def _toleration(taint: Any) -> dict[str, str]:
    return {"key": str(taint.key), "operator": "Equal", "value": str(taint.value), "effect": EFFECTS[taint.effect]}


def _synth(cluster: str, **overrides: Any) -> SynthResult:
    storage_class, taint = CLUSTERS[cluster]

    def build(providers):
        provider = kubernetes.Provider(f"heal7-test-{cluster}-k8s", kubeconfig="{}")
        args = LoggingStackArgs(
            storage_class=storage_class,
            tolerations=[_toleration(taint)],
            node_selector={"node-class": "general"},
            **overrides,
        )
        stack = LoggingStack(f"{cluster}-logging", args, pulumi.ResourceOptions(providers=[providers.random, provider]))
        return {"url": stack.elasticsearch_url, "kibana": stack.kibana_service}

    return synth_component(build)


@cache
def _default(cluster: str) -> SynthResult:
    return _synth(cluster)


def _data(secret: Registration) -> dict[str, Any]:
    """A Secret's stringData, unwrapped (the engine marks the whole property secret)."""
    data = secret.inputs["stringData"]
    data = data.value if isinstance(data, Secret) else data
    return {k: v.value if isinstance(v, Secret) else v for k, v in data.items()}


def _builtin_manifests(result: SynthResult, cluster: str) -> list[dict[str, Any]]:
    """The cluster's objects, each Secret with its keys back (manifests mask the whole
    stringData) and placeholder values, so its shape is validated too."""
    secrets = {r.urn: r for r in result.of_type(SECRET)}
    objects = []
    for obj in manifests.collect(result)[f"heal7-test-{cluster}"].objects:
        manifest = obj.manifest
        if obj.urn in secrets:
            manifest = {**manifest, "stringData": {k: "<secret>" for k in _data(secrets[obj.urn])}}
        objects.append(manifest)
    return objects


def _one(result: SynthResult, type_token: str, suffix: str) -> Registration:
    found = [r for r in result.of_type(type_token) if r.name.endswith(suffix)]
    assert len(found) == 1, [r.name for r in result.of_type(type_token)]
    return found[0]


def _node_set(result: SynthResult) -> dict[str, Any]:
    (node_set,) = result.one(ES).inputs["spec"]["nodeSets"]
    return node_set


def _es_container(result: SynthResult) -> dict[str, Any]:
    (container,) = _node_set(result)["podTemplate"]["spec"]["containers"]
    assert container["name"] == "elasticsearch"
    return container


def _fluent_bit_values(result: SynthResult) -> dict[str, Any]:
    return _one(result, CHART, "-fluent-bit").inputs["values"]


def _output_section(result: SynthResult) -> dict[str, str]:
    lines = _fluent_bit_values(result)["config"]["outputs"].splitlines()
    assert lines[0] == "[OUTPUT]"
    return dict(line.split(None, 1) for line in lines[1:] if line.strip())


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_three_master_data_ingest_nodes_one_per_zone(cluster):
    result = _default(cluster)
    es = result.one(ES)
    node_set = _node_set(result)
    assert node_set["count"] == 3
    assert node_set["config"]["node.roles"] == ["master", "data", "ingest"]
    pod = node_set["podTemplate"]["spec"]
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["maxSkew"] == 1 and spread["whenUnsatisfiable"] == "DoNotSchedule"
    # The constraint counts this node set's pods (the labels ECK puts on them).
    assert spread["labelSelector"]["matchLabels"] == {
        "elasticsearch.k8s.elastic.co/cluster-name": es.inputs["metadata"]["name"],
        "elasticsearch.k8s.elastic.co/statefulset-name": f"{es.inputs['metadata']['name']}-es-default",
    }
    # Shard allocation knows the zones: the attribute comes from the node's zone label, which
    # ECK copies to the pod because the object asks for it and the operator exposes it.
    assert node_set["config"]["node.attr.zone"] == "${ZONE}"
    assert node_set["config"]["cluster.routing.allocation.awareness.attributes"] == "k8s_node_name,zone"
    (zone_env,) = [e for e in _es_container(result)["env"] if e["name"] == "ZONE"]
    label = es.inputs["metadata"]["annotations"]["eck.k8s.elastic.co/downward-node-labels"]
    assert zone_env["valueFrom"]["fieldRef"]["fieldPath"] == f"metadata.annotations['{label}']"
    operator = _one(result, CHART, "-eck-operator").inputs["values"]
    assert operator["config"]["exposedNodeLabels"] == [label]
    assert pod["nodeSelector"] == {"node-class": "general"}


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_discovery_is_left_to_eck_never_single_node(cluster):
    result = _default(cluster)
    text = json.dumps(result.one(ES).inputs)
    assert "discovery" not in text and "single-node" not in text
    assert "master" in _node_set(result)["config"]["node.roles"]


@pytest.mark.parametrize(("memory_gib", "heap"), [(4, "2048m"), (2, "1024m"), (6, "3072m")])
def test_heap_is_half_the_memory_request(memory_gib, heap):
    container = _es_container(_synth("eks", elasticsearch_memory_gib=memory_gib))
    memory_mib = memory_gib * 1024
    (java,) = [e["value"] for e in container["env"] if e["name"] == "ES_JAVA_OPTS"]
    assert java.split() == [f"-Xms{heap}", f"-Xmx{heap}"]
    assert container["resources"]["requests"]["memory"] == f"{memory_mib}Mi"
    assert container["resources"]["limits"]["memory"] == f"{memory_mib}Mi"


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_volumes_on_the_clusters_encrypted_storage_class(cluster):
    (claim,) = _node_set(_default(cluster))["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "elasticsearch-data"
    assert claim["spec"]["storageClassName"] == CLUSTERS[cluster][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"


def test_pod_disruption_budget_is_ecks_health_aware_default():
    # Unset means ECK's own budget (one node at a time, only while green); `{}` would disable it.
    assert "podDisruptionBudget" not in _default("eks").one(ES).inputs["spec"]


@pytest.mark.parametrize(("days", "expected"), [(None, "90d"), (14, "14d"), (30, "30d")])
def test_retention_is_the_lifecycle_policys_delete_phase(days, expected):
    result = _default("eks") if days is None else _synth("eks", retention_days=days)
    bodies = _one(result, CONFIGMAP, "-lifecycle-bodies").inputs["data"]
    policy = json.loads(bodies[shipping.POLICY_BODY])["policy"]["phases"]
    assert policy["delete"] == {"min_age": expected, "actions": {"delete": {}}}
    template = json.loads(bodies[shipping.TEMPLATE_BODY])
    assert template["template"]["settings"]["index.lifecycle.name"] == shipping.LIFECYCLE_POLICY
    # The template covers exactly the indices Fluent Bit writes, and beats the built-in ones.
    prefix = _output_section(result)["Logstash_Prefix"]
    assert template["index_patterns"] == [f"{prefix}-*"] and template["priority"] > 100
    assert not re.match(r"^logs-[^-]*-", f"{prefix}-2026.01.01"), "would match the built-in logs-*-* data streams"


def test_the_job_puts_the_bodies_before_fluent_bit_starts():
    result = _default("eks")
    job = result.one(JOB)
    pod = job.inputs["spec"]["template"]["spec"]
    bodies = _one(result, CONFIGMAP, "-lifecycle-bodies")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["bodies"]["configMap"]["name"] == bodies.outputs["metadata"]["name"]
    assert volumes["es-ca"]["secret"]["secretName"] == specs.public_ca_secret("logs")
    (container,) = pod["containers"]
    assert "@sha256:" in container["image"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert job.urn in _one(result, CHART, "-fluent-bit").dependencies
    assert result.one(ES).urn in job.dependencies


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_fluent_bit_writes_to_its_own_clusters_elasticsearch_over_verified_tls(cluster):
    result = _default(cluster)
    es = result.one(ES).inputs["metadata"]
    output = _output_section(result)
    assert output["Name"] == "es"
    assert output["Host"] == f"{es['name']}-es-http.{es['namespace']}.svc"
    assert output["tls"] == "On" and output["tls.verify"] == "On"
    assert result.outputs["url"] == f"https://{output['Host']}:{output['Port']}"
    # The CA file is in the volume the ExternalSecret fills from ECK's CA of that cluster.
    values = _fluent_bit_values(result)
    (mount,) = values["extraVolumeMounts"]
    assert output["tls.ca_file"] == f"{mount['mountPath']}/ca.crt"
    (volume,) = [v for v in values["extraVolumes"] if v["name"] == mount["name"]]
    copy = _one(result, EXTERNAL_SECRET, "-ca-copy")
    assert copy.inputs["spec"]["target"]["name"] == volume["secret"]["secretName"]
    assert copy.inputs["metadata"]["namespace"] == "fluent-bit"
    (data,) = copy.inputs["spec"]["data"]
    assert data["remoteRef"] == {"key": f"{es['name']}-es-http-certs-public", "property": "ca.crt"}
    # Container logs with Kubernetes metadata.
    config = values["config"]
    assert "Path /var/log/containers/*.log" in config["inputs"]
    assert "Name kubernetes" in config["filters"] and "Match kube.*" in config["filters"]


def test_the_shippers_reader_may_get_those_two_secrets_only():
    result = _default("eks")
    (rule,) = _one(result, "kubernetes:rbac.authorization.k8s.io/v1:Role", "-ca-read").inputs["rules"]
    assert rule == {
        "apiGroups": [""],
        "resources": ["secrets"],
        "resourceNames": [specs.public_ca_secret("logs"), WRITER_REALM_SECRET],
        "verbs": ["get"],
    }


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_fluent_bit_tolerates_every_tainted_pool(cluster):
    _, taint = CLUSTERS[cluster]
    values = _fluent_bit_values(_default(cluster))
    assert values["kind"] == "DaemonSet"
    assert any(
        t["key"] == taint.key and t.get("value") == taint.value and t["effect"] == EFFECTS[taint.effect]
        for t in values["tolerations"]
    )


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_no_literal_secret_and_least_privilege_users(cluster):
    result = _default(cluster)
    # Nothing generates a password in Pulumi, and the program writes no Secret at all: External
    # Secrets generates the users' passwords in the cluster.
    assert result.of_type(PASSWORD) == [] and result.of_type(SECRET) == []
    generators = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in result.of_type(GENERATOR)}
    assert set(generators) == {f"{WRITER_REALM_SECRET}-password", f"{LIFECYCLE_SECRET}-password"}
    assert all(spec["length"] == 32 and spec["symbols"] == 0 for spec in generators.values())
    users = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in result.of_type(EXTERNAL_SECRET)
        if r.inputs["metadata"]["name"] in (WRITER_REALM_SECRET, LIFECYCLE_SECRET)
    }
    for secret, (username, role) in {
        WRITER_REALM_SECRET: ("fluent-bit", "fluent-bit-writer"),
        LIFECYCLE_SECRET: ("log-lifecycle", "log-lifecycle-admin"),
    }.items():
        spec = users[secret]
        # ECK's file realm reads a basic-auth Secret's username, password and roles.
        assert spec["target"]["template"] == {
            "type": "kubernetes.io/basic-auth",
            "mergePolicy": "Merge",
            "data": {"username": username, "roles": role},
        }
        (source,) = spec["dataFrom"]
        assert source["sourceRef"]["generatorRef"]["name"] == f"{secret}-password"
        # Generated once: never rotated underneath a running Fluent Bit.
        assert spec["refreshPolicy"] == "CreatedOnce"
    es_auth = result.one(ES).inputs["spec"]["auth"]
    assert es_auth["fileRealm"] == [{"secretName": WRITER_REALM_SECRET}, {"secretName": LIFECYCLE_SECRET}]
    (roles_secret,) = es_auth["roles"]
    roles_spec = next(
        r.inputs["spec"]
        for r in result.of_type(EXTERNAL_SECRET)
        if r.inputs["metadata"]["name"] == roles_secret["secretName"]
    )
    roles = json.loads(roles_spec["target"]["template"]["data"]["roles.yml"])
    assert roles["fluent-bit-writer"] == {
        "cluster": [],
        "indices": [{"names": ["k8s-logs-*"], "privileges": ["create_doc", "create_index"]}],
    }
    assert roles["log-lifecycle-admin"] == {"cluster": ["manage_ilm", "manage_index_templates"], "indices": []}
    # Fluent Bit reads the writer's password from its copy in its own namespace.
    copy = _one(result, EXTERNAL_SECRET, "-writer-copy").inputs
    assert copy["metadata"]["namespace"] == "fluent-bit"
    assert copy["spec"]["data"] == [
        {"secretKey": "password", "remoteRef": {"key": WRITER_REALM_SECRET, "property": "password"}}
    ]
    assert _output_section(result)["HTTP_Passwd"] == "${ES_PASSWORD}"


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_kibana_is_cluster_internal(cluster):
    result = _default(cluster)
    kibana = result.one(KIBANA).inputs["spec"]
    assert kibana["elasticsearchRef"] == {"name": result.one(ES).inputs["metadata"]["name"]}
    assert kibana["http"]["service"]["spec"]["type"] == "ClusterIP"
    assert "tls" not in kibana["http"]  # ECK's self-signed TLS stays on
    assert result.outputs["kibana"] == "logs-kb-http"
    assert "LoadBalancer" not in json.dumps([r.inputs for r in result.resources], default=str)


def test_namespaces_pod_security():
    result = _default("eks")
    labels = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for r in result.of_type(NAMESPACE)
    }
    assert labels == {"elastic-system": "restricted", "logging": "restricted", "fluent-bit": "privileged"}
    reason = _one(result, NAMESPACE, "-fluent-bit-namespace").inputs["metadata"]["annotations"]
    assert "hostPath" in reason["platform.heal7/pod-security-reason"]


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_elasticsearch_and_kibana_validate_against_the_eck_types(cluster):
    result = _default(cluster)
    objects = [o.manifest for o in manifests.collect(result)[f"heal7-test-{cluster}"].objects]
    eck = [m for m in objects if m["apiVersion"] in (specs.ELASTICSEARCH_API, specs.KIBANA_API)]
    assert sorted(m["kind"] for m in eck) == ["Elasticsearch", "Kibana"]
    for manifest, errors in zip(eck, elastic_errors(eck), strict=True):
        assert errors.schema == [] and errors.strict == [], manifest["kind"]


def test_the_eck_validation_bites():
    es = next(
        o.manifest for o in manifests.collect(_default("eks"))["heal7-test-eks"].objects if o.kind == "Elasticsearch"
    )
    typo = json.loads(json.dumps(es))
    typo["spec"]["nodeSets"][0]["volumeClaimTemplate"] = []  # not volumeClaimTemplates
    wrong = json.loads(json.dumps(es))
    wrong["spec"]["nodeSets"][0]["count"] = "three"
    typo_errors, wrong_errors = elastic_errors([typo, wrong])
    assert "spec.nodeSets[0].volumeClaimTemplate: unknown field" in typo_errors.strict
    assert any("count" in e for e in wrong_errors.schema)


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_built_in_objects_pass_strict_validation(cluster):
    result = _default(cluster)
    version = manifests.collect(result)[f"heal7-test-{cluster}"].version
    report = validate_builtin(_builtin_manifests(result, cluster), version)
    assert report.errors == []
    assert {c["kind"] for c in report.custom} == {
        "Elasticsearch",
        "Kibana",
        "SecretStore",
        "ExternalSecret",
        "Password",
    }
    kinds = {v.split()[1] for v in report.validated}
    assert {"Namespace", "Job", "ConfigMap", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"} <= kinds


def test_the_charts_are_pinned_and_their_pods_counted():
    charts = {c.chart: c for c in manifests.collect(_default("eks"))["heal7-test-eks"].charts}
    assert {name: (c.version, c.repository) for name, c in charts.items()} == {
        "eck-operator": (_charts.ECK_OPERATOR.version, "https://helm.elastic.co"),
        "fluent-bit": (_charts.FLUENT_BIT.version, "https://fluent.github.io/helm-charts"),
    }
    (operator,) = chart_pods(charts["eck-operator"])
    assert (operator.kind, operator.replicas, operator.requests.cpu_m, operator.requests.memory_mib) == (
        "Deployment",
        1,
        100,
        150,
    )
    (shipper,) = chart_pods(charts["fluent-bit"])
    assert (shipper.kind, shipper.requests.cpu_m, shipper.requests.memory_mib) == ("DaemonSet", 50, 64)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"elasticsearch_nodes": 2}, "elasticsearch_nodes must be 1 or an odd number >= 3 (a quorum), got 2"),
        ({"elasticsearch_memory_gib": 1}, "elasticsearch_memory_gib must be >= 2, got 1"),
        ({"retention_days": 0}, "retention_days must be >= 1, got 0"),
    ],
)
def test_bad_args_register_nothing(overrides, message):
    with pytest.raises(SynthError) as raised:
        _synth("eks", **overrides)
    assert message in str(raised.value)
    assert [r for r in raised.value.result.resources if not r.type.startswith("pulumi:providers:")] == []


def test_a_single_node_cluster_keeps_no_replica():
    result = _synth("eks", elasticsearch_nodes=1)
    template = json.loads(_one(result, CONFIGMAP, "-lifecycle-bodies").inputs["data"][shipping.TEMPLATE_BODY])
    assert template["template"]["settings"]["index.number_of_replicas"] == 0
    assert (
        json.loads(_one(_default("eks"), CONFIGMAP, "-lifecycle-bodies").inputs["data"][shipping.TEMPLATE_BODY])[
            "template"
        ]["settings"]["index.number_of_replicas"]
        == 1
    )
