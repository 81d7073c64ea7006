"""Notifications for staff: stored, then pushed to the user's consoles on commit."""

from functools import partial

from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .. import realtime
from ..models import Conversation, Message, Notification


def notification_create(
    *,
    user: User,
    kind: str,
    text: str,
    conversation: Conversation | None = None,
    message: Message | None = None,
    actor: User | None = None,
) -> Notification | None:
    """Tells `user` something; nothing when the user caused it themselves."""
    if actor is not None and actor.pk == user.pk:
        return None
    notification = Notification.objects.create(
        user=user,
        kind=kind,
        text=text[:500],
        conversation=conversation,
        message=message,
        actor=actor,
    )
    transaction.on_commit(partial(realtime.push_notification, notification), robust=True)
    return notification


def notifications_mark_read(*, user: User, uuids: list | None = None) -> int:
    """Marks the user's notifications read: the given ones, or all when `uuids` is None."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if uuids is not None:
        unread = unread.filter(uuid__in=uuids)
    return unread.update(read_at=timezone.now())
