"""The logging stack's credentials and network access. The program holds none of the credentials:

- the file-realm users (Fluent Bit's writer, the retention Job's lifecycle user) and the roles
  file, written by External Secrets from a Password generator each into `kubernetes.io/basic-auth`
  Secrets ECK's file realm reads (ECK hashes the passwords and grants their `roles`);
- the copies Fluent Bit needs in its own namespace (ECK's public CA and the writer's password),
  made by External Secrets' Kubernetes provider reading the logging namespace as a service
  account that may `get` those two Secrets and nothing else.

and the logging namespace's NetworkPolicies (`network_policies`). Each function that registers
resources makes them children of `parent` (the LoggingStack).
"""

from typing import Any, cast

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes import _log_shipping_specs as shipping
from components.kubernetes import _logging_specs as specs
from components.kubernetes._network_policies import deny_all_but_dns

EXTERNAL_SECRETS_API = "external-secrets.io/v1"
# The file realm's basic-auth Secrets and the roles file, in the logging namespace.
WRITER_REALM_SECRET = "log-writer-user"
LIFECYCLE_SECRET = "log-lifecycle-credentials"
ROLES_SECRET = "logging-roles"
# In Fluent Bit's namespace: ECK's CA and the writer's password, and who reads them.
CA_SECRET = "elasticsearch-ca"
WRITER_SECRET = "fluent-bit-elasticsearch"
CA_READER = "elasticsearch-ca-reader"


def generated_user(
    name: str,
    role: str,
    *,
    secret: str,
    username: str,
    es_role: str,
    namespace: pulumi.Input[str],
    parent: pulumi.Resource,
    after: list[pulumi.Resource],
) -> pulumi.Resource:
    """A file-realm user: a Password generator and the ExternalSecret writing its basic-auth Secret."""
    generator = kubernetes.apiextensions.CustomResource(
        f"{name}-{role}-password",
        api_version=specs.GENERATOR_API,
        kind="Password",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=f"{secret}-password", namespace=namespace),
        spec=specs.password_generator_spec(),
        # The generator CRDs come with the External Secrets chart.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )
    return kubernetes.apiextensions.CustomResource(
        f"{name}-{role}-user",
        api_version=EXTERNAL_SECRETS_API,
        kind="ExternalSecret",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=secret, namespace=namespace),
        spec=specs.basic_auth_user_spec(target=secret, generator=f"{secret}-password", username=username, role=es_role),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[generator]),
    )


def roles_file(
    name: str,
    *,
    namespace: pulumi.Input[str],
    generator_of: pulumi.Resource,
    parent: pulumi.Resource,
    after: list[pulumi.Resource],
) -> pulumi.Resource:
    """The roles file's Secret (ECK reads roles from a Secret only), written by External Secrets
    (the lifecycle user's generator is its nominal source)."""
    return kubernetes.apiextensions.CustomResource(
        f"{name}-roles",
        api_version=EXTERNAL_SECRETS_API,
        kind="ExternalSecret",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=ROLES_SECRET, namespace=namespace),
        spec=specs.roles_secret_spec(target=ROLES_SECRET, generator=f"{LIFECYCLE_SECRET}-password"),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*after, generator_of]),
    )


def shipper_copies(
    name: str,
    *,
    es_name: str,
    logging_namespace: str,
    shipper_namespace: str,
    writer: pulumi.Resource,
    parent: pulumi.Resource,
    after: list[pulumi.Resource],
) -> list[pulumi.Resource]:
    """ECK's public CA and the writer's password, copied into Fluent Bit's namespace."""
    child = pulumi.ResourceOptions(parent=parent)
    reader = kubernetes.core.v1.ServiceAccount(
        f"{name}-ca-reader",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=CA_READER, namespace=shipper_namespace),
        automount_service_account_token=False,
        opts=child,
    )
    role = kubernetes.rbac.v1.Role(
        f"{name}-ca-read",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=CA_READER, namespace=logging_namespace),
        rules=[cast(Any, shipping.ca_read_rule(specs.public_ca_secret(es_name), WRITER_REALM_SECRET))],
        opts=child,
    )
    binding = kubernetes.rbac.v1.RoleBinding(
        f"{name}-ca-read-binding",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=CA_READER, namespace=logging_namespace),
        role_ref=kubernetes.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=CA_READER),
        subjects=[kubernetes.rbac.v1.SubjectArgs(kind="ServiceAccount", name=CA_READER, namespace=shipper_namespace)],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role, reader]),
    )
    store = kubernetes.apiextensions.CustomResource(
        f"{name}-ca-store",
        api_version=shipping.SECRET_STORE_API,
        kind="SecretStore",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=CA_READER, namespace=shipper_namespace),
        spec=shipping.ca_secret_store_spec(remote_namespace=logging_namespace, service_account=CA_READER),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*after, binding]),
    )
    ca = kubernetes.apiextensions.CustomResource(
        f"{name}-ca-copy",
        api_version=shipping.SECRET_STORE_API,
        kind="ExternalSecret",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=CA_SECRET, namespace=shipper_namespace),
        spec=shipping.ca_external_secret_spec(
            store=CA_READER, target=CA_SECRET, source_secret=specs.public_ca_secret(es_name)
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*after, store]),
    )
    # The writer's password, from its file-realm Secret, for Fluent Bit's environment.
    password = kubernetes.apiextensions.CustomResource(
        f"{name}-writer-copy",
        api_version=shipping.SECRET_STORE_API,
        kind="ExternalSecret",
        metadata=kubernetes.meta.v1.ObjectMetaArgs(name=WRITER_SECRET, namespace=shipper_namespace),
        spec=shipping.writer_password_copy_spec(
            store=CA_READER, target=WRITER_SECRET, source_secret=WRITER_REALM_SECRET
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*after, store, writer]),
    )
    return [ca, password]


def network_policies(es_name: str, *, clients: list[str]) -> dict[str, dict[str, Any]]:
    """The logging namespace's NetworkPolicy specs by name: deny everything; allow DNS to
    kube-system's resolver, the namespace's own pods to each other (Kibana and the lifecycle Job to
    Elasticsearch, the nodes' transport), and the `clients` namespaces (Fluent Bit, ECK's operator)
    to Elasticsearch's HTTP port 9200 only."""

    def namespace_peer(source: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": source}}}

    return {
        **deny_all_but_dns(),
        "allow-same-namespace": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
        "allow-elasticsearch-clients": {
            "podSelector": {"matchLabels": {"elasticsearch.k8s.elastic.co/cluster-name": es_name}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [namespace_peer(client) for client in clients], "ports": [{"protocol": "TCP", "port": 9200}]}
            ],
        },
    }
