"""The generic API channel: any platform we do not support natively (Xiaohongshu through a
bridge, an in-house app) speaks one JSON contract with us, signed the Standard Webhooks way
(https://www.standardwebhooks.com) in both directions with the channel's webhook secret.

The contract the integrator implements is docs/channels/api.md; keep the two in step.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import re
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import httpx
from django.conf import settings as django_settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.enums import IdentityKind
from inbox.enums import DeliveryStatus

from .base import (
    Adapter,
    ChannelRules,
    ConnectionCheck,
    CredentialField,
    Event,
    FetchedMedia,
    Ignored,
    InboundMessage,
    MediaRef,
    MessageDeletion,
    MessageEdit,
    OutboundMessage,
    PayloadMalformed,
    PermanentError,
    RawEvent,
    Reaction,
    Referral,
    Sender,
    SendResult,
    SignatureInvalid,
    StatusUpdate,
    TransientError,
    body_digest,
    from_timestamp,
    http_error,
    json_body,
    request_send,
    signatures_match,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret
# The Standard Webhooks tolerance against replays: a request signed longer ago (or later)
# than this is refused whatever its signature.
TOLERANCE_SECONDS = 5 * 60
MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_TEXT_LENGTH = 10_000
# Ids end up in an Identity value ("<channel uuid>:<id>", 255 chars) and in dedupe keys.
MAX_ID_LENGTH = 200
MAX_ATTACHMENTS = 20
ERROR_TEXT_LENGTH = 300

MESSAGE_CREATED = "message.created"
MESSAGE_STATUS = "message.status"
MESSAGE_UPDATED = "message.updated"
MESSAGE_DELETED = "message.deleted"
MESSAGE_REACTION = "message.reaction"
PING = "ping"

STATUSES = frozenset(
    {DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ, DeliveryStatus.FAILED}
)
MEDIA_KINDS = frozenset({"image", "video", "audio", "voice", "sticker", "file"})
REFERRAL_FIELDS = ("source_id", "source_url", "headline", "body", "ref", "click_id")


# --- Signing (both directions) ------------------------------------------------------------


def signing_key(secret: str) -> bytes:
    """The HMAC key a channel secret stands for: a Standard Webhooks secret ("whsec_" +
    base64) is its decoded bytes; any other string is its UTF-8 bytes."""
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX) :]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("The whsec_ secret is not valid base64.") from exc
    else:
        key = secret.encode()
    if not key:
        raise ValueError("The secret is empty.")
    return key


def sign(key_secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature of one request: "v1," + base64 of
    HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}"), over the raw body bytes."""
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(signing_key(key_secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(key_secret: str, msg_id: str, body: bytes, timestamp: int | None = None):
    """The three Standard Webhooks headers for a body we send."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key_secret, msg_id, timestamp, body),
    }


def outbound_url_allowed(url: str) -> bool:
    """https anywhere; plain http only to this machine (a bridge beside us in development)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dedupe_key(key: str) -> str:
    # InboundEvent.dedupe_key holds 255 characters; a longer key (a long webhook-id) is
    # replaced by its digest, which stays just as stable.
    return key if len(key) <= 255 else body_digest(key.encode())


# --- Reading the JSON we accept -------------------------------------------------------------
# Each reader names the field it refuses, so the integrator sees what to fix in the 400.


def _malformed(path: str, what: str) -> PayloadMalformed:
    return PayloadMalformed(f'"{path}" {what}')


def _object(parent: dict, key: str, path: str, *, required: bool = True) -> dict | None:
    value = parent.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise _malformed(f"{path}.{key}", "must be an object.")
    return value


def _text(parent: dict, key: str, path: str, *, required: bool = False, limit: int = 0) -> str:
    value = parent.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _malformed(f"{path}.{key}", "must be a string.")
    if required and not value.strip():
        raise _malformed(f"{path}.{key}", "is required.")
    if limit and len(value) > limit:
        raise _malformed(f"{path}.{key}", f"is longer than {limit} characters.")
    return value


def _ident(parent: dict, key: str, path: str, *, required: bool = True) -> str:
    """An id of theirs: a string or an integer, at most MAX_ID_LENGTH characters."""
    value = parent.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise _malformed(f"{path}.{key}", "is required: a non-empty string (or integer) id.")
    value = value.strip()
    if len(value) > MAX_ID_LENGTH:
        raise _malformed(f"{path}.{key}", f"is longer than {MAX_ID_LENGTH} characters.")
    return value


def _moment(parent: dict, key: str, path: str) -> datetime | None:
    """ISO 8601 (a time without offset is UTC) or unix seconds; None when absent."""
    value = parent.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _malformed(f"{path}.{key}", "must be an ISO 8601 time or unix seconds.")
    if isinstance(value, int | float):
        return from_timestamp(value)
    if isinstance(value, str):
        stripped = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", stripped):
            return from_timestamp(stripped)
        try:
            moment = datetime.fromisoformat(stripped)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise _malformed(f"{path}.{key}", "must be an ISO 8601 time or unix seconds.")


def _url(value, path: str) -> str:
    if value is None or value == "":
        raise _malformed(path, "is required: an http or https URL.")
    if not isinstance(value, str):
        raise _malformed(path, "must be an http or https URL.")
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _malformed(path, "must be an http or https URL.")
    return value


def _contact(data: dict, path: str) -> dict:
    contact = _object(data, "contact", path)
    where = f"{path}.contact"
    avatar = contact.get("avatar_url")
    return {
        "id": _ident(contact, "id", where),
        "name": _text(contact, "name", where, limit=255).strip(),
        "email": _text(contact, "email", where, limit=254).strip(),
        "phone": _text(contact, "phone", where, limit=64).strip(),
        "avatar_url": _url(avatar, f"{where}.avatar_url") if avatar else "",
        "language": _text(contact, "language", where, limit=35).strip(),
    }


def _attachments(data: dict, path: str) -> list[MediaRef]:
    items = data.get("attachments")
    if items is None:
        return []
    where = f"{path}.attachments"
    if not isinstance(items, list):
        raise _malformed(where, "must be a list.")
    if len(items) > MAX_ATTACHMENTS:
        raise _malformed(where, f"holds more than {MAX_ATTACHMENTS} files.")
    media = []
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise _malformed(at, "must be an object.")
        content_type = _text(item, "content_type", at, limit=255).strip().lower()
        kind = _text(item, "kind", at).strip() or _media_kind(content_type)
        if kind not in MEDIA_KINDS:
            raise _malformed(f"{at}.kind", f"must be one of {', '.join(sorted(MEDIA_KINDS))}.")
        size = item.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise _malformed(f"{at}.size", "must be a whole number of bytes.")
        media.append(
            MediaRef(
                ref=_url(item.get("url"), f"{at}.url"),
                content_type=content_type,
                name=_text(item, "name", at, limit=255).strip(),
                size=size,
                kind=kind,
            )
        )
    return media


def _media_kind(content_type: str) -> str:
    major = content_type.partition("/")[0]
    return major if major in ("image", "video", "audio") else "file"


def _referral(data: dict, path: str) -> Referral | None:
    referral = _object(data, "referral", path, required=False)
    if referral is None:
        return None
    where = f"{path}.referral"
    values = {name: _text(referral, name, where, limit=2000).strip() for name in REFERRAL_FIELDS}
    return Referral(source=_text(referral, "source", where, required=True).strip(), **values)


def _event_type(data: dict) -> str:
    kind = data.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise PayloadMalformed('"type" is required: a string such as "message.created".')
    return kind.strip()


def _data(payload: dict) -> dict:
    data = payload.get("data")
    if not isinstance(data, dict):
        raise _malformed("data", "must be an object.")
    return data


def _read_created(data: dict) -> dict:
    text = _text(data, "text", "data", limit=100_000)
    attachments = _attachments(data, "data")
    if not text.strip() and not attachments:
        raise PayloadMalformed('"data.text" or "data.attachments" is required.')
    return {
        "id": _ident(data, "id", "data"),
        "contact": _contact(data, "data"),
        "text": text,
        "attachments": attachments,
        "reply_to": _ident(data, "reply_to", "data", required=False),
        "sent_at": _moment(data, "sent_at", "data"),
        "referral": _referral(data, "data"),
    }


def _read_status(data: dict) -> dict:
    status = data.get("status")
    if status not in STATUSES:
        raise _malformed("data.status", f"must be one of {', '.join(sorted(STATUSES))}.")
    return {
        "id": _ident(data, "id", "data"),
        "status": status,
        "error": _text(data, "error", "data", limit=1000).strip(),
        "error_code": _ident(data, "error_code", "data", required=False),
        "at": _moment(data, "at", "data"),
    }


def _read_updated(data: dict) -> dict:
    return {
        "id": _ident(data, "id", "data"),
        "contact": _contact(data, "data"),
        "text": _text(data, "text", "data", required=True, limit=100_000),
        "at": _moment(data, "at", "data"),
    }


def _read_deleted(data: dict) -> dict:
    return {
        "id": _ident(data, "id", "data"),
        "contact": _contact(data, "data"),
        "at": _moment(data, "at", "data"),
    }


def _read_reaction(data: dict) -> dict:
    return {
        "message_id": _ident(data, "message_id", "data"),
        "contact": _contact(data, "data"),
        "emoji": _text(data, "emoji", "data", limit=64).strip(),
        "at": _moment(data, "at", "data"),
    }


def _event_key(kind: str, fields: dict, delivery: str) -> str:
    """The dedupe key of a known event: the ids that make it one fact."""
    if kind == MESSAGE_STATUS:
        return f"status:{fields['id']}:{fields['status']}"
    if kind == MESSAGE_UPDATED:
        # A message is edited more than once: each delivery is its own edit.
        return f"{kind}:{fields['id']}:{delivery}"
    if kind == MESSAGE_REACTION:
        return f"{kind}:{fields['message_id']}:{fields['contact']['id']}:{delivery}"
    return f"{kind}:{fields['id']}"


READERS = {
    MESSAGE_CREATED: _read_created,
    MESSAGE_STATUS: _read_status,
    MESSAGE_UPDATED: _read_updated,
    MESSAGE_DELETED: _read_deleted,
    MESSAGE_REACTION: _read_reaction,
}


# --- The adapter ---------------------------------------------------------------------------


class ApiAdapter(Adapter):
    kind = "api"
    identity_kind = IdentityKind.EXTERNAL
    # Files travel as links the other side downloads, so any type goes, up to 25 MB.
    rules = ChannelRules(
        max_text_length=MAX_TEXT_LENGTH,
        media_limits={"*/*": MAX_FILE_BYTES},
        reply_window_hours=None,
        files_by_url=True,
    )
    fields = (
        CredentialField(
            name="outbound_url",
            label=gettext_lazy("Outbound URL"),
            required=False,
            help_text=gettext_lazy(
                "Where agents' replies are POSTed, signed with this channel's webhook secret "
                "(Standard Webhooks). Must be https; plain http is accepted only for "
                "localhost. Leave empty for a channel that only receives."
            ),
        ),
    )
    # Standard Webhooks asks senders to give receivers 15 to 30 seconds.
    timeout = httpx.Timeout(20.0, connect=5.0)

    # Ingress ------------------------------------------------------------------------
    def verify(self, request) -> None:
        secret = self.channel.webhook_secret or ""
        if not secret:
            raise SignatureInvalid("The channel has no webhook secret.")
        msg_id = request.headers.get("webhook-id", "").strip()
        raw_timestamp = request.headers.get("webhook-timestamp", "").strip()
        header = request.headers.get("webhook-signature", "").strip()
        if not (msg_id and raw_timestamp and header):
            raise SignatureInvalid(
                "The webhook-id, webhook-timestamp and webhook-signature headers are required."
            )
        # The signed content joins the three parts with dots: a dot inside the id would
        # let one signature stand for another split (the spec forbids it).
        if "." in msg_id:
            raise SignatureInvalid("webhook-id must not contain a dot.")
        if not (raw_timestamp.isascii() and raw_timestamp.isdigit()):
            raise SignatureInvalid("webhook-timestamp must be whole unix seconds.")
        timestamp = int(raw_timestamp)
        if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
            raise SignatureInvalid("webhook-timestamp is more than 5 minutes away from now.")
        try:
            expected = sign(secret, msg_id, timestamp, request.body).partition(",")[2]
        except ValueError as exc:
            raise SignatureInvalid(f"The channel's secret cannot be used: {exc}") from exc
        matched = False
        # Several signatures are allowed (secret rotation): any v1 match wins. Every entry
        # is compared, each in constant time.
        for entry in header.split():
            version, _comma, value = entry.partition(",")
            if version == "v1" and signatures_match(expected, value):
                matched = True
        if not matched:
            raise SignatureInvalid("No webhook-signature matches.")

    def split(self, body: bytes, request) -> list[RawEvent]:
        data = json_body(body)
        kind = _event_type(data)
        headers = request.headers if request is not None else {}
        webhook = {
            "id": headers.get("webhook-id", ""),
            "timestamp": headers.get("webhook-timestamp", ""),
        }
        # The webhook-id is stable across the sender's retries; a body digest stands in
        # when there is none (a body split outside a request).
        delivery = webhook["id"] or body_digest(body)
        reader = READERS.get(kind)
        if reader is None:
            key = f"webhook:{delivery}"
        else:
            key = _event_key(kind, reader(_data(data)), delivery)
        return [RawEvent(dedupe_key=_dedupe_key(key), payload={**data, "webhook": webhook})]

    def parse(self, payload: dict) -> list[Event]:
        if not isinstance(payload, dict):
            return [Ignored("The stored event is not a JSON object.")]
        kind = payload.get("type")
        if kind == PING:
            return [Ignored("ping")]
        reader = READERS.get(kind) if isinstance(kind, str) else None
        if reader is None:
            return [Ignored(f"Unknown event type {kind!r}.")]
        try:
            fields = reader(_data(payload))
        except PayloadMalformed as exc:
            return [Ignored(f"Unreadable {kind}: {exc}")]
        fallback = self._delivered_at(payload)
        if kind == MESSAGE_CREATED:
            return [self._message(fields, fallback)]
        if kind == MESSAGE_STATUS:
            return [
                StatusUpdate(
                    external_id=fields["id"],
                    status=fields["status"],
                    at=fields["at"] or fallback,
                    error=fields["error"],
                    error_code=fields["error_code"],
                )
            ]
        sender = self._sender(fields["contact"])
        at = fields["at"] or fallback
        if kind == MESSAGE_UPDATED:
            return [
                MessageEdit(external_id=fields["id"], sender=sender, text=fields["text"], at=at)
            ]
        if kind == MESSAGE_DELETED:
            return [MessageDeletion(external_id=fields["id"], sender=sender, at=at)]
        return [
            Reaction(external_id=fields["message_id"], sender=sender, emoji=fields["emoji"], at=at)
        ]

    def _message(self, fields: dict, fallback: datetime) -> InboundMessage:
        return InboundMessage(
            external_id=fields["id"],
            sender=self._sender(fields["contact"]),
            sent_at=fields["sent_at"] or fallback,
            text=fields["text"],
            media=tuple(fields["attachments"]),
            referral=fields["referral"],
            reply_to_external_id=fields["reply_to"],
        )

    def _sender(self, contact: dict) -> Sender:
        # The bridge only relays what the platform's user typed: an email or phone here
        # proves nothing, so it is a detail to show, never a verified identity to merge on.
        details = {key: contact[key] for key in ("email", "phone") if contact[key]}
        return Sender(
            kind=IdentityKind.EXTERNAL,
            value=f"{self.channel.uuid}:{contact['id']}",
            name=contact["name"],
            avatar_url=contact["avatar_url"],
            language=contact["language"],
            details=details,
        )

    @staticmethod
    def _delivered_at(payload: dict) -> datetime:
        """When the event happened if the event does not say: the body's top-level
        "timestamp" (Standard Webhooks' recommendation), else the webhook-timestamp."""
        try:
            moment = _moment(payload, "timestamp", "")
        except PayloadMalformed:
            moment = None
        if moment:
            return moment
        webhook = payload.get("webhook")
        return from_timestamp(webhook.get("timestamp") if isinstance(webhook, dict) else None)

    def media_fetch(self, media: MediaRef) -> FetchedMedia:
        url = media.ref
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentError(_("Only http and https file links can be downloaded."))
        limit = getattr(django_settings, "CHANNEL_MEDIA_MAX_MB", 25) * 1024 * 1024
        # Signed CDN links often redirect; httpx follows only http(s) redirects.
        client = httpx.Client(timeout=self.timeout, follow_redirects=True, max_redirects=5)
        try:
            with client, client.stream("GET", url) as response:
                if not response.is_success:
                    response.read()
                    raise http_error(
                        response,
                        _("The file could not be downloaded (HTTP %(status)s): %(text)s")
                        % {"status": response.status_code, "text": _trimmed(response.text)},
                    )
                chunks, total = [], 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > limit:
                        raise PermanentError(
                            _("The file is larger than %(mb)s MB.") % {"mb": limit // 2**20},
                            code="too_large",
                        )
                    chunks.append(chunk)
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        except (httpx.UnsupportedProtocol, httpx.TooManyRedirects) as exc:
            raise PermanentError(
                _("The file link could not be followed: %(error)s") % {"error": exc}
            ) from exc
        except httpx.TimeoutException as exc:
            raise TransientError("The file server did not answer in time.", code="timeout") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"Could not reach the file server: {exc}", code="network") from exc
        name = media.name or unquote(parts.path.rsplit("/", 1)[-1])
        return FetchedMedia(
            data=b"".join(chunks),
            content_type=content_type or media.content_type or "application/octet-stream",
            name=name,
        )

    # Egress -------------------------------------------------------------------------
    def send(self, message: OutboundMessage) -> SendResult:
        url = self._outbound_url()
        # Stable across the outbox's retries, so the receiver can drop a repeat; a message
        # without a key (none is expected) still gets a unique id.
        key = message.idempotency_key or uuid.uuid4().hex
        msg_id = "msg_" + re.sub(r"[^A-Za-z0-9_\-]", "_", key)
        attachments = []
        for file in message.files:
            if not file.url:
                raise PermanentError(
                    _(
                        "Files cannot be sent through an API channel while the server has "
                        "no public address (PUBLIC_URL): the receiver downloads them by link."
                    ),
                    code="no_public_url",
                )
            attachments.append(
                {
                    "url": file.url,
                    "name": file.name,
                    "content_type": file.content_type,
                    "size": file.size,
                }
            )
        payload = {
            "type": MESSAGE_CREATED,
            "data": {
                "id": key,
                "conversation": message.thread_key or "",
                "recipient": {"id": self._their_id(message.recipient)},
                "text": message.text,
                "attachments": attachments,
                "reply_to": message.reply_to_external_id or "",
                "template": message.template,
            },
        }
        response = self._post(url, msg_id, payload)
        if not response.is_success:
            raise self._refusal(response)
        return SendResult(external_id=_answered_id(response) or msg_id)

    def test_connection(self) -> ConnectionCheck:
        url = (self.settings.get("outbound_url") or "").strip()
        if not url:
            return ConnectionCheck(
                ok=False,
                message=_(
                    "No outbound URL is set: messages can come in, but agents' replies "
                    "cannot be delivered until one is."
                ),
            )
        try:
            url = self._outbound_url()
            response = self._post(url, f"ping_{uuid.uuid4().hex}", {"type": PING, "data": {}})
        except (PermanentError, TransientError) as exc:
            return ConnectionCheck(ok=False, message=str(exc))
        if response.is_success:
            return ConnectionCheck(
                ok=True,
                message=_("The receiver answered the signed ping with HTTP %(status)s.")
                % {"status": response.status_code},
            )
        return ConnectionCheck(
            ok=False,
            message=_("The receiver answered the signed ping with HTTP %(status)s: %(text)s")
            % {"status": response.status_code, "text": _receiver_says(response)},
        )

    def _outbound_url(self) -> str:
        url = (self.settings.get("outbound_url") or "").strip()
        if not url:
            raise PermanentError(
                _("This API channel has no outbound URL to deliver replies to."),
                code="no_outbound_url",
            )
        if not outbound_url_allowed(url):
            raise PermanentError(
                _("The outbound URL must use https (plain http only for localhost): %(url)s")
                % {"url": url},
                code="bad_outbound_url",
            )
        return url

    def _their_id(self, recipient: str) -> str:
        prefix = f"{self.channel.uuid}:"
        if not recipient.startswith(prefix) or len(recipient) == len(prefix):
            raise PermanentError(
                _("This customer was not reached through this API channel."),
                code="foreign_recipient",
            )
        return recipient[len(prefix) :]

    def _post(self, url: str, msg_id: str, payload: dict) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            headers = signed_headers(self.channel.webhook_secret or "", msg_id, body)
        except ValueError as exc:
            raise PermanentError(
                _("The channel's webhook secret cannot sign requests: %(error)s") % {"error": exc},
                code="bad_secret",
            ) from exc
        headers |= {"Content-Type": "application/json", "User-Agent": "Switchboard"}
        with self.http() as client:
            return request_send(client, "POST", url, content=body, headers=headers)

    @staticmethod
    def _refusal(response: httpx.Response) -> Exception:
        status, text = response.status_code, _receiver_says(response)
        if status == 410:
            return PermanentError(
                _("The receiver answered 410 Gone: it takes no more messages. %(text)s")
                % {"text": text},
                code="410",
            )
        if status == 408:
            return TransientError(f"The receiver timed out (HTTP 408): {text}", code="408")
        return http_error(
            response,
            _("The receiver answered HTTP %(status)s: %(text)s") % {"status": status, "text": text},
        )


def _answered_id(response: httpx.Response) -> str:
    """The receiver's own id for the message, when its 2xx answer is JSON with an "id"."""
    try:
        data = response.json()
    except ValueError:
        return ""
    value = data.get("id") if isinstance(data, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value.strip()[:MAX_ID_LENGTH] if isinstance(value, str) else ""


def _receiver_says(response: httpx.Response) -> str:
    """The receiver's reason for a refusal: the "error" (or "message") of a JSON answer, a
    string or {"message": ...}; else the answer's text."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for name in ("error", "message"):
            value = data.get(name)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                return _trimmed(value)
    return _trimmed(response.text)


def _trimmed(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_LENGTH else text[: ERROR_TEXT_LENGTH - 1] + "…"
