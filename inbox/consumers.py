"""The console's socket. It authenticates, joins the groups of what the user may see
and forwards pushes; every write goes through the REST API."""

import json
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.models import User

from .presence import agent_present
from .realtime import PUSH
from .selectors import conversation_get, realtime_groups_for_user
from .services.availability import console_connected, console_disconnected

# Close codes in the application range (4000-4999) that clients act on.
CLOSE_UNAUTHENTICATED = 4401


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]
    present_user_id: int | None = None

    async def connect(self):
        self.groups_joined = []
        # Accepted before the checks, so that a refused client sees why (the close code)
        # rather than a failed handshake.
        await self.accept()
        user = self.scope.get("user")
        groups = []
        if user is not None and user.is_authenticated and user.is_active:
            groups = await database_sync_to_async(self._groups_for)(user)
        if not groups:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = groups
        self.present_user_id = user.pk
        await database_sync_to_async(console_connected)(user=user)
        await self.send_json({"type": "ready"})

    @staticmethod
    def _groups_for(user) -> list[str]:
        return realtime_groups_for_user(user=user) if user.role else []

    async def disconnect(self, code):
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        # Only a socket counted on connect is counted off (a refused one never was).
        if getattr(self, "present_user_id", None) is not None:
            user_id, self.present_user_id = self.present_user_id, None
            await database_sync_to_async(console_disconnected)(user_id=user_id)

    async def receive_json(self, content, **kwargs):
        # The only message a console sends is its heartbeat, which keeps the agent present.
        # Its answer carries the newest seq of the conversation the console has open, so a
        # push lost at the end of a burst is noticed too (no later message would show it).
        # The user is read again with it: the socket follows what they may see now (taken
        # out of an inbox or a team, given another role), and closes once they may not
        # sign in or have no role any more.
        if isinstance(content, dict) and content.get("type") == "ping":
            pong, groups = await database_sync_to_async(self._heartbeat)(
                content.get("conversation")
            )
            if not groups:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            await self._follow(groups)
            await self.send_json(pong)

    async def _follow(self, groups: list[str]) -> None:
        for group in groups:
            if group not in self.groups_joined:
                await self.channel_layer.group_add(group, self.channel_name)
        for group in self.groups_joined:
            if group not in groups:
                await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = groups

    def _heartbeat(self, conversation_id) -> tuple[dict, list[str]]:
        user = User.objects.filter(pk=self.scope["user"].pk, is_active=True).first()
        groups = self._groups_for(user) if user is not None else []
        if not groups:
            return {}, []
        agent_present(user_id=user.pk)
        pong = {"type": "pong"}
        if conversation_id:
            try:
                conversation = conversation_get(user=user, uuid=uuid.UUID(str(conversation_id)))
            except ValueError:
                conversation = None
            if conversation is not None:
                pong.update(conversation=str(conversation.uuid), last_seq=conversation.last_seq)
        return pong, groups

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except ValueError:
            return None  # ignored, like any message we do not expect

    async def dispatch(self, message):
        # A push only goes out on the socket. Channels would first hop to its database
        # thread to close old connections, once per push per socket; none is used here.
        if message["type"] == PUSH:
            await self.push(message)
        else:
            await super().dispatch(message)

    async def push(self, message):
        await self.send_json(message["event"])
