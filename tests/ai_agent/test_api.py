"""Takeover and hand-back from the console, and what the console reads of the AI."""

import pytest

from ai_agent.enums import HandoffReason
from ai_agent.models import AgentRun, AiConversation
from ai_agent.services.handoff import ai_stopped
from inbox.enums import Handler
from tests.factories.accounts import AgentFactory, SupervisorFactory

pytestmark = pytest.mark.django_db


def url(conversation, action=""):
    return f"/api/v1/conversations/{conversation.uuid}/ai/{action}"


@pytest.fixture
def ai_chat(profile, chat):
    chat.say("How long does shipping take?")
    assert chat.conversation.handler == Handler.AI
    return chat


def test_the_console_reads_the_ai_state_and_its_runs(ai_chat, api_client, web_inbox):
    agent = AgentFactory()
    web_inbox.members.add(agent)
    api_client.force_authenticate(agent)

    response = api_client.get(url(ai_chat.conversation))

    assert response.status_code == 200
    body = response.json()
    assert (body["handler"], body["profile"]) == ("ai", "Ava")
    (run,) = body["runs"]
    assert run["outcome"] == "answered" and run["engine"] == "offline"
    assert run["citations"][0]["title"] == "faq.csv"
    assert run["reply_seq"] == ai_chat.replies()[0].seq


def test_one_click_takeover_assigns_the_agent_and_stops_the_ai(ai_chat, api_client, web_inbox):
    agent = AgentFactory()
    web_inbox.members.add(agent)
    api_client.force_authenticate(agent)

    response = api_client.post(url(ai_chat.conversation, "takeover/"))

    assert response.status_code == 200, response.json()
    assert response.json()["handler"] == "human"
    ai_chat.conversation.refresh_from_db()
    assert (ai_chat.conversation.handler, ai_chat.conversation.assignee) == (Handler.HUMAN, agent)
    state = AiConversation.objects.get(conversation=ai_chat.conversation)
    assert state.handoff_reason == HandoffReason.AGENT
    assert ai_stopped(ai_chat.conversation.pk)

    ai_chat.say("And what about returns?")  # the AI stays quiet now
    assert len(ai_chat.replies()) == 1
    assert AgentRun.objects.count() == 1

    again = api_client.post(url(ai_chat.conversation, "takeover/"))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_ai"


def test_hand_back_lets_the_ai_answer_again(ai_chat, api_client, web_inbox):
    agent = AgentFactory()
    web_inbox.members.add(agent)
    api_client.force_authenticate(agent)
    api_client.post(url(ai_chat.conversation, "takeover/"))

    response = api_client.post(url(ai_chat.conversation, "handback/"))

    assert response.status_code == 200, response.json()
    ai_chat.conversation.refresh_from_db()
    assert ai_chat.conversation.handler == Handler.AI
    assert ai_chat.conversation.assignee is None
    assert not ai_stopped(ai_chat.conversation.pk)
    ai_chat.say("What is your return policy?")
    assert "30 days" in ai_chat.replies()[-1].body


def test_only_the_assignee_or_a_supervisor_hands_back(ai_chat, api_client, web_inbox):
    holder, colleague = AgentFactory(), AgentFactory()
    web_inbox.members.add(holder, colleague)
    api_client.force_authenticate(holder)
    api_client.post(url(ai_chat.conversation, "takeover/"))

    api_client.force_authenticate(colleague)
    assert api_client.post(url(ai_chat.conversation, "handback/")).status_code == 403
    api_client.force_authenticate(SupervisorFactory())
    assert api_client.post(url(ai_chat.conversation, "handback/")).status_code == 200


def test_hand_back_needs_a_profile_serving_the_inbox(ai_chat, api_client, web_inbox, profile):
    supervisor = SupervisorFactory()
    api_client.force_authenticate(supervisor)
    api_client.post(url(ai_chat.conversation, "takeover/"))
    profile.is_active = False
    profile.save()

    response = api_client.post(url(ai_chat.conversation, "handback/"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_ai_profile"
    ai_chat.conversation.refresh_from_db()
    assert ai_chat.conversation.handler == Handler.HUMAN


def test_the_widget_sees_an_ai_reply_as_the_ai_unless_the_profile_says_otherwise(profile, chat):
    from inbox.serializers import CustomerMessageSerializer

    chat.say("How long does shipping take?")
    (reply,) = chat.replies()
    shown = CustomerMessageSerializer(reply).data
    assert (shown["sender_type"], shown["author_name"]) == ("ai", "Ava · AI")

    profile.label_replies = False
    profile.save()
    chat.say("What is your return policy?")
    hidden = CustomerMessageSerializer(chat.replies()[-1]).data
    assert (hidden["sender_type"], hidden["author_name"]) == ("agent", "Ava")
