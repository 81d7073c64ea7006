"""The widget's side of CSAT and of the queue: the rating box pushed on resolution, the
rating endpoint, and what the conversation payload tells a reloaded page."""

import asyncio
import datetime

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from inbox import realtime
from inbox.enums import ConversationStatus, Priority
from inbox.models import Conversation, CsatResponse
from inbox.services.workflow import conversation_status_set
from tests.channels_app.widget_client import send, start, url
from tests.factories.accounts import AgentFactory
from tests.factories.channels import WidgetConfigFactory
from tests.factories.inbox import ConversationFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel():
    channel = WidgetConfigFactory().channel
    channel.inbox.csat_enabled = True
    channel.inbox.save()
    return channel


def resolve(conversation: Conversation, capture) -> None:
    """Resolves through the workflow service; its signal is sent on commit."""
    with capture(execute=True):
        conversation_status_set(
            conversation=conversation, status=ConversationStatus.RESOLVED, actor=None
        )
    conversation.refresh_from_db()


def rate(client, channel, body):
    return client.post(url(channel, "csat"), body, format="json")


def visitor_conversation(channel, django_capture_on_commit_callbacks):
    client, session = start(channel)
    send(client, channel, "Where is my parcel?")
    conversation = Conversation.objects.get()
    agent, team = AgentFactory(), TeamFactory()
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent, team=team)
    return client, session, conversation, agent, team


def test_resolution_pushes_a_rating_box_and_a_reload_shows_it_again(
    channel, django_capture_on_commit_callbacks
):
    client, session, conversation, _agent, _team = visitor_conversation(
        channel, django_capture_on_commit_callbacks
    )
    group = realtime.visitor_group(identity_id=conversation.identity_id, inbox_id=channel.inbox_id)

    async def listen() -> dict:
        layer = get_channel_layer()
        socket = await layer.new_channel()
        await layer.group_add(group, socket)
        await sync_to_async(resolve)(conversation, django_capture_on_commit_callbacks)
        event = await asyncio.wait_for(layer.receive(socket), 5)
        await layer.group_discard(group, socket)
        return event["event"]

    event = async_to_sync(listen)()
    assert event["type"] == "csat"
    assert event["conversation"] == str(conversation.uuid)
    assert event["question"] == "How would you rate this conversation?"

    _, reloaded = start(channel, token=session["token"])
    assert reloaded["conversation"]["csat_question"] == event["question"]
    page = client.get(url(channel, "messages")).json()
    assert page["conversation"]["csat_question"] == event["question"]


def test_a_rating_is_checked_stored_with_agent_and_team_and_may_be_changed_for_a_day(
    channel, django_capture_on_commit_callbacks
):
    client, session, conversation, agent, team = visitor_conversation(
        channel, django_capture_on_commit_callbacks
    )
    assert rate(client, channel, {"rating": 4}).status_code == 404  # not asked yet
    resolve(conversation, django_capture_on_commit_callbacks)

    for bad in (0, 6, "x", None):
        response = rate(client, channel, {"rating": bad})
        assert response.status_code == 400, bad
        assert response.json()["error"]["details"]["rating"]
    assert CsatResponse.objects.get().rating is None

    assert rate(client, channel, {"rating": 4, "comment": " Quick, thanks "}).status_code == 204
    csat = CsatResponse.objects.get()
    assert (csat.rating, csat.comment) == (4, "Quick, thanks")
    assert (csat.assignee, csat.team) == (agent, team)
    _, reloaded = start(channel, token=session["token"])
    assert reloaded["conversation"]["csat_question"] is None  # answered

    assert rate(client, channel, {"rating": 5}).status_code == 204  # changed their mind
    csat.refresh_from_db()
    assert csat.rating == 5

    CsatResponse.objects.update(requested_at=timezone.now() - datetime.timedelta(hours=25))
    assert rate(client, channel, {"rating": 1}).status_code == 404
    csat.refresh_from_db()
    assert csat.rating == 5


def test_a_visitor_never_asked_gets_404(channel):
    client, _ = start(channel)
    response = rate(client, channel, {"rating": 3})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No rating was asked for."
    send(client, channel, "hello")
    assert rate(client, channel, {"rating": 3}).status_code == 404
    assert not CsatResponse.objects.exists()


def test_no_rating_box_when_the_inbox_does_not_ask(channel, django_capture_on_commit_callbacks):
    channel.inbox.csat_enabled = False
    channel.inbox.save()
    client, session, conversation, _agent, _team = visitor_conversation(
        channel, django_capture_on_commit_callbacks
    )
    resolve(conversation, django_capture_on_commit_callbacks)
    _, reloaded = start(channel, token=session["token"])
    assert reloaded["conversation"]["csat_question"] is None
    assert rate(client, channel, {"rating": 5}).status_code == 404


def test_a_waiting_visitor_sees_their_place_in_the_queue(channel):
    client, session = start(channel)
    send(client, channel, "Anyone there?")
    mine = Conversation.objects.get()
    team = TeamFactory()
    now = timezone.now()
    ConversationFactory(team=team, queued_at=now - datetime.timedelta(minutes=5))
    ConversationFactory(team=team, queued_at=now, priority=Priority.URGENT)
    ConversationFactory(team=team, queued_at=now + datetime.timedelta(minutes=5))  # behind
    ConversationFactory(team=TeamFactory(), queued_at=now - datetime.timedelta(hours=1))
    Conversation.objects.filter(pk=mine.pk).update(team=team, queued_at=now)

    page = client.get(url(channel, "messages")).json()
    assert page["conversation"]["queue_position"] == 3

    Conversation.objects.filter(pk=mine.pk).update(queued_at=None, assignee=AgentFactory())
    _, reloaded = start(channel, token=session["token"])
    assert reloaded["conversation"]["queue_position"] is None
