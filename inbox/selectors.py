from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.enums import Role
from accounts.models import User
from customers.models import Customer

from .enums import InboxVisibility
from .models import Conversation, Inbox, Message, Team

SEE_ALL_ROLES = {Role.ADMIN, Role.SUPERVISOR}


def conversation_visibility_filter(*, user: User) -> Q | None:
    """None when the user sees every conversation, else the condition they are limited to:
    the inboxes they or their teams belong to, their teams' conversations, and those
    assigned to them; in an inbox whose `visibility` is "assigned", of the first two paths
    only the unassigned conversations (docs/search.md). The inbox and team ids are
    subqueries, so the condition reads only the conversation's own columns: no join that
    could repeat a row, little to plan (joins through the memberships took longer to plan
    than to run), and the list can be read in its order (`conv_last_message_idx`) and stop
    at a page. The "assigned" inboxes are a subquery too (hashed once, a handful of rows):
    while there are none, `NOT IN` is true for every row and the shape is today's."""
    if user.role in SEE_ALL_ROLES:
        return None
    inboxes = Inbox.objects.filter(Q(members=user) | Q(teams__members=user)).values("pk")
    teams = Team.objects.filter(members=user).values("pk")
    restricted = Inbox.objects.filter(visibility=InboxVisibility.ASSIGNED).values("pk")
    return (Q(inbox__in=inboxes) | Q(team__in=teams)) & (
        ~Q(inbox__in=restricted) | Q(assignee__isnull=True)
    ) | Q(assignee=user)


def inbox_list(*, user: User) -> QuerySet[Inbox]:
    """The inboxes a user works in: every inbox for supervisors and admins; for an agent,
    those they or their teams belong to (the inbox paths of conversation_visibility_filter)."""
    inboxes = Inbox.objects.select_related("channel").order_by("name")
    if not user.is_authenticated or not user.is_active or user.role is None:
        return inboxes.none()
    if user.role in SEE_ALL_ROLES:
        return inboxes
    member_of = Inbox.objects.filter(Q(members=user) | Q(teams__members=user)).values("pk")
    return inboxes.filter(pk__in=member_of)


