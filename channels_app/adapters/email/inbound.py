"""What one received email says: the customer's message, and for bounces and read receipts
of our own messages a StatusUpdate. Total: malformed mail degrades, it never raises."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parsedate_to_datetime

from django.utils.translation import gettext

from ..base import Event, Ignored, InboundMessage, MediaRef, Sender, StatusUpdate
from . import mime
from .html import html_body
from .quotes import quote_split

MAX_TEXT = 100_000
MAX_HTML = 1_000_000
MAX_REFS = 100
BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
SUPPRESS_VALUES = frozenset({"all", "oof", "autoreply"})
STATUS_CODE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def email_parse(raw: bytes, *, own_address: str, truncated_size: int | None = None) -> list[Event]:
    try:
        message = mime.message_parse(raw)
    except Exception:  # the stdlib parser hardly ever raises; be total anyway
        return [Ignored("The email could not be read at all.")]
    try:
        return _events(raw, message, own_address.strip().lower(), truncated_size)
    except RecursionError:
        return [Ignored("The email is nested too deeply to read.")]


def _events(
    raw: bytes, message: Message, own_address: str, truncated_size: int | None
) -> list[Event]:
    key = mime.dedupe_key(raw, message)
    msgid = mime.msgid_clean(mime.header_get(message, "Message-ID"))
    external_id = mime.id_fit(msgid) if msgid else key
    sent_at = _date(mime.header_get(message, "Date"))

    author = _author(message)
    statuses = _report_statuses(message, own_address, author, sent_at)
    if author is None:
        if statuses:
            return list(statuses)
        return [Ignored("The email names no sender.")]
    if author.address.lower() == own_address:
        # A copy of our own mail (a mailbox that also files what it sends, a Bcc to self).
        return [Ignored("The email was sent from this channel's own address.")]

    automated = _automated_reason(message, author.address, own_address)
    if statuses and not automated:
        automated = "delivery report"

    body = _body(message)
    attachments = _attachments(message, key)
    text = body["text"]
    if truncated_size is not None:
        note = gettext(
            "[This email (%(size)s MB) is larger than Switchboard downloads; open it in the "
            "mailbox to read it.]"
        ) % {"size": round(truncated_size / 1_000_000, 1)}
        text = f"{text}\n\n{note}".strip()

    in_reply_to = mime.msgids_all(mime.header_get(message, "In-Reply-To"))
    references = mime.msgids_all(mime.header_get(message, "References"))
    refs: list[str] = []
    for ref in [*in_reply_to, *references]:
        ref = mime.id_fit(ref)
        if ref not in refs and ref != external_id:
            refs.append(ref)

    extra: dict = {}
    if body["quoted"]:
        extra["quoted"] = body["quoted"][:MAX_TEXT]
    for name, label in (("To", "to"), ("Cc", "cc")):
        found = [entry.address for entry in mime.addresses_get(message, name)]
        if found:
            extra[label] = found[:50]
    reply_to = mime.addresses_get(message, "Reply-To")
    if reply_to and reply_to[0].address.lower() != author.address.lower():
        extra["reply_to"] = reply_to[0].address
    if automated:
        extra["automated_reason"] = automated
    if len(text) > MAX_TEXT:
        extra["text_truncated"] = True
    if truncated_size is not None:
        extra["not_downloaded_bytes"] = truncated_size

    inbound = InboundMessage(
        external_id=external_id,
        sender=Sender(
            kind="email",
            value=author.address.lower(),
            name=author.name,
            emails=(author.address,),
        ),
        sent_at=sent_at,
        text=text[:MAX_TEXT],
        media=tuple(attachments),
        thread_refs=tuple(refs[:MAX_REFS]),
        subject=mime.header_text(message, "Subject")[:998],
        # Cutting sanitised HTML could leave it unbalanced: a huge one is left out whole.
        html=body["html"] if len(body["html"]) <= MAX_HTML else "",
        reply_to_external_id=mime.id_fit(in_reply_to[-1]) if in_reply_to else "",
        automated=bool(automated),
        extra=extra,
    )
    return [inbound, *statuses]


def _date(value: str) -> datetime:
    now = datetime.now(UTC)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return now
    if when is None:
        return now
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    # A date in the future (a wrong clock, or spam wanting the top of the list) is not kept.
    return now if when > now + timedelta(hours=1) else when


def _author(message: Message) -> mime.Address | None:
    for name in ("From", "Sender", "Reply-To", "Return-Path"):
        found = mime.addresses_get(message, name)
        if found:
            return found[0]
    return None


# --- Auto-replies and bounces ------------------------------------------------------------


def _list_is_ours(message: Message, own_address: str) -> bool:
    """A support address that is itself a list (a Google Group forwarding to the mailbox)
    marks every customer's mail with List-Id and Precedence: list; those are not bulk."""
    if not own_address or "@" not in own_address:
        return False
    local, domain = own_address.split("@", 1)
    list_id = mime.header_get(message, "List-Id").lower()
    list_post = mime.header_get(message, "List-Post").lower()
    return f"mailto:{own_address}" in list_post or f"<{local}.{domain}>" in list_id


