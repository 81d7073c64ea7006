"""Working a conversation: status (open, pending, snoozed, resolved), priority, wake-ups,
auto-resolve, tags, merging two conversations of one customer, and bulk actions."""

import datetime
import logging
from collections.abc import Iterable
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from customers.models import Tag
from customers.services import tag_get_or_create

from ..enums import (
    ConversationStatus,
    DeliveryStatus,
    MessageDirection,
    Priority,
    SenderType,
)
from ..models import Conversation, Message
from ..outbound import ReplyBlocked, ReplyDraft, reply_enqueue, reply_plan
from ..selectors import SEE_ALL_ROLES, conversation_list
from ..signals import conversation_resolved
from .claims import push_conversation_fresh
from .messages import message_append
from .sla import sla_on_status

logger = logging.getLogger(__name__)

# How many conversations one run of a sweeper handles; the next run takes the rest.
SWEEP_BATCH = 500
TAG_MAX_LENGTH = Tag._meta.get_field("name").max_length
TAGS_MAX = 50
BULK_MAX = 200
BULK_ACTIONS = ("assign", "tag", "resolve", "snooze", "status", "priority")


def _locked(conversation_or_pk) -> Conversation:
    pk = getattr(conversation_or_pk, "pk", conversation_or_pk)
    return Conversation.objects.select_for_update(no_key=True).get(pk=pk)


def _actor_name(actor: User | None) -> str:
    if actor is None:
        return _("Switchboard")
    return actor.display_name or actor.email


def _activity(conversation: Conversation, body: str, *, actor: User | None, **content) -> Message:
    """A private activity entry in the conversation's history (staff only)."""
    message, _created = message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.SYSTEM,
        author=actor,
        body=body,
        private=True,
        content={"activity": content},
    )
    return message


def status_validate(
    *, status: str, snoozed_until: datetime.datetime | None, now: datetime.datetime
) -> None:
    if status not in ConversationStatus.values:
        raise ValidationError(
            {
                "status": [
                    _("Use one of: %(values)s.") % {"values": ", ".join(ConversationStatus.values)}
                ]
            }
        )
    if status == ConversationStatus.SNOOZED and (snoozed_until is None or snoozed_until <= now):
        raise ValidationError({"snoozed_until": [_("Snooze until a time in the future.")]})


@transaction.atomic
def conversation_status_set(
    *,
    conversation: Conversation,
    status: str,
    actor: User | None,
    snoozed_until: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
) -> Conversation:
    """Open, pending (waiting on the customer), snoozed until a time, or resolved.

    Resolving records `resolved_at`, ends any claim and takes the conversation out of the
    queue, and announces `conversation_resolved` on commit. An assigned conversation that
    leaves `open` frees capacity for its agent's queue."""
    now = now or timezone.now()
    status_validate(status=status, snoozed_until=snoozed_until, now=now)
    locked = _locked(conversation)
    previous = locked.status
    if previous == status and status != ConversationStatus.SNOOZED:
        return locked
    if locked.merged_into_id:
        raise ValidationError(
            {"status": [_("This conversation was merged into another; work on that one.")]}
        )
    locked.status = status
    locked.snoozed_until = snoozed_until if status == ConversationStatus.SNOOZED else None
    fields = ["status", "snoozed_until", "updated_at"]
    if status == ConversationStatus.RESOLVED:
        locked.resolved_at = now
        locked.claimed_by = None
        locked.claimed_until = None
        locked.queued_at = None
        fields += ["resolved_at", "claimed_by", "claimed_until", "queued_at"]
    elif locked.resolved_at is not None:  # reopened: resolved again later, if at all
        locked.resolved_at = None
        fields.append("resolved_at")
    locked.save(update_fields=fields)
    sla_on_status(conversation=locked, previous_status=previous)
    if status == ConversationStatus.RESOLVED:
        transaction.on_commit(
            partial(
                conversation_resolved.send, sender=Conversation, conversation=locked, actor=actor
            ),
            robust=True,
        )
    if locked.assignee_id and previous != status and status != ConversationStatus.OPEN:
        _capacity_freed(locked.assignee_id)
    push_conversation_fresh(locked.pk)
    return locked


def _capacity_freed(agent_id: int) -> None:
    """The agent has room again: their queues are drained once this commits."""
    from .assignment import capacity_freed

    agent = User.objects.filter(pk=agent_id).first()
    if agent is not None:
        capacity_freed(agent=agent)