def with_list_fields(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """What `ConversationSerializer` shows, read with the conversations in one query."""
    tags = Conversation.tags.through.objects.filter(conversation_id=OuterRef("pk"))
    # Staff and teams are read apart (a few rows, by primary key): with them in the join
    # too, planning the six-table join took 8.5 ms at 1M conversations, running it 1 ms.
    return (
        conversations.select_related("customer", "inbox__channel")
        .prefetch_related("assignee", "team", "claimed_by")
        .annotate(tag_names=ArraySubquery(tags.values("tag__name")))
    )


# What a list page reads: the columns ConversationSerializer shows, nothing else. Every
# other column costs for each row (JSON to decode, the channel's secrets to decrypt,
# timestamps to parse): about half of a 50-row page's time at first.
_LISTED = (
    *("uuid", "inbox", "customer", "status", "priority", "handler", "assignee", "team"),
    *("last_seq", "last_message_at", "last_message_preview", "unread_count"),
    *("agent_read_seq", "customer_read_seq", "language", "snoozed_until", "queued_at"),
    *("claimed_by", "claimed_until", "first_response_due_at", "next_response_due_at"),
    *("resolution_due_at", "created_at"),
    *("customer__uuid", "customer__display_name", "inbox__name", "inbox__channel__kind"),
)


def for_list_page(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """`conversations` (from `conversation_list`) read for `ConversationSerializer` only."""
    return conversations.only(*_LISTED)


def conversation_list(*, user: User) -> QuerySet[Conversation]:
    """Every conversation the user may see; the one gate for lists, pages and sockets."""
    conversations = with_list_fields(Conversation.objects.all())
    if not user.is_authenticated or not user.is_active or user.role is None:
        return conversations.none()
    condition = conversation_visibility_filter(user=user)
    if condition is None:
        return conversations
    return conversations.filter(condition)


def conversation_get(*, user: User, uuid) -> Conversation | None:
    # get(), not first(): first() orders by id, and with an agent's visibility condition the
    # planner could then walk the primary key instead of looking the uuid up.
    try:
        return conversation_list(user=user).get(uuid=uuid)
    except Conversation.DoesNotExist:
        return None


def customer_list(*, user: User) -> QuerySet[Customer]:
    """The customers a user may see: everyone for supervisors and admins; for an agent,
    those with a conversation the agent may see. Merged-away customers are left out."""
    customers = Customer.objects.active()
    if not user.is_authenticated or not user.is_active or user.role is None:
        return customers.none()
    if user.role in SEE_ALL_ROLES:
        return customers
    # The same paths as conversation_visibility_filter, with the inbox and team ids read
    # first: as literals the planner prices checking one customer's conversations right
    # (as subqueries it charged their cost to every check), so a search that matches few
    # customers collects them from its index and checks each, instead of walking every
    # customer in the list's order (a rare name at 1M: 220 ms -> 12 ms).
    inbox_ids = Inbox.objects.filter(Q(members=user) | Q(teams__members=user)).values_list(
        "pk", flat=True
    )
    team_ids = user.teams.values_list("pk", flat=True)
    restricted = Inbox.objects.filter(visibility=InboxVisibility.ASSIGNED).values_list(
        "pk", flat=True
    )
    visible = Conversation.objects.filter(customer=OuterRef("pk")).filter(
        (Q(inbox__in=list(set(inbox_ids))) | Q(team__in=list(team_ids)))
        & (~Q(inbox__in=list(restricted)) | Q(assignee__isnull=True))
        | Q(assignee=user)
    )
    return customers.filter(Exists(visible))


def customer_get(*, user: User, uuid) -> Customer | None:
    try:  # get(), not first(), as in conversation_get
        return customer_list(user=user).get(uuid=uuid)
    except Customer.DoesNotExist:
        return None


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
    for_customer: bool = False,
) -> tuple[list[Message], bool]:
    """Messages in `seq` order: the first `limit` after `after`, or the last `limit` before
    `before` (or the newest when neither is given). Returns (messages, has_more).
    `for_customer` leaves out private notes and activity (their seqs are gaps to the
    customer, who learns the newest seq from the conversation)."""
    messages = (
        Message.objects.filter(conversation=conversation)
        .select_related("author", "reply_to")
        .prefetch_related("attachments")
    )
    if for_customer:
        messages = messages.filter(private=False)
    if after is not None:
        page = list(messages.filter(seq__gt=after).order_by("seq")[: limit + 1])
        return page[:limit], len(page) > limit
    if before is not None:
        messages = messages.filter(seq__lt=before)
    page = list(messages.order_by("-seq")[: limit + 1])
    return list(reversed(page[:limit])), len(page) > limit


def realtime_groups_for_user(*, user: User) -> list[str]:
    """The realtime groups a console socket joins: the same paths as
    `conversation_visibility_filter`, so a user hears of exactly what they may see. An
    inbox whose visibility is "assigned" is joined as `inbox.<id>.unassigned`; a team both
    as `team.<id>` (its conversations in inboxes open to all) and, while any inbox is
    "assigned", `team.<id>.unassigned` (its unassigned ones there); the user's own as
    `user.<id>`
    (`realtime.agent_groups` is the other half of the rule)."""
    from . import realtime

    groups = [realtime.user_group(user.pk)]
    if user.role in SEE_ALL_ROLES:
        groups.append(realtime.STAFF_GROUP)
    for pk, visibility in user.inboxes.values_list("pk", "visibility"):
        restricted = visibility == InboxVisibility.ASSIGNED
        groups.append(realtime.unassigned_group(f"inbox.{pk}") if restricted else f"inbox.{pk}")
    # A team's unassigned conversations of "assigned" inboxes: only while such an inbox
    # exists (a conversation of any inbox may be given to the team).
    any_restricted = Inbox.objects.filter(visibility=InboxVisibility.ASSIGNED).exists()
    for pk in user.teams.values_list("pk", flat=True):
        groups.append(f"team.{pk}")
        if any_restricted:
            groups.append(realtime.unassigned_group(f"team.{pk}"))
    return groups
