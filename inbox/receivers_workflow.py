"""A customer writing in a pending or snoozed conversation opens it again (a resolved one
is reopened by `message_append` itself)."""

from django.dispatch import receiver

from .enums import ConversationStatus, MessageDirection, SenderType
from .signals import message_created

WAITING = (ConversationStatus.PENDING, ConversationStatus.SNOOZED)


@receiver(message_created)
def reopen_on_customer_message(sender, message, **kwargs) -> None:
    # Cheap for every other message: the conversation is in memory, no query.
    if (
        message.private
        or message.direction != MessageDirection.INBOUND
        or message.sender_type != SenderType.CUSTOMER
        or message.conversation.status not in WAITING
    ):
        return
    from .services.workflow import conversation_reopen_for_customer

    conversation_reopen_for_customer(conversation=message.conversation)
