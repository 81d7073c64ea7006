"""Who works a conversation: manual assignment, transfers, automatic assignment within a
team (round robin or least loaded, respecting availability, skills and capacity) and the
queue of conversations waiting for a free agent.

Concurrency. Automatic assignment locks the conversation row (so it is assigned once) and
then the chosen agent's `AgentProfile` row, and counts the agent's load again under that
lock: every automatic assignment holds the profile lock until it commits, so the count it
reads (a new statement, READ COMMITTED) includes every earlier assignment to that agent,
and no agent goes over capacity. Candidates are tried in preference order with
`SELECT … FOR UPDATE SKIP LOCKED`, each inside a savepoint that is rolled back (releasing
the lock) when the agent turns out full: a transaction never holds one profile while
waiting for another, so two assigners cannot deadlock, and an assigner never waits behind
a busy agent while another one is free. Only when every free-looking agent was locked by
someone else does it wait for them in turn (blocking), so that a conversation is queued
only when every eligible agent really is full. A per-team advisory lock would serialise
a whole team and would not protect an agent who belongs to two teams.
"""

import datetime
from functools import partial

from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.enums import Role
from accounts.models import User

from .. import realtime
from ..enums import (
    AssignmentMethod,
    Availability,
    ConversationStatus,
    Handler,
    MessageDirection,
    NotificationKind,
    SenderType,
)
from ..models import AgentProfile, Conversation, Team
from ..selectors import SEE_ALL_ROLES
from .messages import message_append
from .notifications import notification_create

# The statuses that take an agent's capacity: snoozed and resolved conversations do not.
LOAD_STATUSES = (ConversationStatus.OPEN, ConversationStatus.PENDING)
STAFF_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.AGENT)
# A drain looks at this many waiting conversations at most (the periodic task goes on).
DRAIN_LIMIT = 200


class _Keep:
    """`team=KEEP`: leave the conversation's team as it is."""


KEEP = _Keep()


def staff_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True, groups__name__in=STAFF_ROLES).distinct()


def agent_load_subquery(user_ref: str = "pk") -> Coalesce:
    """The number of open or pending conversations assigned to the user at OuterRef."""
    counted = (
        Conversation.objects.filter(assignee=OuterRef(user_ref), status__in=LOAD_STATUSES)
        .order_by()
        .values("assignee")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def agent_load(*, user_id: int) -> int:
    return Conversation.objects.filter(assignee_id=user_id, status__in=LOAD_STATUSES).count()


def _candidate_user_ids(conversation: Conversation) -> QuerySet:
    """Who may be assigned automatically: the team's members, or with no team the members
    of the inbox and of the inbox's teams."""
    if conversation.team_id:
        members = Q(teams=conversation.team_id)
    else:
        members = Q(inboxes=conversation.inbox_id) | Q(teams__inboxes=conversation.inbox_id)
    return staff_users().filter(members).values("pk")


def _activity(conversation: Conversation, text: str, *, actor: User | None, kind: str, **data):
    """A private line in the conversation (staff only) recording who did what."""
    message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.SYSTEM,
        body=text,
        author=actor,
        private=True,
        content={"activity": kind, **data},
    )


def _push(conversation: Conversation) -> None:
    transaction.on_commit(partial(realtime.push_conversation_updated, conversation), robust=True)


def _push_moved(conversation: Conversation, seen_by: list[str]) -> None:
    """After commit: the new holders hear of it, and consoles that saw it and no longer
    may (`seen_by`: its groups before the change) drop it."""
    transaction.on_commit(
        partial(realtime.push_conversation_moved, conversation, previous_groups=seen_by),
        robust=True,
    )


def _handed_over(
    conversation: Conversation,
    seen_by: list[str],
    *,
    agent: User | None,
    previous: User | None,
    now: datetime.datetime,
) -> Conversation:
    """After an assignment or a transfer: consoles hear of the move, and a conversation
    left to its team is assigned as a new one, to anyone but whoever just had it."""
    _push_moved(conversation, seen_by)
    if agent is None:
        excluded = (previous.pk,) if previous is not None else ()
        conversation_autoassign(conversation=conversation, exclude=excluded, now=now)
        conversation.refresh_from_db()
    return conversation


def _locked(conversation: Conversation) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("team", "inbox")
        .get(pk=conversation.pk)
    )


class _Full(Exception):
    """Rolls back the savepoint of an agent found full, releasing its row lock."""


