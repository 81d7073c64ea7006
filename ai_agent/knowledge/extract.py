"""Plain text out of the files admins give the knowledge base: txt, md, html, pdf, docx, and
FAQ sheets (csv, xlsx).

Files are untrusted. Every reader yields sections lazily, so work stops once the character
budget is spent; a zip that unpacks out of all proportion is refused before it is parsed;
and whatever a parser raises becomes an ExtractError with a reason an admin can act on."""

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePosixPath

import docx
import openpyxl
from bs4 import BeautifulSoup, NavigableString, Tag
from django.utils.translation import gettext as _
from docx.text.paragraph import Paragraph
from pypdf import PasswordType, PdfReader

# Text past this many characters is ignored (a whole product manual is far smaller).
MAX_CHARS = 2_000_000
# A .docx/.xlsx may grow by at most this many bytes per budgeted character when unpacked:
# Word's XML is verbose, but a zip bomb grows a thousandfold.
MAX_EXPANSION_PER_CHAR = 20
# Headings repeat on every chunk under them; a "heading" longer than this is a styling mistake.
MAX_HEADING_CHARS = 200

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Kinds are named after their usual extension.
KINDS_BY_EXTENSION = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".csv": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
}
KINDS_BY_CONTENT_TYPE = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    DOCX_TYPE: "docx",
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
    XLSX_TYPE: "xlsx",
}

QUESTION_HEADERS = {"question", "questions", "q", "问题", "问"}
ANSWER_HEADERS = {"answer", "answers", "a", "答案", "回答", "答"}


@dataclass(frozen=True)
class Section:
    headings: tuple[str, ...]  # the heading path above this text, outermost first
    text: str  # plain text, paragraphs separated by "\n\n"
    question: str = ""  # for FAQ rows: the question; text is then the answer


class ExtractError(Exception):
    """Why a document could not be read, in words an admin understands."""


def document_kind(*, filename: str, content_type: str = "") -> str:
    """The kind of document ("txt", "md", "html", "pdf", "docx", "csv", "xlsx"), or "" when
    it is not supported. The file name's extension decides first, then the content type."""
    extension = PurePosixPath(filename.lower()).suffix
    if extension in KINDS_BY_EXTENSION:
        return KINDS_BY_EXTENSION[extension]
    return KINDS_BY_CONTENT_TYPE.get(content_type.split(";")[0].strip().lower(), "")


def extract_sections(
    data: bytes, *, filename: str, content_type: str = "", max_chars: int = MAX_CHARS
) -> list[Section]:
    """The document's text as sections under their heading paths, in document order.

    Text past `max_chars` characters is ignored. PDF pages become sections headed
    ("p. 3",), so that an answer can cite its page."""
    kind = document_kind(filename=filename, content_type=content_type)
    if not kind:
        shown = PurePosixPath(filename).suffix or content_type or _("unknown")
        raise ExtractError(
            _(
                "Files of this type cannot be used (%(type)s). Use .txt, .md, .html, .pdf or "
                ".docx, or an FAQ as .csv or .xlsx."
            )
            % {"type": shown}
        )
    sections: list[Section] = []
    budget = max_chars
    try:
        for section in _READERS[kind](data, max_chars):
            question = _squash(section.question)
            text = _normalise(section.text)[: budget - len(question)].rstrip()
            if not text:
                continue
            headings = tuple(h for h in map(_heading, section.headings) if h)
            sections.append(Section(headings, text, question))
            budget -= len(question) + len(text)
            if budget <= 0:
                break
    except ExtractError:
        raise
    except Exception as error:  # untrusted files break parsers in endless ways
        raise ExtractError(
            _("The file could not be read: it is damaged or is not really a .%(kind)s file.")
            % {"kind": kind}
        ) from error
    if not sections:
        raise ExtractError(_("The document contains no text."))
    return sections


# Text -------------------------------------------------------------------------------------

_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0\u3000]+$", re.MULTILINE)
# Control characters other than tab and newline: never meaningful in knowledge text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = _TRAILING_SPACE.sub("", _CONTROL.sub("", text))
    return _BLANK_LINES.sub("\n\n", text).strip("\n")