def _automated_reason(message: Message, address: str, own_address: str) -> str:
    """Why this email is machine-written ("" when a person wrote it). RFC 3834 headers
    first, then the de-facto ones; mailing-list mail counts as bulk unless the list is our
    own support address."""
    auto = mime.header_get(message, "Auto-Submitted").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autogenerated"):
        if mime.header_get(message, name).strip():
            return name
    ours = _list_is_ours(message, own_address)
    precedence = mime.header_get(message, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "auto_reply") or (precedence == "list" and not ours):
        return f"Precedence: {precedence}"
    suppress = mime.header_get(message, "X-Auto-Response-Suppress").lower()
    # The sender asks not to be answered automatically: Exchange's own out-of-office
    # replies and ticketing systems' notifications set it; people's mail does not.
    if set(re.split(r"[\s,]+", suppress)) & SUPPRESS_VALUES:
        return "X-Auto-Response-Suppress"
    if mime.header_get(message, "List-Id").strip() and not ours:
        return "List-Id"
    if mime.content_type(message) == "multipart/report":
        return "multipart/report"
    if address.split("@", 1)[0].lower() in BOUNCE_SENDERS:
        return "bounce sender"
    return_path = mime.header_get(message, "Return-Path").strip()
    if return_path and return_path.replace(" ", "") == "<>":
        return "null Return-Path"
    return ""


def _ours(original_id: str, original_from: str, own_address: str) -> bool:
    domain = own_address.rsplit("@", 1)[-1] if "@" in own_address else ""
    if original_from and original_from.lower() == own_address:
        return True
    return bool(domain) and original_id.lower().endswith("@" + domain)


def _report_statuses(
    message: Message, own_address: str, author: mime.Address | None, at: datetime
) -> list[StatusUpdate]:
    """A bounce (delivery-status report) or a read receipt (disposition notification) of
    one of OUR messages, as a StatusUpdate for it."""
    ctype = mime.content_type(message)
    report_type = str(message.get_param("report-type") or "").lower()
    if ctype == "multipart/report":
        if report_type in ("delivery-status", "global-delivery-status"):
            return _dsn(message, own_address, at)
        if report_type in ("disposition-notification", "global-disposition-notification"):
            return _mdn(message, own_address, at)
        return []
    # Old mailers (qmail, some Exchange setups) bounce in plain text with the original's
    # headers quoted in the body.
    if author is None or author.address.split("@", 1)[0].lower() not in BOUNCE_SENDERS:
        return []
    body = _body(message)["text"]
    for match in re.finditer(r"^\s*Message-ID:\s*<([^<>\s]+)>", body, re.I | re.M):
        if _ours(match.group(1), "", own_address):
            code = STATUS_CODE.search(body)
            reason = _first_line_with(body, code.group(1)) if code else ""
            return [
                StatusUpdate(
                    external_id=mime.id_fit(match.group(1)),
                    status="failed",
                    at=at,
                    error=(reason or mime.header_text(message, "Subject"))[:500],
                    error_code=code.group(1) if code else "",
                )
            ]
    return []


def _first_line_with(text: str, needle: str) -> str:
    for line in text.splitlines():
        if needle in line:
            return line.strip()
    return ""


