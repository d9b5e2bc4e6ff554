"""LoggingStack: the cluster's own Elasticsearch, Kibana and Fluent Bit (the HEAL7 design's ELK).

The same component on EKS and GKE; what differs arrives as args (the encrypted StorageClass,
the tainted pools' tolerations, sizes per tier). Each cluster ships its logs to its own
Elasticsearch: the GKE cluster's logs survive the loss of the AWS region (where they would
be needed most) and never cross the VPN, whose bandwidth the database replication needs.

- ECK (the eck-operator chart) runs an `Elasticsearch` of three master+data+ingest nodes, one
  per zone, and `Kibana` (_logging_specs.py says why each setting). Its CRDs come with the
  chart (`installCRDs`, the eck-operator-crds subchart), as chart objects, so the two custom
  resources resolve at preview in the same run; they are marked `keep`, which helm.v4.Chart
  maps to retainOnDelete: removing the chart never deletes the log cluster with its CRD. The
  chart has no Helm hooks (none of its templates carries `helm.sh/hook` at 3.5.0).
- Kibana has a ClusterIP Service only: operators reach it with `kubectl port-forward`, which
  the Kubernetes RBAC bound to their cloud identity allows or not, then log in as a user of
  Elasticsearch. ECK's self-signed HTTP TLS stays on for both.
- Fluent Bit (the fluent-bit chart) on every node, tolerating the tainted pools, tails the
  container logs, adds Kubernetes metadata and writes to the cluster's Elasticsearch over
  TLS as a user that may only create documents in the log indices. It has a namespace of its
  own at Pod Security `privileged` (it reads the node's /var/log through hostPath, which
  baseline forbids): Elasticsearch and Kibana keep `restricted`. ECK's CA reaches it through
  External Secrets' Kubernetes provider: a SecretStore reading, as a service account that may
  `get` those two Secrets and nothing else, ECK's public CA Secret and the writer's Secret in
  the logging namespace; the copy follows ECK's CA rotation within the refresh interval.
- Passwords: generated in the cluster by External Secrets' Password generator, once
  (CreatedOnce), into `kubernetes.io/basic-auth` Secrets that ECK's file realm reads (ECK
  hashes them and grants their `roles`). No program, stack file or Pulumi state holds one, and
  no Secret the program writes carries data (the policy pack's k8s-secret-no-literal-data).
- Retention: a Job PUTs an ILM policy (delete `retention_days` after an index's creation)
  and an index template that attaches it to every daily log index. ECK's StackConfigPolicy
  would do it declaratively but needs an Enterprise licence, and Fluent Bit's es output has
  no lifecycle options. PUT is idempotent; the Job is replaced (auto-named) whenever the
  bodies change, and Fluent Bit waits for it, so no index is created before the template.
"""

from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes import _log_shipping_specs as shipping
from components.kubernetes import _logging_specs as specs
from components.kubernetes._charts import ECK_OPERATOR, FLUENT_BIT, install_chart, pod_security_labels
from components.kubernetes._charts import restricted_namespace as make_restricted_namespace
from components.kubernetes._logging_credentials import (
    CA_SECRET,
    LIFECYCLE_SECRET,
    ROLES_SECRET,
    WRITER_REALM_SECRET,
    WRITER_SECRET,
    generated_user,
    network_policies,
    roles_file,
    shipper_copies,
)

OPERATOR_NAMESPACE = "elastic-system"
NAMESPACE = "logging"
FLUENT_BIT_NAMESPACE = "fluent-bit"
ES_NAME = "logs"
KIBANA_NAME = "logs"
# curl 8.21.0 by its manifest-list digest (docker.io/curlimages/curl): the lifecycle Job's only
# tool. The digest must be re-read from the registry (`crane digest curlimages/curl:8.21.0`)
# when the tag moves.
LIFECYCLE_IMAGE = (
    "docker.io/curlimages/curl:8.21.0@sha256:7c12af72ceb38b7432ab85e1a265cff6ae58e06f95539d539b654f2cfa64bb13"
)
# The platform's application uid (the policy pack's k8s-application-uid); curl needs no
# particular user (the image's own curl_user is 100).
CURL_UID = 1001
PRIVILEGED_REASON = "platform.heal7/pod-security-reason"


