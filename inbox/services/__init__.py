"""The inbox's writes. Each area has its module; the ones other apps call are named here."""

from .messages import (
    PREVIEW_LENGTH,
    conversation_create,
    conversation_for_inbound,
    conversation_mark_read,
    conversation_typing,
    message_append,
    message_delete_by_customer,
    message_delivery_update,
    message_edit_by_customer,
    message_reaction_set,
    message_receive,
    message_retry,
    message_send,
)

__all__ = [
    "PREVIEW_LENGTH",
    "conversation_create",
    "conversation_for_inbound",
    "conversation_mark_read",
    "conversation_typing",
    "message_append",
    "message_delete_by_customer",
    "message_delivery_update",
    "message_edit_by_customer",
    "message_reaction_set",
    "message_receive",
    "message_retry",
    "message_send",
]
