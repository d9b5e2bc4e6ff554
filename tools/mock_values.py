"""Deterministic stand-ins for cloud-generated values (ids, IPs, UUIDs), derived from names."""

import hashlib


def digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def hex_of(seed: str, length: int = 17) -> str:
    return digest(seed)[:length]


def public_ip(seed: str, first_octet: int = 3) -> str:
    """A public address: by default inside 3.34.0.0/15, a block AWS announces in
    ap-northeast-2; `first_octet=34` gives one in 34.64.0.0/15, Google's Seoul block."""
    octets = bytes.fromhex(digest(seed)[:6])
    second = 64 if first_octet == 34 else 34
    return f"{first_octet}.{second + octets[0] % 2}.{octets[1]}.{max(octets[2], 1)}"


def uuid_of(seed: str) -> str:
    h = digest(seed)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
