"""SLA clocks: first response, next response and resolution, in business hours.

The policy is the inbox's `sla_policy`, copied onto the conversation when it is created
(a later change of the inbox's policy leaves running conversations as they were). Time
is counted in the policy's business hours, else the inbox's, else around the clock.

- First response: due `first_response_minutes` of business time after creation; met by
  the first public reply of a human agent (not a note, not the AI), which also sets
  `first_response_at`.
- Next response: a customer message after an agent's reply starts it (due
  `next_response_minutes` later); the next agent reply meets it. Further customer
  messages while it runs do not move it.
- Resolution: due `resolution_minutes` after creation.

The clocks run while the conversation is open or snoozed and stop while it is pending
(waiting on the customer) or resolved. Stopping stores the business seconds left per
target in `sla_clock` and clears the `*_due_at` fields; starting again sets the due times
from what was left, counted from that moment. A target already overdue when the clocks
stop keeps its original due time and gets it back. Reopening a resolved conversation
resumes the clocks the same way: the resolution clock continues with the time that was
left, it does not start over (resolution time is the conversation's open time in total).

`sla_clock` while stopped: {"paused": true, "paused_at": iso, "left": {target: seconds},
"overdue": {target: iso due time}}; while running: {}.

A target missed is recorded once per (conversation, target, due time) as an SlaBreach:
by the sweeper `sla_breaches_record` (every minute; supervisors, admins and the assignee
are notified), or when a clock stops after its due time (recorded for reports; notified
only when the target is still unmet, i.e. on pending, not on a late reply or resolution).
"""

import datetime
import logging

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.enums import Role
from accounts.models import User

from ..enums import ConversationStatus, MessageDirection, NotificationKind, SenderType, SlaTarget
from ..models import BusinessHours, Conversation, Message, SlaBreach, SlaPolicy
from .business_hours import hours_add, hours_between
from .notifications import notification_create

logger = logging.getLogger(__name__)

# The fields these hooks change on a conversation (message_append reads them under its
# row lock and copies them back).
SLA_FIELDS = (
    "first_response_at",
    "first_response_due_at",
    "next_response_due_at",
    "resolution_due_at",
    "sla_clock",
)
DUE_FIELDS = {
    SlaTarget.FIRST_RESPONSE: "first_response_due_at",
    SlaTarget.NEXT_RESPONSE: "next_response_due_at",
    SlaTarget.RESOLUTION: "resolution_due_at",
}
_MINUTES = {
    SlaTarget.FIRST_RESPONSE: "first_response_minutes",
    SlaTarget.NEXT_RESPONSE: "next_response_minutes",
    SlaTarget.RESOLUTION: "resolution_minutes",
}
# Statuses in which the clocks run; pending and resolved stop them.
RUNNING_STATUSES = frozenset({ConversationStatus.OPEN, ConversationStatus.SNOOZED})


def sla_schedule(*, conversation: Conversation) -> BusinessHours | None:
    """The hours the conversation's clocks count: the policy's, else the inbox's."""
    policy = conversation.sla_policy
    if policy is not None and policy.business_hours_id:
        return policy.business_hours
    return conversation.inbox.business_hours


def _seconds(policy: SlaPolicy, target: str) -> int | None:
    minutes = getattr(policy, _MINUTES[target])
    return None if minutes is None else minutes * 60


def _store(conversation: Conversation, fields) -> None:
    fields = list(dict.fromkeys(fields))
    if fields:
        Conversation.objects.filter(pk=conversation.pk).update(
            **{field: getattr(conversation, field) for field in fields}
        )


def _paused(conversation: Conversation) -> bool:
    return bool((conversation.sla_clock or {}).get("paused"))


def _start(conversation: Conversation, target: str, *, at: datetime.datetime) -> list[str]:
    """Starts `target`'s clock at `at` (stored as time left when the clocks are stopped)."""
    seconds = _seconds(conversation.sla_policy, target)
    if seconds is None:
        return []
    if _paused(conversation):
        clock = dict(conversation.sla_clock)
        clock["left"] = {**clock.get("left", {}), target: seconds}
        conversation.sla_clock = clock
        return ["sla_clock"]
    field = DUE_FIELDS[target]
    setattr(
        conversation,
        field,
        hours_add(schedule=sla_schedule(conversation=conversation), start=at, seconds=seconds),
    )
    return [field]


