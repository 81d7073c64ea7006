"""Email: a support mailbox read over IMAP (or fed by an inbound-parse webhook) and answered
over SMTP. See docs/channels/email.md.

Inbound, both ways store the same RawEvent: the dedupe key is the Message-ID without angle
brackets (a digest of the bytes when there is none) and the payload is
`{"mime": <the raw RFC 822 message, base64>}` (plus `"truncated": <size>` when only the
headers of an oversized message were fetched). Files stay inside the stored message:
`MediaRef.ref` is "<dedupe key>#<part number>" and `media_fetch` reads the part back from
the InboundEvent, so no attachment is copied anywhere until the pipeline asks for it.

Modules: `mime` reads raw mail tolerantly, `inbound` turns it into events, `quotes` and
`html` cut quoted history and sanitise HTML, `imap` polls (`mailbox_poll`), `smtp` sends.
"""

from __future__ import annotations

import base64
import binascii
import re

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..base import (
    Adapter,
    ChannelRules,
    ConnectionCheck,
    CredentialField,
    Event,
    FetchedMedia,
    Ignored,
    MediaRef,
    OutboundMessage,
    PayloadMalformed,
    PermanentError,
    RawEvent,
    SendResult,
    SignatureInvalid,
    signatures_match,
)
from . import mime
from .config import MailSettingsInvalid, mail_settings
from .imap import MailboxLoginFailed, MailboxUnavailable, imap_check, mailbox_poll, raw_event
from .inbound import attachment_bytes, email_parse
from .smtp import smtp_check, smtp_send

__all__ = ["EmailAdapter", "MailboxLoginFailed", "MailboxUnavailable", "mailbox_poll"]

MB = 1024 * 1024
# Email carries any file; these are the common types the console accepts, each up to the
# 25 MB most providers take in one message (the total is checked when sending).
ATTACHMENT_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/heic",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/rtf",
    "text/plain",
    "text/csv",
    "text/calendar",
    "application/zip",
    "application/x-zip-compressed",
    "audio/mpeg",
    "video/mp4",
)
# A raw message starts with a header field ("Name: value"), or an mbox "From " line.
HEADER_START = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:")
MBOX_FROM = re.compile(rb"^From [^\r\n]*\r?\n")


