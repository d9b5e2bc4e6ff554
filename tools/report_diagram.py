"""The architecture diagram of the report as one self-contained `data:` URI.

Graphviz, and so the `diagrams` package that draws through it, writes each node's icon as
`<image xlink:href="/absolute/path/to/icon.png">`: a reference to a file on the machine that
drew it. An SVG shown through `<img>` loads no sub-resource at all (browsers run an image
document without fetching), and the report must open with no network and no sibling files,
so every referenced icon is read here and put inline as a `data:` URI. An icon that cannot
be read, or one on the network, is dropped from the image and listed in the report, so the
page never points at a path or a host.
"""

import base64
import html
import mimetypes
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

SVG_ROOT = "{http://www.w3.org/2000/svg}svg"
_IMAGE_TAG = re.compile(r"<image\b[^>]*>", re.IGNORECASE)
# `xlink:href` (SVG 1.1, what Graphviz writes) or plain `href` (SVG 2), either quote.
_HREF = re.compile(r"""\s(?:xlink:)?href\s*=\s*(?P<quote>["'])(?P<value>.*?)(?P=quote)""", re.DOTALL)


@dataclass(frozen=True)
class EmbeddedDiagram:
    data_uri: str
    """`data:image/svg+xml;base64,...` of the SVG with its icons inline."""
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


def embed_svg(svg_path: Path) -> EmbeddedDiagram:
    """Read `svg_path`, put its icons inline and return it as a data: URI.

    Raises ValueError naming the file when it is not an SVG document (a broken diagram step
    must fail the plan, not leave an empty picture in the report).
    """
    text = svg_path.read_text(encoding="utf-8")
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as error:
        raise ValueError(f"{svg_path}: not an SVG document: {error}") from error
    if root.tag != SVG_ROOT:
        raise ValueError(f"{svg_path}: not an SVG document: the root element is {root.tag!r}, expected <svg>")

    inlined: list[str] = []
    dropped: list[str] = []

    def inline_href(match: re.Match[str]) -> str:
        reference = html.unescape(match.group("value"))
        if reference.startswith(("data:", "#")):
            return match.group(0)
        path = _icon_path(reference, svg_path.parent)
        if path is None or not path.is_file():
            dropped.append(reference)
            return ""
        inlined.append(reference)
        quote = match.group("quote")
        return match.group(0).replace(f"{quote}{match.group('value')}{quote}", f"{quote}{_data_uri(path)}{quote}")

    def inline_tag(match: re.Match[str]) -> str:
        return _HREF.sub(inline_href, match.group(0))

    embedded = _IMAGE_TAG.sub(inline_tag, text)
    encoded = base64.b64encode(embedded.encode("utf-8")).decode("ascii")
    return EmbeddedDiagram(f"data:image/svg+xml;base64,{encoded}", tuple(inlined), tuple(dropped))
