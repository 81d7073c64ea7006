import datetime
import threading
from collections import Counter

import pytest
from django.db import close_old_connections
from django.utils import timezone

from inbox.enums import (
    AssignmentMethod,
    Availability,
    ConversationStatus,
    NotificationKind,
    Priority,
    SenderType,
)
from inbox.models import AgentProfile, Conversation, Message, Notification
from inbox.services.assignment import (
    conversation_assign,
    conversation_autoassign,
    conversation_transfer,
    queue_drain,
    queue_position,
)
from tests.factories.accounts import AgentFactory, UserFactory
from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory

NOW = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


def online(user, *, capacity=5, skills=(), last_assigned_at=None):
    AgentProfile.objects.update_or_create(
        user=user,
        defaults={
            "availability": Availability.ONLINE,
            "capacity": capacity,
            "skills": list(skills),
            "last_assigned_at": last_assigned_at,
        },
    )
    return user


def team_of(*agents, method=AssignmentMethod.ROUND_ROBIN):
    team = TeamFactory(assignment_method=method)
    team.members.add(*agents)
    return team


def assign(conversation):
    return conversation_autoassign(conversation=conversation, now=NOW)


@pytest.mark.django_db
class TestAutomaticAssignment:
    def test_round_robin_goes_to_whoever_waited_longest(self):
        a = online(AgentFactory(), last_assigned_at=NOW - datetime.timedelta(minutes=1))
        b = online(AgentFactory(), last_assigned_at=NOW - datetime.timedelta(minutes=9))
        c = online(AgentFactory(), last_assigned_at=None)  # never assigned: first
        team = team_of(a, b, c)
        order = [
            conversation_autoassign(
                conversation=ConversationFactory(team=team),
                now=NOW + datetime.timedelta(seconds=i),
            )
            for i in range(4)
        ]
        assert order == [c, b, a, c]

    def test_least_loaded_goes_to_the_fewest_open_conversations(self):
        busy = online(AgentFactory(), last_assigned_at=None)
        idle = online(AgentFactory(), last_assigned_at=NOW)
        team = team_of(busy, idle, method=AssignmentMethod.LEAST_LOADED)
        ConversationFactory(assignee=busy)
        ConversationFactory(assignee=busy, status=ConversationStatus.PENDING)
        ConversationFactory(assignee=idle, status=ConversationStatus.RESOLVED)  # not counted
        ConversationFactory(assignee=idle, status=ConversationStatus.SNOOZED)  # not counted
        assert assign(ConversationFactory(team=team)) == idle
        assert assign(ConversationFactory(team=team)) == idle  # 1 vs 2
        assert assign(ConversationFactory(team=team)) in (busy, idle)  # 2 vs 2

    def test_skills_are_required(self):
        english = online(AgentFactory(), skills=["en"])
        chinese = online(AgentFactory(), skills=["zh", "billing", "en"], last_assigned_at=NOW)
        team = team_of(english, chinese)
        conversation = ConversationFactory(team=team, required_skills=["zh", "billing"])
        assert assign(conversation) == chinese
        nobody = ConversationFactory(team=team, required_skills=["ja"])
        assert assign(nobody) is None
        nobody.refresh_from_db()
        assert nobody.queued_at == NOW

    def test_busy_offline_and_full_agents_are_passed_over(self):
        busy, offline = online(AgentFactory()), online(AgentFactory())
        AgentProfile.objects.filter(user=busy).update(availability=Availability.BUSY)
        AgentProfile.objects.filter(user=offline).update(availability=Availability.OFFLINE)
        full = online(AgentFactory(), capacity=1)
        ConversationFactory(assignee=full)
        never_set = AgentFactory()  # no profile yet: offline
        team = team_of(busy, offline, full, never_set)
        assert assign(ConversationFactory(team=team)) is None

    def test_a_team_that_assigns_by_hand_keeps_its_queue(self):
        team = team_of(online(AgentFactory()), method=AssignmentMethod.MANUAL)
        conversation = ConversationFactory(team=team)
        assert assign(conversation) is None
        conversation.refresh_from_db()
        assert conversation.queued_at == NOW

    def test_without_a_team_the_inbox_and_its_teams_members_are_candidates(self):
        inbox = InboxFactory()
        member = online(AgentFactory(), last_assigned_at=NOW)
        via_team = online(AgentFactory())
        inbox.members.add(member)
        inbox.teams.add(team_of(via_team))
        outsider = online(AgentFactory(), last_assigned_at=None)
        picked = {assign(ConversationFactory(inbox=inbox)) for _ in range(2)}
        assert picked == {member, via_team}
        assert outsider not in picked

    def test_automatic_assignment_notifies_and_records(self):
        agent = online(AgentFactory())
        conversation = ConversationFactory(team=team_of(agent))
        assert assign(conversation) == agent
        conversation.refresh_from_db()
        assert conversation.assignee == agent
        assert conversation.queued_at is None
        assert Notification.objects.get(user=agent).kind == NotificationKind.ASSIGNED
        activity = Message.objects.get(conversation=conversation)
        assert activity.private and activity.sender_type == SenderType.SYSTEM
        assert AgentProfile.objects.get(user=agent).last_assigned_at == NOW