def _squash(text: str) -> str:
    return " ".join(text.split())


def _heading(text: str) -> str:
    return _squash(text)[:MAX_HEADING_CHARS]


def _decode(data: bytes, max_chars: int) -> str:
    """UTF-8 (with or without a BOM), UTF-16 with a BOM, or GB18030 (Chinese Windows)."""
    # A character is at most 4 bytes; the incremental decoder leaves a cut character out.
    head = data[: 4 * max_chars + 4]
    cut = len(head) < len(data)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=not cut)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:  # binary data can pass for GB18030
            return text
    raise ExtractError(
        _("The text is not in UTF-8 or GB18030 encoding; save it as UTF-8 and upload it again.")
    )


def _read_txt(data: bytes, max_chars: int) -> Iterator[Section]:
    yield Section((), _decode(data, max_chars))


# Markdown ---------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")


def _unlink(line: str) -> str:
    """[text](url) becomes "text (url)", an image its alt text, <url> the url."""

    def link(match: re.Match) -> str:
        text, url = match.group(1).strip(), match.group(2)
        return f"{text} ({url})" if text and url and text != url else text or url

    return _AUTOLINK.sub(r"\1", _LINK.sub(link, _IMAGE.sub(r"\1", line)))


def _read_md(data: bytes, max_chars: int) -> Iterator[Section]:
    path = _HeadingPath()
    lines: list[str] = []  # the section's text so far
    fence = ""
    for line in _decode(data, max_chars).splitlines():
        if fence:
            lines.append(line)
            if line.strip().startswith(fence):
                fence = ""
            continue
        if match := _FENCE.match(line):
            fence = match.group(1)
            lines.append(line)
            continue
        atx = _ATX.match(line)
        setext = _SETEXT.match(line)
        if setext and lines and lines[-1].strip():
            # The paragraph above is the heading's text.
            start = len(lines)
            while start and lines[start - 1].strip():
                start -= 1
            title, lines = " ".join(lines[start:]), lines[:start]
            level = 1 if setext.group(1).startswith("=") else 2
        elif atx:
            title, level = _unlink(atx.group(2) or ""), len(atx.group(1))
        else:
            lines.append(_unlink(line))
            continue
        yield Section(path.headings, "\n".join(lines))
        lines = []
        path.enter(level, title)
    yield Section(path.headings, "\n".join(lines))


class _HeadingPath:
    """The headings above the current text: a heading closes those at its level and below."""

    def __init__(self, top: tuple[str, ...] = ()):
        self._top = top
        self._levels: list[tuple[int, str]] = []

    @property
    def headings(self) -> tuple[str, ...]:
        return self._top + tuple(title for _level, title in self._levels)

    def enter(self, level: int, title: str) -> None:
        self._levels = [(lv, t) for lv, t in self._levels if lv < level]
        if title := _heading(title):
            self._levels.append((level, title))


class _Blocks:
    """Paragraphs of one section. Consecutive list items or table rows stay together, one a
    line; other blocks are separated by a blank line."""

    def __init__(self):
        self._blocks: list[tuple[str, str]] = []

    def add(self, kind: str, text: str) -> None:
        if text.strip():
            self._blocks.append((kind, text))

    def take(self) -> str:
        parts: list[str] = []
        previous = ""
        for kind, text in self._blocks:
            if parts and kind == previous and kind in ("item", "row"):
                parts[-1] += "\n" + text
            else:
                parts.append(text)
            previous = kind
        self._blocks = []
        return "\n\n".join(parts)


# HTML -------------------------------------------------------------------------------------

# Page furniture, code and controls: not what the page says.
_DROPPED_TAGS = [
    "script",
    "style",
    "nav",
    "footer",
    "header",
    "aside",
    "form",
    "noscript",
    "template",
    "iframe",
    "svg",
    "canvas",
    "button",
    "select",
    "object",
]
_HTML_BLOCKS = {
    "address",
    "article",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "hr",
    "li",
    "main",
    "ol",
    "p",
    "section",
    "summary",
    "table",
    "ul",
}
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.IGNORECASE)
# Stands for <br> among the page's strings, whose own line breaks are mere spaces.
_LINE_BREAK = "\u2028"


