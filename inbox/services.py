from collections.abc import Sequence
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from customers.models import Customer, Identity
from customers.services import customer_touch

from . import realtime
from .enums import ConversationStatus, MessageDirection, SenderType
from .files import AttachmentUpload
from .models import Attachment, Conversation, Inbox, Message

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
) -> tuple[Message, bool]:
    """Store a message with its conversation's next `seq`; returns (message, created).

    The conversation row is locked while the number is taken, so concurrent writers get
    consecutive numbers. A `client_id` seen before returns the stored message instead.
    Once committed, the message is pushed to the console and the widget."""
    if client_id:
        existing = Message.objects.filter(conversation=conversation, client_id=client_id).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
            message = Message.objects.create(
                conversation=locked,
                seq=locked.last_seq + 1,
                direction=direction,
                sender_type=sender_type,
                author=author,
                body=body,
                client_id=client_id or None,
            )
            for upload in attachments:
                Attachment.objects.create(
                    message=message,
                    file=upload.file,
                    name=upload.name,
                    content_type=upload.content_type,
                    size=upload.size,
                )
            _conversation_note_message(locked, message, attachments)
            transaction.on_commit(partial(realtime.push_message_created, message), robust=True)
    except IntegrityError:
        # A concurrent retry with the same client_id won the race: return its message.
        if client_id:
            return Message.objects.get(conversation=conversation, client_id=client_id), False
        raise
    for field in (
        "last_seq",
        "last_message_at",
        "last_message_preview",
        "unread_count",
        "agent_read_seq",
        "status",
    ):
        setattr(conversation, field, getattr(locked, field))
    return message, True


def _conversation_note_message(
    conversation: Conversation, message: Message, attachments: Sequence[AttachmentUpload]
) -> None:
    conversation.last_seq = message.seq
    conversation.last_message_at = timezone.now()
    preview = message.body or " ".join(f"📎 {upload.name}" for upload in attachments)
    conversation.last_message_preview = preview[:PREVIEW_LENGTH]
    if message.direction == MessageDirection.INBOUND:
        conversation.unread_count += 1
        if conversation.status == ConversationStatus.RESOLVED:
            conversation.status = ConversationStatus.OPEN
    elif message.sender_type == SenderType.AGENT:
        # Replying means the agent has read everything before the reply.
        conversation.agent_read_seq = message.seq
        conversation.unread_count = 0
    conversation.save(
        update_fields=[
            "last_seq",
            "last_message_at",
            "last_message_preview",
            "unread_count",
            "agent_read_seq",
            "status",
            "updated_at",
        ]
    )


def message_receive(
    *,
    conversation: Conversation,
    body: str,
    client_id: str | None = None,
    attachments: Sequence[AttachmentUpload] = (),
) -> tuple[Message, bool]:
    """A message from the customer."""
    return message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body=body,
        client_id=client_id,
        attachments=attachments,
    )


@transaction.atomic
def message_send(
    *,
    conversation: Conversation,
    author: User,
    body: str,
    client_id: str | None = None,
    attachments: Sequence[AttachmentUpload] = (),
) -> tuple[Message, bool]:
    """An agent's reply. The first reply to an unassigned conversation assigns it to the
    agent who wrote it."""
    message, created = message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AGENT,
        author=author,
        body=body,
        client_id=client_id,
        attachments=attachments,
    )
    if created and conversation.assignee_id is None:
        Conversation.objects.filter(pk=conversation.pk, assignee__isnull=True).update(
            assignee=author, updated_at=timezone.now()
        )
        conversation.refresh_from_db()
        transaction.on_commit(
            partial(realtime.push_conversation_updated, conversation), robust=True
        )
    return message, created


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation, reader: str, seq: int) -> Conversation:
    """Record that `reader` ("agent" or "customer") has read up to `seq`; read state only
    moves forward."""
    locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
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
