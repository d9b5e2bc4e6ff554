"""The log cluster itself, as plain data: the Elasticsearch and Kibana specs (ECK 3.5.0's CRDs)
and the file realm's users and roles. No Pulumi resources here;
components/kubernetes/logging_stack.py wires them (_log_shipping_specs.py: Fluent Bit, the
index lifecycle and the CA copy).
"""

import json
from typing import Any

# Elastic Stack 9.4.3: the version ECK 3.5.0's samples and end-to-end tests run
# (config/samples/elasticsearch/elasticsearch.yaml and the Makefile's E2E_STACK_VERSION at
# tag v3.5.0); ECK 3.5.0 supports Elasticsearch and Kibana 7.x to 9.x.
STACK_VERSION = "9.4.3"
ELASTICSEARCH_API = "elasticsearch.k8s.elastic.co/v1"
KIBANA_API = "kibana.k8s.elastic.co/v1"
NODE_SET = "default"
ZONE_LABEL = "topology.kubernetes.io/zone"
# ECK's names for what it creates (pkg/apis/elasticsearch/v1/name.go at v3.5.0).
CLUSTER_NAME_LABEL = "elasticsearch.k8s.elastic.co/cluster-name"
STATEFULSET_NAME_LABEL = "elasticsearch.k8s.elastic.co/statefulset-name"
DOWNWARD_NODE_LABELS = "eck.k8s.elastic.co/downward-node-labels"
# The UID and GID of the elasticsearch and kibana images; ECK's own default fsGroup.
ELASTIC_UID = 1000

LOG_INDEX_PREFIX = "k8s-logs"
"""Daily indices `k8s-logs-YYYY.MM.DD`. Not `logs-*`: Elasticsearch's built-in `logs` template
(pattern `logs-*-*`) would turn such an index into a data stream."""
WRITER_ROLE = "fluent-bit-writer"
WRITER_USER = "fluent-bit"
LIFECYCLE_ROLE = "log-lifecycle-admin"
LIFECYCLE_USER = "log-lifecycle"


def http_service(es_name: str) -> str:
    """ECK's HTTP Service of an Elasticsearch (`<name>-es-http`)."""
    return f"{es_name}-es-http"


def public_ca_secret(es_name: str) -> str:
    """ECK's Secret with the HTTP layer's CA (`ca.crt`) and certificate, without the key."""
    return f"{es_name}-es-http-certs-public"


def heap_mib(memory_request_mib: int) -> int:
    """Half the container's memory for the JVM heap (Elastic's sizing rule: the other half is the
    filesystem cache Lucene reads through)."""
    return memory_request_mib // 2


