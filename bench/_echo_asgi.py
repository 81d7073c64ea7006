"""The baseline of bench/live_chat_latency.py: a bare Channels echo over the product's
channel layer (the same Redis pub/sub layer and settings) with no database and no Django
view. Served by uvicorn exactly as the product is:

    uvicorn bench._echo_asgi:application

- `POST /echo/messages/` with `Authorization: Visitor <agent id>` and `{"body": ...}`:
  group_sends a `message.created` push to the agent's group (`echo.user.<id>`), then
  answers 201;
- `/ws/console/<agent id>/`: the agent's socket, in that group, forwarding pushes;
- `/ws/widget/<key>/`: a visitor's socket that answers `auth` with `ready` and is then
  held open, so the server holds as many sockets as the product does;
- `GET /healthz`: 200."""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django

django.setup()  # only for CHANNEL_LAYERS: nothing here touches the database

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


def agent_group(agent_id) -> str:
    # Not the product's `user.<id>`: a product server on the same layer never hears these.
    return f"echo.user.{int(agent_id)}"


class AgentEchoConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.group = agent_group(self.scope["url_route"]["kwargs"]["agent"])
        await self.accept()
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "ready"})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def push(self, message):
        await self.send_json(message["event"])


class VisitorHoldConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "auth":
            await self.send_json({"type": "ready"})


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def http_app(scope, receive, send):
    if scope["path"] == "/healthz":
        await _respond(send, 200, {"ok": True})
        return
    if scope["path"] != "/echo/messages/" or scope["method"] != "POST":
        await _respond(send, 404, {"detail": "not found"})
        return
    headers = dict(scope["headers"])
    agent = int(headers.get(b"authorization", b"Visitor 0").split()[-1])
    body = json.loads(await _body(receive))
    message = {"body": body["body"]}
    await get_channel_layer().group_send(
        agent_group(agent),
        {"type": "push", "event": {"type": "message.created", "message": message}},
    )
    await _respond(send, 201, message)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": URLRouter(
            [
                path("ws/console/<int:agent>/", AgentEchoConsumer.as_asgi()),
                path("ws/widget/<str:key>/", VisitorHoldConsumer.as_asgi()),
            ]
        ),
    }
)
