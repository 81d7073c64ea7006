"""HTML of an email: split off the quoted history, render it as text, sanitise it for display.

The HTML is read into a small tree (the standard library's tolerant parser) so that quoted
history can be recognised by structure: Gmail's `gmail_quote`, Apple Mail's and
Thunderbird's `<blockquote type="cite">`, Outlook's `divRplyFwdMsg`/`appendonsend` marker
(everything after it is the quoted message), Yahoo's `yahoo_quoted`. What remains is
sanitised with nh3 for display; the text rendering feeds the plain-text quote rules too.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser

import nh3

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
# Dropped with everything inside them, both from the text and from the displayed HTML.
INVISIBLE = frozenset({"script", "style", "head", "title", "noscript", "template", "xml"})
BLOCK = frozenset(
    {"address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
     "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
     "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "tfoot",
     "thead", "tr", "ul", "body", "html"}
)  # fmt: skip
# Spam with thousands of nested tags must not exhaust the recursion of the walkers below.
MAX_DEPTH = 200

# A Gmail-style quote that is in fact a forwarded message keeps its content: a customer
# forwarding an order confirmation wants us to read it.
FORWARD_MARK = re.compile(
    r"forwarded message|begin forwarded message|转发的邮件|轉寄的郵件|原始邮件.{0,5}转发", re.I
)


@dataclass
class Node:
    tag: str
    attrs: list[tuple[str, str | None]] = field(default_factory=list)
    children: list[Node | str] = field(default_factory=list)

    def attr(self, name: str) -> str:
        for key, value in self.attrs:
            if key == name:
                return value or ""
        return ""

    def classes(self) -> set[str]:
        return set(self.attr("class").lower().split())


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root")
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs)
        self.stack[-1].children.append(node)
        if tag not in VOID and len(self.stack) < MAX_DEPTH:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, attrs))

    def handle_endtag(self, tag):
        # Close up to the nearest open element of that name; a stray end tag is ignored.
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def tree_parse(html: str) -> Node:
    builder = _TreeBuilder()
    # The stdlib parser is tolerant; if it still gives up, keep what it read so far.
    with contextlib.suppress(Exception):
        builder.feed(html)
        builder.close()
    return builder.root


# --- Quoted history -------------------------------------------------------------------------


def _is_quote_container(node: Node) -> bool:
    classes = node.classes()
    if node.tag in ("div", "blockquote") and classes & {
        "gmail_quote",
        "gmail_quote_container",
        "yahoo_quoted",
    }:
        return True
    return node.tag == "blockquote" and node.attr("type").lower() == "cite"


def _is_quote_marker(node: Node) -> bool:
    """Outlook and Thunderbird put the quote after a marker instead of inside a container:
    the marker and everything after it in the document is the quoted message."""
    ident = node.attr("id").lower()
    return ident in ("appendonsend", "divrplyfwdmsg") or "moz-cite-prefix" in node.classes()


def _text_of(node: Node) -> str:
    return "".join(_render_text(node, [])).strip()


@dataclass
class Split:
    main: Node
    quoted: list[Node | str]


def quote_split(root: Node) -> Split:
    """A copy of the tree without the quoted history, and the quoted nodes."""
    quoted: list[Node | str] = []
    cut = False

    def copy(node: Node, depth: int) -> Node:
        nonlocal cut
        kept = Node(node.tag, node.attrs)
        for child in node.children:
            if cut:
                quoted.append(child)
                continue
            if isinstance(child, str):
                kept.children.append(child)
                continue
            if _is_quote_marker(child):
                cut = True
                quoted.append(child)
                continue
            if _is_quote_container(child) and not FORWARD_MARK.search(_text_of(child)[:300]):
                quoted.append(child)
                continue
            kept.children.append(copy(child, depth + 1) if depth < MAX_DEPTH else child)
        return kept

    return Split(main=copy(root, 0), quoted=quoted)


# --- Text rendering -------------------------------------------------------------------------


def _render_text(node: Node | str, out: list[str], pre: bool = False, depth: int = 0) -> list[str]:
    if isinstance(node, str):
        out.append(node if pre else re.sub(r"\s+", " ", node))
        return out
    tag = node.tag
    if tag in INVISIBLE or depth > MAX_DEPTH:
        return out
    if tag == "br":
        out.append("\n")
        return out
    if tag == "img":
        return out
    block = tag in BLOCK
    if block:
        out.append("\n")
    if tag == "li":
        out.append("- ")
    for child in node.children:
        _render_text(child, out, pre or tag == "pre", depth + 1)
    if tag in ("td", "th"):
        out.append(" ")
    if block:
        out.append("\n")
    return out


def text_render(nodes: Node | list[Node | str]) -> str:
    """Plain text of HTML: block elements become line breaks, runs of spaces one space."""
    out: list[str] = []
    for node in nodes if isinstance(nodes, list) else [nodes]:
        _render_text(node, out)
    lines = [line.strip() for line in "".join(out).replace("\xa0", " ").split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- Serialising and sanitising ------------------------------------------------------------


def html_serialize(node: Node | str, out: list[str] | None = None, depth: int = 0) -> str:
    out = [] if out is None else out
    if isinstance(node, str):
        out.append(escape(node, quote=False))
    elif node.tag in INVISIBLE or depth > MAX_DEPTH:
        pass
    else:
        if node.tag != "#root":
            attrs = "".join(
                f' {key}="{escape(value or "")}"' for key, value in node.attrs if key.isidentifier()
            )
            out.append(f"<{node.tag}{attrs}>")
        for child in node.children:
            html_serialize(child, out, depth + 1)
        if node.tag != "#root" and node.tag not in VOID:
            out.append(f"</{node.tag}>")
    return "".join(out)


TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span",
    "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "tt", "u", "ul",
}  # fmt: skip
ATTRIBUTES = {
    "*": {"title", "dir", "lang"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign"},
    "ol": {"start"},
    "col": {"span"},
    "colgroup": {"span"},
}
LINK_SCHEMES = ("http:", "https:", "mailto:", "tel:")
# Embedded pictures carry no tracking; any other image source is dropped (see below).
DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$", re.I)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href":
        return value if value.strip().lower().startswith(LINK_SCHEMES) else None
    if tag == "img" and attribute == "src":
        # Remote images tell the sender when and where the mail was read (tracking pixels),
        # so they are never loaded; `cid:` pictures are listed as the message's files.
        return value if DATA_IMAGE.match(value.strip()) else None
    return value


def html_sanitize(html: str) -> str:
    """HTML safe to show in the console: an allowlist of tags and attributes, no scripts,
    styles or event handlers, links only to http(s)/mailto/tel opening in a new tab with
    rel="noopener noreferrer", no remote images."""
    return nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags={"script", "style", "title", "noscript", "template"},
        attributes=ATTRIBUTES,
        attribute_filter=_attribute_filter,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes={"http", "https", "mailto", "tel", "data"},
        strip_comments=True,
    ).strip()


@dataclass(frozen=True)
class HtmlBody:
    html: str  # sanitised, without the quoted history
    text: str  # text rendering of that HTML
    quoted: str  # text rendering of the quoted history


def html_body(raw_html: str) -> HtmlBody:
    root = tree_parse(raw_html)
    split = quote_split(root)
    text = text_render(split.main)
    quoted = text_render(split.quoted)
    if not text and quoted:
        # Nothing but a quote (a bare forward, a bottom-posted reply): keep it all.
        return HtmlBody(html_sanitize(html_serialize(root)), text_render(root), "")
    return HtmlBody(html_sanitize(html_serialize(split.main)), text, quoted)
