"""Real clients of a live server for the websocket benchmarks: a keep-alive HTTP/1.1
connection per visitor (as a browser tab holds one), the widget's socket and the console's
socket, all on asyncio. Plus the world they need in the database (a website channel, agents
signed in through database sessions, visitors with their tokens) and its removal.

Kept small and allocation-light on purpose: the load generator shares two cores with the
server it measures."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import uvloop
from websockets.asyncio.client import ClientConnection, connect


def run(coroutine):
    """asyncio.run on uvloop (what uvicorn serves on): the clients share two cores with the
    server they measure, so they spend as little as they can."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


# --- HTTP -----------------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; requests on it are sequential. Like a browser,
    it opens a new one when the server has closed it for idleness (uvicorn does after 5 s)."""

    IDLE_SECONDS = 4.0  # reconnect before uvicorn's keep-alive timeout rather than race it

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def _open(self) -> None:
        await self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(
        self, method: str, path: str, body: dict | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        idle = time.monotonic() - self.last_used > self.IDLE_SECONDS
        if self.writer is None or self.writer.is_closing() or idle:
            await self._open()
        try:
            return await self._exchange(method, path, body, headers)
        except (ConnectionError, asyncio.IncompleteReadError):
            # Closed by the server between two requests: the request was not read (and a
            # message's client_id makes a repeat harmless anyway). Once more, on a new one.
            await self._open()
            return await self._exchange(method, path, body, headers)

    async def _exchange(self, method, path, body, headers) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}", "", ""]
        self.writer.write("\r\n".join(head).encode() + payload)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _sep, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            data = b""
            while size := int((await self.reader.readline()).strip() or b"0", 16):
                data += await self.reader.readexactly(size + 2)
                data = data[:-2]
            await self.reader.readline()
        else:
            data = await self.reader.readexactly(length)
        self.last_used = time.monotonic()
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


# --- Websockets -----------------------------------------------------------------------


async def ws_open(base_url: str, path: str, cookie: str = "") -> ClientConnection:
    """A socket as a browser on the server's own page opens it: its Origin, its cookies,
    permessage-deflate offered (browsers always offer it)."""
    url = base_url.replace("http://", "ws://", 1) + path
    headers = {"Cookie": cookie} if cookie else {}
    return await connect(
        url,
        origin=base_url,
        additional_headers=headers,
        proxy=None,
        open_timeout=30,
        max_queue=None,  # every push is read by a task of its own; never push back
        ping_interval=None,  # the server pings; idle browsers do not
    )


async def widget_socket(base_url: str, key: str, token: str) -> ClientConnection:
    """The widget's socket, authenticated with the visitor's token (its first message)."""
    socket = await ws_open(base_url, f"/ws/widget/{key}/")
    await socket.send(json.dumps({"type": "auth", "token": token}))
    while True:
        event = json.loads(await asyncio.wait_for(socket.recv(), 30))
        if event.get("type") == "ready":
            return socket


async def console_socket(base_url: str, path: str, cookie: str) -> ClientConnection:
    """The console's socket, signed in by its session cookie; returns once it is ready."""
    socket = await ws_open(base_url, path, cookie)
    while True:
        event = json.loads(await asyncio.wait_for(socket.recv(), 30))
        if event.get("type") == "ready":
            return socket


async def gather_limited(coroutines, limit: int):
    """Like asyncio.gather, at most `limit` at a time (connecting 2,000 sockets at once only
    measures the accept queue)."""
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine):
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(one(c) for c in coroutines))


# --- The world in the database ----------------------------------------------------------


SESSION_PREFIX = "bench"  # + the run's id: the agents' sessions of one run


@dataclass
class World:
    tag: str
    inbox_id: int
    channel_id: int
    public_key: str
    agent_ids: list[int]
    agent_cookies: list[str]
    visitor_tokens: list[str]


