from django.db.models import Q, QuerySet

from accounts.enums import Role
from accounts.models import User

from .models import Conversation

SEE_ALL_ROLES = {Role.ADMIN, Role.SUPERVISOR}


def conversation_visibility_filter(*, user: User) -> Q | None:
    """None when the user sees every conversation, else the condition they are limited to."""
    if user.role in SEE_ALL_ROLES:
        return None
    return (
        Q(inbox__members=user)
        | Q(inbox__teams__members=user)
        | Q(team__members=user)
        | Q(assignee=user)
    )


def conversation_list(*, user: User) -> QuerySet[Conversation]:
    """Every conversation the user may see; the one gate for lists, pages and sockets."""
    conversations = Conversation.objects.select_related("customer", "inbox", "assignee", "team")
    if not user.is_authenticated or not user.is_active or user.role is None:
        return conversations.none()
    condition = conversation_visibility_filter(user=user)
    if condition is None:
        return conversations
    # A subquery, not a join, so that several matching paths never duplicate a row.
    visible_ids = Conversation.objects.filter(condition).values("pk")
    return conversations.filter(pk__in=visible_ids)


def conversation_get(*, user: User, uuid) -> Conversation | None:
    return conversation_list(user=user).filter(uuid=uuid).first()
