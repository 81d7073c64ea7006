"""Inbound: from a provider's webhook (or a polled mailbox) to messages in the inbox.

1. `events_store` commits each event under its provider id before the provider gets its
   answer; a replay hits the unique (channel, dedupe_key) and is a no-op.
2. `event_process` (a task per event; `inbound_sweep` retries any left behind) parses the
   stored event with the channel's adapter and hands what it says to `customers` and
   `inbox` services. Files are downloaded first, outside the transaction.
"""

from __future__ import annotations

import datetime
import json
import logging
from dataclasses import asdict
from functools import partial

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from customers.enums import IdentityKind, Verification
from customers.normalization import InvalidIdentity
from customers.services import (
    IdentityClaim,
    customer_resolve,
    customer_root,
    customer_touch,
    identity_details_update,
)
from inbox.enums import MessageDirection
from inbox.files import AttachmentRejected, AttachmentUpload, attachment_check
from inbox.models import Message
from inbox.services import (
    conversation_for_inbound,
    message_delete_by_customer,
    message_delivery_update,
    message_edit_by_customer,
    message_reaction_set,
    message_receive,
)
from inbox.services.csat import csat_answers

from ..adapters import adapter_for
from ..adapters.base import (
    Adapter,
    ContactEvent,
    Event,
    Ignored,
    InboundMessage,
    MediaRef,
    MessageDeletion,
    MessageEdit,
    PermanentError,
    RawEvent,
    Reaction,
    Sender,
    StatusUpdate,
    TransientError,
)
from ..models import ChannelAccount, InboundEvent

logger = logging.getLogger(__name__)

# Files we take from a provider into our storage; anything else is refused and noted.
MEDIA_TYPES = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/3gpp",
    "video/quicktime",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
    "audio/aac",
    "audio/amr",
    "audio/x-wav",
    "audio/wav",
    "application/pdf",
    "application/zip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "text/plain",
]
# After this many failed attempts an event is left for an admin (with its error shown).
MAX_ATTEMPTS = 8
# How often an event rolled back by a deadlock or a serialization failure is applied
# again at once.
DEADLOCK_TRIES = 3


class EventNotReady(Exception):
    """The event refers to something not stored yet (a receipt that overtook our own record
    of the send): processed again later by the sweeper."""


def events_store(*, channel: ChannelAccount, events: list[RawEvent]) -> list[int]:
    """Stores the events not seen before and queues their processing once committed.
    Returns the ids of the new ones; a replayed event is skipped by the database."""
    new_ids = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            for event in events:
                cursor.execute(
                    "INSERT INTO channels_app_inboundevent "
                    "(channel_id, dedupe_key, payload, received_at, attempts, error) "
                    "VALUES (%s, %s, %s::jsonb, %s, 0, '') "
                    "ON CONFLICT (channel_id, dedupe_key) DO NOTHING RETURNING id",
                    [channel.pk, event.dedupe_key[:255], _json(event.payload), timezone.now()],
                )
                row = cursor.fetchone()
                if row:
                    new_ids.append(row[0])
        for event_id in new_ids:
            transaction.on_commit(partial(_enqueue, event_id), robust=True)
    return new_ids


def _json(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, default=str)


def _enqueue(event_id: int) -> None:
    from ..tasks import inbound_process_event

    inbound_process_event.delay(event_id)


def webhook_rejected(*, channel: ChannelAccount, reason: str) -> None:
    """A call with a bad signature: counted and logged, nothing else stored."""
    ChannelAccount.objects.filter(pk=channel.pk).update(
        rejected_webhooks=F("rejected_webhooks") + 1, last_rejected_at=timezone.now()
    )
    logger.warning(
        "Webhook refused: %s",
        reason,
        extra={"channel": str(channel.uuid), "kind": channel.kind},
    )


# --- Processing --------------------------------------------------------------------------


def event_process(event_id: int) -> None:
    """Applies one stored event, once. Safe to call again and concurrently: the event row
    is locked while applied and skipped once processed."""
    event = (
        InboundEvent.objects.select_related("channel__inbox")
        .filter(pk=event_id, processed_at__isnull=True)
        .first()
    )
    if event is None:
        return
    adapter = adapter_for(event.channel)
    try:
        items = adapter.parse(event.payload)
    except Exception as exc:  # parse is total; a bug there must not lose the event
        logger.exception("Parsing inbound event %s failed", event_id)
        _attempt_failed(event_id, f"parse: {exc}")
        return
    try:
        media = _media_download(adapter, items)
    except TransientError as exc:
        _attempt_failed(event_id, f"media: {exc.reason}")
        return
    try:
        for attempt in range(1, DEADLOCK_TRIES + 1):
            try:
                _apply_all(event_id, event.channel, adapter, items, media)
                break
            except OperationalError as exc:
                # Two events of one customer can lock the customer and the conversation in
                # opposite orders (a deferred foreign-key check at commit); PostgreSQL
                # rolls one back. Applying it again at once, rather than after the
                # sweeper's wait, is what a deadlock asks for.
                if not _is_deadlock(exc) or attempt == DEADLOCK_TRIES:
                    raise
                logger.info("Inbound event %s deadlocked; applying it again", event_id)
    except EventNotReady as exc:
        _attempt_failed(event_id, str(exc))
    except InvalidIdentity as exc:
        _finish_with_error(event_id, f"identity: {exc}")
    except Exception as exc:
        logger.exception("Processing inbound event %s failed", event_id)
        _attempt_failed(event_id, f"{type(exc).__name__}: {exc}")


