"""The only place that pushes to browsers. Services call these functions from
`transaction.on_commit`, so nothing is pushed that the database does not hold.

A push is a hint: the channel layer delivers at most once, so every client keeps the
newest `seq` it has and fetches from the REST API after a reconnect or on seeing a gap.

Groups:
- `staff`: supervisors and admins (they see every conversation);
- `inbox.<id>`, `team.<id>`, `user.<id>`: agents, by the paths in
  `selectors.conversation_visibility_filter`;
- `visitor.<identity id>.<inbox id>`: the widget sessions that may see the conversations
  running on that identity in that inbox: the browser's own visitor identity, and the web
  user a session was verified as. Keyed by identity, not customer: a merge changes the
  customer, never what a widget session may see.
"""

import asyncio
import functools
import logging
import os
import threading

from channels.layers import get_channel_layer
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, prefetch_related_objects
from rest_framework import serializers

from accounts.models import User

from .models import Conversation, Inbox, Message

logger = logging.getLogger(__name__)

STAFF_GROUP = "staff"
# The consumer method that forwards an event to its socket (`push` → `Consumer.push`).
PUSH = "push"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def visitor_group(*, identity_id: int, inbox_id: int) -> str:
    return f"visitor.{identity_id}.{inbox_id}"


def _visitor_groups(conversation: Conversation) -> list[str]:
    """The widget group of the identity the conversation runs on (none without one)."""
    if conversation.identity_id is None:
        return []
    return [visitor_group(identity_id=conversation.identity_id, inbox_id=conversation.inbox_id)]


def unassigned_group(group: str) -> str:
    """The group of the unassigned conversations of an inbox or team (`inbox.<id>`)."""
    return f"{group}.unassigned"


def agent_groups(conversation: Conversation) -> list[str]:
    """Every group whose members may see this conversation. In an inbox open to all its
    agents: the inbox's and teams' groups. In an inbox whose visibility is "assigned", its
    agents see only their own and the unassigned conversations: the inbox's and teams'
    `.unassigned` groups while it is unassigned, and the assignee's own group. (When a
    conversation is assigned, those who saw it before and no longer do are told by
    `push_conversation_moved`.)"""
    from .enums import InboxVisibility

    team_ids = getattr(conversation, "inbox_team_ids", None)  # read with it (_for_push)
    if team_ids is None:
        team_ids = _inbox_team_ids(conversation.inbox_id)
    paths = [f"inbox.{conversation.inbox_id}"] + [f"team.{team_id}" for team_id in team_ids]
    if conversation.team_id:
        paths.append(f"team.{conversation.team_id}")
    if conversation.inbox.visibility != InboxVisibility.ASSIGNED:
        groups = [STAFF_GROUP, *paths]
    elif conversation.assignee_id is None:
        groups = [STAFF_GROUP, *(unassigned_group(path) for path in paths)]
    else:
        groups = [STAFF_GROUP]
    if conversation.assignee_id:
        groups.append(user_group(conversation.assignee_id))
    return list(dict.fromkeys(groups))


def _inbox_team_ids(inbox_id: int) -> list[int]:
    return list(
        Inbox.teams.through.objects.filter(inbox_id=inbox_id).values_list("team_id", flat=True)
    )


def _conversation_for_push(conversation_id: int) -> Conversation:
    """The conversation as committed, with what its push shows and the teams of its inbox
    (for `agent_groups`), in one query."""
    from .selectors import with_list_fields

    inbox_teams = Inbox.teams.through.objects.filter(inbox_id=OuterRef("inbox_id"))
    return (
        with_list_fields(Conversation.objects.all())
        .annotate(inbox_team_ids=ArraySubquery(inbox_teams.values("team_id")))
        .get(pk=conversation_id)
    )


class _Publisher:
    """One event loop per process, in a daemon thread, that every push goes through: the
    channel layer keeps its Redis connections per event loop, so pushing from a fresh loop
    each time (async_to_sync in a worker or a script) would reconnect on every message."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # a forked worker starts anew
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(
                    target=self._loop.run_forever, name="realtime-publisher", daemon=True
                ).start()
            return self._loop

    def send(self, sends: list[tuple[str, dict]]) -> None:
        """Sends each (group, message) at once, in one hop to the publisher's loop."""
        layer = get_channel_layer()
        if layer is None:
            return

        async def send_all():
            await asyncio.gather(*(layer.group_send(group, message) for group, message in sends))

        future = asyncio.run_coroutine_threadsafe(send_all(), self.loop())
        future.result(timeout=SEND_TIMEOUT_SECONDS)


_publisher = _Publisher()
SEND_TIMEOUT_SECONDS = 5


def _send(groups: list[str], event: dict, *, handler: str = PUSH) -> None:
    _send_each([(groups, event)], handler=handler)


def _send_each(pushes: list[tuple[list[str], dict]], *, handler: str = PUSH) -> None:
    """Each event to its groups, all in one hop to the publisher (a request thread waits for
    it, and every hop between threads waits for the GIL)."""
    sends = [
        (group, {"type": handler, "event": event}) for groups, event in pushes for group in groups
    ]
    if not sends:
        return
    try:
        _publisher.send(sends)
    except Exception:
        # Clients catch up by seq; a failed push must not fail the write that is committed.
        kinds = sorted({event.get("type") for _groups, event in pushes})
        logger.warning("Realtime push of %s failed", ", ".join(kinds), exc_info=True)


