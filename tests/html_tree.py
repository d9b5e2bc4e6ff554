"""A small element tree of an HTML page (the standard library's HTMLParser), for content tests.

Text is unescaped as a browser shows it, so a test compares cell text with the plan's values.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements that never have an end tag (HTML's void elements).
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
# Elements a browser lays out on their own line (or cell): their text never runs into a neighbour's.
BLOCK = frozenset(
    {
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figure",
        "h1",
        "h2",
        "h3",
        "li",
        "ol",
        "p",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list["Element | str"] = field(default_factory=list)

    def iter(self, tag: str | None = None) -> Iterator["Element"]:
        """This element and its descendants, in document order (those of `tag` only, if given)."""
        if tag is None or self.tag == tag:
            yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter(tag)

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list["Element"]:
        return [e for e in self.iter(tag) if e is not self and (cls is None or cls in e.classes)]

    def by_id(self, element_id: str) -> "Element | None":
        return next((e for e in self.iter() if e.attrs.get("id") == element_id), None)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        """The text inside, whitespace collapsed as a browser renders it."""
        parts = [c if isinstance(c, str) else f" {c.text} " if c.tag in BLOCK else c.text for c in self.children]
        return " ".join("".join(parts).split())

    def cells(self) -> list[str]:
        """The text of a row's th and td cells, in order."""
        return [c.text for c in self.children if isinstance(c, Element) and c.tag in ("th", "td")]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        open_tags = [e.tag for e in self.stack]
        if tag not in open_tags[1:]:
            raise ValueError(f"</{tag}> closes nothing open ({open_tags})")
        while self.stack.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Element:
    """The page's tree; an end tag that closes nothing open, or an element left open, is an
    error (a broken template)."""
    builder = _Builder()
    builder.feed(page)
    builder.close()
    if len(builder.stack) > 1:
        raise ValueError(f"elements left open: {[e.tag for e in builder.stack[1:]]}")
    return builder.root
