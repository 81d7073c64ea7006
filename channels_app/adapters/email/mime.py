"""Reading raw RFC 822 messages without ever raising: headers (RFC 2047, raw 8-bit),
charsets (GBK/GB2312 as GB18030, Big5 as CP950/HKSCS, …), bodies and attachments.

Messages are parsed with the standard library's `compat32` policy, the most tolerant one:
it records defects instead of raising, and keeps undecodable bytes (as surrogate escapes)
so that we decide how to decode them.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import mimetypes
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses

from ..base import body_digest

# --- The stored payload -----------------------------------------------------------------
# The raw message is kept as base64 text: it round-trips every byte exactly, and unlike a
# latin-1 string it never holds a NUL, which PostgreSQL's jsonb refuses.


def payload_encode(raw: bytes) -> dict:
    return {"mime": base64.b64encode(raw).decode("ascii")}


def payload_decode(payload: dict) -> bytes | None:
    value = payload.get("mime") if isinstance(payload, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def message_parse(raw: bytes) -> Message:
    return BytesParser(policy=policy.compat32).parsebytes(raw)


# --- Message ids ------------------------------------------------------------------------

MSGID = re.compile(r"<([^<>\s]+)>")
# InboundEvent.dedupe_key and Message.external_id hold at most 255 characters.
MAX_ID = 255


def msgid_clean(value: str) -> str:
    """The id of a Message-ID-like header value, without angle brackets ("" if none)."""
    value = (value or "").strip()
    match = MSGID.search(value)
    if match:
        return match.group(1)
    # Some mailers omit the brackets; take a single bare token that looks like an id.
    token = value.split()[0] if value.split() else ""
    return token.strip("<>") if "@" in token else ""


def msgids_all(value: str) -> list[str]:
    """Every id in a References/In-Reply-To value, in order."""
    found = MSGID.findall(value or "")
    return found or ([msgid_clean(value)] if msgid_clean(value) else [])


def id_fit(value: str) -> str:
    """An id that fits our 255-character columns: longer ones are replaced by their hash."""
    if len(value) <= MAX_ID:
        return value
    return "msgid-sha256:" + hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def dedupe_key(raw: bytes, message: Message | None = None) -> str:
    """The Message-ID without angle brackets, or a digest of the bytes when there is none."""
    message = message if message is not None else message_parse(raw)
    msgid = msgid_clean(header_get(message, "Message-ID"))
    return id_fit(msgid) if msgid else body_digest(raw)


# --- Charsets ---------------------------------------------------------------------------

# Labels mail clients use for charsets whose real content is a superset: Chinese mail
# labelled gb2312 routinely holds GBK characters, Big5 mail holds Microsoft's CP950.
CHARSET_ALIASES = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "x-gbk": ("gb18030",),
    "cp936": ("gb18030",),
    "euc-cn": ("gb18030",),
    "chinese": ("gb18030",),
    "csgb2312": ("gb18030",),
    "gb_2312-80": ("gb18030",),
    "big5": ("cp950", "big5hkscs"),
    "big-5": ("cp950", "big5hkscs"),
    "x-x-big5": ("cp950", "big5hkscs"),
    "cn-big5": ("cp950", "big5hkscs"),
    "big5-hkscs": ("big5hkscs", "cp950"),
    "ks_c_5601-1987": ("cp949",),
    "euc-kr": ("cp949",),
    "shift_jis": ("cp932",),
    "shift-jis": ("cp932",),
    "sjis": ("cp932",),
    "x-sjis": ("cp932",),
    "iso-8859-1": ("cp1252",),
    "latin1": ("cp1252",),
    "iso-8859-15": ("iso-8859-15", "cp1252"),
    "windows-874": ("cp874",),
}
# Declared "ascii" (or nothing) while 8-bit bytes are present usually means UTF-8.
UNDECLARED = ("", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "default", "8bit")


def _candidates(charset: str) -> tuple[str, ...]:
    label = (charset or "").strip().strip('"').lower()
    if label in UNDECLARED:
        return ("utf-8", "cp1252")
    named = CHARSET_ALIASES.get(label, (label,))
    known = []
    for name in named:
        try:
            codecs.lookup(name)
        except LookupError:
            continue
        known.append(name)
    return (*known, "utf-8", "cp1252") if known else ("utf-8", "cp1252")


def text_decode(data: bytes, charset: str = "") -> str:
    """Bytes of a body or header in its declared charset, tolerating wrong labels."""
    candidates = _candidates(charset)
    for name in candidates:
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    try:
        return data.decode(candidates[0], errors="replace")
    except LookupError:
        return data.decode("latin-1")


# --- Headers ----------------------------------------------------------------------------

ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding.lower() == "b":
        text = text.strip()
        text += "=" * (-len(text) % 4)
        try:
            return base64.b64decode(text)
        except (binascii.Error, ValueError):
            return text.encode("ascii", "replace")
    return quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=True)


def header_decode(value: str, fallback_charset: str = "") -> str:
    """A header's text: raw 8-bit bytes decoded (UTF-8, else the message's charset),
    RFC 2047 encoded words decoded, adjacent words of one charset joined before decoding
    (Chinese mailers split a character across two words), folding removed."""
    if not value:
        return ""
    if any("\udc80" <= char <= "\udcff" for char in value):
        raw = value.encode("utf-8", "surrogateescape")
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            value = text_decode(raw, fallback_charset)
    value = re.sub(r"\r?\n[ \t]+", " ", value).replace("\r", "").replace("\n", "")
    pieces: list[tuple[str, str | bytes]] = []  # (charset or "", text or bytes)
    position = 0
    for match in ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        adjacent = pieces and pieces[-1][0] and not between.strip()
        if between and not adjacent:
            pieces.append(("", between))
        charset = match.group(1).lower()
        data = _word_bytes(match.group(2), match.group(3))
        if adjacent and pieces[-1][0] == charset:
            previous = pieces[-1][1]
            assert isinstance(previous, bytes)
            pieces[-1] = (charset, previous + data)
        else:
            pieces.append((charset, data))
        position = match.end()
    pieces.append(("", value[position:]))
    out = []
    for charset, text in pieces:
        out.append(text_decode(text, charset) if isinstance(text, bytes) else text)
    return re.sub(r"\s+", " ", "".join(out)).strip()


def header_get(message: Message, name: str) -> str:
    """The raw text of the first `name` header ("" when absent), never a Header object."""
    wanted = name.lower()
    try:
        for key, value in message.raw_items():
            if key.lower() == wanted:
                return value if isinstance(value, str) else str(value)
    except Exception:  # a malformed header block reads as no header
        return ""
    return ""


def header_text(message: Message, name: str) -> str:
    return header_decode(header_get(message, name), message_charset(message))


def message_charset(message: Message) -> str:
    """The first charset the message declares anywhere: the best guess for raw 8-bit
    headers that name none."""
    try:
        for part in message.walk():
            charset = part.get_param("charset")
            if isinstance(charset, str) and charset:
                return charset
    except Exception:
        return ""
    return ""


@dataclass(frozen=True)
class Address:
    address: str
    name: str = ""


def addresses_get(message: Message, name: str) -> list[Address]:
    raw = header_get(message, name)
    if not raw:
        return []
    # Decode raw 8-bit first but keep encoded words, so commas inside them cannot split.
    if any("\udc80" <= char <= "\udcff" for char in raw):
        raw = header_decode(raw, message_charset(message))
    raw = re.sub(r"\r?\n[ \t]+", " ", raw)
    try:
        pairs = getaddresses([raw])
    except Exception:
        return []
    found = []
    for display, address in pairs:
        address = address.strip().strip("<>").strip()
        if "@" not in address or any(char.isspace() for char in address):
            continue
        found.append(Address(address, header_decode(display, message_charset(message))))
    return found


# --- Parts ------------------------------------------------------------------------------

REPORT_PARTS = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/global-disposition-notification",
        "message/rfc822",
        "message/global",
        "text/rfc822-headers",
        "message/global-headers",
    }
)


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def part_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part (a message/rfc822 part: the whole message)."""
    try:
        if part.is_multipart():
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                return inner[0].as_bytes() if isinstance(inner[0], Message) else b""
            return b""
        data = part.get_payload(decode=True)
    except Exception:  # a broken encoding yields what could be read
        data = None
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            return payload.encode("utf-8", "surrogateescape")
        return b""
    return data


