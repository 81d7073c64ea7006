"""The one interface every provider adapter implements, and the plain dataclasses it speaks.

An adapter is the only code that knows a provider's wire format. Ingress: `verify` the
request, `split` its body into events that each carry the provider's own id, and `parse`
one stored event into the dataclasses below. Egress: `send` one `OutboundMessage` and say
what the provider answered. Nothing above the adapters sees a provider's JSON or XML.

Errors an adapter raises are the four at the top: the ingress view and the outbox turn
them into the right HTTP answer or retry decision.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

import httpx
from django.http import HttpResponse

if TYPE_CHECKING:
    from channels_app.models import ChannelAccount


# --- Errors -------------------------------------------------------------------------------


class SignatureInvalid(Exception):
    """The request is not from the provider (wrong or missing signature or token)."""


class PayloadMalformed(Exception):
    """The body cannot be read as the provider's format: answered with a 400."""


class TransientError(Exception):
    """Worth trying again later: a 5xx, a timeout, a 429. `retry_after` is the provider's
    own wait, in seconds, when it gave one."""

    def __init__(self, reason: str, *, retry_after: float | None = None, code: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.code = code


class PermanentError(Exception):
    """The provider refused the message for good; `reason` is shown to the agent."""

    def __init__(self, reason: str, *, code: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.code = code


# --- Ingress: what a webhook body says ---------------------------------------------------


@dataclass(frozen=True)
class RawEvent:
    """One unit of a webhook body, stored as an InboundEvent under `dedupe_key`."""

    dedupe_key: str
    payload: dict


@dataclass(frozen=True)
class Sender:
    """Who wrote: an identity of `kind` (customers.enums.IdentityKind) with the channel's id
    for them, plus what the channel tells us about them. `phones`/`emails` are contact
    details the channel itself proves (WhatsApp's number), so they are verified claims."""

    kind: str
    value: str
    name: str = ""
    avatar_url: str = ""
    language: str = ""
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    is_bot: bool = False
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MediaRef:
    """A file the provider holds; `Adapter.media_fetch` downloads it."""

    ref: str  # a media id or URL, in the adapter's terms
    content_type: str = ""
    name: str = ""
    size: int | None = None
    kind: str = "file"  # image, video, audio, voice, sticker, file


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    name: str = ""
    address: str = ""
    url: str = ""


@dataclass(frozen=True)
class ContactCard:
    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    organization: str = ""


@dataclass(frozen=True)
class Postback:
    """A button, quick reply or menu item the customer pressed."""

    payload: str
    title: str = ""


@dataclass(frozen=True)
class Referral:
    """Where the customer came from: an ad (click-to-chat), a post, a link with a ref."""

    source: str  # "ad", "post", "link", "shortlink", ...
    source_id: str = ""
    source_url: str = ""
    headline: str = ""
    body: str = ""
    ref: str = ""
    click_id: str = ""  # e.g. WhatsApp's ctwa_clid


@dataclass(frozen=True)
class Comment:
    """A comment on a public post: its conversation is keyed by the post."""

    comment_id: str
    post_id: str
    parent_id: str = ""
    permalink: str = ""
    platform: str = ""  # "facebook", "instagram"


@dataclass(frozen=True)
class InboundMessage:
    external_id: str
    sender: Sender
    sent_at: datetime
    text: str = ""
    media: tuple[MediaRef, ...] = ()
    location: Location | None = None
    contacts: tuple[ContactCard, ...] = ()
    postback: Postback | None = None
    referral: Referral | None = None
    comment: Comment | None = None
    sticker: str = ""  # a sticker's id or description, when it is not downloaded
    reply_to_external_id: str = ""
    # Provider ids of earlier messages this one answers (email In-Reply-To/References):
    # the conversation is found by them, within the sender's own conversations.
    thread_refs: tuple[str, ...] = ()
    subject: str = ""
    # Sanitised HTML of an email, for display beside the plain text.
    html: str = ""
    # The provider's short-lived token to answer this message (LINE's reply token).
    reply_token: str = ""
    # An auto-reply or a bounce: stored, never answered, never counted as the customer's.
    automated: bool = False
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    """A receipt for one of our messages: sent, delivered, read or failed."""

    external_id: str
    status: str  # inbox.enums.DeliveryStatus value
    at: datetime
    error: str = ""
    error_code: str = ""


@dataclass(frozen=True)
class Reaction:
    external_id: str  # the message reacted to
    sender: Sender
    emoji: str  # "" when the reaction was removed
    at: datetime


@dataclass(frozen=True)
class MessageEdit:
    external_id: str
    sender: Sender
    text: str
    at: datetime


@dataclass(frozen=True)
class MessageDeletion:
    external_id: str
    sender: Sender
    at: datetime


@dataclass(frozen=True)
class ContactEvent:
    """The customer followed, unfollowed, blocked or unblocked the account."""

    sender: Sender
    action: str  # "follow", "unfollow"
    at: datetime
    reply_token: str = ""


@dataclass(frozen=True)
class Ignored:
    """Stored but not acted on (an echo of our own message, an event type we do not use)."""

    reason: str


Event = (
    InboundMessage
    | StatusUpdate
    | Reaction
    | MessageEdit
    | MessageDeletion
    | ContactEvent
    | Ignored
)


# --- Egress: what we send ------------------------------------------------------------------


@dataclass(frozen=True)
class OutboundFile:
    name: str
    content_type: str
    size: int
    data: bytes
    # A link the provider can fetch the file from (for providers that take URLs only).
    url: str = ""


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one customer. `recipient` is the identity value the conversation
    runs on; `options` carries what the agent chose (a template, a message tag, a reply
    mode for comments)."""

    recipient: str
    text: str = ""
    files: tuple[OutboundFile, ...] = ()
    template: dict | None = None  # {"name", "language", "variables": [...]}
    options: dict = field(default_factory=dict)
    reply_to_external_id: str = ""
    # Provider ids of the conversation's messages, oldest first (email threading headers).
    thread_refs: tuple[str, ...] = ()
    subject: str = ""
    # The customer's latest message's reply token and when it was issued (LINE).
    reply_token: str = ""
    reply_token_at: datetime | None = None
    thread_key: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True)
class SendResult:
    external_id: str
    # Set when the provider answers with the final state at once (e.g. an email accepted).
    status: str = "sent"


@dataclass(frozen=True)
class FetchedMedia:
    data: bytes
    content_type: str
    name: str = ""


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


@dataclass(frozen=True)
class ChannelRules:
    """What a provider accepts, checked before a reply is stored (inbox shows why not)."""

    max_text_length: int = 4096
    # content type → largest size in bytes; an empty dict accepts no files.
    media_limits: dict[str, int] = field(default_factory=dict)
    # Hours after the customer's last message during which free-form replies are allowed;
    # None means no window.
    reply_window_hours: int | None = None
    # What may still be sent outside the window: "template" (WhatsApp) or "message_tag"
    # (Messenger's HUMAN_AGENT, for `tag_window_hours` after the customer's message).
    outside_window: str = ""
    tag_window_hours: int | None = None
    # Sends per second to one channel account, and the files a message may carry.
    rate_per_second: float = 20.0
    max_files: int = 10
    text_with_files: bool = True
    # The provider fetches files from a link of ours, so sending them needs PUBLIC_URL.
    files_by_url: bool = False
    # Outside the window a message to a comment can still be answered in public.
    comments: bool = False


@dataclass(frozen=True)
class CredentialField:
    """One field of a channel's admin form: stored in credentials (secret) or settings."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    help_text: str = ""
    default: str = ""


# --- The interface ---------------------------------------------------------------------


class Adapter:
    """Base of every provider adapter. Subclasses set `kind` and implement the methods
    their provider uses; one adapter instance serves one channel account."""

    kind: ClassVar[str]
    rules: ClassVar[ChannelRules] = ChannelRules()
    # The identity kind of the people writing through this channel.
    identity_kind: ClassVar[str] = ""
    # Fields of the admin form: secrets go to `credentials`, the rest to `settings`.
    fields: ClassVar[Sequence[CredentialField]] = ()
    # Email threads by the messages a reply refers to; chats by the sender.
    threads_by_refs: ClassVar[bool] = False
    timeout: ClassVar[httpx.Timeout] = httpx.Timeout(10.0, connect=5.0)

    def __init__(self, channel: ChannelAccount):
        self.channel = channel

    @property
    def credentials(self) -> dict:
        return self.channel.credentials or {}

    @property
    def settings(self) -> dict:
        return self.channel.settings or {}

    # Ingress ------------------------------------------------------------------------
    def handshake(self, request) -> HttpResponse | None:
        """Answer the provider's GET verification, or None where it has none."""
        return None

    def verify(self, request) -> None:
        """Raise SignatureInvalid unless the request is signed by the provider."""
        raise NotImplementedError

    def split(self, body: bytes, request) -> list[RawEvent]:
        """The events of one webhook body, each with the provider's id as its dedupe key.
        Raise PayloadMalformed when the body is not the provider's format."""
        raise NotImplementedError

    def parse(self, payload: dict) -> list[Event]:
        """What one stored event says. Total: an event it does not understand is Ignored."""
        raise NotImplementedError

    def acknowledge(self, events: list[RawEvent]) -> HttpResponse:
        """The answer the provider expects once its events are stored."""
        return HttpResponse(status=200)

    def media_fetch(self, media: MediaRef) -> FetchedMedia:
        """Download a file the provider holds."""
        raise PermanentError("This channel does not deliver files.")

    # Egress -------------------------------------------------------------------------
    def send(self, message: OutboundMessage) -> SendResult:
        raise NotImplementedError

    def test_connection(self) -> ConnectionCheck:
        return ConnectionCheck(ok=True, message="")

    def connect(self, webhook_url: str) -> ConnectionCheck:
        """Register our webhook at the provider, where it has an API for that."""
        return self.test_connection()

    def templates_fetch(self) -> list[dict]:
        """The provider's approved templates: [{name, language, category, status, body,
        components}]."""
        return []

    # Helpers ------------------------------------------------------------------------
    def http(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout, follow_redirects=False, verify=tls_context())


# --- Helpers shared by adapters --------------------------------------------------------

_tls_context: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, shared by every client: building one loads
    the CA bundle, which took a third of a delivery's CPU when each send built its own
    (bench/worker_memory.py). A context is safe to share between threads."""
    global _tls_context
    if _tls_context is None:
        _tls_context = httpx.create_ssl_context()
    return _tls_context


def hmac_hex(secret: str | bytes, body: bytes, digestmod=hashlib.sha256) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, digestmod).hexdigest()


def signatures_match(expected: str | bytes, given: str | bytes | None) -> bool:
    """Constant-time comparison; a missing signature never matches."""
    if not given:
        return False
    if isinstance(expected, str):
        expected = expected.encode()
    if isinstance(given, str):
        given = given.encode()
    return hmac.compare_digest(expected, given)


def json_body(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadMalformed("The body is not JSON.") from exc
    if not isinstance(data, dict):
        raise PayloadMalformed("The body is not a JSON object.")
    return data


def body_digest(body: bytes) -> str:
    """A dedupe key for an event the provider gives no id."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def from_timestamp(value, *, millis: bool = False) -> datetime:
    """A provider's epoch timestamp (seconds, or milliseconds) as an aware datetime; now
    when it is missing or unreadable."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return datetime.now(UTC)
    if millis:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.now(UTC)


def http_error(response: httpx.Response, reason: str) -> Exception:
    """The outbox's view of a failed HTTP answer: 429 and 5xx are worth retrying (after the
    provider's Retry-After, if any); any other 4xx is the provider refusing for good."""
    if response.status_code == 429 or response.status_code >= 500:
        return TransientError(
            reason, retry_after=retry_after_seconds(response), code=str(response.status_code)
        )
    return PermanentError(reason, code=str(response.status_code))


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def request_send(client: httpx.Client, method: str, url: str, **kwargs) -> httpx.Response:
    """One provider request; a timeout or a dropped connection is transient."""
    try:
        return client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientError("The provider did not answer in time.", code="timeout") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"Could not reach the provider: {exc}", code="network") from exc
