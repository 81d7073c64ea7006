"""Facts `inbox` announces, sent on commit, for receivers here and in apps above it."""

from django.dispatch import Signal

# message: the Message just stored (message.conversation is the conversation)
message_created = Signal()

# conversation: the Conversation, just resolved; actor: the User, or None when automatic
conversation_resolved = Signal()
