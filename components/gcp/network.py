"""GcpNetwork: the secondary region's VPC, built for a private GKE cluster and Cloud SQL.

- Custom-mode VPC with one regional subnet; GKE's pods and Services live in its
  secondary ranges (VPC-native).
- Cloud Router + Cloud NAT give private nodes egress without public IPs.
- Private service access (a reserved range + the service-networking peering) gives the
  Cloud SQL replica a private IP. The peering exports our custom routes, so the routes
  Cloud Router learns from AWS over the VPN reach Cloud SQL's producer VPC and the
  replica can connect to RDS.
- Firewall: an explicit deny-all ingress baseline with logging, and logged allow rules
  for what the cluster needs.
- The ingress load balancer's regional static external IP, reserved ahead of the
  Kubernetes layer so the front door's origin exists first.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

# Google's load-balancer health-check and proxy sources. The ingress load balancer must
# reach the nodes from these, or every backend reads unhealthy.
GOOGLE_HEALTH_CHECK_RANGES = ["35.191.0.0/16", "130.211.0.0/22"]
# Priority 65534 sits just above GCP's implied rules and below every allow rule.
BASELINE_PRIORITY = 65534
LOG_ALL = gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA")


@dataclass
class GcpNetworkArgs:
    """Inputs of GcpNetwork. Defaults: flow logs on, NAT errors logged, deny-all baseline."""

    region: str
    """Required: the region of the subnet, router and NAT."""
    subnet_cidr: str
    """Required: the nodes' primary IPv4 range, in network form."""
    pods_cidr: str
    """Required: the secondary range of pod IPs, in network form."""
    services_cidr: str
    """Required: the secondary range of Service ClusterIPs, in network form."""
    private_service_access_cidr: str
    """Required: reserved for Google-managed services (Cloud SQL private IPs); at least a /24."""
    flow_log_sampling: float = 0.5
    """Share of flows kept in VPC flow logs, a fraction from 0 to 1 (CIS GCP 3.8 asks for flow logs on every
    subnet). Default 0.5."""
    protect: bool = True
    """`protect` the ingress address. Callers loosen this only for dev. Default true."""


