import datetime
import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from inbox.consumers import ConsoleConsumer
from inbox.enums import (
    Availability,
    ConversationStatus,
    MessageDirection,
    SenderType,
)
from inbox.models import AgentProfile, Conversation
from inbox.presence import agent_present, any_agent_present
from inbox.services.availability import (
    agent_availability_set,
    agent_offline_if_absent,
    agent_profile_get,
    agents_lapsed_sweep,
    console_connected,
    console_disconnected,
    console_sockets,
)
from inbox.services.messages import message_append
from inbox.tasks.routing import availability_lapsed_sweep, availability_offline_check
from tests.factories.accounts import AgentFactory
from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory

NOW = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


def profile(user):
    return AgentProfile.objects.get(user=user)


@pytest.mark.django_db
class TestAvailability:
    def test_a_profile_is_created_on_first_use_and_offline(self, agent):
        assert not AgentProfile.objects.filter(user=agent).exists()
        assert agent_profile_get(agent).availability == Availability.OFFLINE

    def test_going_online_drains_the_queue(self, agent, django_capture_on_commit_callbacks):
        team = TeamFactory()
        team.members.add(agent)
        waiting = ConversationFactory(team=team, queued_at=NOW)
        elsewhere = ConversationFactory(team=TeamFactory(), queued_at=NOW)
        with django_capture_on_commit_callbacks(execute=True):
            agent_availability_set(user=agent, availability=Availability.ONLINE, now=NOW)
        waiting.refresh_from_db()
        elsewhere.refresh_from_db()
        assert waiting.assignee == agent and waiting.queued_at is None
        assert elsewhere.assignee is None
        assert profile(agent).availability_changed_at == NOW

    def test_going_offline_reroutes_conversations_nobody_answered(self, agent):
        colleague = AgentFactory()
        team = TeamFactory()
        team.members.add(agent, colleague)
        agent_availability_set(user=agent, availability=Availability.ONLINE)
        agent_availability_set(user=colleague, availability=Availability.ONLINE)
        waiting = ConversationFactory(team=team, assignee=agent)
        answered = ConversationFactory(team=team, assignee=agent)
        message_append(
            conversation=answered,
            direction=MessageDirection.OUTBOUND,
            sender_type=SenderType.AGENT,
            body="Hello!",
            author=agent,
        )
        resolved = ConversationFactory(
            team=team, assignee=agent, status=ConversationStatus.RESOLVED
        )
        agent_availability_set(user=agent, availability=Availability.OFFLINE)
        assert Conversation.objects.get(pk=waiting.pk).assignee == colleague
        assert Conversation.objects.get(pk=answered.pk).assignee == agent
        assert Conversation.objects.get(pk=resolved.pk).assignee == agent
        assert not profile(agent).offline_automatically

    def test_nobody_else_free_means_the_queue(self, agent):
        team = TeamFactory()
        team.members.add(agent)
        agent_availability_set(user=agent, availability=Availability.ONLINE)
        waiting = ConversationFactory(team=team, assignee=agent)
        agent_availability_set(user=agent, availability=Availability.OFFLINE)
        waiting.refresh_from_db()
        assert waiting.assignee is None and waiting.queued_at is not None

    def test_busy_keeps_conversations(self, agent):
        conversation = ConversationFactory(assignee=agent)
        agent_availability_set(user=agent, availability=Availability.BUSY)
        assert Conversation.objects.get(pk=conversation.pk).assignee == agent

    def test_an_unknown_availability_is_refused(self, agent):
        with pytest.raises(ValueError):
            agent_availability_set(user=agent, availability="away")


