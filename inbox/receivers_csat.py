"""CSAT: ask for a rating when a conversation is resolved, and take a customer's reply
that is a rating. Both signals are sent on commit; the work is a few queries (a message to
another channel goes through the outbox, delivered by its worker), so it runs here."""

from django.dispatch import receiver

from .services.csat import csat_reply_take, csat_request, rating_parse
from .signals import conversation_resolved, message_created


@receiver(conversation_resolved)
def ask_for_rating(sender, conversation, **kwargs) -> None:
    csat_request(conversation=conversation)


@receiver(message_created)
def take_rating_reply(sender, message, **kwargs) -> None:
    # Most messages are no rating: only a lone digit costs a query.
    if rating_parse(message.body) is not None:
        csat_reply_take(message=message)