@dataclass
class LoggingStackArgs:
    """Inputs of LoggingStack. Defaults: the HEAL7 design's cluster (3 nodes, 4 GiB, 100 GiB, 90 days)."""

    storage_class: str
    """Required: the StorageClass of Elasticsearch's volumes; it must encrypt (EKS: gp3 with
    `encrypted: "true"`; GKE: pd-balanced, encrypted at rest by Persistent Disk) and bind on
    first consumer, so each volume is created in its pod's zone."""
    tolerations: list[dict[str, str]] = field(default_factory=list)
    """Kubernetes tolerations (key, operator, value, effect) Fluent Bit needs to reach every node:
    one per tainted pool (EKS: the high-CPU group's `workload=saju-engine:NoSchedule`; GKE: the
    GPU pool's `nvidia.com/gpu=present:NoSchedule`). Default none."""
    retention_days: int = 90
    """Days a log index is kept after its day, in days (>= 1). Default 90: the HEAL7 design's
    "Logs: 90 days retention"."""
    elasticsearch_nodes: int = 3
    """Elasticsearch nodes, each master, data and ingest, in pods: 1 (no redundancy, replicas off)
    or an odd number >= 3 (a quorum survives a zone). Default 3 (the HEAL7 design's 3 replicas)."""
    elasticsearch_memory_gib: int = 4
    """Memory request and limit of each Elasticsearch node, in GiB (>= 2, ECK's own default size);
    the JVM heap is half. Default 4 (the HEAL7 design's 4Gi request beside -Xms2g)."""
    elasticsearch_cpu_request: str = "1"
    """CPU request of each Elasticsearch node, a Kubernetes quantity. Default 1 (the HEAL7 design)."""
    elasticsearch_cpu_limit: str = "2"
    """CPU limit of each Elasticsearch node, a Kubernetes quantity. Default 2 (the HEAL7 design)."""
    storage_gib: int = 100
    """Data volume of each Elasticsearch node, in GiB (>= 1). Default 100 (the HEAL7 design)."""
    node_selector: dict[str, str] = field(default_factory=dict)
    """Node labels Elasticsearch and Kibana pods require (the general pool). Default none."""
    kibana_count: int = 1
    """Kibana replicas, in pods (>= 1). Default 1: Kibana holds no state; a restart only
    interrupts the operators' searches."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What the SecretStore and ExternalSecret wait for: the External Secrets chart (their CRDs).
    Default none."""
    labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on the three namespaces (ownership). Default none."""


def validate(name: str, args: LoggingStackArgs) -> None:
    """Every wrong arg at once, before anything registers."""
    problems = []
    nodes = args.elasticsearch_nodes
    if nodes < 1 or (nodes > 1 and (nodes < 3 or nodes % 2 == 0)):
        problems.append(f"elasticsearch_nodes must be 1 or an odd number >= 3 (a quorum), got {nodes}")
    if args.elasticsearch_memory_gib < 2:
        problems.append(f"elasticsearch_memory_gib must be >= 2, got {args.elasticsearch_memory_gib}")
    if args.retention_days < 1:
        problems.append(f"retention_days must be >= 1, got {args.retention_days}")
    if args.storage_gib < 1:
        problems.append(f"storage_gib must be >= 1, got {args.storage_gib}")
    if args.kibana_count < 1:
        problems.append(f"kibana_count must be >= 1, got {args.kibana_count}")
    if not args.storage_class:
        problems.append("storage_class must name an encrypting StorageClass")
    if problems:
        raise ValueError(f"LoggingStack {name}: " + "; ".join(problems))


class LoggingStack(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    elasticsearch_url: pulumi.Output[str]
    """In-cluster HTTPS URL of the log cluster (ECK's HTTP Service)."""
    kibana_service: pulumi.Output[str]
    """Kibana's ClusterIP Service, for `kubectl port-forward -n logging svc/<it> 5601`."""

    def __init__(self, name: str, args: LoggingStackArgs, opts: pulumi.ResourceOptions | None = None):
        validate(name, args)
        super().__init__("platform:kubernetes:LoggingStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The operator's and the log cluster's pods meet restricted (eck_operator_values,
        # _logging_specs); Fluent Bit's namespace is the one exception (module docstring).
        operator_ns = make_restricted_namespace(f"{name}-operator-namespace", OPERATOR_NAMESPACE, args.labels, child)
        logging_ns = make_restricted_namespace(f"{name}-namespace", NAMESPACE, args.labels, child)
        shipper_ns = kubernetes.core.v1.Namespace(
            f"{name}-fluent-bit-namespace",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=FLUENT_BIT_NAMESPACE,
                labels={**args.labels, **pod_security_labels("privileged")},
                annotations={PRIVILEGED_REASON: "Fluent Bit reads the node's /var/log through hostPath"},
            ),
            opts=child,
        )
        operator = install_chart(
            f"{name}-eck-operator",
            ECK_OPERATOR,
            release="elastic-operator",
            namespace=operator_ns.metadata.name,
            values=specs.eck_operator_values(NAMESPACE),
            opts=child,
        )

        # The two users' passwords are generated in the cluster by External Secrets (a Password
        # generator each) into basic-auth Secrets ECK's file realm reads: no program, stack file
        # or state holds them, and no Secret of the program carries data.
        writer = generated_user(
            name,
            "writer",
            secret=WRITER_REALM_SECRET,
            username=specs.WRITER_USER,
            es_role=specs.WRITER_ROLE,
            namespace=logging_ns.metadata.name,
            parent=self,
            after=args.after,
        )
        lifecycle_credentials = generated_user(
            name,
            "lifecycle",
            secret=LIFECYCLE_SECRET,
            username=specs.LIFECYCLE_USER,
            es_role=specs.LIFECYCLE_ROLE,
            namespace=logging_ns.metadata.name,
            parent=self,
            after=args.after,
        )
        roles = roles_file(
            name, namespace=logging_ns.metadata.name, generator_of=lifecycle_credentials, parent=self, after=args.after
        )

        elasticsearch = kubernetes.apiextensions.CustomResource(
            f"{name}-elasticsearch",
            api_version=specs.ELASTICSEARCH_API,
            kind="Elasticsearch",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=ES_NAME, namespace=logging_ns.metadata.name, annotations=specs.elasticsearch_annotations()
            ),
            spec=specs.elasticsearch_spec(
                es_name=ES_NAME,
                node_count=args.elasticsearch_nodes,
                memory_mib=args.elasticsearch_memory_gib * 1024,
                cpu_request=args.elasticsearch_cpu_request,
                cpu_limit=args.elasticsearch_cpu_limit,
                storage_gib=args.storage_gib,
                storage_class=args.storage_class,
                node_selector=args.node_selector,
                file_realm_secrets=[WRITER_REALM_SECRET, LIFECYCLE_SECRET],
                roles_secret=ROLES_SECRET,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[operator, writer, lifecycle_credentials, roles]),
        )
        kibana = kubernetes.apiextensions.CustomResource(
            f"{name}-kibana",
            api_version=specs.KIBANA_API,
            kind="Kibana",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=KIBANA_NAME, namespace=logging_ns.metadata.name),
            spec=specs.kibana_spec(es_name=ES_NAME, count=args.kibana_count, node_selector=args.node_selector),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[operator, elasticsearch]),
        )

        self._network_policies(name, logging_ns)
        lifecycle_job = self._lifecycle_job(name, args, logging_ns, lifecycle_credentials, elasticsearch)
        copies = shipper_copies(
            name,
            es_name=ES_NAME,
            logging_namespace=NAMESPACE,
            shipper_namespace=FLUENT_BIT_NAMESPACE,
            writer=writer,
            parent=self,
            # The SecretStore and ExternalSecrets need their CRDs; the namespaces must exist.
            after=[*args.after, logging_ns, shipper_ns],
        )
        es_host = f"{specs.http_service(ES_NAME)}.{NAMESPACE}.svc"
        install_chart(
            f"{name}-fluent-bit",
            FLUENT_BIT,
            release="fluent-bit",
            namespace=shipper_ns.metadata.name,
            values=shipping.fluent_bit_values(
                args.tolerations, es_host, ca_secret=CA_SECRET, credentials_secret=WRITER_SECRET
            ),
            # The template before the first index (module docstring); the CA before the pods.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[lifecycle_job, *copies]),
        )

        self.namespace = logging_ns.metadata.name
        self.elasticsearch_url = elasticsearch.urn.apply(lambda _: f"https://{es_host}:9200")
        self.kibana_service = kibana.urn.apply(lambda _: f"{KIBANA_NAME}-kb-http")
        self.register_outputs(
            {
                "namespace": self.namespace,
                "elasticsearch_url": self.elasticsearch_url,
                "kibana_service": self.kibana_service,
            }
        )

    def _network_policies(self, name: str, namespace: kubernetes.core.v1.Namespace) -> None:
        """The logging namespace's policies (specs.network_policies): deny but DNS, its own pods,
        and Fluent Bit and ECK's operator to Elasticsearch's HTTP port."""
        for role, spec in network_policies(ES_NAME, clients=[FLUENT_BIT_NAMESPACE, OPERATOR_NAMESPACE]).items():
            kubernetes.networking.v1.NetworkPolicy(
                f"{name}-{role}",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name=role, namespace=namespace.metadata.name),
                spec=cast(Any, spec),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _lifecycle_job(
        self,
        name: str,
        args: LoggingStackArgs,
        namespace: kubernetes.core.v1.Namespace,
        credentials: pulumi.Resource,
        elasticsearch: pulumi.Resource,
    ) -> kubernetes.batch.v1.Job:
        """The Job that PUTs the ILM policy and the index template (module docstring)."""
        child = pulumi.ResourceOptions(parent=self)
        bodies = kubernetes.core.v1.ConfigMap(
            f"{name}-lifecycle-bodies",
            # Auto-named: changed bodies make a new ConfigMap, and so a new Job that applies them.
            metadata=kubernetes.meta.v1.ObjectMetaArgs(namespace=namespace.metadata.name),
            data=shipping.lifecycle_bodies(args.retention_days, replicas=0 if args.elasticsearch_nodes == 1 else 1),
            opts=child,
        )
        account = kubernetes.core.v1.ServiceAccount(
            f"{name}-lifecycle-account",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name="log-lifecycle", namespace=namespace.metadata.name),
            automount_service_account_token=False,
            opts=child,
        )
        return kubernetes.batch.v1.Job(
            f"{name}-lifecycle",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(namespace=namespace.metadata.name),
            spec=cast(Any, bodies.metadata.name).apply(
                lambda bodies_name: shipping.lifecycle_job_spec(
                    image=LIFECYCLE_IMAGE,
                    uid=CURL_UID,
                    service_account="log-lifecycle",
                    bodies_configmap=bodies_name,
                    credentials_secret=LIFECYCLE_SECRET,
                    ca_secret=specs.public_ca_secret(ES_NAME),
                    es_url=f"https://{specs.http_service(ES_NAME)}.{NAMESPACE}.svc:9200",
                )
            ),
            # Elasticsearch forms after the object exists: curl retries for ten minutes and the
            # Job retries its pod; Pulumi waits for completion up to this.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[elasticsearch, credentials, account],
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m"),
            ),
        )
