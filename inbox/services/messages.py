import copy
import datetime
import hashlib
from collections.abc import Sequence
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from customers.models import Customer, Identity
from customers.services import customer_touch

from .. import realtime
from ..enums import (
    DELIVERY_PROGRESS,
    ConversationStatus,
    DeliveryStatus,
    MessageDirection,
    SenderType,
)
from ..files import AttachmentUpload
from ..models import Attachment, Conversation, Inbox, Message, Team
from ..outbound import ReplyBlocked, ReplyDraft, reply_enqueue, reply_plan, reply_retry
from ..signals import message_created
from .sla import SLA_FIELDS, sla_on_created, sla_on_message

PREVIEW_LENGTH = 200


@transaction.atomic
def conversation_create(
    *,
    inbox: Inbox,
    customer: Customer,
    identity: Identity | None = None,
    source: dict | None = None,
    **fields,
) -> Conversation:
    """A new conversation with `customer`, running on `identity` (where replies go).
    `source` (channel, page, referrer, UTM, ad) becomes the customer's latest touch."""
    # A new conversation sorts by its start until its first message.
    fields.setdefault("last_message_at", timezone.now())
    conversation = Conversation.objects.create(
        inbox=inbox, customer=customer, identity=identity, source=source or {}, **fields
    )
    sla_on_created(conversation=conversation)
    if source:
        customer_touch(customer=customer, source={**source, "conversation": str(conversation.uuid)})
    transaction.on_commit(partial(realtime.push_conversation_updated, conversation), robust=True)
    return conversation


def message_append(
    *,
    conversation: Conversation,
    direction: MessageDirection,
    sender_type: SenderType,
    body: str,
    author: User | None = None,
    client_id: str | None = None,
    attachments: Sequence[AttachmentUpload] = (),
    external_id: str | None = None,
    sent_at: datetime.datetime | None = None,
    content: dict | None = None,
    delivery_status: str = "",
    private: bool = False,
    reply_to: Message | None = None,
) -> tuple[Message, bool]:
    """Store a message with its conversation's next `seq`; returns (message, created).

    The number is taken by the UPDATE that also records the message on its conversation,
    so concurrent writers wait on that row and get consecutive numbers. A `client_id` seen
    before returns the stored message instead (the unique constraint finds it: a retry is
    rare, a lookup before every message is not). Once committed, the message is pushed to
    the console and the widget."""
    sent_at = sent_at or timezone.now()
    content = content or {}
    preview = body or " ".join(f"📎 {upload.name}" for upload in attachments)
    customer_wrote = not private and direction == MessageDirection.INBOUND
    counts_as_customer = (
        customer_wrote and not content.get("automated") and not content.get("csat_rating")
    )
    # The customer writing ends a wait on them or a snooze; their own words (not an
    # automatic reply, not the rating they were asked for) also reopen a resolved one.
    reopens = (ConversationStatus.PENDING, ConversationStatus.SNOOZED) if customer_wrote else ()
    if counts_as_customer:
        reopens += (ConversationStatus.RESOLVED,)
    try:
        with transaction.atomic():
            noted = _conversation_note_message(
                conversation,
                private=private,
                preview=preview[:PREVIEW_LENGTH],
                counts_as_customer=counts_as_customer,
                reopens=reopens,
                by_agent=not private and sender_type == SenderType.AGENT,
                sent_at=sent_at,
            )
            message = Message.objects.create(
                conversation=conversation,
                seq=noted["last_seq"],
                direction=direction,
                sender_type=sender_type,
                author=author,
                body=body,
                client_id=client_id or None,
                external_id=external_id or None,
                sent_at=sent_at,
                content=content,
                delivery_status=delivery_status,
                private=private,
                reply_to=reply_to,
            )
            # The SLA clocks see the conversation as this message left it; the caller's
            # copy is only updated once the transaction has succeeded (below).
            recorded = copy.copy(conversation)
            for field, value in noted.items():
                setattr(recorded, field, value)
            sla_on_message(conversation=recorded, message=message)
            stored = [
                Attachment.objects.create(
                    message=message,
                    file=upload.file,
                    name=upload.name,
                    content_type=upload.content_type,
                    size=upload.size,
                )
                for upload in attachments
            ]
            _attachments_known(message, stored)
            transaction.on_commit(partial(realtime.push_message_created, message), robust=True)
            transaction.on_commit(
                partial(message_created.send, sender=Message, message=message), robust=True
            )
    except IntegrityError:
        # A concurrent retry with the same client_id won the race: return its message.
        if client_id:
            return Message.objects.get(conversation=conversation, client_id=client_id), False
        raise
    # Only now: a rolled-back attempt must leave the caller's conversation as it was.
    for field in _NOTED_FIELDS:
        setattr(conversation, field, getattr(recorded, field))
    return message, True


