"""Deterministic stand-ins for cloud-generated values (ids, IPs, UUIDs), derived from names."""

import hashlib


def digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def hex_of(seed: str, length: int = 17) -> str:
    return digest(seed)[:length]


def public_ip(seed: str) -> str:
    """An address inside 3.34.0.0/15, a block AWS announces in ap-northeast-2."""
    octets = bytes.fromhex(digest(seed)[:6])
    return f"3.{34 + octets[0] % 2}.{octets[1]}.{max(octets[2], 1)}"


def uuid_of(seed: str) -> str:
    h = digest(seed)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
