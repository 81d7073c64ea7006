"""Private notes: staff-only messages, with @mentions of agents and teams and quotes."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User

from ..enums import MessageDirection, NotificationKind, SenderType
from ..models import Conversation, Message, Team
from ..selectors import conversation_list
from .messages import message_append
from .notifications import notification_create

# What the console inserts when an agent picks someone after typing "@":
# @[Ana Lima](user:12) or @[Billing](team:3). The name is only for display; the id decides.
MENTION_PATTERN = re.compile(
    r"@\[(?P<name>[^\]\n]{1,150})\]\((?P<kind>user|team):(?P<id>\d{1,12})\)"
)
NOTIFICATION_PREVIEW = 200


def message_for_quote(*, conversation: Conversation, seq: int | None) -> Message | None:
    """The message of this conversation a reply or note quotes (None for no quote); a seq
    that is not one of this conversation's messages is a ValidationError."""
    if seq is None:
        return None
    message = Message.objects.filter(conversation=conversation, seq=seq).first()
    if message is None:
        raise ValidationError(
            {"reply_to": [_("Message %(seq)s is not in this conversation.") % {"seq": seq}]}
        )
    return message


def mentions_parse(body: str) -> dict[str, list[int]]:
    """The ids of the users and teams a note mentions, each once, in order."""
    users: dict[int, None] = {}
    teams: dict[int, None] = {}
    for match in MENTION_PATTERN.finditer(body):
        (users if match["kind"] == "user" else teams)[int(match["id"])] = None
    return {"users": list(users), "teams": list(teams)}


def _can_see(user: User, conversation: Conversation) -> bool:
    return conversation_list(user=user).filter(pk=conversation.pk).exists()


@transaction.atomic
def note_add(
    *,
    conversation: Conversation,
    author: User,
    body: str,
    reply_to_seq: int | None = None,
    client_id: str | None = None,
) -> Message:
    """A private note (never delivered to the customer, never shown in the widget).
    Mentioned users, and every member of a mentioned team, who may see the conversation
    are notified (NotificationKind.MENTION); others are silently left out."""
    if not body.strip():
        raise ValidationError({"body": [_("Write a note first.")]})
    reply_to = message_for_quote(conversation=conversation, seq=reply_to_seq)
    mentioned = mentions_parse(body)
    users = list(User.objects.filter(pk__in=mentioned["users"], is_active=True).order_by("pk"))
    teams = list(Team.objects.filter(pk__in=mentioned["teams"]).order_by("pk"))
    message, created = message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AGENT,
        author=author,
        client_id=client_id,
        body=body,
        private=True,
        reply_to=reply_to,
        content={"mentions": {"users": [u.pk for u in users], "teams": [t.pk for t in teams]}},
    )
    if not created:  # a retry: its mentions were notified the first time
        return message
    recipients = {user.pk: user for user in users}
    for member in User.objects.filter(teams__in=teams, is_active=True).distinct():
        recipients.setdefault(member.pk, member)
    recipients.pop(author.pk, None)
    preview = MENTION_PATTERN.sub(lambda m: "@" + m["name"], body)[:NOTIFICATION_PREVIEW]
    for user in recipients.values():
        if not _can_see(user, conversation):
            continue
        notification_create(
            user=user,
            kind=NotificationKind.MENTION,
            text=_("%(name)s mentioned you: %(note)s")
            % {"name": author.display_name or author.email, "note": preview},
            conversation=conversation,
            message=message,
            actor=author,
        )
    return message