@pytest.mark.django_db
class TestQueue:
    def test_queue_order_is_priority_then_age_and_it_drains_when_capacity_frees(
        self, django_capture_on_commit_callbacks
    ):
        agent = online(AgentFactory(), capacity=1)
        team = team_of(agent)
        first = ConversationFactory(team=team)
        assert assign(first) == agent
        old = ConversationFactory(team=team)
        newer = ConversationFactory(team=team)
        urgent = ConversationFactory(team=team, priority=Priority.URGENT)
        for minutes, conversation in [(1, old), (2, newer), (3, urgent)]:
            conversation_autoassign(
                conversation=conversation, now=NOW + datetime.timedelta(minutes=minutes)
            )
            conversation.refresh_from_db()
        assert [queue_position(conversation=c) for c in (urgent, old, newer)] == [1, 2, 3]
        assert queue_position(conversation=first) is None
        other_team = ConversationFactory(team=TeamFactory(), queued_at=NOW)
        assert queue_position(conversation=other_team) == 1

        # The agent resolves their conversation: the urgent one is assigned, then the oldest.
        with django_capture_on_commit_callbacks(execute=True):
            Conversation.objects.filter(pk=first.pk).update(status=ConversationStatus.RESOLVED)
            from inbox.services.assignment import capacity_freed

            capacity_freed(agent=agent)
        urgent.refresh_from_db()
        assert urgent.assignee == agent and urgent.queued_at is None
        assert Conversation.objects.get(pk=old.pk).assignee is None

        Conversation.objects.filter(pk=urgent.pk).update(status=ConversationStatus.RESOLVED)
        assert queue_drain(team=team) == 1
        assert Conversation.objects.get(pk=old.pk).assignee == agent
        newer.refresh_from_db()
        assert queue_position(conversation=newer) == 1

    def test_a_full_queue_does_not_hold_up_the_others(self):
        full = team_of(online(AgentFactory(), capacity=0))
        for minutes in range(3):
            ConversationFactory(team=full, queued_at=NOW - datetime.timedelta(hours=minutes))
        ConversationFactory(team=TeamFactory(), queued_at=NOW - datetime.timedelta(days=1))
        free = team_of(online(AgentFactory()))
        waiting = ConversationFactory(team=free, queued_at=NOW)
        assert queue_drain(limit=1) == 1
        assert Conversation.objects.get(pk=waiting.pk).assignee is not None
        assert Conversation.objects.filter(assignee__isnull=False).count() == 1

    def test_a_resolved_conversation_leaves_the_queue(self):
        team = team_of(online(AgentFactory(), capacity=0))
        conversation = ConversationFactory(team=team)
        assign(conversation)
        Conversation.objects.filter(pk=conversation.pk).update(status=ConversationStatus.RESOLVED)
        AgentProfile.objects.update(capacity=5)
        assert queue_drain() == 0


