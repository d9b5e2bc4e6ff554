"""The platform's CrossGuard policy pack: `pulumi preview --policy-pack policy
--policy-pack-config policy/config/<stack>.json`.

Only builds the PolicyPack (which starts the analyzer's gRPC server); the rules live in
`rules/`. Tests and the offline plan import `policy.rules` and `policy.runner`, never this file.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_POLICIES

PolicyPack(
    name="multicloud-platform-security",
    policies=ALL_POLICIES,
    # Each control sets its own level from its severity; this covers none.
    enforcement_level=EnforcementLevel.ADVISORY,
    description="CIS EKS/GKE, AWS FSBP, checkov Kubernetes and the requirement documents' rules (the HEAL7 design, the email-platform ops guide) for the multicloud platform",
)
