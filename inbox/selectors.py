from django.db.models import Q, QuerySet

from accounts.enums import Role
from accounts.models import User
from customers.models import Customer

from .models import Conversation, Message

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
    conversations = Conversation.objects.select_related(
        "customer", "inbox__channel", "assignee", "team"
    )
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


def customer_list(*, user: User) -> QuerySet[Customer]:
    """The customers a user may see: everyone for supervisors and admins; for an agent,
    those with a conversation the agent may see. Merged-away customers are left out."""
    customers = Customer.objects.active()
    if not user.is_authenticated or not user.is_active or user.role is None:
        return customers.none()
    if conversation_visibility_filter(user=user) is None:
        return customers
    return customers.filter(pk__in=conversation_list(user=user).values("customer_id"))


def customer_get(*, user: User, uuid) -> Customer | None:
    return customer_list(user=user).filter(uuid=uuid).first()


def conversation_list_for_view(*, user: User, view: str) -> QuerySet[Conversation]:
    """The console's tabs: "mine", "unassigned" or "all" (everything the user may see)."""
    conversations = conversation_list(user=user)
    if view == "mine":
        conversations = conversations.filter(assignee=user)
    elif view == "unassigned":
        conversations = conversations.filter(assignee__isnull=True)
    return conversations


def message_list(
    *,
    conversation: Conversation,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> tuple[list[Message], bool]:
    """Messages in `seq` order: the first `limit` after `after`, or the last `limit` before
    `before` (or the newest when neither is given). Returns (messages, has_more)."""
    messages = (
        Message.objects.filter(conversation=conversation)
        .select_related("author")
        .prefetch_related("attachments")
    )
    if after is not None:
        page = list(messages.filter(seq__gt=after).order_by("seq")[: limit + 1])
        return page[:limit], len(page) > limit
    if before is not None:
        messages = messages.filter(seq__lt=before)
    page = list(messages.order_by("-seq")[: limit + 1])
    return list(reversed(page[:limit])), len(page) > limit


def realtime_groups_for_user(*, user: User) -> list[str]:
    """The realtime groups a console socket joins: the same paths as
    `conversation_visibility_filter`, so a user hears of exactly what they may see."""
    from . import realtime

    groups = [realtime.user_group(user.pk)]
    if user.role in SEE_ALL_ROLES:
        groups.append(realtime.STAFF_GROUP)
    groups += [f"inbox.{pk}" for pk in user.inboxes.values_list("pk", flat=True)]
    groups += [f"team.{pk}" for pk in user.teams.values_list("pk", flat=True)]
    return groups