def _stop(conversation: Conversation, target: str, *, at: datetime.datetime) -> list[str]:
    """`target` was met at `at`: its clock stops; a late one is recorded as a breach."""
    field = DUE_FIELDS[target]
    due = getattr(conversation, field)
    if due is not None:
        if due <= at:
            _breach_record(conversation=conversation, target=target, due_at=due, now=at)
        setattr(conversation, field, None)
        return [field]
    clock = conversation.sla_clock or {}
    if target in clock.get("left", {}) or target in clock.get("overdue", {}):
        conversation.sla_clock = {
            **clock,
            "left": {k: v for k, v in clock.get("left", {}).items() if k != target},
            "overdue": {k: v for k, v in clock.get("overdue", {}).items() if k != target},
        }
        return ["sla_clock"]
    return []


def _pause(conversation: Conversation, *, at: datetime.datetime, notify: bool) -> list[str]:
    schedule = sla_schedule(conversation=conversation)
    left, overdue = {}, {}
    for target, field in DUE_FIELDS.items():
        due = getattr(conversation, field)
        if due is None:
            continue
        if due > at:
            left[target] = hours_between(schedule=schedule, start=at, end=due)
        else:
            overdue[target] = due.isoformat()
            _breach_record(
                conversation=conversation, target=target, due_at=due, now=at, notify=notify
            )
        setattr(conversation, field, None)
    conversation.sla_clock = {
        "paused": True,
        "paused_at": at.isoformat(),
        "left": left,
        "overdue": overdue,
    }
    return [*DUE_FIELDS.values(), "sla_clock"]


def _resume(conversation: Conversation, *, at: datetime.datetime) -> list[str]:
    schedule = sla_schedule(conversation=conversation)
    clock = conversation.sla_clock or {}
    for target, seconds in clock.get("left", {}).items():
        if target in DUE_FIELDS:
            due = hours_add(schedule=schedule, start=at, seconds=int(seconds))
            setattr(conversation, DUE_FIELDS[target], due)
    for target, due in clock.get("overdue", {}).items():
        if target in DUE_FIELDS:
            setattr(conversation, DUE_FIELDS[target], datetime.datetime.fromisoformat(due))
    conversation.sla_clock = {}
    return [*DUE_FIELDS.values(), "sla_clock"]


def sla_on_created(*, conversation: Conversation, now: datetime.datetime | None = None) -> None:
    """A conversation was created (inside its transaction): apply the inbox's policy and
    start the first response and resolution clocks at its creation."""
    policy = conversation.inbox.sla_policy
    if policy is None:
        return
    at = now or conversation.created_at or timezone.now()
    conversation.sla_policy = policy
    fields = ["sla_policy"]
    fields += _start(conversation, SlaTarget.FIRST_RESPONSE, at=at)
    fields += _start(conversation, SlaTarget.RESOLUTION, at=at)
    if conversation.status not in RUNNING_STATUSES:
        fields += _pause(conversation, at=at, notify=False)
    _store(conversation, fields)


def _is_agent_reply(message: Message) -> bool:
    return not message.private and message.sender_type == SenderType.AGENT


def _is_customer_message(message: Message) -> bool:
    return (
        not message.private
        and message.direction == MessageDirection.INBOUND
        and message.sender_type == SenderType.CUSTOMER
        and not (message.content or {}).get("automated")
    )


def sla_on_message(
    *, conversation: Conversation, message: Message, now: datetime.datetime | None = None
) -> None:
    """A message was stored on the conversation (inside its transaction). `conversation`
    carries the values the message just set (status: a customer message reopens a resolved
    conversation) and the clocks as read under the message's row lock (`message_append`
    returns them from its UPDATE), not as the caller's older copy saw them. The message
    counts at its `sent_at`, never later than now."""
    at = now or min(message.sent_at, timezone.now())
    agent_reply = _is_agent_reply(message)
    if conversation.sla_policy_id is None:
        # No clocks; the first response time is still kept for reports.
        unanswered = Conversation.objects.filter(pk=conversation.pk, first_response_at=None)
        if (
            agent_reply
            and conversation.first_response_at is None
            and unanswered.update(first_response_at=at)
        ):
            conversation.first_response_at = at
        return
    fields: list[str] = []
    if agent_reply and conversation.first_response_at is None:
        conversation.first_response_at = at
        fields.append("first_response_at")
    if conversation.status in RUNNING_STATUSES and _paused(conversation):
        fields += _resume(conversation, at=at)  # reopened by the customer's message
    if agent_reply:
        fields += _stop(conversation, SlaTarget.FIRST_RESPONSE, at=at)
        fields += _stop(conversation, SlaTarget.NEXT_RESPONSE, at=at)
    elif _is_customer_message(message) and conversation.first_response_at is not None:
        clock = conversation.sla_clock or {}
        running = conversation.next_response_due_at is not None or any(
            SlaTarget.NEXT_RESPONSE in clock.get(part, {}) for part in ("left", "overdue")
        )
        if not running:
            fields += _start(conversation, SlaTarget.NEXT_RESPONSE, at=at)
    _store(conversation, fields)