class GcpNetwork(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    network_name: pulumi.Output[str]
    network_self_link: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    subnet_self_link: pulumi.Output[str]
    pods_range_name: pulumi.Output[str]
    services_range_name: pulumi.Output[str]
    private_service_access_range_name: pulumi.Output[str]
    nat_router_name: pulumi.Output[str]
    ingress_address: pulumi.Output[str]
    """The regional external IP the ingress load balancer takes (the front door's origin)."""
    ingress_address_name: pulumi.Output[str]
    """That address's resource name: the gateway Service's annotation claims it by name."""
    monitoring_address: pulumi.Output[str]
    """An internal IP of the nodes' subnet, reserved for the GKE Prometheus's internal load balancer."""
    peering_operations: list[pulumi.Resource]
    """The private-services peering and its route export. Cloud SQL waits for them (its
    private IP comes from the peered range), and so does anything else that peers (a
    private GKE control plane): GCP runs one peering operation per network at a time."""

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        if not 0 < args.flow_log_sampling <= 1:
            raise ValueError(f"GcpNetwork {name}: flow_log_sampling must be in (0, 1], got {args.flow_log_sampling}")
        psa_network, psa_prefix = args.private_service_access_cidr.split("/")
        if int(psa_prefix) > 24:
            raise ValueError(f"GcpNetwork {name}: private service access needs a /24 or larger, got /{psa_prefix}")
        super().__init__("platform:gcp:GcpNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        network = gcp.compute.Network(
            f"{name}-vpc",
            description=f"Secondary-region VPC of {name}",
            # Custom mode: auto mode would carve a /20 in every region, overlapping AWS.
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        pods_range, services_range = f"{name}-pods", f"{name}-services"
        subnet = gcp.compute.Subnetwork(
            f"{name}-nodes",
            network=network.id,
            region=args.region,
            ip_cidr_range=args.subnet_cidr,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=pods_range, ip_cidr_range=args.pods_cidr),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=services_range, ip_cidr_range=args.services_cidr),
            ],
            # Private nodes reach Google APIs (Artifact Registry, logging) without NAT.
            private_ip_google_access=True,
            # CIS GCP 3.8: VPC flow logs on every subnet.
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_SEC",
                flow_sampling=args.flow_log_sampling,
                metadata="INCLUDE_ALL_METADATA",
            ),
            opts=child,
        )

        router = gcp.compute.Router(
            f"{name}-nat-router",
            network=network.id,
            region=args.region,
            description=f"Cloud NAT of {name}; the VPN has its own router and ASN",
            opts=child,
        )
        nat = gcp.compute.RouterNat(
            f"{name}-nat",
            router=router.name,
            region=args.region,
            # Google picks and scales the NAT addresses; nothing pins them.
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[
                gcp.compute.RouterNatSubnetworkArgs(name=subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])
            ],
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=child,
        )

        psa_range = gcp.compute.GlobalAddress(
            f"{name}-private-services",
            description="Google-managed services (Cloud SQL) take their private IPs from here",
            purpose="VPC_PEERING",
            address_type="INTERNAL",
            address=psa_network,
            prefix_length=int(psa_prefix),
            network=network.id,
            opts=child,
        )
        connection = gcp.servicenetworking.Connection(
            f"{name}-private-services",
            network=network.id,
            service="servicenetworking.googleapis.com",
            reserved_peering_ranges=[psa_range.name],
            # Google refuses to delete the connection while a Cloud SQL instance's
            # producer resources linger after it; REMOVE_PEERING then removes the peering
            # itself, so a dev teardown can still delete the network.
            deletion_policy="REMOVE_PEERING",
            opts=child,
        )
        # Export our custom (BGP-learned) routes into Google's producer VPC: without them
        # the Cloud SQL replica has no route back to the RDS primary over the VPN.
        routes = gcp.compute.NetworkPeeringRoutesConfig(
            f"{name}-private-services-routes",
            network=network.name,
            peering=connection.peering,
            export_custom_routes=True,
            import_custom_routes=False,
            opts=child,
        )

        self._firewalls(name, network, args)

        self.network_id = network.id
        self.network_name = network.name
        self.network_self_link = network.self_link
        # The ingress gateway's Service claims this address (same region, EXTERNAL: a
        # passthrough network LB). PREMIUM tier carries traffic on Google's backbone from
        # the edge nearest Cloudflare's data centre, not over the public internet.
        ingress = gcp.compute.Address(
            f"{name}-ingress",
            region=args.region,
            address_type="EXTERNAL",
            network_tier="PREMIUM",
            description="Ingress gateway load balancer; Cloudflare's gcp-secondary pool origin",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

        # An internal address in the nodes' subnet for the GKE Prometheus's internal load
        # balancer: EKS's Grafana reads it across the HA VPN (its second data source). GCP
        # picks a free address; reserving it keeps it out of the nodes' allocations.
        monitoring = gcp.compute.Address(
            f"{name}-monitoring",
            region=args.region,
            address_type="INTERNAL",
            subnetwork=subnet.id,
            description="GKE Prometheus internal load balancer; EKS Grafana's gke data source over the VPN",
            # Protected like the ingress address: EKS's Grafana is configured with it.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

        self.subnet_id = subnet.id
        self.subnet_self_link = subnet.self_link
        self.pods_range_name = pulumi.Output.from_input(pods_range)
        self.services_range_name = pulumi.Output.from_input(services_range)
        self.private_service_access_range_name = psa_range.name
        self.nat_router_name = router.name
        self.ingress_address = ingress.address
        self.ingress_address_name = ingress.name
        self.monitoring_address = monitoring.address
        self.peering_operations = [connection, routes]
        self.register_outputs(
            {
                "ingress_address": self.ingress_address,
                "network_id": self.network_id,
                "subnet_id": self.subnet_id,
                "private_service_access_range_name": self.private_service_access_range_name,
                "nat_name": nat.name,
            }
        )

    def _firewalls(self, name: str, network: gcp.compute.Network, args: GcpNetworkArgs) -> None:
        def ingress(
            rule: str,
            description: str,
            priority: int,
            sources: list[str],
            allows: list[gcp.compute.FirewallAllowArgs] | None = None,
            denies: list[gcp.compute.FirewallDenyArgs] | None = None,
        ) -> None:
            # Every rule logs its matches (CIS GCP 3.x firewall logging), allow and deny alike.
            gcp.compute.Firewall(
                f"{name}-{rule}",
                network=network.id,
                description=description,
                direction="INGRESS",
                priority=priority,
                source_ranges=sources,
                allows=allows,
                denies=denies,
                log_config=LOG_ALL,
                opts=pulumi.ResourceOptions(parent=self),
            )

        # GCP already drops unmatched ingress, but silently. An explicit rule with logging
        # shows what was refused. Egress stays open: nodes pull images and call APIs
        # through NAT and private Google access.
        ingress(
            "deny-all-ingress",
            "Baseline: refuse and log any ingress no higher rule allows",
            BASELINE_PRIORITY,
            ["0.0.0.0/0"],
            denies=[gcp.compute.FirewallDenyArgs(protocol="all")],
        )
        # Nodes and pods talk to each other (kubelet, DNS, pod-to-pod). Dataplane V2
        # network policies then narrow pod traffic further.
        ingress(
            "allow-internal",
            "Node and pod traffic inside the cluster's ranges",
            1000,
            [args.subnet_cidr, args.pods_cidr],
            allows=[gcp.compute.FirewallAllowArgs(protocol=p) for p in ("tcp", "udp", "icmp")],
        )
        ingress(
            "allow-health-checks",
            "Google load-balancer health checks to the ingress gateway on the nodes",
            1000,
            GOOGLE_HEALTH_CHECK_RANGES,
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp")],
        )
