"""Consoles hear when a merge or its undo moves conversations to another customer."""

from django.dispatch import receiver

from customers.signals import customer_split, customers_merged

from . import realtime
from .models import Conversation
from .selectors import with_list_fields


@receiver(customers_merged)
@receiver(customer_split)
def push_moved_conversations(sender, record, **kwargs) -> None:
    moved = record.moved.get(Conversation._meta.label_lower, {}).get("pks", [])
    for conversation in with_list_fields(Conversation.objects.filter(pk__in=moved)):
        realtime.push_conversation_updated(conversation)