@pytest.mark.django_db
class TestManualAssignmentAndTransfer:
    def test_assign_notifies_the_assignee_and_records_who_assigned_whom(self, supervisor):
        agent = AgentFactory(display_name="Ann")
        conversation = ConversationFactory(queued_at=NOW)
        conversation_assign(conversation=conversation, agent=agent, actor=supervisor)
        conversation.refresh_from_db()
        assert conversation.assignee == agent and conversation.queued_at is None
        notification = Notification.objects.get(user=agent)
        assert notification.kind == NotificationKind.ASSIGNED
        assert notification.actor == supervisor
        activity = Message.objects.get(conversation=conversation)
        assert activity.private and activity.sender_type == SenderType.SYSTEM
        assert str(supervisor) in activity.body and "Ann" in activity.body

    def test_unassigning_hands_it_to_someone_else_of_the_team(self, supervisor):
        first = online(AgentFactory(), last_assigned_at=None)
        second = online(AgentFactory(), last_assigned_at=NOW)
        conversation = ConversationFactory(team=team_of(first, second), assignee=first)
        conversation_assign(conversation=conversation, agent=None, actor=supervisor)
        conversation.refresh_from_db()
        assert conversation.assignee == second

    def test_transfer_to_an_agent_with_a_note(self, agent):
        colleague = AgentFactory()
        conversation = ConversationFactory(assignee=agent)
        conversation_transfer(
            conversation=conversation, to_agent=colleague, actor=agent, note="VIP, be quick"
        )
        conversation.refresh_from_db()
        assert conversation.assignee == colleague
        notification = Notification.objects.get(user=colleague)
        assert notification.kind == NotificationKind.TRANSFER
        assert "VIP, be quick" in notification.text
        activity = Message.objects.get(conversation=conversation)
        assert activity.private and activity.content["note"] == "VIP, be quick"

    def test_transfer_to_a_team_notifies_its_members_and_assigns_within_it(self, agent):
        member = online(AgentFactory())
        resting = AgentFactory()
        team = team_of(member, resting)
        conversation = ConversationFactory(assignee=agent)
        conversation_transfer(conversation=conversation, to_team=team, actor=agent, note="")
        conversation.refresh_from_db()
        assert conversation.team == team
        assert conversation.assignee == member
        kinds = set(Notification.objects.values_list("user", "kind"))
        assert (member.pk, NotificationKind.TRANSFER) in kinds
        assert (resting.pk, NotificationKind.TRANSFER) in kinds
        assert (member.pk, NotificationKind.ASSIGNED) in kinds
        assert not Notification.objects.filter(user=agent).exists()


