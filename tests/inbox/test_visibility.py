import uuid

import pytest

from inbox.selectors import conversation_list
from tests.factories.accounts import AgentFactory
from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(agent):
    """The agent belongs to inbox A directly and to team T, which serves inbox B."""
    inbox_a, inbox_b, inbox_c = InboxFactory(), InboxFactory(), InboxFactory()
    inbox_a.members.add(agent)
    team = TeamFactory()
    team.members.add(agent)
    inbox_b.teams.add(team)
    return {
        "member": ConversationFactory(inbox=inbox_a),
        "via_team": ConversationFactory(inbox=inbox_b),
        "assigned": ConversationFactory(inbox=inbox_c, assignee=agent),
        "hidden": ConversationFactory(inbox=inbox_c),
        "other_agent": ConversationFactory(inbox=inbox_c, assignee=AgentFactory()),
    }


def test_an_agent_sees_only_their_inboxes_teams_and_assignments(agent, world):
    visible = set(conversation_list(user=agent))
    assert visible == {world["member"], world["via_team"], world["assigned"]}


def test_a_supervisor_sees_every_conversation(supervisor, world):
    assert set(conversation_list(user=supervisor)) == set(world.values())


def test_a_user_without_a_role_sees_nothing(world):
    from tests.factories.accounts import UserFactory

    assert list(conversation_list(user=UserFactory())) == []


def test_api_lists_only_visible_conversations_in_cursor_pages(api_client, agent, world):
    for _ in range(3):  # more visible rows than a page holds
        ConversationFactory(inbox=world["member"].inbox)
    api_client.force_authenticate(agent)
    seen, url = [], "/api/v1/conversations/?page_size=2"
    while url:
        response = api_client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) <= 2
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    expected = {str(c.uuid) for c in conversation_list(user=agent)}
    assert len(seen) == len(expected) == 6
    assert set(seen) == expected
    assert str(world["hidden"].uuid) not in seen


def test_api_detail_of_an_invisible_conversation_is_not_found(api_client, agent, world):
    api_client.force_authenticate(agent)
    assert api_client.get(f"/api/v1/conversations/{world['member'].uuid}/").status_code == 200
    for key in ("hidden", "other_agent"):
        response = api_client.get(f"/api/v1/conversations/{world[key].uuid}/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert api_client.get(f"/api/v1/conversations/{uuid.uuid4()}/").status_code == 404


def test_the_console_list_shows_only_visible_conversations(client, agent, world):
    client.force_login(agent)
    assert client.get("/console/").status_code == 200
    listed = client.get("/api/v1/conversations/", {"view": "all"}).json()["results"]
    names = {row["customer"]["name"] for row in listed}
    assert str(world["member"].customer) in names
    assert str(world["hidden"].customer) not in names