def elasticsearch_spec(
    *,
    es_name: str,
    node_count: int,
    memory_mib: int,
    cpu_request: str,
    cpu_limit: str,
    storage_gib: int,
    storage_class: str,
    node_selector: dict[str, str],
    file_realm_secrets: list[str],
    roles_secret: str,
) -> dict[str, Any]:
    """`spec` of the log cluster: one node set whose every node is master, data and ingest."""
    heap = heap_mib(memory_mib)
    pod_labels = {CLUSTER_NAME_LABEL: es_name, STATEFULSET_NAME_LABEL: f"{es_name}-es-{NODE_SET}"}
    return {
        "version": STACK_VERSION,
        "auth": {
            "fileRealm": [{"secretName": secret} for secret in file_realm_secrets],
            "roles": [{"secretName": roles_secret}],
        },
        # HTTP TLS stays ECK's self-signed certificate (the default); the Service stays ClusterIP.
        "http": {"service": {"spec": {"type": "ClusterIP"}}},
        # PodDisruptionBudget: unset on purpose. ECK's default (pdb/reconcile_default.go) lets
        # one node go only while the cluster is green, none otherwise; a fixed spec here would
        # replace that health check with a static number. (`podDisruptionBudget: {}` disables it.)
        #
        # Deleting the Elasticsearch object keeps the volumes: recreated under the same name it
        # finds its logs again. A scale-down still frees the volumes it no longer needs.
        "volumeClaimDeletePolicy": "DeleteOnScaledownOnly",
        "nodeSets": [
            {
                "name": NODE_SET,
                "count": node_count,
                "config": {
                    # Three master-eligible nodes: a quorum of two survives the loss of a zone.
                    # ECK writes the discovery seed hosts and the initial master nodes itself,
                    # so there is no discovery.type: single-node (the HEAL7 design's setting
                    # made each of its 3 replicas a cluster of its own: split brain by design).
                    "node.roles": ["master", "data", "ingest"],
                    # No mmap: Elasticsearch then needs no vm.max_map_count sysctl, so no
                    # privileged init container, and the namespace stays Pod Security restricted
                    # (ECK's documented alternative; niofs costs some search speed, which log
                    # search can spare).
                    "node.store.allow_mmap": False,
                    # No download of GeoIP databases from the internet: the namespace's policies
                    # admit no egress beyond the cluster, and container logs need no geolocation.
                    "ingest.geoip.downloader.enabled": False,
                    # Zone awareness, ECK's documented form (ECK 3.5's nodeSets[].zoneAwareness
                    # generates exactly these settings, but the CRD models the tests validate
                    # with predate it): the node's zone, copied by ECK from the node label to a
                    # pod annotation (the downward-node-labels annotation on the object), read
                    # through ZONE; a primary and its replica never share a zone or a host.
                    "node.attr.zone": "${ZONE}",
                    "cluster.routing.allocation.awareness.attributes": "k8s_node_name,zone",
                },
                "podTemplate": {
                    "spec": {
                        # Restricted Pod Security at pod level; ECK fills in the containers'
                        # (privileged false, no escalation, drop ALL, runAsNonRoot). Setting the
                        # pod's context replaces ECK's default one, so its fsGroup and seccomp
                        # profile are stated here.
                        "securityContext": {
                            "runAsNonRoot": True,
                            "fsGroup": ELASTIC_UID,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "nodeSelector": node_selector,
                        # One node per zone (ECK's own zone-awareness constraint): with three
                        # zones a zone loss takes one of three nodes, never the quorum.
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": ZONE_LABEL,
                                "whenUnsatisfiable": "DoNotSchedule",
                                "labelSelector": {"matchLabels": pod_labels},
                            }
                        ],
                        # ECK's init script waits for the zone annotation: only nodes with the
                        # label may take a pod, or it would wait forever.
                        "affinity": {
                            "nodeAffinity": {
                                "requiredDuringSchedulingIgnoredDuringExecution": {
                                    "nodeSelectorTerms": [
                                        {"matchExpressions": [{"key": ZONE_LABEL, "operator": "Exists"}]}
                                    ]
                                }
                            }
                        },
                        "containers": [
                            {
                                "name": "elasticsearch",
                                "env": [
                                    {
                                        "name": "ZONE",
                                        "valueFrom": {
                                            "fieldRef": {"fieldPath": f"metadata.annotations['{ZONE_LABEL}']"}
                                        },
                                    },
                                    # Heap stated, not left to Elasticsearch's auto-sizing, so
                                    # it visibly follows the memory request (the HEAL7 design's
                                    # -Xms2g beside 4Gi); -Xms = -Xmx, no resizing pauses.
                                    {"name": "ES_JAVA_OPTS", "value": f"-Xms{heap}m -Xmx{heap}m"},
                                ],
                                # Memory limit = request (Elastic's guidance for ECK): a pod
                                # over its request is the first a node under pressure evicts.
                                # CPU: the HEAL7 design's request and limit.
                                "resources": {
                                    "requests": {"memory": f"{memory_mib}Mi", "cpu": cpu_request},
                                    "limits": {"memory": f"{memory_mib}Mi", "cpu": cpu_limit},
                                },
                            }
                        ],
                    }
                },
                "volumeClaimTemplates": [
                    {
                        # ECK's data volume name: the one its podTemplate mounts. (apiVersion
                        # and kind: optional in the CRD, required by the models that check it.)
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "metadata": {"name": "elasticsearch-data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": storage_class,
                            "resources": {"requests": {"storage": f"{storage_gib}Gi"}},
                        },
                    }
                ],
            }
        ],
    }


def elasticsearch_annotations() -> dict[str, str]:
    """The node labels ECK copies onto the Elasticsearch pods (read through ZONE)."""
    return {DOWNWARD_NODE_LABELS: ZONE_LABEL}


