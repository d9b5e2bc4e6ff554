"""Per-tier defaults: the one place where dev, staging and prod differ.

A stack file names its tier with `platform:environment` and states only what differs
from these values. Keys are the stack file's own keys (full config key, then camelCase),
so a default here reads exactly like the line a stack file would write to override it.

Tiers differ in size, high availability and protection, never in code paths.
"""

from typing import Any

# The HEAL7 design's database-optimization.sql (its ALTER SYSTEM lines); sized for >= 16 GiB classes.
HEAL7_POSTGRES_TUNING = {
    "maxConnections": 200,
    "sharedBuffers": "4GB",
    "effectiveCacheSize": "12GB",
    "workMem": "16MB",
    "maintenanceWorkMem": "512MB",
}

# The ai-models pool: NVIDIA T4 (inference) needs an N1 machine, and Seoul offers T4
# only in zones b and c (`gcloud compute accelerator-types list --filter=zone~asia-northeast3`).
GPU_POOL = {
    "machineType": "n1-standard-8",
    "acceleratorType": "nvidia-tesla-t4",
    "acceleratorCount": 1,
    "nodeLocations": ["asia-northeast3-b", "asia-northeast3-c"],
}

TIER_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        # Stateful resources stay deletable so a dev stack can be torn down at will.
        "platform:protect": False,
        "platform:aws": {
            "network": {
                # One NAT gateway: dev accepts losing egress with its AZ to save ~$35/month/AZ.
                "natGateways": "single",
                "flowLogRetentionDays": 14,
            },
            "logRetentionDays": 14,
            "rds": {
                # Burstable 4 GiB class: the HEAL7 design's tuning scaled to its memory.
                "instanceClass": "db.t4g.medium",
                "allocatedStorage": 20,
                "maxAllocatedStorage": 100,
                "multiAz": False,
                # Nobody waits for a maintenance window in dev.
                "applyImmediately": True,
                "tuning": {
                    "maxConnections": 200,  # the HEAL7 design's pool size, same in every tier
                    "sharedBuffers": "1GB",  # 25% of 4 GiB
                    "effectiveCacheSize": "3GB",  # 75% of 4 GiB
                    "workMem": "4MB",
                    "maintenanceWorkMem": "128MB",
                },
            },
            # Two small nodes still exercise failover; one day of snapshots is enough in dev.
            # applyImmediately: ElastiCache refuses a log-delivery change without it.
            "redis": {
                "nodeType": "cache.t4g.small",
                "nodeCount": 2,
                "snapshotRetentionDays": 1,
                "applyImmediately": True,
            },
            "backups": {"expireAfterDays": 14},
            "eks": {
                "nodeGroups": {
                    # Up to 4 per AZ: the add-ons at their maxima (istiod's 5 x 500m among them),
                    # the monitoring stack and Elasticsearch (a CPU and 2 GiB) take most of
                    # three m6i.large in the busier zone (`make plan` checks it).
                    "general": {"instanceTypes": ["m6i.large"], "minSize": 1, "desiredSize": 2, "maxSize": 8},
                    "highCpu": {"instanceTypes": ["c6i.xlarge"], "minSize": 0, "desiredSize": 1, "maxSize": 2},
                },
            },
        },
        "platform:gcp": {
            # Dev runs ahead on REGULAR so an upgrade meets dev before prod's STABLE.
            "gke": {
                "releaseChannel": "REGULAR",
                "nodePools": {
                    "general": {"machineType": "e2-standard-4", "minNodesPerZone": 1, "maxNodesPerZone": 2},
                    # Scales to zero: dev pays for a GPU only while a model runs.
                    "gpu": {**GPU_POOL, "minNodesPerZone": 0, "maxNodesPerZone": 1},
                },
            },
            # 1 vCPU / 3.75 GiB: enough to prove replication in dev.
            "cloudSql": {"tier": "db-custom-1-3840", "diskSizeGb": 20},
        },
        "platform:cloudflare": {
            # Each pool takes traffic while one of its ingress addresses is healthy.
            "minimumOrigins": {"aws-primary": 1, "gcp-secondary": 1},
            # A minute between probes: the Pro plan's floor (prod keeps the HEAL7 design's 30 s).
            "monitor": {"intervalSeconds": 60},
        },
        "platform:kubernetes": {
            # Let's Encrypt staging: dev's churn stays clear of production's rate limits.
            "certManager": {"issuer": "staging"},
            # One replica per add-on: dev accepts a webhook gap during a node drain.
            "highAvailability": False,
        },
        # 1 % of the HEAL7 design's 10,000: developers and CI smoke tests, which one or two
        # pods of each workload serve, on node groups sized for cost.
        "platform:capacity": {"targetRequestsPerSecond": 100},
        # Dev stacks come up from laptops and throwaway runners where a Docker engine is not
        # a given: a dev `pulumi up` needs none and only consumes the base image (set true
        # on a machine with Docker to build and push it into dev's registries).
        "platform:images": {"buildBase": False},
        # A week of metrics and logs: dev reproduces today's problems, not last month's; small
        # volumes and heaps on dev's m6i.large nodes (`make plan` checks they fit).
        "platform:monitoring": {
            "prometheus": {"retentionDays": 7, "volumeSizeGib": 20, "memoryGib": 2},
            # The error budget's period cannot outlast the samples it is computed from.
            "slo": {"periodDays": 7},
        },
        # One Elasticsearch node: dev's logs need no zone redundancy (its indices keep no replica).
        "platform:logging": {"retentionDays": 7, "elasticsearch": {"nodes": 1, "memoryGib": 2, "storageGib": 20}},
    },
    "staging": {
        "platform:protect": False,
        "platform:aws": {
            "network": {
                # Staging mirrors prod's per-AZ egress so AZ-routing faults show up before prod.
                "natGateways": "perAz",
                "flowLogRetentionDays": 30,
            },
            "logRetentionDays": 30,
            "rds": {
                # 16 GiB: the HEAL7 design's buffer sizes fit (25% / 75% of memory).
                "instanceClass": "db.r6g.large",
                "allocatedStorage": 100,
                "maxAllocatedStorage": 1000,
                # Multi-AZ like prod, so failover drills run before prod.
                "multiAz": True,
                # Changes land when made, so a change that fails fails here, before prod's window.
                "applyImmediately": True,
                "tuning": HEAL7_POSTGRES_TUNING,
            },
            "redis": {
                "nodeType": "cache.r6g.large",
                "nodeCount": 2,
                "snapshotRetentionDays": 3,
                "applyImmediately": True,
            },
            "backups": {"expireAfterDays": 35},
            "eks": {
                "nodeGroups": {
                    "general": {"instanceTypes": ["m6i.xlarge"], "minSize": 2, "desiredSize": 2, "maxSize": 8},
                    "highCpu": {"instanceTypes": ["c6i.2xlarge"], "minSize": 1, "desiredSize": 2, "maxSize": 4},
                },
            },
        },
        "platform:gcp": {
            "gke": {
                "releaseChannel": "REGULAR",
                "nodePools": {
                    "general": {"machineType": "e2-standard-8", "minNodesPerZone": 1, "maxNodesPerZone": 3},
                    "gpu": {**GPU_POOL, "minNodesPerZone": 0, "maxNodesPerZone": 1},
                },
            },
            "cloudSql": {"tier": "db-custom-2-7680", "diskSizeGb": 100},
        },
        "platform:cloudflare": {
            "minimumOrigins": {"aws-primary": 1, "gcp-secondary": 1},
            "monitor": {"intervalSeconds": 60},
        },
        "platform:kubernetes": {"certManager": {"issuer": "production"}, "highAvailability": True},
        # 10 % of the HEAL7 design's 10,000: the load tests and failover drills that run here
        # before prod drive the HPAs through scale-out on node groups a fraction of prod's.
        "platform:capacity": {"targetRequestsPerSecond": 1000},
        # Deployed by the pipeline's runner, which has a Docker engine: the stack's own
        # registries hold the base image its workload builds start FROM.
        "platform:images": {"buildBase": True},
        # Two weeks of metrics: a load test's regressions are compared with the week before.
        "platform:monitoring": {
            "prometheus": {"retentionDays": 15, "volumeSizeGib": 50, "memoryGib": 4},
            "slo": {"periodDays": 14},
        },
        # The HEAL7 design's Elasticsearch node (4Gi request); a month of logs.
        "platform:logging": {"retentionDays": 30, "elasticsearch": {"nodes": 3, "memoryGib": 4, "storageGib": 50}},
    },
    "prod": {
        # Every stateful resource is `protect`ed in prod: a `pulumi destroy` or a rename
        # must never delete data without a deliberate unprotect.
        "platform:protect": True,
        "platform:aws": {
            "network": {
                # NAT per AZ so losing one AZ does not cut egress for the others.
                "natGateways": "perAz",
                # One year of flow logs for incident forensics.
                "flowLogRetentionDays": 365,
            },
            # The HEAL7 design keeps logs 90 days.
            "logRetentionDays": 90,
            "rds": {
                # The HEAL7 design's primary: db.r6g.xlarge, 1000 GB gp3 autoscaling to 5000 GB.
                "instanceClass": "db.r6g.xlarge",
                "allocatedStorage": 1000,
                "maxAllocatedStorage": 5000,
                "multiAz": True,
                # A class or storage change restarts or fails over the platform's primary
                # database: it waits for maintenanceWindow (pending until then; preview shows
                # the diff again). For an urgent change, set true for that one `pulumi up`.
                "applyImmediately": False,
                "tuning": HEAL7_POSTGRES_TUNING,
            },
            # The HEAL7 design's Redis: cache.r6g.large, 3 nodes, a week of snapshots. Changes apply
            # at once: ElastiCache refuses a log-delivery change otherwise, node-type scaling
            # is online with Multi-AZ failover, and the data is a cache (allkeys-lru).
            "redis": {
                "nodeType": "cache.r6g.large",
                "nodeCount": 3,
                "snapshotRetentionDays": 7,
                "applyImmediately": True,
            },
            # A year of nightly dumps, the last 9 months of it in Glacier Instant Retrieval.
            "backups": {"expireAfterDays": 365},
            "eks": {
                "nodeGroups": {
                    # At least one general node per AZ (3 AZs) so a zone loss leaves capacity.
                    "general": {"instanceTypes": ["m6i.2xlarge"], "minSize": 3, "desiredSize": 3, "maxSize": 12},
                    # The HEAL7 design runs the CPU-heavy saju-engine on compute-optimised instances.
                    "highCpu": {"instanceTypes": ["c6i.4xlarge"], "minSize": 2, "desiredSize": 3, "maxSize": 10},
                },
            },
        },
        "platform:gcp": {
            "gke": {
                # STABLE: prod takes a GKE version only after it has matured on REGULAR.
                "releaseChannel": "STABLE",
                "nodePools": {
                    # One node per zone at least (3 zones): a zone loss leaves capacity.
                    "general": {"machineType": "n2-standard-8", "minNodesPerZone": 1, "maxNodesPerZone": 4},
                    # A warm GPU node in each GPU zone, so model serving survives one zone.
                    "gpu": {**GPU_POOL, "minNodesPerZone": 1, "maxNodesPerZone": 3},
                },
            },
            # The HEAL7 design's replica tier; disk as large as the primary's initial storage.
            "cloudSql": {"tier": "db-custom-4-16384", "diskSizeGb": 1000},
        },
        # AWS serves while two of its three AZs answer; with one AZ left (a third of the
        # capacity) its traffic moves to GCP instead of overloading the survivor.
        "platform:cloudflare": {"minimumOrigins": {"aws-primary": 2, "gcp-secondary": 1}},
        # Trusted certificates; two replicas and PodDisruptionBudgets per add-on.
        "platform:kubernetes": {"certManager": {"issuer": "production"}, "highAvailability": True},
        # The HEAL7 design's throughput target: 10,000 requests per second (p95 under 500 ms).
        # Each cluster is sized to serve all of it, since a region loss fails everything over.
        "platform:capacity": {"targetRequestsPerSecond": 10000},
        # As staging: deployed by the pipeline's runner, which has a Docker engine.
        "platform:images": {"buildBase": True},
        # The email-platform ops guide's production Prometheus keeps 30 days
        # (--storage.tsdb.retention.time=30d); 8 GiB holds both clusters' series at prod's scale.
        "platform:monitoring": {"prometheus": {"retentionDays": 30, "volumeSizeGib": 200, "memoryGib": 8}},
        # The HEAL7 design: "Logs: 90 days retention", 4Gi Elasticsearch nodes on 100Gi volumes.
        "platform:logging": {"retentionDays": 90, "elasticsearch": {"nodes": 3, "memoryGib": 4, "storageGib": 100}},
    },
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return `base` overlaid with `override`; nested dicts merge, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
