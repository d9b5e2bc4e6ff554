"""Typed models of the External Secrets objects the platform creates.

No published Python model package covers External Secrets, so these dataclasses model only
the fields the platform sets. Each was checked field by field against the CRDs of External
Secrets Operator v2.9.0 (chart 2.9.0, `config/crds/bases/` at tag helm-chart-2.9.0), API
version `external-secrets.io/v1` (the only served version there; v1beta1 is
`served: false`):

- ClusterSecretStore (`external-secrets.io_clustersecretstores.yaml`): `spec.provider`
  (required); `provider.aws` with `service` (enum SecretsManager | ParameterStore |
  CertificateManager), `region` (both required) and `auth.jwt.serviceAccountRef`
  (`name` required, `namespace`); `provider.gcpsm` with `projectID` and
  `auth.workloadIdentity` (`clusterLocation`, `clusterName`, `clusterProjectID`,
  `serviceAccountRef` required with `name` required, `namespace`).
- ExternalSecret (`external-secrets.io_externalsecrets.yaml`): `spec.refreshInterval`
  (a Go duration), `spec.secretStoreRef` (`kind` enum SecretStore | ClusterSecretStore,
  `name`), `spec.target` (`name`, `creationPolicy` enum including Owner),
  `spec.data[]` (`secretKey` and `remoteRef` required; `remoteRef.key` required).

Bump the chart in `_charts.py` and these models are re-checked against the new CRDs.
"""

from dataclasses import dataclass
from typing import Any, Literal

import pulumi

API_VERSION = "external-secrets.io/v1"


@dataclass(frozen=True)
class ServiceAccountRef:
    """A Kubernetes service account whose token the operator exchanges for cloud credentials."""

    name: str
    namespace: str

    def manifest(self) -> dict[str, Any]:
        # A ClusterSecretStore has no namespace of its own, so the reference names one.
        return {"name": self.name, "namespace": self.namespace}


@dataclass(frozen=True)
class AwsSecretsManagerProvider:
    """`spec.provider.aws`: AWS Secrets Manager, credentials through IRSA (`auth.jwt`).

    The operator requests a token for `service_account` and assumes the role named by its
    `eks.amazonaws.com/role-arn` annotation (AssumeRoleWithWebIdentity).
    """

    region: str
    service_account: ServiceAccountRef

    def manifest(self) -> dict[str, Any]:
        return {
            "aws": {
                "service": "SecretsManager",
                "region": self.region,
                "auth": {"jwt": {"serviceAccountRef": self.service_account.manifest()}},
            }
        }


@dataclass(frozen=True)
class GcpSecretManagerProvider:
    """`spec.provider.gcpsm`: GCP Secret Manager, credentials through GKE Workload Identity.

    The operator requests a token for `service_account`, exchanges it at the cluster's
    workload identity pool and impersonates the Google service account named by the
    account's `iam.gke.io/gcp-service-account` annotation.
    """

    project_id: str
    cluster_location: str
    cluster_name: pulumi.Input[str]
    cluster_project_id: str
    service_account: ServiceAccountRef

    def manifest(self) -> dict[str, Any]:
        return {
            "gcpsm": {
                "projectID": self.project_id,
                "auth": {
                    "workloadIdentity": {
                        "clusterLocation": self.cluster_location,
                        "clusterName": self.cluster_name,
                        "clusterProjectID": self.cluster_project_id,
                        "serviceAccountRef": self.service_account.manifest(),
                    }
                },
            }
        }


SecretStoreProvider = AwsSecretsManagerProvider | GcpSecretManagerProvider


@dataclass(frozen=True)
class ClusterSecretStoreSpec:
    """`spec` of a ClusterSecretStore: one cloud secret store, usable from the listed namespaces."""

    provider: SecretStoreProvider
    """Required: the cloud secret store and the identity the operator reads it as."""
    namespaces: tuple[str, ...]
    """Required: the only namespaces whose ExternalSecrets may use the store
    (`spec.conditions[].namespaces`); without it any namespace could copy any of the
    platform's secrets."""

    def manifest(self) -> dict[str, Any]:
        return {"provider": self.provider.manifest(), "conditions": [{"namespaces": list(self.namespaces)}]}


@dataclass(frozen=True)
class SecretKeyRef:
    """`spec.data[]`: one key of the target Secret, read from one secret of the store."""

    secret_key: str
    remote_key: str
    property: str | None = None
    """One key of a JSON secret, or None for the secret's whole value. Default None."""

    def manifest(self) -> dict[str, Any]:
        remote = {"key": self.remote_key} | ({"property": self.property} if self.property else {})
        return {"secretKey": self.secret_key, "remoteRef": remote}


@dataclass(frozen=True)
class ExternalSecretSpec:
    """`spec` of an ExternalSecret that reads from a ClusterSecretStore into one Secret."""

    store_name: str
    """Required: the ClusterSecretStore to read from (a DNS subdomain name)."""
    target_secret: str
    """Required: the Secret to write, in the ExternalSecret's own namespace."""
    data: tuple[SecretKeyRef, ...]
    """Required: the Secret's keys, each from one secret of the store."""
    refresh_interval: str = "1h"
    """How often the value is read again, a Go duration. Default 1h (a rotated token reaches
    the cluster within the hour)."""
    creation_policy: Literal["Owner"] = "Owner"
    """Default Owner: the operator creates the Secret and deletes it with the ExternalSecret."""

    def manifest(self) -> dict[str, Any]:
        return {
            "refreshInterval": self.refresh_interval,
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": self.store_name},
            "target": {"name": self.target_secret, "creationPolicy": self.creation_policy},
            "data": [item.manifest() for item in self.data],
        }
