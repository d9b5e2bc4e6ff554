"""EncryptedStorage: the StorageClass every stateful add-on of a cluster asks for by name.

gp3 on EKS (the EBS CSI driver, `encrypted: "true"` with the account's aws/ebs key, which the
driver's managed policy covers), pd-balanced on GKE (Persistent Disks are always encrypted at
rest with Google-managed keys). Both bind in the pod's zone (WaitForFirstConsumer), so a
volume is never created in a zone its pod cannot run in, and both grow in place.
"""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.kubernetes.istio_mesh import Platform

STORAGE_CLASS = "encrypted"
PROVISIONERS: dict[str, tuple[str, dict[str, str]]] = {
    "eks": ("ebs.csi.aws.com", {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"}),
    "gke": ("pd.csi.storage.gke.io", {"type": "pd-balanced"}),
}


@dataclass
class EncryptedStorageArgs:
    """Inputs of EncryptedStorage."""

    platform: Platform
    """Required: `eks` (EBS gp3) or `gke` (pd-balanced)."""


class EncryptedStorage(pulumi.ComponentResource):
    """The `encrypted` StorageClass of one cluster."""

    storage_class: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptedStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:kubernetes:EncryptedStorage", name, None, opts)
        provisioner, parameters = PROVISIONERS[args.platform]
        storage_class = kubernetes.storage.v1.StorageClass(
            f"{name}-class",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=STORAGE_CLASS),
            provisioner=provisioner,
            parameters=parameters,
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            # Metrics and logs are rebuilt more cheaply than they are kept by hand: a deleted
            # claim releases its disk.
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.storage_class = storage_class.metadata.name
        self.register_outputs({"storage_class": self.storage_class})
