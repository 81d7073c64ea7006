"""Live chat over real servers and real websocket clients."""

import json
import threading
from functools import partial

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from accounts.services import api_token_create
from channels_app.models import WidgetConfig
from channels_app.widget.services import user_hash
from customers.enums import IdentityKind
from customers.models import Identity, MergeSuggestion
from customers.services import merge_suggestion_confirm
from inbox.enums import MessageDirection, SenderType
from inbox.models import Conversation, Message
from inbox.services import message_append
from tests.factories.accounts import AgentFactory
from tests.factories.channels import WidgetConfigFactory
from tests.live.chat import Agent, Visitor, drain_messages, next_event
from tests.live.clients import session_cookies, ws_connect


@pytest.fixture
def world(transactional_db):
    config = WidgetConfigFactory()
    agent = AgentFactory()
    config.channel.inbox.members.add(agent)
    _token, key = api_token_create(user=agent, name="live test")
    return {"key": config.channel.public_key, "agent": agent, "token": key}


def conversation_of(visitor: Visitor) -> Conversation:
    return Conversation.objects.get(
        customer__identities__kind=IdentityKind.WEB_VISITOR,
        customer__identities__value=visitor.http.post(
            f"/widget/v1/{visitor.key}/session/", json={"token": visitor.token}
        ).json()["visitor_id"],
    )


def test_a_visitor_on_one_server_chats_with_an_agent_on_another(start_servers, world):
    """Two ASGI processes share only Redis and PostgreSQL."""
    first, second = start_servers(count=2)
    visitor = Visitor(first, world["key"])
    agent = Agent(second, world["token"], session_cookies(world["agent"]))
    with agent.socket() as console:
        sent = visitor.send("Hello from server one")
        pushed = next_event(console, "message.created")
        assert pushed["message"]["body"] == "Hello from server one"
        assert pushed["message"]["seq"] == sent["seq"] == 1
        assert pushed["conversation"]["unread_count"] == 1
        conversation = pushed["conversation"]["id"]

        with visitor.socket() as widget:
            agent.http.post(
                f"/api/v1/conversations/{conversation}/typing/", json={"typing": True}
            ).raise_for_status()
            typing = next_event(widget, "typing")
            assert typing["sender"] == "agent"
            assert typing["name"] == world["agent"].display_name

            agent.reply(conversation, "Hi from server two")
            reply = next_event(widget, "message.created")["message"]
            assert (reply["seq"], reply["body"]) == (2, "Hi from server two")
            assert "author" not in reply  # the visitor never sees staff ids or emails
            assert reply["author_name"] == world["agent"].display_name

            visitor.http.post(f"/widget/v1/{visitor.key}/read/", json={"seq": 2}).raise_for_status()
            assert next_event(console, "read") == {
                "type": "read",
                "conversation": conversation,
                "reader": "customer",
                "seq": 2,
            }


