"""Widget safety: what a visitor types never shows them anyone else's history; only a user
id the website signed (HMAC with the channel's identity secret) does. And lead capture."""

import json
import logging
import os
import re
import shutil
import subprocess

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.routing import URLRouter
from django.db import connection
from django.urls import path
from rest_framework.test import APIClient

from channels_app.models import WidgetConfig
from channels_app.widget.consumers import WidgetConsumer
from customers.enums import CaptureVia, ChangeAction, IdentityKind, SuggestionStatus, Verification
from customers.models import Customer, CustomerChange, Identity, MergeRecord, MergeSuggestion
from customers.services import customer_merge_undo, merge_suggestion_confirm
from inbox.models import Conversation
from inbox.services import conversation_create, message_receive, message_send
from tests.channels_app.widget_client import send, start, url
from tests.factories.channels import WebChannelFactory, WidgetConfigFactory
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db

DOC = (ROOT / "docs" / "live-chat.md").read_text()
SOCKETS = URLRouter([path("ws/widget/<str:public_key>/", WidgetConsumer.as_asgi())])


def doc_example(language: str) -> str:
    """The code block of `language` in the docs' "Identity verification" section."""
    section = DOC.split("## Identity verification", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def documented_hash(secret: str, user_id: str) -> str:
    """The hash as the documented Python example computes it on a website's server."""
    namespace: dict = {}
    exec(doc_example("python"), namespace)  # noqa: S102 (our own docs, to keep them right)
    namespace["SWITCHBOARD_IDENTITY_SECRET"] = secret
    return namespace["switchboard_user_hash"](user_id)


def secret_of(channel) -> str:
    return WidgetConfig.objects.get(channel=channel).identity_secret


def set_user(client, channel, **user):
    return client.post(url(channel, "user"), user, format="json")


def signed_in(channel, user_id: str, *, client=None, **user):
    """A browser (a new one, or `client` with its session) whose website signed `user_id`
    in (a valid hash); returns the client (with the token the answer gave) and the answer."""
    if client is None:
        client, _ = start(channel)
    response = set_user(
        client, channel, id=user_id, hash=documented_hash(secret_of(channel), user_id), **user
    )
    assert response.status_code == 200, response.content
    assert response.json()["verified"] is True
    client.credentials(HTTP_AUTHORIZATION=f"Visitor {response.json()['token']}")
    return client, response.json()


def visitor(session_or_answer) -> Identity:
    return Identity.objects.select_related("customer").get(
        kind=IdentityKind.WEB_VISITOR, value=session_or_answer["visitor_id"]
    )


def bodies(client, channel) -> list[str]:
    page = client.get(url(channel, "messages"))
    assert page.status_code == 200
    return [m["body"] for m in page.json()["results"]]


@pytest.fixture
def channel():
    return WidgetConfigFactory(
        prechat_name="optional", prechat_email="optional", prechat_phone="optional"
    ).channel


@pytest.fixture
def victim(channel):
    """A signed-in customer with history on the widget: a conversation on their web user
    identity, and one on their email (an agent wrote to them) in the same inbox."""
    client, answer = signed_in(channel, "victim-1", email="victim@example.com", name="Vic")
    assert send(client, channel, "my card ends in 4242").status_code == 201
    email = Identity.objects.get(kind=IdentityKind.EMAIL, value="victim@example.com")
    by_email = conversation_create(inbox=channel.inbox, customer=email.customer, identity=email)
    message_receive(conversation=by_email, body="my address is 1 Main St")
    return client, answer, email.customer


# --- (a) a typed email -------------------------------------------------------------------


def test_a_typed_email_of_a_customer_attaches_nothing_and_shows_nothing_of_theirs(channel, victim):
    _, _, victim_customer = victim
    attacker, session = start(channel, profile={"email": " Victim@Example.COM ", "name": "M"})

    assert session["conversation"] is None
    assert bodies(attacker, channel) == []
    me = visitor(session)
    assert me.customer_id != victim_customer.pk
    email = Identity.objects.get(kind=IdentityKind.EMAIL, value="victim@example.com")
    assert email.customer_id == victim_customer.pk  # stays theirs
    suggestion = MergeSuggestion.objects.get()
    assert {suggestion.customer_id, suggestion.other_id} == {me.customer_id, victim_customer.pk}
    assert suggestion.status == SuggestionStatus.PENDING
    assert suggestion.evidence["reason"] == "unverified_match"
    assert not MergeRecord.objects.exists()

    # Writing starts the attacker's own conversation, on their own visitor identity.
    assert send(attacker, channel, "hello?").status_code == 201
    assert bodies(attacker, channel) == ["hello?"]
    mine = Conversation.objects.get(identity=me)
    assert mine.customer_id == me.customer_id
    assert Conversation.objects.filter(customer=victim_customer).count() == 2
    assert not Conversation.objects.filter(
        customer=victim_customer, messages__body="hello?"
    ).exists()


def test_a_typed_email_stays_unlinked_even_after_an_agent_merges_the_customers(
    channel, victim, agent
):
    """Agents may decide two customers are one person; the widget still shows a browser only
    the conversations of its own identities."""
    _, _, victim_customer = victim
    attacker, session = start(channel, profile={"email": "victim@example.com"})
    merge_suggestion_confirm(suggestion=MergeSuggestion.objects.get(), actor=agent)
    assert visitor(session).customer_id == victim_customer.pk
    assert bodies(attacker, channel) == []
    assert start(channel, token=session["token"])[1]["conversation"] is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "call me", "is not a valid phone number"),
        ("phone", "12345", "is not a valid phone number"),
        ("email", "ann@", "valid email address"),
    ],
)
def test_a_typed_value_that_cannot_be_an_identity_is_refused_under_its_field(
    channel, settings, field, value, message
):
    settings.PHONE_DEFAULT_REGION = ""
    response = APIClient().post(url(channel, "session"), {"profile": {field: value}}, format="json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]["profile"]
    assert list(details) == [field]
    assert message in details[field][0]
    assert not Customer.objects.exists()


def test_a_phone_without_country_code_is_read_in_the_channels_region(channel):
    channel.settings = {"default_region": "CN"}
    channel.save()
    _, session = start(channel, profile={"phone": "138 0013 8000"})
    phone = Identity.objects.get(kind=IdentityKind.PHONE)
    assert (phone.value, phone.verified) == ("+8613800138000", False)
    assert phone.customer_id == visitor(session).customer_id


# --- (b) a wrong hash --------------------------------------------------------------------


@pytest.mark.parametrize(
    "forge",
    [
        lambda secret, uid: documented_hash("not the secret", uid),
        lambda secret, uid: documented_hash(secret, uid + "x"),
        lambda secret, uid: documented_hash(secret, uid)[:-1],
        lambda secret, uid: "é" * 64,
    ],
    ids=["other-secret", "other-id", "truncated", "not-hex"],
)
def test_a_wrong_hash_is_refused_logged_and_changes_nothing(channel, victim, caplog, forge):
    _, _, victim_customer = victim
    attacker, session = start(channel)
    me = visitor(session)
    forged = forge(secret_of(channel), "victim-1")
    caplog.set_level(logging.WARNING, logger="channels_app.widget.services")

    response = set_user(
        attacker, channel, id="victim-1", hash=forged, name="Mallory", email="m@example.com"
    )

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "invalid_user_hash"
    assert "HMAC-SHA256" in error["message"]
    [line] = [r for r in caplog.records if r.name == "channels_app.widget.services"]
    assert line.levelno == logging.WARNING
    text = line.getMessage()
    assert f"channel {channel.pk}" in text
    assert f"visitor identity {me.pk}" in text
    assert "'victim-1'" in text
    assert forged not in text and secret_of(channel) not in text
    # Nothing stored, nothing merged, nothing shown.
    me.refresh_from_db()
    assert "user" not in me.details and "verified_user" not in me.details
    assert me.customer.display_name == ""
    assert not Identity.objects.filter(value="m@example.com").exists()
    assert not MergeRecord.objects.exists()
    assert Identity.objects.get(kind=IdentityKind.WEB_USER).customer_id == victim_customer.pk
    assert bodies(attacker, channel) == []


def test_a_hash_without_an_id_is_invalid(channel):
    client, _ = start(channel)
    response = set_user(client, channel, hash=documented_hash(secret_of(channel), ""))
    assert response.status_code == 400
    assert "id" in response.json()["error"]["details"]


def test_the_hash_is_compared_in_any_letter_case(channel):
    client, _ = start(channel)
    signed = documented_hash(secret_of(channel), "u-9").upper()
    response = set_user(client, channel, id="u-9", hash=signed)
    assert response.status_code == 200
    assert response.json()["verified"] is True


# --- (c) verification required -----------------------------------------------------------


def test_a_channel_that_requires_verification_refuses_set_user_without_a_hash(channel, caplog):
    WidgetConfig.objects.filter(channel=channel).update(require_verified_user=True)
    client, session = start(channel)
    caplog.set_level(logging.WARNING, logger="channels_app.widget.services")

    response = set_user(client, channel, id="u-1", name="Ann", email="ann@example.com")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "user_verification_required"
    assert any(
        "no hash" in r.getMessage() and "'u-1'" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )
    me = visitor(session)
    assert "user" not in me.details
    assert me.customer.display_name == ""
    assert not Identity.objects.filter(kind=IdentityKind.EMAIL).exists()
    # A signed user is welcome.
    _, answer = signed_in(channel, "u-1", client=client)
    assert answer["verified"] is True


# --- (d) a second device -----------------------------------------------------------------


def test_a_valid_hash_on_a_second_device_shows_and_continues_the_users_conversation(channel):
    laptop, on_laptop = signed_in(channel, "u-7", name="Ann")
    assert send(laptop, channel, "from the laptop").status_code == 201
    conversation = Conversation.objects.get()
    assert conversation.identity.kind == IdentityKind.WEB_USER
    laptop_customer = visitor(on_laptop).customer

    phone, before = start(channel)
    phone_customer = visitor(before).customer
    assert bodies(phone, channel) == []
    response = set_user(phone, channel, id="u-7", hash=documented_hash(secret_of(channel), "u-7"))

    assert response.status_code == 200
    answer = response.json()
    assert answer == {
        "token": before["token"],
        "visitor_id": before["visitor_id"],
        "verified": True,
        "changed": True,
    }
    assert bodies(phone, channel) == ["from the laptop"]
    again = start(channel, token=before["token"])[1]
    assert again["conversation"]["id"] == str(conversation.uuid)
    assert send(phone, channel, "from the phone").status_code == 201
    conversation.refresh_from_db()
    assert conversation.last_seq == 2
    assert bodies(laptop, channel) == ["from the laptop", "from the phone"]

    record = MergeRecord.objects.get()
    assert (record.survivor_id, record.merged_id) == (laptop_customer.pk, phone_customer.pk)
    assert record.automatic is True
    assert visitor(before).customer_id == laptop_customer.pk
    assert record.evidence["kind"] == IdentityKind.WEB_USER
    web_user = Identity.objects.get(kind=IdentityKind.WEB_USER)
    assert (web_user.verified, web_user.verification) == (True, Verification.HMAC)
    bound = visitor(before).details
    assert bound["verified_user"] == "u-7"
    assert "hash" not in bound["user"]  # the proof is checked, never kept
    # The same user again changes nothing.
    repeat = set_user(phone, channel, id="u-7", hash=documented_hash(secret_of(channel), "u-7"))
    assert repeat.json()["changed"] is False
    assert MergeRecord.objects.count() == 1


def test_undoing_the_merge_ends_what_the_second_device_sees(channel):
    laptop, _ = signed_in(channel, "u-8")
    send(laptop, channel, "private")
    phone, _ = signed_in(channel, "u-8")
    assert bodies(phone, channel) == ["private"]
    customer_merge_undo(record=MergeRecord.objects.get(), actor=None)
    assert bodies(phone, channel) == []
    assert bodies(laptop, channel) == ["private"]


def test_an_anonymous_chat_continues_after_signing_in(channel):
    client, session = start(channel)
    send(client, channel, "before signing in")
    _, answer = signed_in(channel, "u-3", client=client)
    assert answer["token"] == session["token"]
    assert bodies(client, channel) == ["before signing in"]


# --- (e) another user on the same browser ------------------------------------------------


def test_another_verified_user_on_the_same_browser_gets_a_new_visitor(channel):
    browser, as_ann = signed_in(channel, "ann")
    send(browser, channel, "Ann's order")
    ann_token = as_ann["token"]

    response = set_user(browser, channel, id="bob", hash=documented_hash(secret_of(channel), "bob"))

    assert response.status_code == 200
    as_bob = response.json()
    assert as_bob["token"] != ann_token
    assert as_bob["visitor_id"] != as_ann["visitor_id"]
    assert (as_bob["verified"], as_bob["changed"]) == (True, True)
    bob = APIClient()
    bob.credentials(HTTP_AUTHORIZATION=f"Visitor {as_bob['token']}")
    assert bodies(bob, channel) == []
    assert start(channel, token=as_bob["token"])[1]["conversation"] is None
    assert visitor(as_bob).customer_id != visitor(as_ann).customer_id
    assert not MergeRecord.objects.exists()
    # Ann's history stays with Ann's token.
    assert bodies(browser, channel) == ["Ann's order"]
    assert Identity.objects.get(kind=IdentityKind.WEB_USER, value="ann").customer_id == (
        visitor(as_ann).customer_id
    )


def test_another_user_id_without_a_hash_on_a_verified_browser_gets_a_new_visitor(channel):
    browser, as_ann = signed_in(channel, "ann")
    send(browser, channel, "Ann's order")
    response = set_user(browser, channel, id="bob", name="Bob")
    assert response.status_code == 200
    answer = response.json()
    assert answer["token"] != as_ann["token"]
    assert (answer["verified"], answer["changed"]) == (False, True)
    bob = APIClient()
    bob.credentials(HTTP_AUTHORIZATION=f"Visitor {answer['token']}")
    assert bodies(bob, channel) == []
    assert visitor(answer).details["user"] == {"id": "bob", "name": "Bob"}


def test_a_verified_user_is_never_merged_with_a_customer_an_agent_kept_apart(channel, agent):
    laptop, _ = signed_in(channel, "u-5")
    send(laptop, channel, "mine")
    phone, _ = signed_in(channel, "u-5")
    customer_merge_undo(record=MergeRecord.objects.get(), actor=agent)
    # The phone's visitor is kept apart from u-5's customer: verifying again starts afresh.
    response = set_user(phone, channel, id="u-5", hash=documented_hash(secret_of(channel), "u-5"))
    answer = response.json()
    assert answer["changed"] is True
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Visitor {answer['token']}")
    assert bodies(fresh, channel) == ["mine"]
    assert bodies(phone, channel) == []


# --- (f) leads ---------------------------------------------------------------------------


def test_a_lead_is_captured_once_with_its_time_channel_and_source(channel):
    client, session = start(
        channel,
        context={"page_url": "https://shop.example.com/?utm_source=ads", "utm_source": "ads"},
        profile={"email": "ann@example.com"},
    )
    customer = visitor(session).customer
    assert (customer.lead_via, customer.lead_channel) == (CaptureVia.PRECHAT, "web")
    assert customer.lead_source["utm_source"] == "ads"
    assert customer.lead_source["page_url"] == "https://shop.example.com/?utm_source=ads"
    captured_at = customer.lead_captured_at
    assert captured_at is not None

    response = client.post(
        url(channel, "contact"), {"name": "Ann", "phone": "+44 20 7946 0958"}, format="json"
    )

    assert response.status_code == 204
    customer.refresh_from_db()
    assert (customer.lead_via, customer.lead_captured_at) == (CaptureVia.PRECHAT, captured_at)
    assert (
        CustomerChange.objects.filter(customer=customer, action=ChangeAction.LEAD_CAPTURED).count()
        == 1
    )
    phone = Identity.objects.get(kind=IdentityKind.PHONE)
    assert (phone.value, phone.verified, phone.customer_id) == ("+442079460958", False, customer.pk)
    assert start(channel, token=session["token"])[1]["lead"] is True


def test_the_lead_form_captures_a_lead_and_needs_an_email_or_phone(channel):
    client, session = start(channel)
    assert session["lead"] is False
    refused = client.post(url(channel, "contact"), {"name": "Ann"}, format="json")
    assert refused.status_code == 400
    assert "email" in refused.json()["error"]["details"]
    invalid = client.post(url(channel, "contact"), {"phone": "call me"}, format="json")
    assert invalid.status_code == 400
    assert "phone" in invalid.json()["error"]["details"]
    assert visitor(session).customer.lead_captured_at is None

    ok = client.post(
        url(channel, "contact"), {"name": "Ann", "email": "ann@example.com"}, format="json"
    )
    assert ok.status_code == 204
    customer = visitor(session).customer
    assert (customer.lead_via, customer.display_name) == (CaptureVia.LEAD_FORM, "Ann")
    assert APIClient().post(url(channel, "contact"), {"email": "x@example.com"}).status_code == 401


def test_the_lead_form_with_an_existing_customers_email_is_a_suggestion(channel, victim):
    _, _, victim_customer = victim
    client, _ = start(channel)
    client.post(url(channel, "contact"), {"email": "victim@example.com"}, format="json")
    assert Identity.objects.get(value="victim@example.com").customer_id == victim_customer.pk
    assert MergeSuggestion.objects.filter(status=SuggestionStatus.PENDING).count() == 1
    assert bodies(client, channel) == []


# --- (g) the documented hash -------------------------------------------------------------


def test_the_documented_python_example_computes_the_hash_the_widget_accepts(channel):
    # Computed independently: printf u-42 | openssl dgst -sha256 -hmac test-secret
    assert documented_hash("test-secret", "u-42") == (
        "57a0865610553dc1a257fa640ac2f625214b71dfbd0ae53561874c95f8441fee"
    )
    client, _ = start(channel)
    signed = documented_hash(secret_of(channel), "u-42")
    assert set_user(client, channel, id="u-42", hash=signed).json()["verified"] is True


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_the_documented_node_example_computes_the_same_hash():
    code = doc_example("js") + "\nprocess.stdout.write(switchboardUserHash(process.argv[1]));"
    result = subprocess.run(
        ["node", "-e", code, "u-42"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "SWITCHBOARD_IDENTITY_SECRET": "test-secret"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == documented_hash("test-secret", "u-42")


# --- The secret --------------------------------------------------------------------------


def test_each_widget_has_its_own_secret_encrypted_at_rest(channel):
    other = WidgetConfigFactory()
    assert len(secret_of(channel)) >= 40
    assert secret_of(channel) != other.identity_secret
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT identity_secret FROM channels_app_widgetconfig WHERE channel_id = %s",
            [channel.pk],
        )
        assert secret_of(channel) not in cursor.fetchone()[0]


def test_a_channel_without_saved_settings_keeps_one_secret():
    bare = WebChannelFactory()
    client, _ = start(bare)
    response = set_user(client, bare, id="u-1", hash="0" * 64)
    assert response.status_code == 403
    secret = secret_of(bare)  # saved by that first check
    _, answer = signed_in(bare, "u-1")
    assert secret_of(bare) == secret and answer["verified"] is True


def test_admins_see_the_secret_and_regenerating_it_refuses_old_hashes(client, admin_user, channel):
    client.force_login(admin_user)
    page = client.get(f"/admin/channels_app/channelaccount/{channel.pk}/change/")
    html = page.content.decode()
    old = secret_of(channel)
    assert f"<code>{old}</code>" in html
    assert 'name="widget-0-identity_secret"' not in html  # read only
    assert 'name="widget-0-require_verified_user"' in html
    old_hash = documented_hash(old, "u-1")

    response = client.post(
        "/admin/channels_app/channelaccount/",
        {"action": "regenerate_identity_secret", "_selected_action": [channel.pk]},
        follow=True,
    )

    new = secret_of(channel)
    assert new != old
    assert f"The identity secret of {channel.name} was regenerated" in response.content.decode()
    visitor_client, _ = start(channel)
    assert set_user(visitor_client, channel, id="u-1", hash=old_hash).status_code == 403
    assert set_user(visitor_client, channel, id="u-1", hash=documented_hash(new, "u-1")).json()[
        "verified"
    ]


# --- Sockets -----------------------------------------------------------------------------


class Socket(ApplicationCommunicator):
    """The widget's socket, spoken to directly over ASGI (channels.testing needs daphne)."""

    def __init__(self, path: str):
        super().__init__(
            SOCKETS,
            {
                "type": "websocket",
                "path": path,
                "headers": [],
                "query_string": b"",
                "subprotocols": [],
            },
        )

    async def connect(self) -> None:
        await self.send_input({"type": "websocket.connect"})
        assert (await self.receive_output(5))["type"] == "websocket.accept"

    async def send_json_to(self, data: dict) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_json_from(self, timeout: float = 5) -> dict:
        output = await self.receive_output(timeout)
        assert output["type"] == "websocket.send", output
        return json.loads(output["text"])

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(5)


async def _socket(channel, token: str) -> Socket:
    socket = Socket(f"/ws/widget/{channel.public_key}/")
    await socket.connect()
    await socket.send_json_to({"type": "auth", "token": token})
    assert (await socket.receive_json_from(timeout=5))["type"] == "ready"
    return socket


async def _heard(socket, *, quiet: float = 1.5) -> dict[str, list[str]]:
    """The bodies of the messages the socket receives, by conversation id, until it has
    been quiet for `quiet` seconds. (Another suite on the same Redis may push to groups of
    the same name: tests look at their own conversations only.)"""
    heard: dict[str, list[str]] = {}
    while not await socket.receive_nothing(timeout=quiet):
        event = await socket.receive_json_from()
        if event.get("type") == "message.created":
            heard.setdefault(event["conversation"], []).append(event["message"]["body"])
    return heard


@pytest.mark.django_db(transaction=True)
def test_a_typed_email_joins_no_socket_group_of_the_customer(agent):
    channel = WidgetConfigFactory(prechat_email="optional").channel
    victim_client, as_victim = signed_in(channel, "victim-1", email="victim@example.com")
    send(victim_client, channel, "hi")
    theirs = Conversation.objects.get()
    attacker, session = start(channel, profile={"email": "victim@example.com"})
    send(attacker, channel, "mine")
    mine = Conversation.objects.exclude(pk=theirs.pk).get()

    async def scenario():
        victim_socket = await _socket(channel, as_victim["token"])
        attacker_socket = await _socket(channel, session["token"])
        reply = sync_to_async(message_send)
        await reply(conversation=theirs, author=agent, body="to the victim")
        await reply(conversation=mine, author=agent, body="to the attacker")
        heard = [await _heard(socket) for socket in (victim_socket, attacker_socket)]
        for socket in (victim_socket, attacker_socket):
            await socket.disconnect()
        return heard

    victim_heard, attacker_heard = async_to_sync(scenario)()
    assert victim_heard.get(str(theirs.uuid)) == ["to the victim"]
    assert str(mine.uuid) not in victim_heard
    assert attacker_heard.get(str(mine.uuid)) == ["to the attacker"]
    assert str(theirs.uuid) not in attacker_heard


@pytest.mark.django_db(transaction=True)
def test_an_open_socket_hears_the_users_conversation_once_verified(agent):
    channel = WidgetConfigFactory().channel
    laptop, _ = signed_in(channel, "u-7")
    send(laptop, channel, "from the laptop")
    conversation = Conversation.objects.get()
    phone, before = start(channel)
    signed = documented_hash(secret_of(channel), "u-7")

    async def scenario():
        socket = await _socket(channel, before["token"])
        reply = sync_to_async(message_send)
        await reply(conversation=conversation, author=agent, body="before verifying")
        unverified = await _heard(socket)
        await sync_to_async(set_user)(phone, channel, id="u-7", hash=signed)
        # The session's sockets are told through the layer to join the user's group (no
        # ping needed, which would also re-read the session): give them a moment.
        assert await socket.receive_nothing(timeout=1)
        await reply(conversation=conversation, author=agent, body="after verifying")
        verified = await _heard(socket)
        await socket.disconnect()
        return unverified, verified

    unverified, verified = async_to_sync(scenario)()
    assert str(conversation.uuid) not in unverified
    assert verified.get(str(conversation.uuid)) == ["after verifying"]


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_rereads_the_session_and_its_groups(agent):
    """An undone merge takes the user's group away at the next ping."""
    channel = WidgetConfigFactory().channel
    laptop, _ = signed_in(channel, "u-8")
    send(laptop, channel, "private")
    conversation = Conversation.objects.get()
    _, on_phone = signed_in(channel, "u-8")
    record = MergeRecord.objects.get()

    async def scenario():
        socket = await _socket(channel, on_phone["token"])
        reply = sync_to_async(message_send)
        await reply(conversation=conversation, author=agent, body="while merged")
        merged = await _heard(socket)
        await sync_to_async(customer_merge_undo)(record=record, actor=agent)
        await socket.send_json_to({"type": "ping"})
        pong = await socket.receive_json_from(timeout=5)
        await reply(conversation=conversation, author=agent, body="after the undo")
        split = await _heard(socket)
        await socket.disconnect()
        return merged, pong, split

    merged, pong, split = async_to_sync(scenario)()
    assert merged.get(str(conversation.uuid)) == ["while merged"]
    assert pong == {"type": "pong", "last_seq": 0}
    assert str(conversation.uuid) not in split