def sla_on_status(
    *,
    conversation: Conversation,
    previous_status: str,
    now: datetime.datetime | None = None,
) -> None:
    """The conversation's status changed (inside the transaction that changed it): stop
    the clocks on pending or resolved, start them again on open or snoozed."""
    if conversation.sla_policy_id is None or conversation.status == previous_status:
        return
    at = now or timezone.now()
    running = conversation.status in RUNNING_STATUSES
    fields: list[str] = []
    if running and _paused(conversation):
        fields = _resume(conversation, at=at)
    elif not running and not _paused(conversation):
        fields = _pause(
            conversation, at=at, notify=conversation.status != ConversationStatus.RESOLVED
        )
    _store(conversation, fields)


# --- Breaches ------------------------------------------------------------------------------


def _breach_recipients(conversation: Conversation, cache: dict | None = None) -> list[User]:
    """Supervisors and admins (active), and the conversation's assignee."""
    if cache is not None and "staff" in cache:
        staff = cache["staff"]
    else:
        staff = list(
            User.objects.filter(is_active=True)
            .filter(Q(is_superuser=True) | Q(groups__name__in=[Role.ADMIN, Role.SUPERVISOR]))
            .distinct()
        )
        if cache is not None:
            cache["staff"] = staff
    recipients = {user.pk: user for user in staff}
    if conversation.assignee_id and conversation.assignee_id not in recipients:
        assignee = conversation.assignee
        if assignee.is_active:
            recipients[assignee.pk] = assignee
    return list(recipients.values())


def _breach_record(
    *,
    conversation: Conversation,
    target: str,
    due_at: datetime.datetime,
    now: datetime.datetime,
    notify: bool = False,
    cache: dict | None = None,
) -> SlaBreach | None:
    """Records the breach once; returns it when it is new (and notifies if asked)."""
    breach, created = SlaBreach.objects.get_or_create(
        conversation=conversation,
        target=target,
        due_at=due_at,
        defaults={
            "policy_id": conversation.sla_policy_id,
            "breached_at": now,
            "assignee_id": conversation.assignee_id,
            "team_id": conversation.team_id,
        },
    )
    if not created:
        return None
    if notify:
        text = _("SLA missed: %(target)s for the conversation with %(customer)s was due %(due)s.")
        text = text % {
            "target": SlaTarget(target).label,
            "customer": conversation.customer,
            "due": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M"),
        }
        for user in _breach_recipients(conversation, cache):
            notification_create(
                user=user, kind=NotificationKind.SLA_BREACH, text=text, conversation=conversation
            )
    return breach


BREACH_BATCH = 500


def sla_breaches_record(*, now: datetime.datetime | None = None) -> int:
    """Records every target whose due time has passed and that has no breach yet for that
    due time, and notifies supervisors, admins and the assignee. Each conversation is
    recorded in its own transaction; safe to run twice or concurrently (the unique
    constraint keeps one breach). Returns how many breaches were recorded."""
    now = now or timezone.now()
    cache: dict = {}
    recorded = 0
    for target, field in DUE_FIELDS.items():
        already = SlaBreach.objects.filter(
            conversation=OuterRef("pk"), target=target, due_at=OuterRef(field)
        )
        overdue = (
            Conversation.objects.filter(**{f"{field}__lte": now})
            .filter(~Exists(already))
            .select_related("customer", "assignee")
            .order_by(field, "pk")
        )
        # Recorded rows drop out of `overdue`, so each round reads the next ones; the
        # bound only guards against a row that could never be recorded.
        for _round in range(1000):
            batch = list(overdue[:BREACH_BATCH])
            for conversation in batch:
                with transaction.atomic():
                    breach = _breach_record(
                        conversation=conversation,
                        target=target,
                        due_at=getattr(conversation, field),
                        now=now,
                        notify=True,
                        cache=cache,
                    )
                recorded += breach is not None
            if len(batch) < BREACH_BATCH:
                break
    if recorded:
        logger.info("Recorded %s SLA breaches", recorded)
    return recorded