def _attachments_known(message: Message, attachments: list[Attachment]) -> None:
    """Records the new message's attachments as if prefetched, so that serialising it for
    the push and the response reads none back."""
    queryset = message.attachments.all()
    queryset._result_cache = attachments
    queryset._prefetch_done = True
    message._prefetched_objects_cache = {"attachments": queryset}


_NOTED_FIELDS = (
    "last_seq",
    "last_message_at",
    "last_message_preview",
    "unread_count",
    "agent_read_seq",
    "status",
    "snoozed_until",
    "resolved_at",
    "last_inbound_at",
    "updated_at",
    # Not changed by the UPDATE, but read under its lock for the SLA hook (which may
    # change them): a caller's copy of the conversation can be older than the row.
    *SLA_FIELDS,
)


def _conversation_note_message(
    conversation: Conversation,
    *,
    private: bool,
    preview: str,
    counts_as_customer: bool,
    reopens: tuple[str, ...],
    by_agent: bool,
    sent_at: datetime.datetime,
) -> dict:
    """Takes the next message number and records the message on its conversation in one
    UPDATE … RETURNING, which holds the row lock until commit. Returns the new values and
    the SLA clocks as they stand under that lock."""
    assignments = ["last_seq = last_seq + 1", "updated_at = %(now)s"]
    if not private:  # a note or an activity entry takes a number and nothing else
        assignments += ["last_message_at = %(now)s", "last_message_preview = %(preview)s"]
    if reopens:
        assignments += [
            "status = CASE WHEN status = ANY(%(reopens)s) THEN %(open)s ELSE status END",
            # Right-hand sides read the row as it was: cleared only when it reopens.
            "resolved_at = CASE WHEN status = ANY(%(reopens)s) THEN NULL ELSE resolved_at END",
            "snoozed_until = NULL",  # never kept once the conversation is not snoozed
        ]
    if counts_as_customer:
        assignments += [
            "unread_count = unread_count + 1",
            # GREATEST skips NULL: the first message sets it, a late-stamped one keeps it.
            "last_inbound_at = GREATEST(last_inbound_at, %(sent_at)s)",
        ]
    elif by_agent:
        # Replying means the agent has read everything before the reply.
        assignments += ["agent_read_seq = last_seq + 1", "unread_count = 0"]
    # Only literals are joined into the statement; every value is a parameter.
    table, columns = Conversation._meta.db_table, ", ".join(_NOTED_FIELDS)
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608
        f"WHERE id = %(pk)s RETURNING {columns}"
    )
    params = {
        "now": timezone.now(),
        "preview": preview,
        "reopens": [str(status) for status in reopens],
        "open": ConversationStatus.OPEN,
        "sent_at": sent_at,
        "pk": conversation.pk,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise Conversation.DoesNotExist
    noted = {}
    for name, value in zip(_NOTED_FIELDS, row, strict=True):
        # What the ORM would do when loading the row (JSON arrives as text).
        for convert in Conversation._meta.get_field(name).get_db_converters(connection):
            value = convert(value, None, connection)
        noted[name] = value
    return noted


def message_receive(
    *,
    conversation: Conversation,
    body: str,
    client_id: str | None = None,
    attachments: Sequence[AttachmentUpload] = (),
    external_id: str | None = None,
    sent_at: datetime.datetime | None = None,
    content: dict | None = None,
) -> tuple[Message, bool]:
    """A message from the customer. `sent_at` is the provider's timestamp; `content` holds
    its structured parts (location, contact cards, a button's payload, a referral)."""
    return message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body=body,
        client_id=client_id,
        attachments=attachments,
        external_id=external_id,
        sent_at=sent_at,
        content=content,
    )


