"""The widget's socket: the visitor authenticates with their token in the first message
(never in the URL, which servers log), joins their own group and receives pushes."""

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from inbox.realtime import visitor_group

from .services import visitor_conversation_get, visitor_session_get, widget_channel_get

AUTH_TIMEOUT_SECONDS = 10
CLOSE_UNAUTHENTICATED = 4401
CLOSE_UNKNOWN_WIDGET = 4404


class WidgetConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

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
        if self.group is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        if content.get("type") == "auth" and self.group is None:
            session = await database_sync_to_async(visitor_session_get)(
                channel=self.channel, token=str(content.get("token", ""))
            )
            if session is None:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            self.session = session
            self.group = visitor_group(
                customer_id=session.identity.customer_id, inbox_id=self.channel.inbox_id
            )
            await self.channel_layer.group_add(self.group, self.channel_name)
            self.auth_deadline.cancel()
            await self.send_json({"type": "ready"})
        elif content.get("type") == "ping" and self.group is not None:
            # The heartbeat's answer carries the newest seq, so a client also notices a push
            # lost at the end of a burst (no later message would reveal that gap).
            conversation = await database_sync_to_async(visitor_conversation_get)(
                session=self.session
            )
            await self.send_json(
                {"type": "pong", "last_seq": conversation.last_seq if conversation else 0}
            )

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def disconnect(self, code):
        if getattr(self, "auth_deadline", None) is not None:
            self.auth_deadline.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def push(self, message):
        await self.send_json(message["event"])
