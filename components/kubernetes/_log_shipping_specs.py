"""Getting logs into the cluster's Elasticsearch and out again, as plain data: Fluent Bit's
pipeline, the index lifecycle (ILM policy, index template and the Job that PUTs them) and the
copy of ECK's CA into Fluent Bit's namespace (External Secrets' Kubernetes provider).
components/kubernetes/logging_stack.py wires them; _logging_specs.py is the cluster itself.
"""

import json
from typing import Any

from components.kubernetes._logging_specs import (
    LIFECYCLE_USER,
    LOG_INDEX_PREFIX,
    WRITER_USER,
)

SECRET_STORE_API = "external-secrets.io/v1"
LIFECYCLE_POLICY = LOG_INDEX_PREFIX
FLUENT_BIT_CA_DIR = "/fluent-bit/tls"
FLUENT_BIT_STATE_DIR = "/var/fluent-bit/state"
# On the node, outside /var/log (mounted read-only): the tail offsets and the buffered chunks.
FLUENT_BIT_HOST_STATE = "/var/lib/fluent-bit"
POLICY_BODY = "ilm-policy.json"
TEMPLATE_BODY = "index-template.json"


def lifecycle_policy(retention_days: int) -> dict[str, Any]:
    """ILM policy: each daily index is deleted `retention_days` after it was created."""
    return {
        "policy": {
            "phases": {
                "hot": {"min_age": "0ms", "actions": {"set_priority": {"priority": 100}}},
                "delete": {"min_age": f"{retention_days}d", "actions": {"delete": {}}},
            }
        }
    }


def index_template(replicas: int) -> dict[str, Any]:
    """Composable index template: every log index gets the lifecycle policy on creation."""
    return {
        "index_patterns": [f"{LOG_INDEX_PREFIX}-*"],
        # Above the built-in templates' 100, so no built-in pattern can win.
        "priority": 200,
        "template": {
            "settings": {
                "index.lifecycle.name": LIFECYCLE_POLICY,
                # One shard a day is plenty for a day of logs; one replica (none on a
                # single node, where it could never be placed), which zone awareness keeps
                # in another zone than its primary.
                "index.number_of_shards": 1,
                "index.number_of_replicas": replicas,
            }
        },
    }


# The Job's script: PUT is idempotent, so a rerun (a changed retention) converges. curl retries
# while Elasticsearch is still forming; the password goes through curl's config on stdin, never
# the command line.
LIFECYCLE_SCRIPT = """set -eu
put() {
  printf 'user = "%s:%s"\\n' "$ES_USER" "$ES_PASSWORD" | curl --config - --fail-with-body --silent --show-error \\
    --retry 60 --retry-all-errors --retry-delay 10 --cacert /es-ca/ca.crt \\
    -X PUT -H 'Content-Type: application/json' --data-binary "@/bodies/$2" "$ES_URL/$1"
  echo
}
put "_ilm/policy/$POLICY" ilm-policy.json
put "_index_template/$POLICY" index-template.json
"""