def world_create(name: str, *, agents: int, visitors: int, assign: bool) -> World:
    """A website channel whose inbox has no members, `agents` agents in no inbox (each
    hears only what is assigned to them) signed in through database sessions, and
    `visitors` widget visitors with their tokens. With `assign`, visitor i has a
    conversation assigned to agent i."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from accounts.enums import Role
    from accounts.models import User
    from channels_app.models import ChannelAccount
    from channels_app.widget.services import visitor_token_issue
    from customers.enums import IdentityKind, Verification
    from customers.models import Customer, Identity
    from inbox.models import Conversation, Inbox

    run = uuid.uuid4().hex[:8]
    tag = f"{name}-{run}"
    inbox = Inbox.objects.create(name=f"bench {tag}")
    channel = ChannelAccount.objects.create(kind="web", name=f"bench {tag}", inbox=inbox)
    users = User.objects.bulk_create(
        User(email=f"{tag}-{n}@bench.invalid", display_name=f"Agent {n}", password="!")
        for n in range(agents)
    )
    group = Group.objects.get(name=Role.AGENT)
    User.groups.through.objects.bulk_create(
        User.groups.through(user_id=user.pk, group_id=group.pk) for user in users
    )
    store = SessionStore()
    expires = timezone.now() + timedelta(days=1)
    sessions = [
        Session(
            session_key=f"{SESSION_PREFIX}{run}{uuid.uuid4().hex[:24]}",
            session_data=store.encode(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            ),
            expire_date=expires,
        )
        for user in users
    ]
    Session.objects.bulk_create(sessions)
    # Visitors as the widget's session endpoint makes them (a customer with a web_visitor
    # identity on this channel), inserted in bulk: a thousand go in seconds, not a minute.
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        Customer(first_seen_at=now, last_seen_at=now, lead_source={"bench": name})
        for _n in range(visitors)
    )
    identities = Identity.objects.bulk_create(
        Identity(
            customer=customer,
            kind=IdentityKind.WEB_VISITOR,
            value=uuid.uuid4().hex,
            verified=True,
            verification=Verification.CHANNEL,
            channel=channel,
            details={"context": {"page_url": f"https://bench.invalid/{tag}"}},
        )
        for customer in customers
    )
    tokens = [visitor_token_issue(channel=channel, identity=identity) for identity in identities]
    if assign:
        Conversation.objects.bulk_create(
            Conversation(
                inbox=inbox,
                customer=identity.customer,
                identity=identity,
                assignee=users[n % len(users)],
                last_message_at=now,
            )
            for n, identity in enumerate(identities)
        )
    return World(
        tag=tag,
        inbox_id=inbox.pk,
        channel_id=channel.pk,
        public_key=channel.public_key,
        agent_ids=[user.pk for user in users],
        agent_cookies=[f"{settings.SESSION_COOKIE_NAME}={s.session_key}" for s in sessions],
        visitor_tokens=tokens,
    )


def world_delete(world: World) -> None:
    """Removes everything `world_create` and the run made: messages, conversations, the
    visitors' customers, the agents and their sessions, the channel and its inbox."""
    from django.contrib.sessions.models import Session
    from django.db import transaction

    from accounts.models import User
    from channels_app.models import ChannelAccount
    from customers.models import Customer, Identity
    from inbox.models import Conversation, Inbox, Message

    with transaction.atomic():
        customer_ids = set(
            Identity.objects.filter(channel_id=world.channel_id).values_list(
                "customer_id", flat=True
            )
        )
        conversations = Conversation.objects.filter(inbox_id=world.inbox_id)
        customer_ids |= set(conversations.values_list("customer_id", flat=True))
        Message.objects.filter(conversation__inbox_id=world.inbox_id).delete()
        conversations.delete()
        Customer.objects.filter(pk__in=customer_ids).delete()
        ChannelAccount.objects.filter(pk=world.channel_id).delete()
        Inbox.objects.filter(pk=world.inbox_id).delete()
        Session.objects.filter(
            session_key__in=[c.partition("=")[2] for c in world.agent_cookies]
        ).delete()
        User.objects.filter(pk__in=world.agent_ids).delete()


def worlds_leftover_delete(name: str) -> int:
    """Worlds an interrupted run of benchmark `name` left behind (found by their inbox)."""
    from django.contrib.sessions.models import Session

    from accounts.models import User
    from channels_app.models import ChannelAccount
    from customers.models import Customer
    from inbox.models import Conversation, Inbox, Message

    count = 0
    for inbox in Inbox.objects.filter(name__startswith=f"bench {name}-"):
        tag = inbox.name.removeprefix("bench ")
        channel = ChannelAccount.objects.filter(inbox=inbox).first()
        agents = list(User.objects.filter(email__startswith=f"{tag}-").values_list("pk", flat=True))
        world_delete(
            World(
                tag=tag,
                inbox_id=inbox.pk,
                channel_id=channel.pk if channel else 0,
                public_key="",
                agent_ids=agents,
                agent_cookies=[],
                visitor_tokens=[],
            )
        )
        run = tag.rpartition("-")[2]
        Session.objects.filter(session_key__startswith=f"{SESSION_PREFIX}{run}").delete()
        count += 1
    # Visitors of a run stopped before its channel existed.
    tagged = Customer.objects.filter(lead_source__bench=name)
    Message.objects.filter(conversation__customer__in=tagged).delete()
    Conversation.objects.filter(customer__in=tagged).delete()
    tagged.delete()
    return count
