"""Per-type mock outputs for GCP resources: what each type returns after create.

A builder takes (logical name, inputs, region, project) and returns (id, outputs) in
Google's real shapes: `projects/<p>/regions/<r>/...` ids, self links, service-account
emails, addresses inside the ranges the inputs allocate.
"""

import base64
import hashlib
import ipaddress
from typing import Any

from tools.mock_resources import Builder, autoname
from tools.mock_values import digest, hex_of, public_ip

COMPUTE_API = "https://www.googleapis.com/compute/v1"


def project_number(project: str) -> str:
    """A stable 12-digit project number per project id."""
    return str(int(digest("project-number", project)[:12], 16) % 10**12).rjust(12, "1")


def _compute(scope: str, collection: str) -> Builder:
    """Compute resources: id `projects/<p>/<scope>/<collection>/<name>` and a selfLink."""

    def build(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
        physical = autoname(name, inputs)
        where = "global" if scope == "global" else f"regions/{inputs.get('region') or region}"
        resource_id = f"projects/{project}/{where}/{collection}/{physical}"
        return resource_id, {"name": physical, "selfLink": f"{COMPUTE_API}/{resource_id}", "project": project}

    return build


def _network(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    resource_id, outputs = _compute("global", "networks")(name, inputs, region, project)
    return resource_id, {**outputs, "numericId": str(int(hex_of(name, 15), 16))}


def _subnetwork(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    resource_id, outputs = _compute("region", "subnetworks")(name, inputs, region, project)
    gateway = str(next(ipaddress.IPv4Network(inputs["ipCidrRange"]).hosts()))
    return resource_id, {**outputs, "gatewayAddress": gateway, "region": inputs.get("region") or region}


def _global_address(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    resource_id, outputs = _compute("global", "addresses")(name, inputs, region, project)
    if inputs.get("address"):
        return resource_id, outputs
    return resource_id, {**outputs, "address": public_ip(name)}


def _regional_address(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    """A reserved external address: one of Google's Seoul addresses (34.64.0.0/15); an
    internal one: a private address (the mock cannot see the subnet's range)."""
    resource_id, outputs = _compute("region", "addresses")(name, inputs, region, project)
    if inputs.get("addressType") == "INTERNAL":
        octets = bytes.fromhex(digest(name)[:4])
        internal = inputs.get("address") or f"10.{octets[0]}.{octets[1]}.{max(octets[1] % 250, 10)}"
        return resource_id, {**outputs, "address": internal, "region": inputs.get("region") or region}
    return resource_id, {
        **outputs,
        "address": public_ip(name, first_octet=34),
        "region": inputs.get("region") or region,
    }


def _service_networking(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    network = str(inputs.get("network"))
    return f"{network}:{inputs.get('service')}", {"peering": "servicenetworking-googleapis-com"}


def _peering_routes(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    return f"{inputs.get('network')}/networkPeerings/{inputs.get('peering')}", {}


def _router_part(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    """Router NAT, interfaces and peers: `<project>/<region>/<router>/<name>`."""
    physical = autoname(name, inputs)
    return f"{project}/{inputs.get('region') or region}/{inputs.get('router')}/{physical}", {"name": physical}


def _ha_vpn_gateway(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    resource_id, outputs = _compute("region", "vpnGateways")(name, inputs, region, project)
    interfaces = [{"id": i, "ipAddress": public_ip(f"{name}-{i}", first_octet=34)} for i in (0, 1)]
    return resource_id, {**outputs, "vpnInterfaces": interfaces}


def _vpn_tunnel(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    resource_id, outputs = _compute("region", "vpnTunnels")(name, inputs, region, project)
    return resource_id, {
        **outputs,
        "tunnelId": str(int(hex_of(name, 15), 16)),
        "detailedStatus": "Tunnel is up and running.",
    }


def _service_account(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    account_id = inputs["accountId"]
    email = f"{account_id}@{project}.iam.gserviceaccount.com"
    return f"projects/{project}/serviceAccounts/{email}", {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": f"projects/{project}/serviceAccounts/{email}",
        "uniqueId": str(int(hex_of(name, 20), 16))[:21],
    }


def _iam_member(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    target = (
        inputs.get("project") or inputs.get("cryptoKeyId") or inputs.get("repository") or inputs.get("serviceAccountId")
    )
    return f"{target}/{inputs.get('role')}/{inputs.get('member')}", {"etag": f"BwY{hex_of(name, 9)}="}


def _key_ring(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    ring = f"projects/{project}/locations/{inputs.get('location')}/keyRings/{autoname(name, inputs)}"
    return ring, {"name": autoname(name, inputs)}


def _crypto_key(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    return f"{inputs.get('keyRing')}/cryptoKeys/{autoname(name, inputs)}", {"name": autoname(name, inputs)}


def _gke_cluster(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    cluster = autoname(name, inputs)
    location = inputs.get("location") or region
    ca = base64.b64encode(
        f"-----BEGIN CERTIFICATE-----\nmock CA of {cluster}\n-----END CERTIFICATE-----\n".encode()
    ).decode()
    master = ipaddress.IPv4Network(
        (inputs.get("privateClusterConfig") or {}).get("masterIpv4CidrBlock", "172.16.0.0/28")
    )
    private_endpoint = str(list(master.hosts())[1])
    return f"projects/{project}/locations/{location}/clusters/{cluster}", {
        "name": cluster,
        "endpoint": private_endpoint,
        "masterAuth": {**(inputs.get("masterAuth") or {}), "clusterCaCertificate": ca},
        "selfLink": f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{cluster}",
        "privateClusterConfig": {
            **(inputs.get("privateClusterConfig") or {}),
            "privateEndpoint": private_endpoint,
            "publicEndpoint": public_ip(name, first_octet=34),
        },
        "masterVersion": "1.33.5-gke.1000000",
        "operation": None,
    }


def _node_pool(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    pool = autoname(name, inputs)
    return f"{inputs.get('location')}/{inputs.get('cluster')}/{pool}", {"name": pool, "version": "1.33.5-gke.1000000"}


def _source_representation(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    instance = autoname(name, inputs)
    return f"projects/{project}/instances/{instance}", {"name": instance, "project": project}


def _stand_in_pem(seed: str) -> str:
    body = base64.b64encode(hashlib.sha512(seed.encode()).digest() * 4).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"


def _sql_instance(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    instance = autoname(name, inputs)
    instance_region = inputs.get("region") or region
    # Google allocates the private IP from the private-services range; any host stands in.
    private_ip = f"10.{int(hex_of(name, 2), 16) % 256}.0.{2 + int(hex_of(name + 'ip', 2), 16) % 250}"
    return instance, {
        "name": instance,
        "connectionName": f"{project}:{instance_region}:{instance}",
        "privateIpAddress": private_ip,
        "ipAddresses": [{"type": "PRIVATE", "ipAddress": private_ip}],
        "selfLink": f"https://sqladmin.googleapis.com/sql/v1beta4/projects/{project}/instances/{instance}",
        "serviceAccountEmailAddress": f"p{project_number(project)}-{hex_of(name, 6)}@gcp-sa-cloud-sql.iam.gserviceaccount.com",
        "firstIpAddress": private_ip,
        # The per-instance server CA Cloud SQL creates (its PEM is a stand-in: the offline plan
        # only follows where it goes).
        "serverCaCerts": [
            {
                "cert": _stand_in_pem(f"{project}/{instance}/server-ca"),
                "commonName": f"C=US,O=Google\\, Inc,CN=Google Cloud SQL Server CA,dnQualifier={hex_of(name, 16)}",
                "sha1Fingerprint": hex_of(name + "ca", 40),
                "expirationTime": "2036-01-01T00:00:00Z",
            }
        ],
    }


def _workload_identity_pool(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    """A pool's `name` carries the project number, which principal and principalSet members use."""
    pool = (
        f"projects/{project_number(project)}/locations/global/workloadIdentityPools/{inputs['workloadIdentityPoolId']}"
    )
    return f"projects/{project}/locations/global/workloadIdentityPools/{inputs['workloadIdentityPoolId']}", {
        "name": pool,
        "state": "ACTIVE",
    }


def _workload_identity_pool_provider(
    name: str, inputs: dict[str, Any], region: str, project: str
) -> tuple[str, dict[str, Any]]:
    pool, provider = inputs["workloadIdentityPoolId"], inputs["workloadIdentityPoolProviderId"]
    full = f"projects/{project_number(project)}/locations/global/workloadIdentityPools/{pool}/providers/{provider}"
    return f"projects/{project}/locations/global/workloadIdentityPools/{pool}/providers/{provider}", {
        "name": full,
        "state": "ACTIVE",
    }


def _secret(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    secret_id = inputs.get("secretId") or name
    full = f"projects/{project}/secrets/{secret_id}"
    return full, {"name": f"projects/{project_number(project)}/secrets/{secret_id}", "project": project}


def _secret_version(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    version = f"{inputs.get('secret')}/versions/1"
    return version, {"name": version, "version": "1"}


def _artifact_repository(name: str, inputs: dict[str, Any], region: str, project: str) -> tuple[str, dict[str, Any]]:
    location = inputs.get("location") or region
    repository = inputs.get("repositoryId") or name
    full = f"projects/{project}/locations/{location}/repositories/{repository}"
    return full, {"name": repository, "registryUri": f"{location}-docker.pkg.dev/{project}/{repository}"}


GCP_RESOURCE_OUTPUTS: dict[str, Builder] = {
    "gcp:compute/network:Network": _network,
    "gcp:compute/subnetwork:Subnetwork": _subnetwork,
    "gcp:compute/router:Router": _compute("region", "routers"),
    "gcp:compute/routerNat:RouterNat": _router_part,
    "gcp:compute/routerInterface:RouterInterface": _router_part,
    "gcp:compute/routerPeer:RouterPeer": _router_part,
    "gcp:compute/globalAddress:GlobalAddress": _global_address,
    "gcp:compute/address:Address": _regional_address,
    "gcp:compute/firewall:Firewall": _compute("global", "firewalls"),
    "gcp:servicenetworking/connection:Connection": _service_networking,
    "gcp:compute/networkPeeringRoutesConfig:NetworkPeeringRoutesConfig": _peering_routes,
    "gcp:compute/haVpnGateway:HaVpnGateway": _ha_vpn_gateway,
    "gcp:compute/externalVpnGateway:ExternalVpnGateway": _compute("global", "externalVpnGateways"),
    "gcp:compute/vPNTunnel:VPNTunnel": _vpn_tunnel,
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": _workload_identity_pool,
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": _workload_identity_pool_provider,
    "gcp:projects/iAMMember:IAMMember": _iam_member,
    "gcp:serviceaccount/iAMMember:IAMMember": _iam_member,
    "gcp:kms/keyRing:KeyRing": _key_ring,
    "gcp:kms/cryptoKey:CryptoKey": _crypto_key,
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": _iam_member,
    "gcp:container/cluster:Cluster": _gke_cluster,
    "gcp:container/nodePool:NodePool": _node_pool,
    "gcp:sql/sourceRepresentationInstance:SourceRepresentationInstance": _source_representation,
    "gcp:sql/databaseInstance:DatabaseInstance": _sql_instance,
    "gcp:secretmanager/secret:Secret": _secret,
    "gcp:secretmanager/secretVersion:SecretVersion": _secret_version,
    "gcp:artifactregistry/repository:Repository": _artifact_repository,
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": _iam_member,
}