def _lock_free_agent(user_ids: list[int], *, skip_locked: bool) -> tuple[AgentProfile | None, list]:
    """Locks the first of `user_ids` (in order) who is online with room; returns it, and
    the ones skipped because another transaction held them."""
    skipped = []
    for user_id in user_ids:
        try:
            with transaction.atomic():  # a savepoint: rolled back when the agent is full
                profile = (
                    AgentProfile.objects.select_for_update(skip_locked=skip_locked)
                    .filter(pk=user_id)
                    .first()
                )
                if profile is None:
                    skipped.append(user_id)
                    raise _Full
                if profile.availability != Availability.ONLINE:
                    raise _Full
                if agent_load(user_id=user_id) >= profile.capacity:
                    raise _Full
                return profile, skipped
        except _Full:
            continue
    return None, skipped


def _free_agents(conversation: Conversation, *, exclude: tuple[int, ...] = ()) -> QuerySet:
    """Agents who could take the conversation now: online, skilled, with room."""
    return (
        AgentProfile.objects.filter(
            user__in=_candidate_user_ids(conversation),
            availability=Availability.ONLINE,
            skills__contains=list(conversation.required_skills or []),
        )
        .exclude(user_id__in=exclude)
        .annotate(load=agent_load_subquery("user_id"))
        .filter(load__lt=F("capacity"))
    )


def agents_free(*, conversation: Conversation) -> bool:
    """Whether an agent could take the conversation now (read only: nothing is locked)."""
    return _free_agents(conversation).exists()


def _pick_agent(
    conversation: Conversation, *, method: str, exclude: tuple[int, ...] = ()
) -> AgentProfile | None:
    profiles = _free_agents(conversation, exclude=exclude)
    oldest_first = F("last_assigned_at").asc(nulls_first=True)
    if method == AssignmentMethod.LEAST_LOADED:
        profiles = profiles.order_by("load", oldest_first, "user_id")
    else:
        profiles = profiles.order_by(oldest_first, "user_id")
    order = list(profiles.values_list("user_id", flat=True)[:50])
    profile, skipped = _lock_free_agent(order, skip_locked=True)
    if profile is None and skipped:
        profile, _skipped = _lock_free_agent(skipped, skip_locked=False)
    return profile


def _set_assignee(
    conversation: Conversation, agent: User | None, *, now: datetime.datetime
) -> User | None:
    previous = conversation.assignee
    conversation.assignee = agent
    conversation.queued_at = None if agent else conversation.queued_at
    conversation.save(update_fields=["assignee", "queued_at", "team", "updated_at"])
    if agent is not None:
        AgentProfile.objects.get_or_create(user=agent)
        AgentProfile.objects.filter(pk=agent.pk).update(last_assigned_at=now)
    if previous is not None and previous != agent:
        capacity_freed(agent=previous)
    return previous


def _queue(conversation: Conversation, *, now: datetime.datetime) -> None:
    """Puts the conversation in its queue (where it keeps its place if already there)."""
    if conversation.queued_at is None:
        conversation.queued_at = now
        conversation.save(update_fields=["queued_at", "updated_at"])
        _push(conversation)


@transaction.atomic
def conversation_autoassign(
    *,
    conversation: Conversation,
    exclude: tuple[int, ...] = (),
    now: datetime.datetime | None = None,
) -> User | None:
    """Assigns the conversation to a free agent of its team, or queues it when none is
    free (or the team assigns by hand). Returns the agent, or None when queued."""
    now = now or timezone.now()
    conversation = _locked(conversation)
    if conversation.assignee_id is not None:
        return conversation.assignee
    if conversation.status == ConversationStatus.RESOLVED or conversation.merged_into_id:
        return None
    method = conversation.team.assignment_method if conversation.team else None
    profile = None
    if method != AssignmentMethod.MANUAL:
        profile = _pick_agent(conversation, method=method or "", exclude=exclude)
    if profile is None:
        _queue(conversation, now=now)
        return None
    agent = profile.user
    _set_assignee(conversation, agent, now=now)
    _activity(
        conversation,
        _("Assigned to %(agent)s automatically") % {"agent": agent},
        actor=None,
        kind="assigned",
        agent=agent.pk,
    )
    notification_create(
        user=agent,
        kind=NotificationKind.ASSIGNED,
        text=_("%(conversation)s was assigned to you") % {"conversation": conversation},
        conversation=conversation,
    )
    _push(conversation)
    return agent


