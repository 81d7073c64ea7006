"""When the AI answers and when it stops. It takes a conversation at routing time
(`ai_first_line`, registered with the inbox's router) where an active profile serves the
inbox and channel and its working hours say so; it stops on a handoff (its own decision)
or when an agent takes over, and an agent can hand the conversation back.

Stopping is immediate: the handover sets a flag that a streaming answer checks between
deltas (the draft is then discarded, never sent), and every reply is checked against the
conversation's handler under its row lock before it is stored."""

import contextlib
import datetime
from collections.abc import Iterator
from functools import partial

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from inbox import realtime
from inbox.enums import Handler, MessageDirection, SenderType
from inbox.models import Conversation
from inbox.outbound import ReplyBlocked
from inbox.services.assignment import agents_free, conversation_to_ai, conversation_to_human
from inbox.services.business_hours import hours_is_open
from inbox.services.messages import message_append, message_send_ai
from inbox.services.routing import channel_kind

from ..enums import HandoffReason, WorkingMode
from ..models import AiConversation, AiProfile

STOP_SECONDS = 600


def _stop_key(conversation_id: int) -> str:
    return f"ai:stop:{conversation_id}"


def ai_stopped(conversation_id: int) -> bool:
    """Whether the AI was told to stop on this conversation (a handover, a takeover)."""
    return bool(cache.get(_stop_key(conversation_id)))


def _serving(conversation: Conversation) -> Iterator[AiProfile]:
    """The active profiles serving the conversation's inbox and channel."""
    kind = channel_kind(conversation)
    for profile in AiProfile.objects.filter(is_active=True, inboxes=conversation.inbox_id):
        if not profile.channel_kinds or kind in profile.channel_kinds:
            yield profile


def _ai_starts(conversation: Conversation, profile: AiProfile) -> None:
    """The AI (again) holds the conversation, with a clean slate."""
    AiConversation.objects.update_or_create(
        conversation=conversation,
        defaults={
            "profile": profile,
            "handed_off_at": None,
            "handoff_reason": "",
            "failed_attempts": 0,
        },
    )
    cache.delete(_stop_key(conversation.pk))


def ai_profile_for(conversation: Conversation, now: datetime.datetime) -> AiProfile | None:
    """The active profile that serves the conversation's inbox and channel and is on duty
    now (always, outside the inbox's business hours, or when no agent is free)."""
    for profile in _serving(conversation):
        if profile.working_mode == WorkingMode.OUTSIDE_HOURS:
            schedule = conversation.inbox.business_hours
            if schedule is None or hours_is_open(schedule=schedule, at=now):
                continue
        if profile.working_mode == WorkingMode.NO_AGENT_FREE and agents_free(
            conversation=conversation
        ):
            continue
        return profile
    return None


def ai_first_line(conversation: Conversation, now: datetime.datetime) -> bool:
    """The router's hook: the AI takes the conversation when a profile is on duty; its
    first answer is queued once the routing commits."""
    from ..tasks import ai_reply

    profile = ai_profile_for(conversation, now)
    if profile is None:
        return False
    _ai_starts(conversation, profile)
    transaction.on_commit(partial(ai_reply.delay, conversation.pk), robust=True)
    return True


def customer_language(conversation: Conversation, fallback: str = "") -> str:
    return fallback or conversation.language or conversation.customer.language or "en"


def in_language(code: str):
    """Django's translations in the customer's language (an ISO code such as "zh")."""
    return translation.override("zh-hans" if code.startswith("zh") else code or "en")


def handoff_text(profile: AiProfile, language: str) -> str:
    if profile.handoff_message.strip():
        return profile.handoff_message.strip()
    with in_language(language):
        return _("Let me get a colleague for you. Someone will be with you shortly.")


@transaction.atomic
def ai_handoff(
    *,
    conversation: Conversation,
    reason: str,
    summary: str,
    language: str = "",
    tell_customer: bool = True,
) -> bool:
    """The AI hands the conversation to a person: it stops at once, posts `summary` as a
    private note, tells the customer, and routing assigns an agent (or queues). False when
    the AI no longer held the conversation."""
    state = (
        AiConversation.objects.select_for_update()
        .select_related("profile")
        .filter(conversation=conversation, handed_off_at__isnull=True)
        .first()
    )
    cache.set(_stop_key(conversation.pk), 1, STOP_SECONDS)
    transaction.on_commit(
        partial(realtime.push_ai_draft, conversation, text="", state="discarded"), robust=True
    )
    if state is None or Conversation.objects.get(pk=conversation.pk).handler != Handler.AI:
        return False
    state.handed_off_at = timezone.now()
    state.handoff_reason = reason
    state.save(update_fields=["handed_off_at", "handoff_reason"])
    message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AI,
        body=summary,
        private=True,
        content={"ai_summary": {"reason": reason, "profile": state.profile.name}},
    )
    if tell_customer:
        # A closed reply window (ReplyBlocked): the agent will reach them another way.
        with contextlib.suppress(ReplyBlocked):
            message_send_ai(
                conversation=conversation,
                body=handoff_text(state.profile, customer_language(conversation, language)),
                content={"ai": {"profile": state.profile.name, "handoff": True}},
            )
    conversation_to_human(
        conversation=conversation,
        text=_("The AI agent handed this over: %(reason)s")
        % {"reason": HandoffReason(reason).label},
    )
    return True


@transaction.atomic
def ai_takeover(*, conversation: Conversation, agent: User) -> Conversation:
    """An agent takes the conversation from the AI in one click: the AI stops at once
    (a reply it is writing is discarded) and the agent is assigned."""
    cache.set(_stop_key(conversation.pk), 1, STOP_SECONDS)
    AiConversation.objects.filter(conversation=conversation, handed_off_at__isnull=True).update(
        handed_off_at=timezone.now(), handoff_reason=HandoffReason.AGENT
    )
    transaction.on_commit(
        partial(realtime.push_ai_draft, conversation, text="", state="discarded"), robust=True
    )
    return conversation_to_human(
        conversation=conversation,
        agent=agent,
        actor=agent,
        text=_("%(agent)s took this over from the AI agent")
        % {"agent": agent.display_name or agent.email},
    )


class NoProfile(Exception):
    """No active AI profile serves this conversation's inbox and channel."""


@transaction.atomic
def ai_hand_back(*, conversation: Conversation, actor: User) -> Conversation:
    """An agent gives the conversation back to the AI (which answers the customer's next
    message). Raises NoProfile when no active profile serves the inbox."""
    profile = next(_serving(conversation), None)
    if profile is None:
        raise NoProfile
    _ai_starts(conversation, profile)
    return conversation_to_ai(conversation=conversation, actor=actor)