def _read_html(data: bytes, max_chars: int) -> Iterator[Section]:
    soup = BeautifulSoup(data, "lxml")
    title = _heading(soup.title.get_text()) if soup.title else ""
    for tag in soup.find_all(_DROPPED_TAGS):
        # An article's own header holds its title; the page's header is furniture.
        if not tag.decomposed and not (tag.name == "header" and tag.find_parent(["article"])):
            tag.decompose()
    # Hidden text is not what readers see, and a place to smuggle instructions to the AI.
    for tag in soup.find_all(lambda t: t.has_attr("hidden") or _hidden_by_style(t)):
        if not tag.decomposed:
            tag.decompose()
    top = (title,) if title and not soup.find("h1") else ()
    yield from _HtmlReader(top).read(soup.find("main") or soup.body or soup)


def _hidden_by_style(tag: Tag) -> bool:
    return bool(_DISPLAY_NONE.search(str(tag.get("style") or "")))


class _HtmlReader:
    def __init__(self, top: tuple[str, ...]):
        self._path = _HeadingPath(top)
        self._blocks = _Blocks()
        self._inline: list[str] = []
        self._item = False  # inside a list item: the next block is "- text"

    def read(self, root: Tag) -> Iterator[Section]:
        # A loop with its own stack: deeply nested markup must not exhaust Python's.
        stack: list[tuple[object, bool]] = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                self._flush()
                self._item = False  # an empty item must not turn the next text into one
            elif type(node) is NavigableString:  # not a comment, doctype or CDATA
                self._inline.append(str(node))
            elif isinstance(node, Tag):
                if node.name in _HEADING_TAGS:
                    self._flush()
                    yield Section(self._path.headings, self._blocks.take())
                    self._path.enter(_HEADING_TAGS[node.name], node.get_text(" "))
                elif node.name == "tr":
                    self._flush()
                    cells = (c.get_text(" ") for c in node.find_all(["td", "th"], recursive=False))
                    self._blocks.add("row", " | ".join(filter(None, map(_squash, cells))))
                elif node.name == "pre":
                    self._flush()
                    self._blocks.add("pre", node.get_text())
                elif node.name == "br":
                    self._inline.append(_LINE_BREAK)
                elif node.name != "img":
                    if node.name in _HTML_BLOCKS:
                        self._flush()
                        stack.append((node, True))
                    self._item = self._item or node.name == "li"
                    stack.extend((child, False) for child in reversed(node.contents))
        self._flush()
        yield Section(self._path.headings, self._blocks.take())

    def _flush(self) -> None:
        lines = "".join(self._inline).split(_LINE_BREAK)
        text = "\n".join(filter(None, map(_squash, lines)))
        if text:
            self._blocks.add("item" if self._item else "text", f"- {text}" if self._item else text)
            self._item = False
        self._inline = []


# PDF --------------------------------------------------------------------------------------


def _read_pdf(data: bytes, max_chars: int) -> Iterator[Section]:
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
        except Exception:  # an encryption pypdf does not implement
            opened = False
        if not opened:
            raise ExtractError(
                _("The PDF is protected by a password; remove the protection and upload it again.")
            )
    found = False
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text() or ""
        found = found or bool(text.strip())
        yield Section((f"p. {number}",), text)
    if not found:
        raise ExtractError(
            _(
                "The PDF has no text layer (it is probably a scan). Run it through text "
                "recognition (OCR) first, or upload the text itself."
            )
        )


# Word and Excel ---------------------------------------------------------------------------


def _refuse_zip_bomb(data: bytes, max_chars: int) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        growth = sum(max(0, i.file_size - i.compress_size) for i in archive.infolist())
    if growth > MAX_EXPANSION_PER_CHAR * max_chars:
        raise ExtractError(
            _("The file unpacks to far more than it holds; it is damaged or built to harm.")
        )


_WORD_HEADING = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)