@transaction.atomic
def assignment_permitted(
    *, user: User, conversation: Conversation, agent: User | None, changes_team: bool
) -> bool:
    """Whether `user` may assign `conversation` to `agent` (None: unassign). Supervisors
    and admins assign anyone anywhere; an agent may only take a conversation or give their
    own back, without moving it to another team (handing it on is a transfer)."""
    if user.role in SEE_ALL_ROLES:
        return True
    if changes_team:
        return False
    takes = agent is not None and agent.pk == user.pk
    gives_back = agent is None and conversation.assignee_id == user.pk
    return takes or gives_back


def conversation_assign(
    *,
    conversation: Conversation,
    agent: User | None = None,
    team: Team | _Keep | None = KEEP,
    actor: User | None = None,
    note: str = "",
    now: datetime.datetime | None = None,
) -> Conversation:
    """Assigns by hand: to `agent` (None: unassigned), and to `team` when given. The new
    assignee is notified, and a private activity line says who assigned whom. A
    conversation left without an agent goes to its team's automatic assignment (or
    queue), passing over the agent it was taken from."""
    now = now or timezone.now()
    conversation = _locked(conversation)
    seen_by = realtime.agent_groups(conversation)
    if not isinstance(team, _Keep):
        conversation.team = team
    previous = _set_assignee(conversation, agent, now=now)
    by = actor or _("the system")
    if agent is not None:
        text = _("%(actor)s assigned this to %(agent)s") % {"actor": by, "agent": agent}
    elif conversation.team is not None:
        text = _("%(actor)s assigned this to team %(team)s") % {
            "actor": by,
            "team": conversation.team,
        }
    else:
        text = _("%(actor)s unassigned this") % {"actor": by}
    if note:
        text = f"{text}: {note}"
    _activity(
        conversation,
        text,
        actor=actor,
        kind="assigned",
        agent=agent.pk if agent else None,
        team=conversation.team_id,
    )
    if agent is not None:
        notification_create(
            user=agent,
            kind=NotificationKind.ASSIGNED,
            text=_("%(actor)s assigned %(conversation)s to you")
            % {"actor": by, "conversation": conversation},
            conversation=conversation,
            actor=actor,
        )
    return _handed_over(conversation, seen_by, agent=agent, previous=previous, now=now)


@transaction.atomic
def conversation_transfer(
    *,
    conversation: Conversation,
    to_agent: User | None = None,
    to_team: Team | None = None,
    actor: User | None,
    note: str = "",
    now: datetime.datetime | None = None,
) -> Conversation:
    """Hands the conversation to an agent or a team with a note. The receiving agent (or,
    for a team, each of its members) is notified; a team then assigns it as it does new
    conversations."""
    if to_agent is None and to_team is None:
        raise ValueError("A transfer needs an agent or a team.")
    now = now or timezone.now()
    conversation = _locked(conversation)
    seen_by = realtime.agent_groups(conversation)
    if to_team is not None:
        conversation.team = to_team
    previous = _set_assignee(conversation, to_agent, now=now)
    by = actor or _("the system")
    target = to_agent if to_agent is not None else _("team %(team)s") % {"team": to_team}
    text = _("%(actor)s transferred this to %(target)s") % {"actor": by, "target": target}
    if note:
        text = f"{text}: {note}"
    _activity(
        conversation,
        text,
        actor=actor,
        kind="transfer",
        agent=to_agent.pk if to_agent else None,
        team=to_team.pk if to_team else None,
        note=note,
    )
    recipients = [to_agent] if to_agent is not None else list(staff_users().filter(teams=to_team))
    for user in recipients:
        notification_create(
            user=user,
            kind=NotificationKind.TRANSFER,
            text=text,
            conversation=conversation,
            actor=actor,
        )
    return _handed_over(conversation, seen_by, agent=to_agent, previous=previous, now=now)


def _waiting(*, team: Team | None = None, agent: User | None = None) -> QuerySet[Conversation]:
    waiting = Conversation.objects.filter(
        queued_at__isnull=False, assignee__isnull=True, merged_into__isnull=True
    ).exclude(status=ConversationStatus.RESOLVED)
    if team is not None:
        waiting = waiting.filter(team=team)
    if agent is not None:
        # Only the queues this agent can serve.
        waiting = waiting.filter(
            Q(team__members=agent)
            | Q(team__isnull=True, inbox__members=agent)
            | Q(team__isnull=True, inbox__teams__members=agent)
        ).distinct()
    return waiting