@pytest.mark.django_db
class TestConsole:
    def test_closing_the_last_tab_takes_the_agent_offline_after_the_grace(self, agent):
        agent_availability_set(user=agent, availability=Availability.ONLINE)
        console_connected(user=agent)
        console_connected(user=agent)
        assert console_sockets(user_id=agent.pk) == 2
        assert console_disconnected(user_id=agent.pk) is False  # another tab is open
        assert availability_offline_check(agent.pk) is False
        assert profile(agent).availability == Availability.ONLINE
        assert console_disconnected(user_id=agent.pk) is True
        assert not any_agent_present(user_ids=[agent.pk])
        assert availability_offline_check(agent.pk) is True
        assert profile(agent).availability == Availability.OFFLINE
        assert profile(agent).offline_automatically
        assert availability_offline_check(agent.pk) is False  # twice: nothing more

        console_connected(user=agent)  # back: online again
        assert profile(agent).availability == Availability.ONLINE
        assert not profile(agent).offline_automatically

    def test_a_tab_reopened_within_the_grace_keeps_the_agent_online(self, agent):
        agent_availability_set(user=agent, availability=Availability.ONLINE)
        console_connected(user=agent)
        console_disconnected(user_id=agent.pk)
        console_connected(user=agent)  # a reload
        assert agent_offline_if_absent(user_id=agent.pk) is False
        assert profile(agent).availability == Availability.ONLINE

    def test_an_agent_opening_the_console_for_the_first_time_is_online(self, agent):
        console_connected(user=agent)
        assert profile(agent).availability == Availability.ONLINE

    def test_an_agent_who_chose_offline_stays_offline_on_connect(self, agent):
        agent_availability_set(user=agent, availability=Availability.OFFLINE)
        console_connected(user=agent)
        assert profile(agent).availability == Availability.OFFLINE

    def test_the_sweep_catches_consoles_that_vanished_without_closing(self, agent):
        present, gone = AgentFactory(), agent
        for user in (present, gone):
            agent_availability_set(user=user, availability=Availability.ONLINE)
            console_connected(user=user)
        from django.core.cache import cache

        cache.delete(f"presence:user:{gone.pk}")  # the heartbeat lapsed (crash)
        agent_present(user_id=present.pk)
        assert agents_lapsed_sweep() == 1
        assert profile(gone).availability == Availability.OFFLINE
        assert profile(gone).offline_automatically
        assert profile(present).availability == Availability.ONLINE
        assert availability_lapsed_sweep() == 0

    def test_the_sweep_leaves_agents_who_work_without_a_console(self, agent):
        agent_availability_set(user=agent, availability=Availability.ONLINE)  # by the API
        assert agents_lapsed_sweep() == 0
        assert profile(agent).availability == Availability.ONLINE


@pytest.mark.django_db
class TestApi:
    def test_get_and_set_my_availability(self, api_client, agent):
        api_client.force_authenticate(agent)
        response = api_client.get("/api/v1/me/availability/")
        assert response.status_code == 200
        assert response.json()["availability"] == "offline"
        response = api_client.post(
            "/api/v1/me/availability/", {"availability": "online"}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["availability"] == "online"
        assert profile(agent).availability == Availability.ONLINE
        response = api_client.post(
            "/api/v1/me/availability/", {"availability": "away"}, format="json"
        )
        assert response.status_code == 400
        assert "availability" in response.json()["error"]["details"]


@pytest.mark.django_db(transaction=True)
def test_a_console_socket_marks_presence_and_its_close_counts_off():
    agent = AgentFactory()
    InboxFactory().members.add(agent)
    AgentProfile.objects.create(
        user=agent, availability=Availability.OFFLINE, offline_automatically=True
    )

    async def session():
        # The bare ASGI exchange (channels.testing needs daphne, which we do not install).
        scope = {"type": "websocket", "path": "/ws/console/", "headers": [], "user": agent}
        socket = ApplicationCommunicator(ConsoleConsumer.as_asgi(), scope)
        await socket.send_input({"type": "websocket.connect"})
        assert (await socket.receive_output(5))["type"] == "websocket.accept"
        assert json.loads((await socket.receive_output(5))["text"])["type"] == "ready"
        opened = console_sockets(user_id=agent.pk)
        await socket.send_input({"type": "websocket.disconnect", "code": 1001})
        await socket.wait(5)
        return opened

    opened = async_to_sync(session)()
    assert opened == 1
    assert profile(agent).availability == Availability.ONLINE  # came back by itself
    assert console_sockets(user_id=agent.pk) == 0
    assert not any_agent_present(user_ids=[agent.pk])