def kibana_spec(*, es_name: str, count: int, node_selector: dict[str, str]) -> dict[str, Any]:
    """`spec` of Kibana on the log cluster: ClusterIP only, reached by `kubectl port-forward`."""
    return {
        "version": STACK_VERSION,
        "count": count,
        # ECK creates Kibana's own Elasticsearch user and trusts the cluster's CA.
        "elasticsearchRef": {"name": es_name},
        # Self-signed TLS stays on (the default); no load balancer, no Ingress.
        "http": {"service": {"spec": {"type": "ClusterIP"}}},
        "podTemplate": {
            "spec": {
                # ECK's Kibana defaults set runAsUser but not runAsNonRoot, which Pod Security
                # restricted requires; stating the pod's context replaces ECK's default one, so
                # its fsGroup and seccomp profile are stated too.
                "securityContext": {
                    "runAsNonRoot": True,
                    "fsGroup": ELASTIC_UID,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "nodeSelector": node_selector,
                "containers": [
                    {
                        "name": "kibana",
                        # ECK's default Kibana size (1Gi), with requests the scheduler reserves.
                        "resources": {
                            "requests": {"memory": "1Gi", "cpu": "250m"},
                            "limits": {"memory": "1Gi", "cpu": "1"},
                        },
                    }
                ],
            }
        },
    }


def file_realm_roles() -> str:
    """`roles.yml` for ECK's `auth.roles`: Fluent Bit may only add documents to the log indices
    (creating the day's index); the lifecycle Job may only manage ILM policies and templates."""
    roles = {
        WRITER_ROLE: {
            "cluster": [],
            "indices": [{"names": [f"{LOG_INDEX_PREFIX}-*"], "privileges": ["create_doc", "create_index"]}],
        },
        LIFECYCLE_ROLE: {"cluster": ["manage_ilm", "manage_index_templates"], "indices": []},
    }
    # JSON is YAML: the roles file is parsed by Elasticsearch's YAML reader.
    return json.dumps(roles, indent=2, sort_keys=True)


# External Secrets' Password generator (chart 2.9.0 serves generators.external-secrets.io/v1alpha1).
GENERATOR_API = "generators.external-secrets.io/v1alpha1"


def password_generator_spec() -> dict[str, Any]:
    """`spec` of a Password generator: 32 letters and digits (safe in the realm, curl's config and
    Fluent Bit's ${VAR}); the operator generates it in the cluster, so no program or state holds it."""
    return {"length": 32, "digits": 8, "symbols": 0, "noUpper": False, "allowRepeat": True}


def basic_auth_user_spec(*, target: str, generator: str, username: str, role: str) -> dict[str, Any]:
    """`spec` of an ExternalSecret writing a `kubernetes.io/basic-auth` Secret for ECK's file realm
    (ECK hashes the password itself and grants the `roles` key's roles; user_provided.go at
    v3.5.0): the username and role are fixed, the password generated once and never rotated
    underneath Fluent Bit (CreatedOnce)."""
    return {
        "refreshPolicy": "CreatedOnce",
        "target": {
            "name": target,
            "creationPolicy": "Owner",
            # The generator's own `password` key stays (Merge); the template adds the fixed keys.
            "template": {
                "type": "kubernetes.io/basic-auth",
                "mergePolicy": "Merge",
                "data": {"username": username, "roles": role},
            },
        },
        "dataFrom": [
            {"sourceRef": {"generatorRef": {"apiVersion": GENERATOR_API, "kind": "Password", "name": generator}}}
        ],
    }


def roles_secret_spec(*, target: str, generator: str) -> dict[str, Any]:
    """`spec` of the ExternalSecret writing `roles.yml` (ECK reads roles from a Secret only). The
    file holds no credential; External Secrets writes it so that no Secret of the program carries
    data (the policy pack's k8s-secret-no-literal-data). The generator's value is not used."""
    return {
        "refreshPolicy": "OnChange",
        "target": {"name": target, "creationPolicy": "Owner", "template": {"data": {"roles.yml": file_realm_roles()}}},
        "dataFrom": [
            {"sourceRef": {"generatorRef": {"apiVersion": GENERATOR_API, "kind": "Password", "name": generator}}}
        ],
    }


def eck_operator_values(managed_namespace: str) -> dict[str, Any]:
    """Values for the eck-operator chart (keys checked against its values.yaml at 3.5.0)."""
    return {
        # The CRDs as chart objects (module docstring); the chart's default, stated.
        "installCRDs": True,
        # Only the logging namespace: the operator reconciles nothing else.
        "managedNamespaces": [managed_namespace],
        # The chart's defaults, stated: requests for the scheduler, limits on its caches.
        "resources": {"requests": {"cpu": "100m", "memory": "150Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        # The chart sets runAsNonRoot and a hardened container but no seccomp profile, which
        # Pod Security restricted requires.
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        # No validating webhook: the operator rewrites its caBundle at run time (drift against
        # what Pulumi applies), and it validates every resource on reconcile anyway; the
        # program's specs are validated against the CRD schemas offline.
        "webhook": {"enabled": False},
        "telemetry": {"disabled": True},
        "config": {
            # Restricted security contexts on the Elasticsearch and Kibana pods, not auto-detected.
            "setDefaultSecurityContext": "true",
            # The zone label ECK may copy onto the Elasticsearch pods (zone awareness).
            "exposedNodeLabels": [f"{ZONE_LABEL}"],
        },
    }
