"""The widget's socket: the visitor authenticates with their token in the first message
(never in the URL, which servers log), joins the groups of what the session may see (its
visitor identity, and the web user it was verified as) and receives pushes."""

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from inbox.realtime import PUSH, visitor_group

from .services import (
    VisitorSession,
    visitor_conversation_get,
    visitor_session_get,
    widget_channel_get,
)

AUTH_TIMEOUT_SECONDS = 10
CLOSE_UNAUTHENTICATED = 4401
CLOSE_UNKNOWN_WIDGET = 4404


def _pong(*, channel, token: str) -> tuple[VisitorSession | None, int]:
    """The session as it is now (verified since? merge undone?) and its newest seq."""
    session = visitor_session_get(channel=channel, token=token)
    if session is None:
        return None, 0
    conversation = visitor_conversation_get(session=session)
    return session, conversation.last_seq if conversation else 0


class WidgetConsumer(AsyncJsonWebsocketConsumer):
    session: VisitorSession | None = None
    groups_joined: frozenset[str] = frozenset()

    async def connect(self):
        await self.accept()
        self.channel = await database_sync_to_async(widget_channel_get)(
            self.scope["url_route"]["kwargs"]["public_key"]
        )
        if self.channel is None:
            await self.close(code=CLOSE_UNKNOWN_WIDGET)
            return
        self.auth_deadline = asyncio.get_running_loop().call_later(
            AUTH_TIMEOUT_SECONDS, lambda: asyncio.ensure_future(self._close_unauthenticated())
        )

    async def _close_unauthenticated(self):
        if self.session is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _join(self, session: VisitorSession | None) -> bool:
        """Joins the groups of what `session` may see and leaves any others; False (and
        closes) when the session is no longer valid."""
        if session is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return False
        self.session = session
        wanted = frozenset(
            visitor_group(identity_id=identity_id, inbox_id=self.channel.inbox_id)
            for identity_id in session.visible_identity_ids
        )
        for group in wanted - self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        for group in self.groups_joined - wanted:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = wanted
        return True

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        if content.get("type") == "auth" and self.session is None:
            session = await database_sync_to_async(visitor_session_get)(
                channel=self.channel, token=str(content.get("token", ""))
            )
            if await self._join(session):
                self.auth_deadline.cancel()
                await self.send_json({"type": "ready"})
        elif content.get("type") == "ping" and self.session is not None:
            # The heartbeat's answer carries the newest seq, so a client also notices a push
            # lost at the end of a burst (no later message would reveal that gap). The
            # session is read again, so the groups follow what it may see now.
            session, last_seq = await database_sync_to_async(_pong)(
                channel=self.channel, token=self.session.token
            )
            if await self._join(session):
                await self.send_json({"type": "pong", "last_seq": last_seq})

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def disconnect(self, code):
        if getattr(self, "auth_deadline", None) is not None:
            self.auth_deadline.cancel()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = frozenset()

    async def dispatch(self, message):
        # A push only goes out on the socket: no hop to Channels' database thread first
        # (see inbox.consumers.ConsoleConsumer.dispatch).
        if message["type"] == PUSH:
            await self.push(message)
        else:
            await super().dispatch(message)

    async def push(self, message):
        await self.send_json(message["event"])

    async def visitor_rejoin(self, message):
        """From `inbox.realtime.push_visitor_session_changed`: the session was verified."""
        if self.session is None:
            return
        session = await database_sync_to_async(visitor_session_get)(
            channel=self.channel, token=self.session.token
        )
        await self._join(session)