@transaction.atomic
def message_send(
    *,
    conversation: Conversation,
    author: User,
    body: str,
    client_id: str | None = None,
    attachments: Sequence[AttachmentUpload] = (),
    template: dict | None = None,
    options: dict | None = None,
    reply_to: int | None = None,
) -> tuple[Message, bool]:
    """An agent's reply, checked against the channel's rules first (raises ReplyBlocked
    with the reason and what to do instead) and stored with its outbox row in one
    transaction. The first reply to an unassigned conversation assigns it to its author.
    While someone else holds an unexpired claim on the conversation the reply is refused
    (ReplyBlocked "claimed"). `reply_to` is the seq of a message of this conversation it
    quotes (a ValidationError when there is none)."""
    from .claims import claim_blocking
    from .notes import message_for_quote

    if client_id:
        existing = Message.objects.filter(conversation=conversation, client_id=client_id).first()
        if existing is not None:
            return existing, False
    if claimed := claim_blocking(conversation=conversation, user=author):
        holder = claimed.claimed_by
        raise ReplyBlocked(
            "claimed",
            _("%(name)s has claimed this conversation: only they can reply until %(time)s.")
            % {
                "name": holder.display_name or holder.email,
                "time": timezone.localtime(claimed.claimed_until).strftime("%H:%M"),
            },
            hint=_("Add a private note instead, or ask a supervisor to break the claim."),
            details={
                "claimed_by": holder.pk,
                "claimed_until": claimed.claimed_until.isoformat(),
            },
        )
    quoted = message_for_quote(conversation=conversation, seq=reply_to)
    plan = reply_plan(
        conversation=conversation,
        draft=ReplyDraft(
            body=body, attachments=attachments, template=template, options=options or {}
        ),
    )
    message, created = message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AGENT,
        author=author,
        body=plan.body,
        client_id=client_id,
        attachments=attachments,
        content=plan.content,
        delivery_status=DeliveryStatus.QUEUED if plan.delivers else "",
        reply_to=quoted,
    )
    if created:
        reply_enqueue(message=message, plan=plan)
    if created and conversation.assignee_id is None:
        # Answering an unassigned conversation takes it, out of the queue if it waited.
        seen_by = realtime.agent_groups(conversation)
        Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
            assignee=author, queued_at=None, updated_at=timezone.now()
        )
        conversation.refresh_from_db()
        transaction.on_commit(
            partial(realtime.push_conversation_moved, conversation, previous_groups=seen_by),
            robust=True,
        )
    return message, created


@transaction.atomic
def message_send_ai(
    *,
    conversation: Conversation,
    body: str,
    content: dict | None = None,
    client_id: str | None = None,
) -> tuple[Message, bool]:
    """A reply written by the AI agent: checked against the channel's rules like an
    agent's (raises ReplyBlocked), stored with its outbox row in one transaction. It
    assigns nobody and is not a human's response for the SLA clocks."""
    plan = reply_plan(conversation=conversation, draft=ReplyDraft(body=body))
    message, created = message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AI,
        body=plan.body,
        client_id=client_id,
        content={**plan.content, **(content or {})},
        delivery_status=DeliveryStatus.QUEUED if plan.delivers else "",
    )
    if created:
        reply_enqueue(message=message, plan=plan)
    return message, created


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation, reader: str, seq: int) -> Conversation:
    """Record that `reader` ("agent" or "customer") has read up to `seq`; read state only
    moves forward."""
    locked = Conversation.objects.select_for_update(no_key=True).get(pk=conversation.pk)
    seq = max(0, min(seq, locked.last_seq))
    if reader == "agent":
        if seq <= locked.agent_read_seq:
            return locked
        locked.agent_read_seq = seq
        locked.unread_count = locked.messages.filter(
            direction=MessageDirection.INBOUND, seq__gt=seq
        ).count()
        locked.save(update_fields=["agent_read_seq", "unread_count", "updated_at"])
    else:
        if seq <= locked.customer_read_seq:
            return locked
        locked.customer_read_seq = seq
        locked.save(update_fields=["customer_read_seq", "updated_at"])
    transaction.on_commit(partial(realtime.push_read, locked, reader=reader, seq=seq), robust=True)
    if reader == "agent":
        transaction.on_commit(partial(realtime.push_conversation_updated, locked), robust=True)
    return locked


def conversation_typing(
    *, conversation: Conversation, typing: bool, agent: User | None = None
) -> None:
    """Tell the other side someone is typing (ephemeral: nothing is stored)."""
    realtime.push_typing(
        conversation, sender="agent" if agent else "customer", typing=typing, agent=agent
    )


# --- Messages from other channels ------------------------------------------------------


def _lock_thread(inbox: Inbox, identity: Identity, thread_key: str) -> None:
    """Serialises the first messages of one person in one thread: two webhooks arriving
    together for a new customer must not start two conversations."""
    digest = hashlib.blake2b(
        f"{inbox.pk}:{identity.pk}:{thread_key}".encode(), digest_size=8
    ).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)]
        )