def part_text(part: Message) -> str:
    charset = part.get_param("charset")
    data = part_bytes(part)
    if not isinstance(charset, str) or not charset:
        charset = _html_meta_charset(data) if content_type(part) == "text/html" else ""
    return text_decode(data, charset if isinstance(charset, str) else "")


def _html_meta_charset(data: bytes) -> str:
    match = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", data[:4096], re.I)
    return match.group(1).decode("ascii", "replace") if match else ""


@dataclass(frozen=True)
class Leaf:
    """A part of the message that is not a container, numbered in reading order."""

    index: int
    part: Message
    parent_type: str  # content type of the enclosing multipart ("" at the top)


def leaves(message: Message) -> Iterator[Leaf]:
    """Every leaf part in document order. A forwarded message (message/rfc822) is one leaf,
    not descended into: it is shown as an attached .eml. The numbering is stable for the
    same bytes, which is how a file is found again later (see `media_fetch`)."""
    counter = 0
    stack: list[tuple[Message, str, int]] = [(message, "", 0)]
    while stack:
        part, parent, depth = stack.pop()
        ctype = content_type(part)
        if ctype.startswith("multipart/") and part.is_multipart() and depth < 50:
            children = part.get_payload()
            if isinstance(children, list):
                for child in reversed(children):
                    if isinstance(child, Message):
                        stack.append((child, ctype, depth + 1))
                continue
        yield Leaf(counter, part, parent)
        counter += 1


def is_attachment(leaf: Leaf) -> bool:
    part = leaf.part
    ctype = content_type(part)
    if leaf.parent_type == "multipart/report" and ctype in REPORT_PARTS:
        return False  # the machine-readable parts of a bounce or a read receipt
    disposition = header_get(part, "Content-Disposition").split(";")[0].strip().lower()
    if disposition == "attachment":
        return True
    if ctype in ("text/plain", "text/html") or ctype.startswith("multipart/"):
        # Body text; a multipart whose boundary is missing is read as text too.
        return bool(_safe_filename(part))
    return True


def _safe_filename(part: Message) -> str:
    try:
        return part.get_filename() or ""
    except Exception:
        return ""
    return True


def filename_get(leaf: Leaf) -> str:
    part = leaf.part
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except Exception:
        name = ""
    if isinstance(name, tuple):  # an RFC 2231 value the library did not collapse
        name = name[2] if len(name) == 3 else ""
    name = header_decode(str(name), part.get_param("charset") or "") if name else ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name:
        ctype = content_type(part)
        extension = ".eml" if ctype == "message/rfc822" else mimetypes.guess_extension(ctype)
        name = f"attachment-{leaf.index}{extension or ''}"
    return name[:200]


def media_kind(ctype: str) -> str:
    major = ctype.split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "file"


def headers_parse(text: str) -> Message:
    return HeaderParser(policy=policy.compat32).parsestr(text)