def _apply_all(event_id: int, channel, adapter: Adapter, items: list[Event], media: dict) -> None:
    with transaction.atomic():
        locked = (
            InboundEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, processed_at__isnull=True)
            .only("pk")  # the payload was read (and parsed) already
            .first()
        )
        if locked is None:
            return
        for item in items:
            _apply(channel, adapter, item, media)
        locked.processed_at = timezone.now()
        locked.attempts = F("attempts") + 1
        locked.error = ""
        locked.save(update_fields=["processed_at", "attempts", "error"])


def _is_deadlock(exc: OperationalError) -> bool:
    """A deadlock (40P01) or a serialization failure (40001): PostgreSQL rolled the
    transaction back and the same work can simply be done again."""
    return getattr(exc.__cause__, "sqlstate", None) in ("40P01", "40001")


def _attempt_failed(event_id: int, error: str) -> None:
    InboundEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
        attempts=F("attempts") + 1, error=error[:2000]
    )


def _finish_with_error(event_id: int, error: str) -> None:
    """An event that can never be applied: marked processed, its error kept for admins."""
    logger.warning("Inbound event %s cannot be applied: %s", event_id, error)
    InboundEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
        processed_at=timezone.now(), attempts=F("attempts") + 1, error=error[:2000]
    )


# --- Files ----------------------------------------------------------------------------------


def _media_download(adapter: Adapter, items: list[Event]) -> dict[MediaRef, AttachmentUpload | str]:
    """Each file of the event, downloaded and checked; a refused one maps to the reason."""
    result: dict[MediaRef, AttachmentUpload | str] = {}
    max_bytes = settings.CHANNEL_MEDIA_MAX_MB * 2**20
    for item in items:
        if not isinstance(item, InboundMessage):
            continue
        for ref in item.media:
            if ref.size and ref.size > max_bytes:
                result[ref] = f"larger than {settings.CHANNEL_MEDIA_MAX_MB} MB"
                continue
            try:
                fetched = adapter.media_fetch(ref)
            except PermanentError as exc:
                result[ref] = exc.reason
                continue
            name = fetched.name or ref.name or f"{ref.kind}"
            upload = SimpleUploadedFile(name, fetched.data, fetched.content_type)
            try:
                result[ref] = attachment_check(
                    upload, allowed_types=MEDIA_TYPES, max_bytes=max_bytes
                )
            except AttachmentRejected as exc:
                result[ref] = str(exc)
    return result


# --- Applying what an event says --------------------------------------------------------


def _apply(channel: ChannelAccount, adapter: Adapter, item: Event, media: dict) -> None:
    match item:
        case InboundMessage():
            _message_ingest(channel, adapter, item, media)
        case StatusUpdate():
            _status_apply(channel, item)
        case Reaction():
            if message := _message_by_external_id(channel, item.external_id):
                message_reaction_set(message=message, emoji=item.emoji)
        case MessageEdit():
            if message := _message_by_external_id(channel, item.external_id):
                message_edit_by_customer(message=message, body=item.text, edited_at=item.at)
        case MessageDeletion():
            if message := _message_by_external_id(channel, item.external_id):
                message_delete_by_customer(message=message, deleted_at=item.at)
        case ContactEvent():
            _contact_event_apply(channel, item)
        case Ignored():
            logger.info(
                "Inbound event ignored: %s", item.reason, extra={"channel": str(channel.uuid)}
            )


def _message_by_external_id(
    channel: ChannelAccount, external_id: str, *, direction: str | None = None
) -> Message | None:
    if not external_id:
        return None
    messages = Message.objects.filter(
        external_id=external_id, conversation__inbox_id=channel.inbox_id
    )
    if direction:
        messages = messages.filter(direction=direction)
    return messages.order_by("-pk").first()


def _claims(sender: Sender) -> list[IdentityClaim]:
    claims = [
        IdentityClaim(
            sender.kind,
            sender.value,
            verified=True,
            verification=Verification.CHANNEL,
            details=sender.details,
        )
    ]
    claims += [
        IdentityClaim(IdentityKind.PHONE, phone, verified=True, verification=Verification.CHANNEL)
        for phone in sender.phones
    ]
    claims += [
        IdentityClaim(IdentityKind.EMAIL, email, verified=True, verification=Verification.CHANNEL)
        for email in sender.emails
        if sender.kind != IdentityKind.EMAIL
    ]
    return claims


def _resolve(channel: ChannelAccount, sender: Sender):
    resolution = customer_resolve(
        _claims(sender),
        channel=channel,
        profile={
            "display_name": sender.name,
            "avatar_url": sender.avatar_url,
            "language": sender.language,
        },
    )
    return resolution.customer, resolution.identity


