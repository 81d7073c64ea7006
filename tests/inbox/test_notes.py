import asyncio
import contextlib

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.core.exceptions import ValidationError

from customers.models import Identity
from inbox import realtime
from inbox.enums import NotificationKind
from inbox.models import Conversation, Notification
from inbox.services import message_receive, message_send
from inbox.services.notes import mentions_parse, note_add
from tests.channels_app.widget_client import send, start, url
from tests.factories.accounts import AgentFactory
from tests.factories.channels import WidgetConfigFactory
from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(agent):
    inbox = InboxFactory()
    inbox.members.add(agent)
    conversation = ConversationFactory(inbox=inbox)
    message_receive(conversation=conversation, body="Where is my parcel?")
    return conversation


def test_mentions_are_parsed_from_the_consoles_tokens():
    body = "ask @[Ana Lima](user:12) and @[Billing](team:3), again @[Ana](user:12); @bob (user:9)"
    assert mentions_parse(body) == {"users": [12], "teams": [3]}


def test_a_note_is_private_and_records_its_mentions(conversation, agent):
    colleague = AgentFactory()
    team = TeamFactory()
    note = note_add(
        conversation=conversation,
        author=agent,
        body=f"@[C](user:{colleague.pk}) @[T](team:{team.pk}) @[Ghost](user:999999) look",
    )
    assert note.private and note.author == agent and note.seq == 2
    assert note.content["mentions"] == {"users": [colleague.pk], "teams": [team.pk]}
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "Where is my parcel?"  # notes stay out of it


def test_a_mention_notifies_only_users_who_can_see_the_conversation(conversation, agent):
    inbox = conversation.inbox
    colleague = AgentFactory()  # member of the inbox: sees it
    inbox.members.add(colleague)
    outsider = AgentFactory()  # mentioned, but not in the inbox
    team = TeamFactory()  # a team of the inbox: its members see it
    inbox.teams.add(team)
    teammate = AgentFactory()
    team.members.add(teammate, agent)
    elsewhere = TeamFactory()  # a team with no access
    stranger = AgentFactory()
    elsewhere.members.add(stranger)

    note = note_add(
        conversation=conversation,
        author=agent,
        body=(
            f"@[Col](user:{colleague.pk}) @[Out](user:{outsider.pk}) "
            f"@[Team](team:{team.pk}) @[Else](team:{elsewhere.pk}) can you check?"
        ),
    )
    notified = Notification.objects.filter(kind=NotificationKind.MENTION)
    assert set(notified.values_list("user", flat=True)) == {colleague.pk, teammate.pk}
    mention = notified.get(user=colleague)
    assert mention.message == note and mention.actor == agent
    assert "@Team" in mention.text and "(team:" not in mention.text


def test_replies_and_notes_quote_a_message_of_their_conversation_only(conversation, agent):
    note = note_add(conversation=conversation, author=agent, body="see this", reply_to_seq=1)
    assert note.reply_to.seq == 1
    reply, _ = message_send(conversation=conversation, author=agent, body="ok", reply_to=2)
    assert reply.reply_to == note
    other = ConversationFactory(inbox=conversation.inbox)
    message_receive(conversation=other, body="elsewhere")  # seq 1 there, but not here
    with pytest.raises(ValidationError):
        note_add(conversation=conversation, author=agent, body="x", reply_to_seq=99)
    with pytest.raises(ValidationError):
        message_send(conversation=conversation, author=agent, body="x", reply_to=99)


def test_notes_api(conversation, agent, api_client):
    api_client.force_authenticate(agent)
    notes = f"/api/v1/conversations/{conversation.uuid}/notes/"
    response = api_client.post(notes, {"body": "internal", "reply_to": 1}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["private"] is True and response.json()["reply_to"] == 1
    response = api_client.post(notes, {"body": "x", "reply_to": 42}, format="json")
    assert response.status_code == 400
    assert "reply_to" in response.json()["error"]["details"]
    assert api_client.post(notes, {"body": "   "}, format="json").status_code == 400
    api_client.force_authenticate(AgentFactory())
    assert api_client.post(notes, {"body": "hi"}, format="json").status_code == 404


def test_the_widget_and_the_visitors_socket_never_see_a_note(
    agent, django_capture_on_commit_callbacks
):
    channel = WidgetConfigFactory().channel
    channel.inbox.members.add(agent)
    client, session = start(channel)
    send(client, channel, "hello")
    conversation = Conversation.objects.get(inbox=channel.inbox)
    identity = Identity.objects.get(value=session["visitor_id"])

    def note_then_reply():
        with django_capture_on_commit_callbacks(execute=True):
            note_add(conversation=conversation, author=agent, body="secret: VIP refund")
        with django_capture_on_commit_callbacks(execute=True):
            message_send(conversation=conversation, author=agent, body="Hi there")

    async def listen() -> list[dict]:
        layer = get_channel_layer()
        channel_name = await layer.new_channel()
        group = realtime.visitor_group(identity_id=identity.pk, inbox_id=channel.inbox_id)
        await layer.group_add(group, channel_name)
        await sync_to_async(note_then_reply)()
        events = [(await asyncio.wait_for(layer.receive(channel_name), 5))["event"]]
        with contextlib.suppress(TimeoutError):
            events.append((await asyncio.wait_for(layer.receive(channel_name), 0.5))["event"])
        await layer.group_discard(group, channel_name)
        return events

    events = async_to_sync(listen)()
    bodies = [e["message"]["body"] for e in events if e["type"] == "message.created"]
    assert bodies == ["Hi there"]
    assert "secret" not in repr(events)

    page = client.get(url(channel, "messages")).json()
    assert [m["body"] for m in page["results"]] == ["hello", "Hi there"]
    assert "secret" not in repr(page)