def _report_parts(message: Message) -> tuple[list[Message], Message | None]:
    """The machine-readable field blocks of a report, and the original's headers."""
    blocks: list[Message] = []
    original: Message | None = None
    for leaf in mime.leaves(message):
        part = leaf.part
        ctype = mime.content_type(part)
        if leaf.parent_type != "multipart/report":
            continue
        payload = part.get_payload()
        if ctype in (
            "message/delivery-status",
            "message/global-delivery-status",
            "message/disposition-notification",
            "message/global-disposition-notification",
        ):
            if isinstance(payload, list):
                blocks.extend(item for item in payload if isinstance(item, Message))
            elif isinstance(payload, str):
                for chunk in re.split(r"\r?\n\r?\n", mime.part_text(part)):
                    blocks.append(mime.headers_parse(chunk))
        elif ctype in ("message/rfc822", "message/global") and original is None:
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                original = payload[0]
        elif ctype in ("text/rfc822-headers", "message/global-headers") and original is None:
            original = mime.headers_parse(mime.part_text(part))
    return blocks, original


def _dsn(message: Message, own_address: str, at: datetime) -> list[StatusUpdate]:
    blocks, original = _report_parts(message)
    if original is None:
        return []
    original_id = mime.msgid_clean(mime.header_get(original, "Message-ID"))
    original_from = mime.addresses_get(original, "From")
    if not original_id or not _ours(
        original_id, original_from[0].address if original_from else "", own_address
    ):
        return []
    for block in blocks:
        action = mime.header_get(block, "Action").strip().lower()
        status = mime.header_get(block, "Status").strip()
        if action == "failed" or (not action and status.startswith("5")):
            diagnostic = mime.header_decode(mime.header_get(block, "Diagnostic-Code"))
            diagnostic = re.sub(r"^\s*smtp\s*;\s*", "", diagnostic, flags=re.I)
            recipient = mime.header_get(block, "Final-Recipient").split(";")[-1].strip()
            error = diagnostic or gettext("Delivery to %(recipient)s failed (%(status)s).") % {
                "recipient": recipient or "?",
                "status": status or "?",
            }
            return [
                StatusUpdate(
                    external_id=mime.id_fit(original_id),
                    status="failed",
                    at=at,
                    error=error[:500],
                    error_code=status[:100],
                )
            ]
    return []


def _mdn(message: Message, own_address: str, at: datetime) -> list[StatusUpdate]:
    blocks, original = _report_parts(message)
    for block in blocks:
        disposition = mime.header_get(block, "Disposition").lower()
        original_id = mime.msgid_clean(mime.header_get(block, "Original-Message-ID"))
        if not original_id and original is not None:
            original_id = mime.msgid_clean(mime.header_get(original, "Message-ID"))
        if original_id and "displayed" in disposition and _ours(original_id, "", own_address):
            return [StatusUpdate(external_id=mime.id_fit(original_id), status="read", at=at)]
    return []


# --- Body and files ------------------------------------------------------------------------


def _body(message: Message) -> dict:
    plain: list[str] = []
    html: list[str] = []
    for leaf in mime.leaves(message):
        if mime.is_attachment(leaf):
            continue
        ctype = mime.content_type(leaf.part)
        if ctype == "text/html":
            html.append(mime.part_text(leaf.part))
        elif ctype == "text/plain" or ctype.startswith("multipart/"):
            plain.append(mime.part_text(leaf.part))
        # Other inline parts (message/delivery-status …) are neither body nor file.
    rendered = html_body("\n".join(html)) if html else None
    quoted = ""
    if any(chunk.strip() for chunk in plain):
        text, quoted = quote_split("\n".join(chunk.strip("\r\n") for chunk in plain))
    elif rendered is not None:
        text, quoted = quote_split(rendered.text)
        quoted = "\n\n".join(chunk for chunk in (quoted, rendered.quoted) if chunk)
    else:
        text = ""
    return {
        "text": text.replace("\r\n", "\n").strip(),
        "quoted": quoted,
        "html": rendered.html if rendered is not None else "",
    }


def _attachments(message: Message, key: str) -> list[MediaRef]:
    refs = []
    for leaf in mime.leaves(message):
        if not mime.is_attachment(leaf):
            continue
        ctype = mime.content_type(leaf.part)
        refs.append(
            MediaRef(
                ref=f"{key}#{leaf.index}",
                content_type=ctype,
                name=mime.filename_get(leaf),
                size=len(mime.part_bytes(leaf.part)),
                kind=mime.media_kind(ctype),
            )
        )
    return refs


def attachment_bytes(message: Message, index: int) -> tuple[bytes, str, str] | None:
    """(data, content type, name) of the leaf numbered `index`, as `_attachments` saw it."""
    for leaf in mime.leaves(message):
        if leaf.index == index and mime.is_attachment(leaf):
            return mime.part_bytes(leaf.part), mime.content_type(leaf.part), mime.filename_get(leaf)
    return None
