import asyncio
import datetime

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from inbox import realtime
from inbox.enums import NotificationKind
from inbox.models import Conversation, Message, Notification
from inbox.outbound import ReplyBlocked
from inbox.services import conversation_typing, message_send
from inbox.services.claims import (
    ClaimConflict,
    conversation_claim,
    conversation_claim_break,
    conversation_release,
)
from tests.factories.accounts import AgentFactory
from tests.factories.inbox import ConversationFactory, InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_of_two(agent):
    inbox = InboxFactory()
    other = AgentFactory(display_name="Bea")
    inbox.members.add(agent, other)
    return ConversationFactory(inbox=inbox), agent, other


def test_a_claim_blocks_another_agents_reply_until_it_expires(team_of_two):
    conversation, holder, other = team_of_two
    conversation_claim(conversation=conversation, user=holder)

    with pytest.raises(ReplyBlocked) as blocked:
        message_send(conversation=conversation, author=other, body="me too")
    assert blocked.value.code == "claimed"
    assert not Message.objects.filter(conversation=conversation).exists()
    # The holder replies freely.
    message_send(conversation=conversation, author=holder, body="on it")

    # A claim taken 16 minutes ago for 15 minutes has expired: anyone may reply again.
    long_ago = timezone.now() - datetime.timedelta(minutes=16)
    conversation_claim(conversation=conversation, user=holder, now=long_ago)
    message, created = message_send(conversation=conversation, author=other, body="now me")
    assert created and message.author == other


def test_someone_elses_claim_cannot_be_taken_or_released(team_of_two):
    conversation, holder, other = team_of_two
    conversation_claim(conversation=conversation, user=holder)
    with pytest.raises(ClaimConflict) as conflict:
        conversation_claim(conversation=conversation, user=other)
    assert conflict.value.holder == holder
    with pytest.raises(ClaimConflict):
        conversation_release(conversation=conversation, user=other)
    # Claiming again renews one's own claim; releasing ends it.
    renewed = conversation_claim(conversation=conversation, user=holder, minutes=30)
    assert renewed.claimed_until > timezone.now() + datetime.timedelta(minutes=29)
    released = conversation_release(conversation=conversation, user=holder)
    assert released.claimed_by is None and released.claimed_until is None
    conversation_claim(conversation=conversation, user=other)  # free to take now


def test_a_supervisor_breaks_a_claim_and_the_holder_is_told(team_of_two, supervisor):
    conversation, holder, other = team_of_two
    conversation_claim(conversation=conversation, user=holder)
    with pytest.raises(PermissionDenied):
        conversation_claim_break(conversation=conversation, supervisor=other)

    conversation_claim_break(conversation=conversation, supervisor=supervisor)
    conversation.refresh_from_db()
    assert conversation.claimed_by is None
    notification = Notification.objects.get(user=holder)
    assert notification.kind == NotificationKind.LOCK_BROKEN
    assert notification.actor == supervisor and notification.conversation == conversation
    message_send(conversation=conversation, author=other, body="taking over")


def test_claim_api_blocks_replies_with_422_claimed_and_a_supervisor_breaks_it(
    team_of_two, supervisor, api_client
):
    conversation, holder, other = team_of_two
    base = f"/api/v1/conversations/{conversation.uuid}/"
    api_client.force_authenticate(holder)
    response = api_client.post(base + "claim/", {"minutes": 10}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["claimed_by"]["id"] == holder.pk

    api_client.force_authenticate(other)
    response = api_client.post(base + "messages/", {"body": "hello"}, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "claimed"
    assert response.json()["error"]["details"]["claimed_by"] == holder.pk
    response = api_client.post(base + "claim/", {}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "claimed"
    assert api_client.delete(base + "claim/").status_code == 409
    assert api_client.post(base + "claim/break/").status_code == 403
    assert api_client.post(base + "claim/", {"minutes": 0}, format="json").status_code == 400

    api_client.force_authenticate(supervisor)
    response = api_client.post(base + "claim/break/")
    assert response.status_code == 200 and response.json()["claimed_by"] is None

    api_client.force_authenticate(other)
    assert api_client.post(base + "messages/", {"body": "hi"}, format="json").status_code == 201


def test_an_expired_claim_lets_others_reply_over_the_api(team_of_two, api_client):
    conversation, holder, other = team_of_two
    conversation_claim(conversation=conversation, user=holder)
    Conversation.objects.filter(pk=conversation.pk).update(
        claimed_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    api_client.force_authenticate(other)
    response = api_client.post(
        f"/api/v1/conversations/{conversation.uuid}/messages/", {"body": "hi"}, format="json"
    )
    assert response.status_code == 201


def test_an_agent_outside_the_inbox_cannot_claim(api_client):
    conversation = ConversationFactory()
    api_client.force_authenticate(AgentFactory())
    response = api_client.post(f"/api/v1/conversations/{conversation.uuid}/claim/")
    assert response.status_code == 404


def test_colleagues_see_an_agent_typing(team_of_two):
    conversation, holder, _other = team_of_two

    async def listen() -> dict:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        group = f"inbox.{conversation.inbox_id}"
        await layer.group_add(group, channel)
        await sync_to_async(conversation_typing)(
            conversation=conversation, typing=True, agent=holder
        )
        received = await asyncio.wait_for(layer.receive(channel), 5)
        await layer.group_discard(group, channel)
        return received["event"]

    event = async_to_sync(listen)()
    assert event["type"] == "typing" and event["typing"] is True
    assert event["agent_id"] == holder.pk and event["conversation"] == str(conversation.uuid)
    assert realtime.STAFF_GROUP in realtime.agent_groups(conversation)