@transaction.atomic
def conversation_for_inbound(
    *,
    inbox: Inbox,
    customer: Customer,
    identity: Identity,
    thread_key: str = "",
    source: dict | None = None,
    team: Team | None = None,
    new_thread: bool = False,
    body: str = "",
) -> Conversation:
    """The conversation a customer's message from a channel belongs to: their latest one on
    this identity and thread that is not resolved, else a new one (a message after
    resolution starts a new conversation, so each is measured on its own). `new_thread`
    always starts one (an email with a new subject). A `body` that is the rating asked for
    after resolution goes to the resolved conversation that asked (it stays resolved: the
    caller marks the message `csat_rating`)."""
    from .csat import csat_rated_conversation

    _lock_thread(inbox, identity, thread_key)
    if not new_thread:
        conversation = (
            Conversation.objects.filter(inbox=inbox, identity=identity, thread_key=thread_key)
            .exclude(status=ConversationStatus.RESOLVED)
            .order_by("-created_at")
            .first()
        ) or csat_rated_conversation(
            inbox_id=inbox.pk, identity_id=identity.pk, thread_key=thread_key, body=body
        )
        if conversation is not None:
            return conversation
    return conversation_create(
        inbox=inbox,
        customer=customer,
        identity=identity,
        source=source,
        thread_key=thread_key,
        team=team,
    )


def _push_updated(message: Message) -> None:
    transaction.on_commit(partial(realtime.push_message_updated, message), robust=True)


@transaction.atomic
def message_delivery_update(
    *,
    message: Message,
    status: str,
    error: str = "",
    external_id: str | None = None,
) -> Message:
    """Record a receipt or the outbox's result. Receipts only move a message forward
    (a late "delivered" never undoes "read"); a failure is recorded with its reason, and a
    later success (an agent's retry) clears it."""
    locked = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
    current = locked.delivery_status
    if status == DeliveryStatus.FAILED:
        if current in (DeliveryStatus.DELIVERED, DeliveryStatus.READ):
            return locked
    elif current != DeliveryStatus.FAILED and DELIVERY_PROGRESS.get(
        status, -1
    ) <= DELIVERY_PROGRESS.get(current, -1):
        return locked
    locked.delivery_status = status
    locked.delivery_error = error[:500] if status == DeliveryStatus.FAILED else ""
    fields = ["delivery_status", "delivery_error"]
    if external_id and not locked.external_id:
        locked.external_id = external_id
        fields.append("external_id")
    locked.save(update_fields=fields)
    _push_updated(locked)
    return locked


@transaction.atomic
def message_reaction_set(*, message: Message, emoji: str, by: str = "customer") -> Message:
    """The customer reacted to a message (an empty emoji removes their reaction)."""
    locked = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
    reactions = dict(locked.content.get("reactions", {}))
    if emoji:
        reactions[by] = emoji
    else:
        reactions.pop(by, None)
    locked.content = {**locked.content, "reactions": reactions}
    locked.save(update_fields=["content"])
    _push_updated(locked)
    return locked


@transaction.atomic
def message_edit_by_customer(
    *, message: Message, body: str, edited_at: datetime.datetime
) -> Message:
    """The customer edited a message in their app: the new text is shown, the earlier
    versions are kept in the message's history."""
    locked = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
    if locked.body == body:
        return locked
    history = [
        *locked.content.get("edits", []),
        {"body": locked.body, "replaced_at": edited_at.isoformat()},
    ]
    locked.body = body
    locked.content = {**locked.content, "edits": history, "edited_at": edited_at.isoformat()}
    locked.save(update_fields=["body", "content"])
    _push_updated(locked)
    return locked


@transaction.atomic
def message_delete_by_customer(*, message: Message, deleted_at: datetime.datetime) -> Message:
    """The customer deleted (unsent) a message in their app. Staff still see what was
    written, marked as deleted: the conversation's record is not rewritten."""
    locked = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
    if locked.content.get("deleted_at"):
        return locked
    locked.content = {**locked.content, "deleted_at": deleted_at.isoformat()}
    locked.save(update_fields=["content"])
    _push_updated(locked)
    return locked


@transaction.atomic
def message_retry(*, message: Message, actor: User, body: str | None = None) -> Message:
    """Send a failed reply again, optionally with corrected text."""
    locked = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
    if locked.direction != MessageDirection.OUTBOUND or locked.delivery_status != (
        DeliveryStatus.FAILED
    ):
        raise ReplyBlocked("not_failed", _("Only a reply that failed can be sent again."))
    fields = ["delivery_status", "delivery_error"]
    if body is not None and body != locked.body:
        if locked.content.get("template"):
            raise ReplyBlocked(
                "template_not_editable",
                _("A template's text cannot be edited; send the template again instead."),
            )
        plan = reply_plan(
            conversation=locked.conversation,
            draft=ReplyDraft(body=body, options=locked.content.get("options", {})),
        )
        locked.body = plan.body
        fields.append("body")
    locked.delivery_status = DeliveryStatus.QUEUED
    locked.delivery_error = ""
    locked.save(update_fields=fields)
    reply_retry(message=locked)
    _push_updated(locked)
    return locked