def _content(item: InboundMessage, refused: list[dict]) -> dict:
    content: dict = {}
    if item.location:
        content["location"] = asdict(item.location)
    if item.contacts:
        content["contacts"] = [asdict(card) for card in item.contacts]
    if item.postback:
        content["postback"] = asdict(item.postback)
    if item.referral:
        content["referral"] = asdict(item.referral)
    if item.comment:
        content["comment"] = asdict(item.comment)
    if item.sticker:
        content["sticker"] = item.sticker
    if item.reply_to_external_id:
        content["reply_to"] = item.reply_to_external_id
    if item.subject:
        content["subject"] = item.subject
    if item.html:
        content["html"] = item.html
    if item.extra.get("quoted"):
        content["quoted"] = item.extra["quoted"]
    if item.reply_token:
        content["reply_token"] = item.reply_token
    if item.automated:
        content["automated"] = True
    if refused:
        content["media_refused"] = refused
    return content


def _body(item: InboundMessage) -> str:
    if item.text:
        return item.text
    if item.postback:
        return item.postback.title or item.postback.payload
    if item.location:
        return item.location.name or item.location.address or ""
    if item.contacts:
        return ", ".join(card.name for card in item.contacts)
    return ""


def _message_ingest(
    channel: ChannelAccount, adapter: Adapter, item: InboundMessage, media: dict
) -> None:
    if item.sender.is_bot:
        logger.info("Message from a bot ignored", extra={"channel": str(channel.uuid)})
        return
    if item.external_id and _message_by_external_id(channel, item.external_id):
        return  # the same message under another event id (a provider's redelivery)
    customer, identity = _resolve(channel, item.sender)
    source = {"channel": channel.kind, "channel_name": channel.name}
    if item.referral:
        source["referral"] = asdict(item.referral)
    if item.comment:
        source["comment"] = asdict(item.comment)
    if item.subject:
        source["subject"] = item.subject
    body = _body(item)
    conversation = _thread_conversation(channel, adapter, item, customer)
    if conversation is None:
        conversation = conversation_for_inbound(
            inbox=channel.inbox,
            customer=customer,
            identity=identity,
            thread_key=f"comment:{item.comment.post_id}" if item.comment else "",
            source=source,
            team=channel.team,
            new_thread=adapter.threads_by_refs,
            body=body,
        )
    elif item.referral:
        customer_touch(customer=customer, source=source)
    uploads = [media[ref] for ref in item.media if isinstance(media.get(ref), AttachmentUpload)]
    refused = [
        {"name": ref.name or ref.kind, "reason": media[ref]}
        for ref in item.media
        if isinstance(media.get(ref), str)
    ]
    content = _content(item, refused)
    if csat_answers(conversation=conversation, body=body):
        content["csat_rating"] = True  # taken as the rating; the conversation stays resolved
    message_receive(
        conversation=conversation,
        body=body,
        attachments=uploads,
        external_id=item.external_id or None,
        sent_at=item.sent_at,
        content=content,
    )


def _thread_conversation(channel, adapter, item: InboundMessage, customer):
    """For channels that thread by references (email): the conversation of the message this
    one answers, but only among the sender's own conversations, so that a reply from
    someone else never lands in another customer's thread."""
    if not adapter.threads_by_refs or not item.thread_refs:
        return None
    customer = customer_root(customer)
    message = (
        Message.objects.filter(
            external_id__in=list(item.thread_refs),
            conversation__inbox_id=channel.inbox_id,
            conversation__customer=customer,
        )
        .select_related("conversation")
        .order_by("-pk")
        .first()
    )
    return message.conversation if message else None


def _status_apply(channel: ChannelAccount, item: StatusUpdate) -> None:
    message = _message_by_external_id(
        channel, item.external_id, direction=MessageDirection.OUTBOUND
    )
    if message is None:
        # The receipt may have overtaken our own record of the send: try again later.
        raise EventNotReady(f"no message with provider id {item.external_id} yet")
    message_delivery_update(message=message, status=item.status, error=item.error)


def _contact_event_apply(channel: ChannelAccount, item: ContactEvent) -> None:
    _customer, identity = _resolve(channel, item.sender)
    identity_details_update(
        identity=identity,
        details={
            "following": item.action == "follow",
            "following_changed_at": item.at.isoformat(),
        },
    )


def events_due(*, now: datetime.datetime | None = None, limit: int = 500) -> list[int]:
    """Events left unprocessed (a crashed worker, a lost task, an error worth retrying),
    each retried after a wait that grows with its attempts."""
    now = now or timezone.now()
    ids = []
    candidates = (
        InboundEvent.objects.filter(
            processed_at__isnull=True,
            attempts__lt=MAX_ATTEMPTS,
            received_at__lt=now - datetime.timedelta(seconds=30),
        )
        .order_by("received_at")
        .values_list("pk", "attempts", "received_at")[:limit]
    )
    for pk, attempts, received_at in candidates:
        # 30 s, 1 min, 2 min, 4 min … after arrival, by attempts made.
        if received_at + datetime.timedelta(seconds=30 * 2**attempts) <= now:
            ids.append(pk)
    return ids