class EmailAdapter(Adapter):
    kind = "email"
    identity_kind = "email"
    threads_by_refs = True
    rules = ChannelRules(
        max_text_length=100_000,
        media_limits={content_type: 25 * MB for content_type in ATTACHMENT_TYPES},
        reply_window_hours=None,
        rate_per_second=2.0,
        max_files=10,
        text_with_files=True,
    )
    fields = (
        CredentialField("address", _("Support address"), help_text=_("e.g. support@example.com")),
        CredentialField(
            "display_name",
            _("Sender name"),
            required=False,
            help_text=_("Shown as the sender of replies, e.g. “Acme Support”."),
        ),
        CredentialField(
            "imap_host",
            _("IMAP server"),
            required=False,
            help_text=_(
                "e.g. imap.gmail.com. Leave empty to receive mail through the inbound "
                "webhook instead."
            ),
        ),
        CredentialField("imap_port", _("IMAP port"), required=False, default="993"),
        CredentialField(
            "imap_user",
            _("IMAP user name"),
            required=False,
            help_text=_("Usually the full address; empty means the support address."),
        ),
        CredentialField(
            "imap_password",
            _("IMAP password"),
            secret=True,
            required=False,
            help_text=_(
                "For Gmail, QQ and 163 mail: an app password or authorization code, not the "
                "account password."
            ),
        ),
        CredentialField(
            "imap_security",
            _("IMAP security"),
            required=False,
            default="ssl",
            help_text=_("ssl (port 993), starttls (port 143) or none."),
        ),
        CredentialField(
            "imap_folder",
            _("IMAP folder"),
            required=False,
            default="INBOX",
            help_text=_("The folder to read new mail from."),
        ),
        CredentialField("smtp_host", _("SMTP server"), help_text=_("e.g. smtp.gmail.com")),
        CredentialField("smtp_port", _("SMTP port"), required=False, default="587"),
        CredentialField(
            "smtp_user",
            _("SMTP user name"),
            required=False,
            help_text=_("Usually the full address; empty means the support address."),
        ),
        CredentialField(
            "smtp_password",
            _("SMTP password"),
            secret=True,
            required=False,
            help_text=_("Often the same app password as for IMAP."),
        ),
        CredentialField(
            "smtp_security",
            _("SMTP security"),
            required=False,
            default="starttls",
            help_text=_("starttls (port 587), ssl (port 465) or none."),
        ),
    )

    # Ingress: the inbound-parse webhook ---------------------------------------------------
    def verify(self, request) -> None:
        """`Authorization: Bearer <webhook secret>`, or HTTP Basic auth with the webhook
        secret as the password (for services that can only put credentials in the URL,
        such as SendGrid Inbound Parse: https://inbound:<secret>@host/webhooks/email/…)."""
        secret = self.channel.webhook_secret or ""
        header = request.headers.get("Authorization", "")
        scheme, _sep, value = header.strip().partition(" ")
        given = ""
        if scheme.lower() == "bearer":
            given = value.strip()
        elif scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                decoded = ""
            given = decoded.partition(":")[2]
        if not secret or not signatures_match(secret, given):
            raise SignatureInvalid("The webhook token is wrong or missing.")

    def split(self, body: bytes, request) -> list[RawEvent]:
        """The body is the raw message (message/rfc822, text/plain, or any other type), or
        multipart/form-data with it in the field "email" (SendGrid's "send raw" mode)."""
        content_type = request.META.get("CONTENT_TYPE", "") if request is not None else ""
        if content_type.split(";")[0].strip().lower() == "multipart/form-data":
            raw = _form_field(body, content_type, "email")
        elif content_type.split(";")[0].strip().lower() in (
            "application/json",
            "application/x-www-form-urlencoded",
        ):
            raise PayloadMalformed("Send the raw message, not JSON or a form.")
        else:
            raw = body
        raw = MBOX_FROM.sub(b"", raw, count=1)
        if not raw.strip():
            raise PayloadMalformed("The body holds no email.")
        if not HEADER_START.match(raw):
            raise PayloadMalformed("The body does not start with an email header.")
        return [raw_event(raw)]

    def parse(self, payload: dict) -> list[Event]:
        raw = mime.payload_decode(payload)
        if raw is None:
            return [Ignored("The event holds no raw email.")]
        truncated = payload.get("truncated")
        return email_parse(
            raw,
            own_address=str((self.channel.settings or {}).get("address", "")),
            truncated_size=truncated if isinstance(truncated, int) else None,
        )

    def media_fetch(self, media: MediaRef) -> FetchedMedia:
        from channels_app.models import InboundEvent

        key, _sep, index = media.ref.rpartition("#")
        if not key or not index.isdigit():
            raise PermanentError(gettext("This file reference is not one of an email."))
        # The files of one email are fetched one after another: parse it once.
        cached = getattr(self, "_parsed", None)
        if cached is not None and cached[0] == key:
            message = cached[1]
        else:
            event = (
                InboundEvent.objects.filter(channel=self.channel, dedupe_key=key)
                .only("payload")
                .first()
            )
            raw = mime.payload_decode(event.payload) if event is not None else None
            message = mime.message_parse(raw) if raw is not None else None
            if message is not None:
                self._parsed = (key, message)
        found = attachment_bytes(message, int(index)) if message is not None else None
        if found is None:
            raise PermanentError(gettext("The email holding this file is no longer stored."))
        data, content_type, name = found
        return FetchedMedia(data=data, content_type=content_type, name=name)

    # Egress -------------------------------------------------------------------------------
    def send(self, message: OutboundMessage) -> SendResult:
        return smtp_send(mail_settings(self.channel), message)

    def test_connection(self) -> ConnectionCheck:
        try:
            settings = mail_settings(self.channel)
        except MailSettingsInvalid as exc:
            return ConnectionCheck(ok=False, message=exc.reason)
        imap_ok, imap_message = imap_check(settings, self.channel)
        smtp_ok, smtp_message = smtp_check(settings)
        return ConnectionCheck(ok=imap_ok and smtp_ok, message=f"{imap_message} {smtp_message}")


def _form_field(body: bytes, content_type: str, name: str) -> bytes:
    """The exact bytes of one multipart/form-data field, split by hand: request.POST would
    decode the message as UTF-8 (mangling other charsets) and a parser would re-serialise a
    part sent as message/rfc822."""
    boundary = mime.headers_parse(f"Content-Type: {content_type}\n\n").get_boundary()
    if not boundary:
        raise PayloadMalformed("The multipart body has no boundary.")
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.removeprefix(b"\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = chunk.partition(b"\n\n")
        headers = mime.headers_parse(head.decode("utf-8", "replace"))
        if headers.get_param("name", header="content-disposition") != name:
            continue
        # The line break before the next delimiter belongs to the delimiter.
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        if headers.get("Content-Transfer-Encoding", "").strip().lower() == "base64":
            try:
                content = base64.b64decode(content)
            except (binascii.Error, ValueError) as exc:
                raise PayloadMalformed("The email field is not valid base64.") from exc
        return content
    raise PayloadMalformed(f'The form has no "{name}" field with the raw message.')
