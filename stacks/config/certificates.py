"""Public CA certificates the platform trusts, committed under `certs/`.

- The RDS root CA of each region: RdsPrimary picks the rds-ca-rsa2048-g1 authority; the
  Cloud SQL replica verifies RDS's TLS certificate against this root.
- Cloudflare's origin-pull CA: the ingress gateways verify the client certificate of
  Authenticated Origin Pulls against it.
"""

import re
from pathlib import Path

CERTS_DIR = Path(__file__).resolve().parents[2] / "certs"
RDS_CA_AUTHORITY = "rsa2048-g1"
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?")


def rds_ca_path(region: str) -> Path:
    return CERTS_DIR / f"rds-{region}-{RDS_CA_AUTHORITY}.pem"


def rds_ca_certificate(region: str) -> str | None:
    """The PEM block of the region's RDS root CA, without the file's comment lines."""
    path = rds_ca_path(region)
    if not path.is_file():
        return None
    match = PEM_CERTIFICATE.search(path.read_text())
    return match.group(0) if match else None


CLOUDFLARE_ORIGIN_PULL_CA = CERTS_DIR / "cloudflare-origin-pull-ca.pem"


def cloudflare_origin_pull_ca() -> str:
    """The PEM block of Cloudflare's origin-pull CA, without the file's comment lines."""
    match = PEM_CERTIFICATE.search(CLOUDFLARE_ORIGIN_PULL_CA.read_text())
    if match is None:
        raise ValueError(f"{CLOUDFLARE_ORIGIN_PULL_CA}: expected a PEM certificate")
    return match.group(0)
