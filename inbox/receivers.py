"""Consoles hear when a merge or its undo moves conversations to another customer."""

from django.dispatch import receiver

from customers.signals import customer_split, customers_merged

from . import realtime
from .enums import MessageDirection
from .models import Conversation
from .selectors import with_list_fields
from .signals import message_created


@receiver(customers_merged)
@receiver(customer_split)
def push_moved_conversations(sender, record, **kwargs) -> None:
    moved = record.moved.get(Conversation._meta.label_lower, {}).get("pks", [])
    for conversation in with_list_fields(Conversation.objects.filter(pk__in=moved)):
        realtime.push_conversation_updated(conversation)


@receiver(message_created)
def route_on_first_customer_message(sender, message, **kwargs) -> None:
    """A customer's message on a conversation not routed yet: route it (in a task; the
    task routes it once however many messages ask)."""
    from .tasks.routing import routing_route_conversation

    if message.direction != MessageDirection.INBOUND or message.private:
        return
    if message.conversation.routed_at is not None:
        return
    routing_route_conversation.delay(message.conversation_id)
