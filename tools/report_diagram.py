"""The architecture diagram of the report as one self-contained `data:` URI.

The report must open with no network and no sibling files, and a picture shown through `<img>`
loads nothing else: every icon the SVG references is put inline (tools/svg_icons.py; the
diagrams tools/diagram.py draws already are), and one that cannot be is dropped from the
image and listed in the report, so the page never points at a path or a host.
"""

import base64
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tools.svg_icons import inline_icons

SVG_ROOT = "{http://www.w3.org/2000/svg}svg"


@dataclass(frozen=True)
class EmbeddedDiagram:
    data_uri: str
    """`data:image/svg+xml;base64,...` of the SVG with its icons inline."""
    inlined: tuple[str, ...]
    """Icon references that were read and put inline, as the SVG named them."""
    dropped: tuple[str, ...]
    """Icon references that could not be put inline (missing file, network address)."""


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

    icons = inline_icons(text, svg_path.parent)
    encoded = base64.b64encode(icons.svg.encode("utf-8")).decode("ascii")
    return EmbeddedDiagram(f"data:image/svg+xml;base64,{encoded}", icons.inlined, icons.dropped)
