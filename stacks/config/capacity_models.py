"""The `platform:capacity` section: the request rate the platform is sized for.

Each workload's `share` (stacks/config/workload_models.py) is a fraction of this target; the
offline plan (tools/capacity.py) checks that every workload serves its share at its HPA
maximum and that the pods at those maxima fit the node groups at their maximum size. Tier
defaults: stacks/config/tiers.py.
"""

from typing import Annotated

from pydantic import Field

from stacks.config.types import Count, Section


class CapacityConfig(Section):
    # The HEAL7 design's throughput target is 10,000 requests per second at a p95 below
    # 500 ms. The latency half is the HPA's per-pod rate (requestsPerSecond: the rate one pod
    # serves within it) and the rollout analysis's maxP95LatencyMs; this is the rate half.
    target_requests_per_second: Annotated[Count, Field(ge=1)] = Field(
        description="Requests per second the whole platform must serve; each workload's share is a fraction of it."
    )