def _read_docx(data: bytes, max_chars: int) -> Iterator[Section]:
    _refuse_zip_bomb(data, max_chars)
    path = _HeadingPath()
    blocks = _Blocks()
    for block in docx.Document(io.BytesIO(data)).iter_inner_content():
        if not isinstance(block, Paragraph):
            for row in block.rows:
                # A cell spanning columns is repeated (the same object) once per column.
                cells = row.cells
                distinct = [c for i, c in enumerate(cells) if i == 0 or c is not cells[i - 1]]
                blocks.add("row", " | ".join(filter(None, (_squash(c.text) for c in distinct))))
            continue
        style = block.style.name if block.style is not None else ""
        heading = _WORD_HEADING.match(style)
        if heading or style.lower() == "title":
            yield Section(path.headings, blocks.take())
            path.enter(int(heading.group(1)) if heading else 0, block.text)
        elif style.lower().startswith("list"):
            blocks.add("item", f"- {block.text.strip()}")
        else:
            blocks.add("text", block.text)
    yield Section(path.headings, blocks.take())


# FAQ sheets -------------------------------------------------------------------------------


def _read_csv(data: bytes, max_chars: int) -> Iterator[Section]:
    text = _decode(data, max_chars)
    try:
        sample = text[:10_000]
        delimiter = csv.Sniffer().sniff(sample.rpartition("\n")[0] or sample, ",;\t").delimiter
    except csv.Error:  # one column, or too irregular to tell: count in the first line
        first = text.partition("\n")[0]
        delimiter = max(",;\t", key=first.count)
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    sections = _faq(rows, ())
    if sections is None:
        raise _no_faq_columns()
    yield from sections


def _read_xlsx(data: bytes, max_chars: int) -> Iterator[Section]:
    _refuse_zip_bomb(data, max_chars)
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = workbook.worksheets
        found = False
        for sheet in sheets:
            # With several sheets, their names are the FAQ's categories; "Sheet1" is not.
            headings = (sheet.title,) if len(sheets) > 1 else ()
            rows = ([_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True))
            sections = _faq(rows, headings)
            if sections is not None:
                found = True
                yield from sections
        if not found:
            raise _no_faq_columns()
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _faq(rows: Iterator[list[str]], headings: tuple[str, ...]) -> Iterator[Section] | None:
    """Sections for the sheet's question/answer rows, or None when it has no such columns."""
    rows = (row for row in rows if any(cell.strip() for cell in row))
    first = next(rows, None)
    if first is None:
        return iter(())
    columns = _faq_columns(first)
    if columns is None:
        return None
    question, answer, has_header = columns

    def sections() -> Iterator[Section]:
        for row in rows if has_header else _chain(first, rows):
            if len(row) > max(question, answer) and row[question].strip() and row[answer].strip():
                yield Section(headings, row[answer], question=row[question])

    return sections()


def _chain(first: list[str], rows: Iterator[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rows


def _faq_columns(header: list[str]) -> tuple[int, int, bool] | None:
    """(question column, answer column, whether the first row is a header)."""
    names = [cell.strip().strip(":：").replace(" ", "").lower() for cell in header]
    question = next((i for i, name in enumerate(names) if name in QUESTION_HEADERS), None)
    answer = next((i for i, name in enumerate(names) if name in ANSWER_HEADERS), None)
    filled = [i for i, name in enumerate(names) if name]
    if question is not None and answer is not None:
        return question, answer, True
    if len(filled) != 2:
        return None
    if question is None and answer is None:
        return filled[0], filled[1], False
    # "Question | Reply": one recognised header of two is enough.
    if question is None:
        question = next(i for i in filled if i != answer)
    else:
        answer = next(i for i in filled if i != question)
    return question, answer, True


def _no_faq_columns() -> ExtractError:
    return ExtractError(
        _(
            "The FAQ sheet needs a question column and an answer column (headed, for example, "
            "Question and Answer, or 问题 and 答案), or exactly two columns."
        )
    )


_READERS: dict[str, Callable[[bytes, int], Iterator[Section]]] = {
    "txt": _read_txt,
    "md": _read_md,
    "html": _read_html,
    "pdf": _read_pdf,
    "docx": _read_docx,
    "csv": _read_csv,
    "xlsx": _read_xlsx,
}
