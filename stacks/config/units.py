"""Human memory sizes ("4GB", "512MB") and the units PostgreSQL parameters are set in.

PostgreSQL, like RDS, reads "GB" and "MB" as binary units (1GB = 1024MB = 1048576kB).
RDS parameter groups take plain integers in each parameter's own unit: shared_buffers
and effective_cache_size count 8 kB pages, work_mem and maintenance_work_mem count kB.
"""

import re

_UNITS_IN_KB = {"kB": 1, "MB": 1024, "GB": 1024 * 1024, "TB": 1024 * 1024 * 1024}
_SIZE = re.compile(r"^(\d+)(kB|MB|GB|TB)$")
POSTGRES_PAGE_KB = 8


def parse_memory_kb(text: str) -> int:
    """'4GB' -> 4194304. Accepts PostgreSQL's own unit spellings only (kB, MB, GB, TB)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"expected a size such as '512MB' or '4GB' (units kB, MB, GB, TB), got {text!r}")
    return int(match.group(1)) * _UNITS_IN_KB[match.group(2)]


def kb_to_pages(kb: int) -> int:
    """kB -> 8 kB pages; the size must be a whole number of pages."""
    if kb % POSTGRES_PAGE_KB:
        raise ValueError(f"expected a multiple of {POSTGRES_PAGE_KB}kB (one PostgreSQL page), got {kb}kB")
    return kb // POSTGRES_PAGE_KB