# The widget consumer's method that re-reads its session and joins its groups again.
VISITOR_REJOIN = "visitor.rejoin"


def push_visitor_session_changed(*, identity_id: int, inbox_id: int) -> None:
    """A visitor's session now sees other identities (verified as a web user): its sockets
    re-read the session and join their groups again. Not forwarded to the browser."""
    _send(
        [visitor_group(identity_id=identity_id, inbox_id=inbox_id)],
        {"type": "session"},
        handler=VISITOR_REJOIN,
    )


@functools.cache
def _shape(serializer_class: type) -> serializers.BaseSerializer:
    """One instance per serializer class, for `to_representation`: building a serializer's
    fields costs ten times what using them does, and nothing in them depends on the call."""
    return serializer_class()


def push_message_created(message: Message) -> None:
    from .serializers import (
        ConversationSerializer,
        CustomerMessageSerializer,
        MessageSerializer,
    )

    conversation = _conversation_for_push(message.conversation_id)
    message.conversation = conversation
    # Read once for both shapes (and for the caller's response, which serialises it too).
    prefetch_related_objects([message], "attachments")
    _send_each(
        [
            (
                agent_groups(conversation),
                {
                    "type": "message.created",
                    "conversation": _shape(ConversationSerializer).to_representation(conversation),
                    "message": _shape(MessageSerializer).to_representation(message),
                },
            ),
            (
                [] if message.private else _visitor_groups(conversation),
                {
                    "type": "message.created",
                    "conversation": str(conversation.uuid),
                    "message": _shape(CustomerMessageSerializer).to_representation(message),
                },
            ),
        ]
    )


def push_message_updated(message: Message) -> None:
    """A stored message changed: its delivery status, a reaction, an edit or a deletion."""
    from .serializers import CustomerMessageSerializer, MessageSerializer

    conversation = Conversation.objects.get(pk=message.conversation_id)
    message.conversation = conversation
    _send(
        agent_groups(conversation),
        {
            "type": "message.updated",
            "conversation": str(conversation.uuid),
            "message": MessageSerializer(message).data,
        },
    )
    _send(
        [] if message.private else _visitor_groups(conversation),
        {
            "type": "message.updated",
            "conversation": str(conversation.uuid),
            "message": CustomerMessageSerializer(message).data,
        },
    )


def push_conversation_updated(conversation: Conversation) -> None:
    from .serializers import ConversationSerializer

    _send(
        agent_groups(conversation),
        {"type": "conversation.updated", "conversation": ConversationSerializer(conversation).data},
    )


def push_read(conversation: Conversation, *, reader: str, seq: int) -> None:
    event = {"type": "read", "conversation": str(conversation.uuid), "reader": reader, "seq": seq}
    _send(agent_groups(conversation), event)
    _send(_visitor_groups(conversation), event)


def push_typing(
    conversation: Conversation, *, sender: str, typing: bool, agent: User | None = None
) -> None:
    event = {
        "type": "typing",
        "conversation": str(conversation.uuid),
        "sender": sender,
        "typing": typing,
        "name": agent.display_name if agent else "",
    }
    if sender == "customer":
        _send(agent_groups(conversation), event)
    else:
        _send(_visitor_groups(conversation), event)
        # Other agents see that a colleague is typing too.
        _send(agent_groups(conversation), {**event, "agent_id": agent.pk if agent else None})


def push_ai_draft(conversation: Conversation, *, text: str, state: str) -> None:
    """The AI's answer as it is written (`state` "writing"), or the end of a draft that
    will not be sent ("discarded": the conversation went to a person). Agents get an
    `ai.draft` event; the widget gets it as the agent side typing, with the `text` so far.
    The stored message follows as a normal message.created; the draft is never stored."""
    writing = state == "writing"
    to_agents = {
        "type": "ai.draft",
        "conversation": str(conversation.uuid),
        "text": text,
        "state": state,
    }
    to_visitor = {
        "type": "typing",
        "conversation": str(conversation.uuid),
        "sender": "agent",
        "typing": writing,
        "name": "",
        "text": text if writing else "",
    }
    _send_each(
        [(_visitor_groups(conversation), to_visitor), (agent_groups(conversation), to_agents)]
    )


def push_notification(notification) -> None:
    from .serializers import NotificationSerializer

    _send(
        [user_group(notification.user_id)],
        {"type": "notification", "notification": NotificationSerializer(notification).data},
    )


def push_csat_requested(conversation: Conversation, *, question: str) -> None:
    """The widget asks its visitor to rate the resolved conversation (1 to 5)."""
    _send(
        _visitor_groups(conversation),
        {"type": "csat", "conversation": str(conversation.uuid), "question": question},
    )


def push_conversation_moved(conversation: Conversation, *, previous_groups: list[str]) -> None:
    """A conversation changed hands (assignee, team or inbox): `conversation.updated` to
    who sees it now, and `conversation.removed` (its id only) to the groups that saw it
    before and no longer do, so that their lists drop the row. `previous_groups` is
    `agent_groups(conversation)` read before the change. A member of a group that lost it
    may still see it by another path (it was assigned to them): the console treats
    `conversation.removed` as a hint and asks the API for the conversation (404: gone)."""
    push_conversation_updated(conversation)
    current = set(agent_groups(conversation))
    gone = [group for group in previous_groups if group not in current]
    _send(gone, {"type": "conversation.removed", "conversation": str(conversation.uuid)})
