"""SLA clocks: first response, next response and resolution, in business hours."""

from ..models import Conversation, Message


def sla_on_created(*, conversation: Conversation) -> None:
    """A conversation was created (inside its transaction)."""


def sla_on_message(*, conversation: Conversation, message: Message) -> None:
    """A message was stored on the conversation (inside its transaction)."""


def sla_on_status(*, conversation: Conversation, previous_status: str) -> None:
    """The conversation's status changed (inside the transaction that changed it)."""
