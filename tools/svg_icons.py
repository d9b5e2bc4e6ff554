"""Put an SVG's icons inline, as `data:` URIs.

Graphviz, and so the `diagrams` package that draws through it, writes each node's icon as
`<image xlink:href="/absolute/path/to/icon.png">`: a reference to a file on the machine that
drew it. An SVG shown through `<img>` (GitHub's README, the plan's report) loads no
sub-resource at all, so every referenced icon is read and put inline. A reference that cannot
be read, or one on the network, is dropped from the image and reported, so the result never
points at a path or a host. tools/diagram.py inlines what it draws; tools/report_diagram.py
checks again what it embeds.
"""

import base64
import html
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

_IMAGE_TAG = re.compile(r"<image\b[^>]*>", re.IGNORECASE)
# `xlink:href` (SVG 1.1, what Graphviz writes) or plain `href` (SVG 2), either quote.
_HREF = re.compile(r"""\s(?:xlink:)?href\s*=\s*(?P<quote>["'])(?P<value>.*?)(?P=quote)""", re.DOTALL)


@dataclass(frozen=True)
class InlinedIcons:
    svg: str
    """The SVG text with every readable icon inline."""
    inlined: tuple[str, ...]
    """Icon references that were read and put inline, as the SVG named them."""
    dropped: tuple[str, ...]
    """Icon references that could not be put inline (missing file, network address)."""


def _icon_path(reference: str, svg_dir: Path) -> Path | None:
    """The local file an icon reference names, or None for one on the network."""
    parsed = urlparse(reference)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # http:, https:, ... (one letter is a Windows drive)
        return None
    path = Path(reference)
    return path if path.is_absolute() else svg_dir / path


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def inline_icons(svg: str, svg_dir: Path) -> InlinedIcons:
    """`svg` with its icon references (relative ones to `svg_dir`) replaced by the icons themselves."""
    inlined: list[str] = []
    dropped: list[str] = []

    def inline_href(match: re.Match[str]) -> str:
        reference = html.unescape(match.group("value"))
        if reference.startswith(("data:", "#")):
            return match.group(0)
        path = _icon_path(reference, svg_dir)
        if path is None or not path.is_file():
            dropped.append(reference)
            return ""
        inlined.append(reference)
        quote = match.group("quote")
        return match.group(0).replace(f"{quote}{match.group('value')}{quote}", f"{quote}{_data_uri(path)}{quote}")

    def inline_tag(match: re.Match[str]) -> str:
        return _HREF.sub(inline_href, match.group(0))

    return InlinedIcons(_IMAGE_TAG.sub(inline_tag, svg), tuple(inlined), tuple(dropped))