def fluent_bit_pipeline(*, es_host: str) -> dict[str, str]:
    """The chart's `config` sections (classic mode; keys of its values.yaml at 0.58.1)."""
    return {
        "service": f"""[SERVICE]
    Daemon Off
    Flush {{{{ .Values.flush }}}}
    Log_Level {{{{ .Values.logLevel }}}}
    Parsers_File /fluent-bit/etc/parsers.conf
    Parsers_File /fluent-bit/etc/conf/custom_parsers.conf
    HTTP_Server On
    HTTP_Listen 0.0.0.0
    HTTP_Port {{{{ .Values.metricsPort }}}}
    Health_Check On
    storage.path {FLUENT_BIT_STATE_DIR}/buffer
    storage.sync normal
    storage.backlog.mem_limit 16M
""",
        # Container logs only (the kubelet writes them under /var/log/containers on both
        # clouds' containerd nodes). Offsets in a DB on the node: a restarted pod resumes
        # where it stopped. Chunks buffered on disk while Elasticsearch is away.
        "inputs": f"""[INPUT]
    Name tail
    Path /var/log/containers/*.log
    multiline.parser docker, cri
    Tag kube.*
    DB {FLUENT_BIT_STATE_DIR}/tail-containers.db
    Mem_Buf_Limit 32MB
    Skip_Long_Lines On
    storage.type filesystem
""",
        # Kubernetes metadata (namespace, pod, container, labels) on every record; a pod may
        # pick its parser or exclude itself by annotation.
        "filters": """[FILTER]
    Name kubernetes
    Match kube.*
    Merge_Log On
    Keep_Log Off
    Labels On
    Annotations Off
    K8S-Logging.Parser On
    K8S-Logging.Exclude On
""",
        # The cluster's own Elasticsearch over TLS, verified against ECK's CA, as the writer
        # user. Dots in label keys would collide in the mapping (app vs app.kubernetes.io/name):
        # Replace_Dots. Retries forever, bounded by the disk buffer. (Trace_Error stays off: a
        # rejected batch would print itself into the logs it then ships.)
        "outputs": f"""[OUTPUT]
    Name es
    Match kube.*
    Host {es_host}
    Port 9200
    HTTP_User {WRITER_USER}
    HTTP_Passwd ${{ES_PASSWORD}}
    tls On
    tls.verify On
    tls.ca_file {FLUENT_BIT_CA_DIR}/ca.crt
    Logstash_Format On
    Logstash_Prefix {LOG_INDEX_PREFIX}
    Suppress_Type_Name On
    Replace_Dots On
    Retry_Limit False
    storage.total_limit_size 2G
""",
    }


def lifecycle_bodies(retention_days: int, replicas: int) -> dict[str, str]:
    """The ConfigMap the Job reads its request bodies from."""
    return {
        POLICY_BODY: json.dumps(lifecycle_policy(retention_days), indent=2, sort_keys=True),
        TEMPLATE_BODY: json.dumps(index_template(replicas), indent=2, sort_keys=True),
    }


def lifecycle_job_spec(
    *,
    image: str,
    uid: int,
    service_account: str,
    bodies_configmap: str,
    credentials_secret: str,
    ca_secret: str,
    es_url: str,
) -> dict[str, Any]:
    """`spec` of the Job that PUTs the lifecycle policy and the index template."""
    return {
        # A pod that fails (Elasticsearch still forming past curl's retries) is retried.
        "backoffLimit": 6,
        "template": {
            "spec": {
                "restartPolicy": "OnFailure",
                "serviceAccountName": service_account,
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": uid,
                    "runAsGroup": uid,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "put-lifecycle",
                        "image": image,
                        "command": ["/bin/sh", "-c", LIFECYCLE_SCRIPT],
                        "env": [
                            {"name": "ES_URL", "value": es_url},
                            {"name": "ES_USER", "value": LIFECYCLE_USER},
                            {
                                "name": "ES_PASSWORD",
                                "valueFrom": {"secretKeyRef": {"name": credentials_secret, "key": "password"}},
                            },
                            {"name": "POLICY", "value": LIFECYCLE_POLICY},
                        ],
                        "resources": {
                            "requests": {"cpu": "10m", "memory": "16Mi"},
                            "limits": {"cpu": "100m", "memory": "64Mi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [
                            {"name": "bodies", "mountPath": "/bodies", "readOnly": True},
                            {"name": "es-ca", "mountPath": "/es-ca", "readOnly": True},
                        ],
                    }
                ],
                "volumes": [
                    {"name": "bodies", "configMap": {"name": bodies_configmap}},
                    # ECK's public CA Secret, in the Job's own namespace.
                    {
                        "name": "es-ca",
                        "secret": {"secretName": ca_secret, "items": [{"key": "ca.crt", "path": "ca.crt"}]},
                    },
                ],
            }
        },
    }


