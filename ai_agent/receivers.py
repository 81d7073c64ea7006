"""The AI hears of every customer message in a conversation it holds."""

from django.dispatch import receiver

from inbox.enums import Handler, MessageDirection, SenderType
from inbox.signals import message_created


@receiver(message_created)
def answer_customer_message(sender, message, **kwargs) -> None:
    """A customer's own message (not another bot's, not an auto-reply, not a rating) in a
    routed conversation the AI handles: the AI answers in a task. The first message is
    answered once routing gives the conversation to the AI (`ai_first_line`)."""
    from .tasks import ai_reply

    conversation = message.conversation
    if (
        message.direction != MessageDirection.INBOUND
        or message.sender_type != SenderType.CUSTOMER
        or message.private
        or conversation.handler != Handler.AI
        or conversation.routed_at is None
    ):
        return
    content = message.content or {}
    if content.get("automated") or content.get("csat_rating"):
        return
    ai_reply.delay(conversation.pk)