def queue_drain(
    *,
    team: Team | None = None,
    agent: User | None = None,
    limit: int = DRAIN_LIMIT,
    now: datetime.datetime | None = None,
) -> int:
    """Assigns waiting conversations while agents have room: those of `team`, those of
    the queues `agent` serves, or all. Queue by queue (a team's, or with no team an
    inbox's), urgent first and then oldest first, each conversation in its own
    transaction; a queue is left as soon as a conversation needing no skills finds nobody
    (nobody there has room), so a full queue never holds up the others. Returns how many
    were assigned."""
    waiting = _waiting(team=team, agent=agent)
    queues = set()
    for team_id, inbox_id in waiting.order_by().values_list("team_id", "inbox_id").distinct():
        queues.add((team_id, None) if team_id else (None, inbox_id))
    assigned = 0
    for team_id, inbox_id in sorted(queues, key=lambda queue: (queue[0] or 0, queue[1] or 0)):
        queue = _waiting().filter(team_id=team_id)
        if team_id is None:
            queue = queue.filter(inbox_id=inbox_id)
        rows = queue.order_by("-priority", "queued_at", "pk").values_list("pk", "required_skills")
        for pk, skills in rows[:limit]:
            if conversation_autoassign(conversation=Conversation(pk=pk), now=now) is not None:
                assigned += 1
            elif not skills:
                break
    return assigned


def capacity_freed(*, agent: User) -> None:
    """An agent has room again (a conversation of theirs was resolved, unassigned or
    snoozed, or they came online): once committed, the queues they serve are drained."""
    transaction.on_commit(partial(queue_drain, agent=agent), robust=True)


def queue_position(*, conversation: Conversation) -> int | None:
    """The 1-based place of a waiting conversation in its queue (its team's, or with no
    team its inbox's); None when it is not waiting."""
    if conversation.queued_at is None or conversation.assignee_id is not None:
        return None
    same_queue = _waiting().filter(team_id=conversation.team_id)
    if conversation.team_id is None:
        same_queue = same_queue.filter(inbox_id=conversation.inbox_id)
    ahead = same_queue.filter(
        Q(priority__gt=conversation.priority)
        | Q(priority=conversation.priority, queued_at__lt=conversation.queued_at)
        | Q(
            priority=conversation.priority,
            queued_at=conversation.queued_at,
            pk__lt=conversation.pk,
        )
    )
    return ahead.count() + 1


def conversations_without_reply(*, agent: User) -> QuerySet[Conversation]:
    """The agent's open conversations nobody has answered yet (what goes back to the queue
    when the agent goes offline)."""
    from ..models import Message

    answered = Message.objects.filter(
        conversation=OuterRef("pk"),
        direction=MessageDirection.OUTBOUND,
        private=False,
        sender_type__in=(SenderType.AGENT, SenderType.AI),
    )
    return Conversation.objects.filter(
        assignee=agent, status__in=LOAD_STATUSES, first_response_at__isnull=True
    ).filter(~Exists(answered))


@transaction.atomic
def conversation_to_human(
    *,
    conversation: Conversation,
    text: str,
    agent: User | None = None,
    actor: User | None = None,
    now: datetime.datetime | None = None,
) -> Conversation:
    """The AI agent stops handling the conversation: `agent` takes it over, or (None) it
    is assigned within its team like a new one, or queued. `text` is the activity line
    that says why."""
    now = now or timezone.now()
    conversation = _locked(conversation)
    seen_by = realtime.agent_groups(conversation)
    conversation.handler = Handler.HUMAN
    conversation.save(update_fields=["handler", "updated_at"])
    _activity(conversation, text, actor=actor, kind="handoff", agent=agent.pk if agent else None)
    if agent is not None and conversation.assignee_id != agent.pk:
        _set_assignee(conversation, agent, now=now)
    _push_moved(conversation, seen_by)
    if agent is None:
        conversation_autoassign(conversation=conversation, now=now)
        conversation.refresh_from_db()
    return conversation


@transaction.atomic
def conversation_to_ai(*, conversation: Conversation, actor: User | None) -> Conversation:
    """The AI agent handles the conversation again: it leaves its assignee (freeing their
    seat) and the queue."""
    conversation = _locked(conversation)
    seen_by = realtime.agent_groups(conversation)
    conversation.handler = Handler.AI
    conversation.queued_at = None
    conversation.save(update_fields=["handler", "queued_at", "updated_at"])
    _set_assignee(conversation, None, now=timezone.now())
    _activity(
        conversation,
        _("%(actor)s handed this back to the AI agent") % {"actor": actor or _("the system")},
        actor=actor,
        kind="handback",
    )
    _push_moved(conversation, seen_by)
    return conversation
