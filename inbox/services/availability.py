"""Agents' availability (online, busy, offline) and what follows from it: going online
drains the queues the agent serves; going offline hands their unanswered conversations
to someone else. Closing the last console tab takes an agent offline after a grace
period, and opening the console again brings them back."""

import datetime
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from ..enums import Availability
from ..models import AgentProfile
from ..presence import agent_absent, agent_present, any_agent_present
from .assignment import (
    capacity_freed,
    conversation_assign,
    conversations_without_reply,
)

logger = logging.getLogger(__name__)

# How long after the last console tab closed an agent is taken offline (a reload or a
# short network cut reconnects well within it).
CONSOLE_OFFLINE_GRACE_SECONDS = getattr(settings, "CONSOLE_OFFLINE_GRACE_SECONDS", 60)
# The socket counter is only a hint (a crashed server never decrements it): presence,
# which lapses by itself, has the last word, and the counter expires after a day.
SOCKETS_TTL = 24 * 60 * 60


def _sockets_key(user_id: int) -> str:
    return f"console-sockets:user:{user_id}"


def agent_profile_get(user: User) -> AgentProfile:
    profile, _created = AgentProfile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def agent_availability_set(
    *,
    user: User,
    availability: str,
    automatically: bool = False,
    now: datetime.datetime | None = None,
) -> AgentProfile:
    """Sets the agent's availability. Online drains the queues they serve; offline hands
    their conversations nobody has answered yet to other agents (or the queue)."""
    if availability not in Availability.values:
        raise ValueError(f"Unknown availability: {availability!r}")
    now = now or timezone.now()
    agent_profile_get(user)
    profile = AgentProfile.objects.select_for_update().get(pk=user.pk)
    previous = profile.availability
    profile.availability = availability
    profile.offline_automatically = automatically and availability == Availability.OFFLINE
    if previous != availability:
        profile.availability_changed_at = now
    profile.save()
    if availability == Availability.ONLINE and previous != Availability.ONLINE:
        capacity_freed(agent=user)
    if availability == Availability.OFFLINE and previous != Availability.OFFLINE:
        agent_reroute(user=user, now=now)
    return profile


def agent_reroute(*, user: User, now: datetime.datetime | None = None) -> int:
    """Gives the agent's conversations that no agent has answered yet to another agent of
    their team (or back to the queue). Returns how many moved."""
    moved = 0
    for conversation in conversations_without_reply(agent=user).select_related("team"):
        conversation_assign(
            conversation=conversation,
            agent=None,
            actor=None,
            note=_("%(agent)s went offline") % {"agent": user},
            now=now,
        )
        moved += 1
    return moved


def console_connected(*, user: User) -> None:
    """A console socket opened: the agent is present, and back online if they went
    offline only because their last tab closed."""
    key = _sockets_key(user.pk)
    cache.add(key, 0, timeout=SOCKETS_TTL)
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=SOCKETS_TTL)
    cache.touch(key, SOCKETS_TTL)
    agent_present(user_id=user.pk)
    # An agent opening the console for the first time never chose to be offline.
    profile, _created = AgentProfile.objects.get_or_create(
        user=user, defaults={"offline_automatically": True}
    )
    if profile.availability == Availability.OFFLINE and profile.offline_automatically:
        agent_availability_set(user=user, availability=Availability.ONLINE)


def console_disconnected(*, user_id: int) -> bool:
    """A console socket closed. When it was the user's last, they are no longer present
    and a check is scheduled after the grace period; returns whether it was."""
    from ..tasks.routing import availability_offline_check

    key = _sockets_key(user_id)
    try:
        left = cache.decr(key)
    except ValueError:
        left = 0
    if left > 0:
        return False
    cache.delete(key)
    agent_absent(user_id=user_id)
    availability_offline_check.apply_async(
        (user_id,), countdown=min(CONSOLE_OFFLINE_GRACE_SECONDS, 600)
    )
    return True


def console_sockets(*, user_id: int) -> int:
    return int(cache.get(_sockets_key(user_id)) or 0)


def agent_offline_if_absent(*, user_id: int) -> bool:
    """Takes the agent offline (automatically) when no console of theirs is open or
    present; returns whether it did."""
    if console_sockets(user_id=user_id) > 0 or any_agent_present(user_ids=[user_id]):
        return False
    profile = AgentProfile.objects.select_related("user").filter(pk=user_id).first()
    if profile is None or profile.availability == Availability.OFFLINE:
        return False
    agent_availability_set(user=profile.user, availability=Availability.OFFLINE, automatically=True)
    return True


def agents_lapsed_sweep() -> int:
    """Takes offline the agents shown online or busy whose consoles stopped sending
    heartbeats without closing (a crash, a lost network): what the disconnect check never
    heard of. Only agents whose console counter is still there (opened, never seen to
    close): one who works through the API alone, with no console, stays as they set it.
    Returns how many."""
    taken = 0
    user_ids = AgentProfile.objects.exclude(availability=Availability.OFFLINE).values_list(
        "pk", flat=True
    )
    counted = cache.get_many([_sockets_key(user_id) for user_id in user_ids])
    for user_id in user_ids:
        if _sockets_key(user_id) not in counted or any_agent_present(user_ids=[user_id]):
            continue
        cache.delete(_sockets_key(user_id))  # a counter left by a crashed server
        try:
            taken += agent_offline_if_absent(user_id=user_id)
        except Exception:
            logger.exception("Could not take agent %s offline", user_id)
    return taken


__all__ = [
    "CONSOLE_OFFLINE_GRACE_SECONDS",
    "agent_availability_set",
    "agent_offline_if_absent",
    "agent_profile_get",
    "agent_reroute",
    "agents_lapsed_sweep",
    "console_connected",
    "console_disconnected",
]