def test_widget_pushes_follow_identities_not_customers(start_servers, world):
    """A verified user's devices (merged into one customer) all hear the reply to the user's
    conversation, over two servers. A visitor who typed that user's email hears nothing,
    even once an agent merged them into the same customer."""
    first, second = start_servers(count=2)
    secret = WidgetConfig.objects.get(channel__public_key=world["key"]).identity_secret
    laptop, phone, stranger = (Visitor(base, world["key"]) for base in (first, second, first))
    for device in (laptop, phone):
        answer = device.http.post(
            f"/widget/v1/{device.key}/user/",
            json={"id": "u-1", "email": "ann@example.com", "hash": user_hash(secret, "u-1")},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["verified"] is True
    stranger.http.post(
        f"/widget/v1/{stranger.key}/contact/", json={"email": "ann@example.com"}
    ).raise_for_status()
    merge_suggestion_confirm(suggestion=MergeSuggestion.objects.get(), actor=world["agent"])
    visitor_ids = [
        v.http.post(f"/widget/v1/{v.key}/session/", json={"token": v.token}).json()["visitor_id"]
        for v in (laptop, phone, stranger)
    ]
    assert Identity.objects.filter(value__in=visitor_ids).values("customer").distinct().count() == 1
    laptop.send("from the laptop")
    conversation = str(Conversation.objects.get().uuid)
    agent = Agent(second, world["token"], session_cookies(world["agent"]))

    with laptop.socket() as on_laptop, phone.socket() as on_phone, stranger.socket() as other:
        agent.reply(conversation, "to every device")
        for ws in (on_laptop, on_phone):
            pushed = next_event(ws, "message.created")
            assert (pushed["conversation"], pushed["message"]["body"]) == (
                conversation,
                "to every device",
            )
        overheard = []
        drain_messages(other, overheard.append, quiet_seconds=1.0)
        assert overheard == []


def test_a_retry_after_a_lost_answer_is_not_pushed_twice(start_servers, world):
    (server,) = start_servers()
    visitor = Visitor(server, world["key"])
    agent = Agent(server, world["token"], session_cookies(world["agent"]))
    with agent.socket() as console:
        first = visitor.send("once", client_id="same-id")
        again = visitor.send("once", client_id="same-id")
        assert first == again
        next_event(console, "message.created")
        seen = []
        drain_messages(console, seen.append, quiet_seconds=1.0)
        assert seen == []
    assert Message.objects.filter(body="once").count() == 1


def test_sockets_refuse_strangers(start_servers, world):
    (server,) = start_servers()
    with pytest.raises(InvalidStatus):
        ws_connect(server, "/ws/console/", origin="https://evil.example.com")
    with ws_connect(server, "/ws/console/") as anonymous:
        with pytest.raises(ConnectionClosed) as closed:
            anonymous.recv(timeout=5)
        assert closed.value.rcvd.code == 4401
    with ws_connect(server, f"/ws/widget/{world['key']}/") as widget:
        widget.send(json.dumps({"type": "auth", "token": "forged"}))
        with pytest.raises(ConnectionClosed) as closed:
            widget.recv(timeout=5)
        assert closed.value.rcvd.code == 4401


def test_an_agent_hears_only_of_conversations_they_may_see(start_servers, world):
    (server,) = start_servers()
    outsider = AgentFactory()
    _token, outsider_key = api_token_create(user=outsider, name="outsider")
    visitor = Visitor(server, world["key"])
    member = Agent(server, world["token"], session_cookies(world["agent"]))
    stranger = Agent(server, outsider_key, session_cookies(outsider))
    with member.socket() as allowed, stranger.socket() as refused:
        visitor.send("for the inbox members only")
        assert next_event(allowed, "message.created")["message"]["seq"] == 1
        heard = []
        drain_messages(refused, heard.append, quiet_seconds=1.0)
        assert heard == []


@pytest.mark.parametrize(
    "layer",
    [
        pytest.param({}, id="pubsub-layer"),
        # The list-based layer drops group messages beyond `capacity` per channel: the
        # clients must end with every message anyway.
        pytest.param({"CHANNEL_LAYER": "list", "CHANNEL_LAYER_CAPACITY": "100"}, id="lossy-layer"),
    ],
)
def test_a_burst_reaches_both_sides_whole(start_servers, world, settings, layer):
    """A burst of large messages while neither socket is read, so the servers' sends back
    up (more bytes than the socket buffers hold); both sides end with every message, once,
    by push or by the seq rule."""
    burst, body_size = 1000, 9000  # 9 MB, over twice the server's largest send buffer
    (server,) = start_servers(env=layer)
    if layer:
        # The messages are written, and so pushed, from this process: use the servers' layer.
        settings.CHANNEL_LAYERS = lossy_layer(settings, capacity=100)
    visitor = Visitor(server, world["key"])
    visitor.send("start")
    conversation = conversation_of(visitor)
    agent = Agent(server, world["token"], session_cookies(world["agent"]))
    fetch_agent = partial(agent.fetch_after, str(conversation.uuid))
    visitor.log.catch_up(visitor.fetch_after)
    agent.log.catch_up(fetch_agent)
    padding = "x" * body_size

    with agent.socket(stalling=True) as console, visitor.socket(stalling=True) as widget:
        for n in range(burst):
            message_append(
                conversation=conversation,
                direction=MessageDirection.OUTBOUND,
                sender_type=SenderType.AGENT,
                body=f"burst {n} {padding}",
            )
        readers = [
            threading.Thread(
                target=drain_messages,
                args=(widget, lambda e: visitor.log.on_push(e["message"], visitor.fetch_after)),
            ),
            threading.Thread(
                target=drain_messages,
                args=(console, lambda e: agent.log.on_push(e["message"], fetch_agent)),
            ),
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout=120)
        # The next heartbeat tells each client the newest seq, so a lost tail is fetched
        # too; a socket the server dropped is reopened, and a (re)connect fetches as well.
        resync(widget, visitor.socket, visitor.log, visitor.fetch_after, {"type": "ping"})
        resync(
            console,
            agent.socket,
            agent.log,
            fetch_agent,
            {"type": "ping", "conversation": str(conversation.uuid)},
        )

    expected = set(range(1, burst + 2))
    for name, side in (("widget", visitor.log), ("console", agent.log)):
        print(f"{name}: pushed {side.pushed}, fetched {side.fetched}, gaps {side.gaps}")
        assert set(side.messages) == expected
        assert side.pushed + side.fetched == burst + 1  # each message arrived once
    if layer:
        # The lossy layer did drop pushes: the seq rule was exercised, not assumed.
        assert visitor.log.fetched > 1 and agent.log.fetched > 1


def resync(ws, reconnect, log, fetch_after, ping) -> None:
    """What the clients do after a burst: heartbeat, or reconnect when the socket is gone."""
    try:
        ws.send(json.dumps(ping))
        if next_event(ws, "pong")["last_seq"] > log.last_seq:
            log.catch_up(fetch_after)
    except ConnectionClosed:
        with reconnect():
            log.catch_up(fetch_after)


def lossy_layer(settings, capacity: int) -> dict:
    """The list-based layer the servers use under CHANNEL_LAYER=list, for this process."""
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": config["hosts"], "prefix": config["prefix"], "capacity": capacity},
        }
    }