def ca_read_rule(*secrets: str) -> dict[str, Any]:
    """The one permission of Fluent Bit's reader: `get` ECK's public CA Secret and the writer's
    file-realm Secret, by name."""
    return {"apiGroups": [""], "resources": ["secrets"], "resourceNames": list(secrets), "verbs": ["get"]}


def ca_secret_store_spec(*, remote_namespace: str, service_account: str) -> dict[str, Any]:
    """`spec` of a SecretStore on External Secrets' Kubernetes provider (v1 API of chart 2.9.0:
    `provider.kubernetes` with `remoteNamespace`, `server.caProvider` and `auth.serviceAccount`).
    It reads the logging namespace as `service_account` (a token the operator requests), through
    the API server's in-cluster URL (the provider's default), trusting the cluster's root CA."""
    return {
        "provider": {
            "kubernetes": {
                "remoteNamespace": remote_namespace,
                "server": {"caProvider": {"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt"}},
                "auth": {"serviceAccount": {"name": service_account}},
            }
        }
    }


def ca_external_secret_spec(*, store: str, target: str, source_secret: str) -> dict[str, Any]:
    """`spec` of the ExternalSecret copying `ca.crt` of ECK's public CA Secret."""
    return {
        # ECK renews its CA a day before expiry (caRotateBefore 24h): hourly copies follow it.
        "refreshInterval": "1h",
        "secretStoreRef": {"kind": "SecretStore", "name": store},
        "target": {"name": target, "creationPolicy": "Owner"},
        "data": [{"secretKey": "ca.crt", "remoteRef": {"key": source_secret, "property": "ca.crt"}}],
    }


def writer_password_copy_spec(*, store: str, target: str, source_secret: str) -> dict[str, Any]:
    """`spec` of the ExternalSecret copying the writer's `password` into Fluent Bit's namespace."""
    return {
        "refreshInterval": "1h",
        "secretStoreRef": {"kind": "SecretStore", "name": store},
        "target": {"name": target, "creationPolicy": "Owner"},
        "data": [{"secretKey": "password", "remoteRef": {"key": source_secret, "property": "password"}}],
    }


def fluent_bit_values(
    tolerations: list[dict[str, str]], es_host: str, *, ca_secret: str, credentials_secret: str
) -> dict[str, Any]:
    """Values for the fluent-bit chart (keys checked against its values.yaml at 0.58.1)."""
    return {
        "kind": "DaemonSet",
        # Every node: the tainted pools' tolerations (system pods' NoExecute taints are
        # tolerated by every DaemonSet pod automatically).
        "tolerations": tolerations,
        # A helm test Pod (a hook): helm.v4.Chart skips hooks; off so nothing half-renders.
        "testFramework": {"enabled": False},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        # Root only to read the kubelet's root-owned log files; no capability, no escalation,
        # read-only root filesystem, the runtime's default seccomp profile.
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {
            "runAsUser": 0,
            "runAsNonRoot": False,
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "env": [
            {"name": "ES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": credentials_secret, "key": "password"}}},
        ],
        # The node's logs read-only; Docker's directory is gone on both clouds' containerd
        # nodes, and without the systemd input machine-id is not needed.
        "daemonSetVolumes": [
            {"name": "varlog", "hostPath": {"path": "/var/log"}},
            {"name": "state", "hostPath": {"path": FLUENT_BIT_HOST_STATE, "type": "DirectoryOrCreate"}},
        ],
        "daemonSetVolumeMounts": [
            {"name": "varlog", "mountPath": "/var/log", "readOnly": True},
            {"name": "state", "mountPath": FLUENT_BIT_STATE_DIR},
        ],
        "extraVolumes": [{"name": "es-ca", "secret": {"secretName": ca_secret}}],
        "extraVolumeMounts": [{"name": "es-ca", "mountPath": FLUENT_BIT_CA_DIR, "readOnly": True}],
        "config": fluent_bit_pipeline(es_host=es_host),
    }