@pytest.mark.django_db(transaction=True)
def test_many_conversations_assigned_concurrently():
    agents = [online(AgentFactory(), capacity=5) for _ in range(3)]
    team = team_of(*agents)
    conversations = [ConversationFactory(team=team) for _ in range(40)]
    barrier = threading.Barrier(8)
    errors = []

    def work(chunk):
        try:
            barrier.wait()
            for conversation in chunk:
                conversation_autoassign(conversation=conversation)
                conversation_autoassign(conversation=conversation)  # a repeat changes nothing
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=work, args=(conversations[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    stored = list(Conversation.objects.all())
    load = Counter(c.assignee_id for c in stored if c.assignee_id)
    assert load == {agent.pk: 5 for agent in agents}
    assert sum(1 for c in stored if c.queued_at is not None and c.assignee_id is None) == 25
    assigned_notes = Message.objects.filter(content__activity="assigned")
    assert assigned_notes.count() == 15  # each conversation assigned once


@pytest.mark.django_db
class TestApi:
    @pytest.fixture
    def world(self, agent):
        inbox = InboxFactory()
        inbox.members.add(agent)
        return {
            "mine": ConversationFactory(inbox=inbox),
            "hidden": ConversationFactory(),
            "colleague": AgentFactory(),
        }

    def url(self, conversation, action="assign"):
        return f"/api/v1/conversations/{conversation.uuid}/{action}/"

    def test_an_agent_outside_the_inbox_gets_404(self, api_client, agent, world):
        api_client.force_authenticate(agent)
        for action in ("assign", "transfer"):
            response = api_client.post(
                self.url(world["hidden"], action), {"agent": agent.pk}, format="json"
            )
            assert response.status_code == 404

    def test_an_agent_may_take_a_conversation_but_not_give_it_to_someone(
        self, api_client, agent, world
    ):
        api_client.force_authenticate(agent)
        response = api_client.post(
            self.url(world["mine"]), {"agent": world["colleague"].pk}, format="json"
        )
        assert response.status_code == 403
        response = api_client.post(self.url(world["mine"]), {"agent": agent.pk}, format="json")
        assert response.status_code == 200
        assert response.json()["assignee"]["id"] == agent.pk
        response = api_client.post(
            self.url(world["mine"]), {"team": TeamFactory().pk}, format="json"
        )
        assert response.status_code == 403

    def test_a_supervisor_assigns_anyone_and_bad_ids_are_400(self, api_client, supervisor, world):
        api_client.force_authenticate(supervisor)
        team = TeamFactory()
        response = api_client.post(
            self.url(world["hidden"]),
            {"agent": world["colleague"].pk, "team": team.pk},
            format="json",
        )
        assert response.status_code == 200
        world["hidden"].refresh_from_db()
        assert world["hidden"].assignee == world["colleague"] and world["hidden"].team == team
        for body in ({"agent": 999999}, {"team": 999999}, {"agent": "x"}, {}):
            response = api_client.post(self.url(world["hidden"]), body, format="json")
            assert response.status_code == 400, body
            assert response.json()["error"]["message"]
        customerish = UserFactory()  # no role: not assignable
        response = api_client.post(
            self.url(world["hidden"]), {"agent": customerish.pk}, format="json"
        )
        assert response.status_code == 400

    def test_transfer_with_a_note(self, api_client, agent, world):
        world["mine"].inbox.members.add(world["colleague"])
        api_client.force_authenticate(agent)
        response = api_client.post(
            self.url(world["mine"], "transfer"),
            {"agent": world["colleague"].pk, "note": "Speaks Japanese"},
            format="json",
        )
        assert response.status_code == 200
        assert Notification.objects.get(user=world["colleague"]).kind == NotificationKind.TRANSFER
        stranger = AgentFactory()
        response = api_client.post(
            self.url(world["mine"], "transfer"), {"agent": stranger.pk}, format="json"
        )
        assert response.status_code == 400
        response = api_client.post(self.url(world["mine"], "transfer"), {}, format="json")
        assert response.status_code == 400

    def test_agent_and_team_lists(self, api_client, agent, supervisor, world):
        world["mine"].inbox.members.add(world["colleague"])
        online(world["colleague"], capacity=7)
        ConversationFactory(assignee=world["colleague"])
        team = team_of(world["colleague"])
        api_client.force_authenticate(agent)
        rows = {row["id"]: row for row in api_client.get("/api/v1/agents/").json()}
        assert set(rows) == {agent.pk, world["colleague"].pk}
        colleague = rows[world["colleague"].pk]
        assert colleague["availability"] == "online"
        assert (colleague["load"], colleague["capacity"]) == (1, 7)
        assert colleague["teams"] == [team.pk]
        # Whoever serves the agent's inbox through a team is a colleague too.
        serving = TeamFactory(name="~ serving")  # listed after the other by name
        serving.members.add(through_team := AgentFactory())
        world["mine"].inbox.teams.add(serving)
        listed = {row["id"] for row in api_client.get("/api/v1/agents/").json()}
        assert listed == {agent.pk, world["colleague"].pk, through_team.pk}
        api_client.force_authenticate(supervisor)
        assert len(api_client.get("/api/v1/agents/").json()) == 4
        teams = api_client.get("/api/v1/teams/").json()
        assert teams[0] == {
            "id": team.pk,
            "name": team.name,
            "assignment_method": "round_robin",
            "members": 1,
            "online": 1,
        }
        assert [row["id"] for row in teams] == [team.pk, serving.pk]

    def test_inbox_list_is_the_inboxes_an_agent_works_in(self, api_client, agent, supervisor):
        direct = InboxFactory(name="B direct")
        direct.members.add(agent)
        through_team = InboxFactory(name="A through a team")
        through_team.teams.add(team_of(agent))
        elsewhere = InboxFactory(name="C elsewhere")
        ConversationFactory(inbox=elsewhere, assignee=agent)  # assigned, not a member
        api_client.force_authenticate(agent)
        rows = api_client.get("/api/v1/inboxes/").json()
        assert [row["name"] for row in rows] == ["A through a team", "B direct"]
        assert set(rows[0]) == {"id", "name", "channel"}
        api_client.force_authenticate(supervisor)
        names = [row["name"] for row in api_client.get("/api/v1/inboxes/").json()]
        assert {"A through a team", "B direct", "C elsewhere"} <= set(names)
        assert names == sorted(names)

    def test_a_user_without_a_role_is_refused(self, api_client):
        api_client.force_authenticate(UserFactory())
        assert api_client.get("/api/v1/inboxes/").status_code == 403
        assert api_client.get("/api/v1/agents/").status_code == 403
        assert api_client.get("/api/v1/teams/").status_code == 403
        assert api_client.get("/api/v1/me/availability/").status_code == 403


def test_now_is_aware():
    assert timezone.is_aware(NOW)