@transaction.atomic
def conversation_priority_set(
    *, conversation: Conversation, priority: int, actor: User | None
) -> Conversation:
    if priority not in Priority.values:
        raise ValidationError(
            {
                "priority": [
                    _("Use one of: %(values)s.") % {"values": ", ".join(map(str, Priority.values))}
                ]
            }
        )
    locked = _locked(conversation)
    if locked.priority != priority:
        locked.priority = priority
        locked.save(update_fields=["priority", "updated_at"])
        push_conversation_fresh(locked.pk)
    return locked


# --- Wake-ups and auto-resolve (periodic, every minute) ------------------------------------


def conversations_wake(*, now: datetime.datetime) -> int:
    """Reopens snoozed conversations whose time has come; returns how many."""
    due = list(
        Conversation.objects.filter(
            status=ConversationStatus.SNOOZED, snoozed_until__lte=now
        ).values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    woken = 0
    for pk in due:
        with transaction.atomic():
            locked = _locked(pk)
            if locked.status != ConversationStatus.SNOOZED or (
                locked.snoozed_until and locked.snoozed_until > now
            ):
                continue  # a customer or an agent got there first
            conversation_status_set(
                conversation=locked, status=ConversationStatus.OPEN, actor=None, now=now
            )
            woken += 1
    return woken


def _idle_since(now: datetime.datetime) -> ExpressionWrapper:
    return ExpressionWrapper(
        Value(now) - F("inbox__auto_resolve_after"), output_field=DateTimeField()
    )


def conversations_auto_resolve(*, now: datetime.datetime) -> int:
    """Resolves open and pending conversations nobody wrote in for longer than their
    inbox's `auto_resolve_after`, each in its own transaction; returns how many."""
    due = list(
        Conversation.objects.filter(
            status__in=(ConversationStatus.OPEN, ConversationStatus.PENDING),
            inbox__auto_resolve_after__isnull=False,
            last_message_at__lt=_idle_since(now),
        ).values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return sum(conversation_auto_resolve(conversation_id=pk, now=now) for pk in due)


@transaction.atomic
def conversation_auto_resolve(*, conversation_id: int, now: datetime.datetime) -> bool:
    """Resolves one idle conversation (checked again under its lock), first sending the
    inbox's auto-resolve message when there is one and the channel accepts it now (a
    closed reply window skips the message, not the resolution)."""
    locked = (
        Conversation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("inbox")
        .filter(pk=conversation_id)
        .first()
    )
    if locked is None or locked.status not in (
        ConversationStatus.OPEN,
        ConversationStatus.PENDING,
    ):
        return False
    after = locked.inbox.auto_resolve_after
    if after is None or (locked.last_message_at and locked.last_message_at >= now - after):
        return False
    if text := locked.inbox.auto_resolve_message.strip():
        _system_reply(locked, text)
    conversation_status_set(
        conversation=locked, status=ConversationStatus.RESOLVED, actor=None, now=now
    )
    _activity(
        locked, _("Resolved automatically after being idle."), actor=None, kind="auto_resolved"
    )
    return True


def _system_reply(conversation: Conversation, body: str) -> Message | None:
    """A message to the customer from the system itself (no agent), through the channel's
    rules and the outbox like any reply; None when the channel does not accept it now."""
    try:
        plan = reply_plan(conversation=conversation, draft=ReplyDraft(body=body))
    except ReplyBlocked as blocked:
        logger.info("Auto-resolve message skipped on %s: %s", conversation.pk, blocked.code)
        return None
    message, _created = message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.SYSTEM,
        body=plan.body,
        content={**plan.content, "automated": True},
        delivery_status=DeliveryStatus.QUEUED if plan.delivers else "",
    )
    reply_enqueue(message=message, plan=plan)
    return message


# --- Tags ------------------------------------------------------------------------------


def tag_names_clean(names: Iterable[str]) -> list[str]:
    """Trimmed, non-empty, each once (case-insensitively), in the order given."""
    cleaned: dict[str, str] = {}
    for name in names:
        name = " ".join(str(name).split())
        if not name:
            continue
        if len(name) > TAG_MAX_LENGTH:
            raise ValidationError(
                {"tags": [_("A tag has at most %(n)d characters.") % {"n": TAG_MAX_LENGTH}]}
            )
        cleaned.setdefault(name.casefold(), name)
    if len(cleaned) > TAGS_MAX:
        raise ValidationError({"tags": [_("At most %(n)d tags.") % {"n": TAGS_MAX}]})
    return list(cleaned.values())


@transaction.atomic
def conversation_tags_set(
    *, conversation: Conversation, names: Iterable[str], actor: User | None, add: bool = False
) -> Conversation:
    """Sets the conversation's tags to `names` (or adds them, with `add`); tags are
    created when new and matched case-insensitively ("VIP" is "vip")."""
    tags = [tag_get_or_create(name) for name in tag_names_clean(names)]
    locked = _locked(conversation)
    if add:
        locked.tags.add(*tags)
    else:
        locked.tags.set(tags)
    Conversation.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
    push_conversation_fresh(locked.pk)
    return locked


# --- Merge -----------------------------------------------------------------------------

_MOVE_MESSAGES_SQL = """
UPDATE {message} AS m
SET conversation_id = %(target)s,
    seq = %(base)s + moved.position,
    client_id = CASE WHEN EXISTS (
        SELECT 1 FROM {message} t
        WHERE t.conversation_id = %(target)s AND t.client_id = m.client_id
    ) THEN NULL ELSE m.client_id END
FROM (
    SELECT id, row_number() OVER (ORDER BY seq) AS position
    FROM {message} WHERE conversation_id = %(source)s
) AS moved
WHERE m.id = moved.id
"""


@transaction.atomic
def conversation_merge(
    *, source: Conversation, target: Conversation, actor: User | None
) -> Conversation:
    """Moves every message of `source` to the end of `target` (numbered after its last
    seq, in their order) and resolves `source` as merged into `target`. Only two
    conversations of the same customer merge. Both rows are locked in pk order."""
    if source.pk == target.pk:
        raise ValidationError({"into": [_("A conversation cannot be merged into itself.")]})
    locked = {
        c.pk: c
        for c in Conversation.objects.select_for_update(no_key=True)
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    source, target = locked[source.pk], locked[target.pk]
    if source.customer_id != target.customer_id:
        raise ValidationError(
            {"into": [_("Only conversations of the same customer can be merged.")]}
        )
    if source.merged_into_id or target.merged_into_id:
        raise ValidationError({"into": [_("This conversation was already merged.")]})
    moved_count = source.messages.count()
    with connection.cursor() as cursor:
        cursor.execute(
            _MOVE_MESSAGES_SQL.format(message=Message._meta.db_table),
            {"target": target.pk, "source": source.pk, "base": target.last_seq},
        )
    target.last_seq += moved_count
    if source.last_message_at and (
        target.last_message_at is None or source.last_message_at > target.last_message_at
    ):
        target.last_message_at = source.last_message_at
        target.last_message_preview = source.last_message_preview
    if source.last_inbound_at and (
        target.last_inbound_at is None or source.last_inbound_at > target.last_inbound_at
    ):
        target.last_inbound_at = source.last_inbound_at
    target.unread_count = target.messages.filter(
        direction=MessageDirection.INBOUND, private=False, seq__gt=target.agent_read_seq
    ).count()
    if (
        source.status != ConversationStatus.RESOLVED
        and target.status == ConversationStatus.RESOLVED
    ):
        target.status = ConversationStatus.OPEN
    target.save(
        update_fields=[
            "last_seq",
            "last_message_at",
            "last_message_preview",
            "last_inbound_at",
            "unread_count",
            "status",
            "updated_at",
        ]
    )
    target.tags.add(*source.tags.all())

    previous_status = source.status
    now = timezone.now()
    source.last_seq = 0  # its own numbering starts again: its activity entry is #1
    source.agent_read_seq = source.customer_read_seq = source.unread_count = 0
    source.status = ConversationStatus.RESOLVED
    source.resolved_at = (
        source.resolved_at if previous_status == ConversationStatus.RESOLVED else now
    )
    source.merged_into = target
    source.claimed_by = None
    source.claimed_until = None
    source.queued_at = None
    source.snoozed_until = None
    source.save(
        update_fields=[
            "last_seq",
            "agent_read_seq",
            "customer_read_seq",
            "unread_count",
            "status",
            "resolved_at",
            "merged_into",
            "claimed_by",
            "claimed_until",
            "queued_at",
            "snoozed_until",
            "updated_at",
        ]
    )
    if previous_status != ConversationStatus.RESOLVED:
        sla_on_status(conversation=source, previous_status=previous_status)
        if source.assignee_id:
            _capacity_freed(source.assignee_id)
    names = {"name": _actor_name(actor), "count": moved_count}
    _activity(
        target,
        _("%(name)s merged %(count)d messages from another conversation into this one.") % names,
        actor=actor,
        kind="merged_in",
        other=str(source.uuid),
    )
    _activity(
        source,
        _("%(name)s merged this conversation's %(count)d messages into another one.") % names,
        actor=actor,
        kind="merged_into",
        other=str(target.uuid),
    )
    push_conversation_fresh(source.pk)
    push_conversation_fresh(target.pk)
    return target


# --- Bulk ------------------------------------------------------------------------------


def conversations_bulk(*, user: User, uuids: list, action: str, **params) -> list[dict]:
    """Applies one action to a selection, each conversation through its single-item
    service and in its own transaction, only to conversations `user` may see. Returns one
    result per id: {"id", "ok"} plus "error" {code, message} when it failed."""
    if action not in BULK_ACTIONS:
        raise ValidationError(
            {"action": [_("Use one of: %(values)s.") % {"values": ", ".join(BULK_ACTIONS)}]}
        )
    if len(uuids) > BULK_MAX:
        raise ValidationError({"ids": [_("At most %(n)d at once.") % {"n": BULK_MAX}]})
    now = timezone.now()
    apply = _bulk_action(user=user, action=action, params=params, now=now)
    visible = {str(c.uuid): c for c in conversation_list(user=user).filter(uuid__in=uuids)}
    results = []
    for uuid in dict.fromkeys(str(u) for u in uuids):
        conversation = visible.get(uuid)
        if conversation is None:
            results.append(
                {
                    "id": uuid,
                    "ok": False,
                    "error": {"code": "not_found", "message": _("Not found.")},
                }
            )
            continue
        try:
            with transaction.atomic():
                apply(conversation)
        except ValidationError as error:
            results.append(
                {
                    "id": uuid,
                    "ok": False,
                    "error": {"code": "invalid", "message": " ".join(error.messages)},
                }
            )
        except PermissionDenied as error:
            results.append(
                {
                    "id": uuid,
                    "ok": False,
                    "error": {
                        "code": "permission_denied",
                        "message": str(error) or _("Not allowed."),
                    },
                }
            )
        else:
            results.append({"id": uuid, "ok": True})
    return results


def _bulk_action(*, user: User, action: str, params: dict, now: datetime.datetime):
    """The single-item call for `action`, its parameters checked once up front."""
    if action in ("resolve", "snooze", "status"):
        status = {
            "resolve": ConversationStatus.RESOLVED,
            "snooze": ConversationStatus.SNOOZED,
        }.get(action, params.get("status"))
        snoozed_until = params.get("snoozed_until")
        status_validate(status=status or "", snoozed_until=snoozed_until, now=now)
        return lambda c: conversation_status_set(
            conversation=c, status=status, actor=user, snoozed_until=snoozed_until
        )
    if action == "tag":
        names = tag_names_clean(params.get("tags") or [])
        if not names:
            raise ValidationError({"tags": [_("Give at least one tag.")]})
        return lambda c: conversation_tags_set(conversation=c, names=names, actor=user, add=True)
    if action == "priority":
        priority = params.get("priority")
        if priority not in Priority.values:
            raise ValidationError({"priority": [_("Give a priority.")]})
        return lambda c: conversation_priority_set(conversation=c, priority=priority, actor=user)
    # assign, by the rule of `assignment_permitted`: a request no conversation could pass
    # is refused as a whole; giving back someone else's conversation fails on that item.
    from .assignment import KEEP, assignment_permitted, conversation_assign

    agent, team = params.get("agent"), params.get("team")
    team_given = team is not None
    if user.role not in SEE_ALL_ROLES and (
        team_given or (agent is not None and agent.pk != user.pk)
    ):
        raise PermissionDenied(
            _("Agents may only take a conversation or give theirs back; transfer it instead.")
        )

    def assign(conversation: Conversation) -> Conversation:
        if not assignment_permitted(
            user=user, conversation=conversation, agent=agent, changes_team=team_given
        ):
            raise PermissionDenied(_("You can only give back your own conversations."))
        return conversation_assign(
            conversation=conversation,
            agent=agent,
            team=team if team_given else KEEP,
            actor=user,
        )

    return assign
