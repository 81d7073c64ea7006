from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from customers.models import Customer

from .enums import MessageDirection, SenderType
from .models import Conversation, Inbox, Message


@transaction.atomic
def conversation_create(*, inbox: Inbox, customer: Customer, **fields) -> Conversation:
    return Conversation.objects.create(inbox=inbox, customer=customer, **fields)


def message_append(
    *,
    conversation: Conversation,
    direction: MessageDirection,
    sender_type: SenderType,
    body: str,
    author: User | None = None,
    client_id: str | None = None,
) -> tuple[Message, bool]:
    """Store a message with its conversation's next `seq`; returns (message, created).

    The conversation row is locked while the number is taken, so concurrent writers get
    consecutive numbers. A `client_id` seen before returns the stored message instead."""
    if client_id:
        existing = Message.objects.filter(conversation=conversation, client_id=client_id).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
            now = timezone.now()
            message = Message.objects.create(
                conversation=locked,
                seq=locked.last_seq + 1,
                direction=direction,
                sender_type=sender_type,
                author=author,
                body=body,
                client_id=client_id or None,
            )
            locked.last_seq = message.seq
            locked.last_message_at = now
            locked.save(update_fields=["last_seq", "last_message_at", "updated_at"])
    except IntegrityError:
        # A concurrent retry with the same client_id won the race: return its message.
        if client_id:
            return Message.objects.get(conversation=conversation, client_id=client_id), False
        raise
    conversation.last_seq, conversation.last_message_at = locked.last_seq, locked.last_message_at
    return message, True
