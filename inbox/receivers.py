"""Consoles hear when a merge or its undo moves conversations to another customer."""

from django.dispatch import receiver

from customers.signals import customer_split, customers_merged

from . import realtime
from .models import Conversation


@receiver(customers_merged)
@receiver(customer_split)
def push_moved_conversations(sender, record, **kwargs) -> None:
    moved = record.moved.get(Conversation._meta.label_lower, {}).get("pks", [])
    for conversation in Conversation.objects.filter(pk__in=moved).select_related(
        "customer", "inbox__channel", "assignee", "team"
    ):
        realtime.push_conversation_updated(conversation)
