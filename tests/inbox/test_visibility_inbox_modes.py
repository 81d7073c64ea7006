"""An inbox's `visibility`: "all" (its agents see all its conversations) or "assigned"
(its agents see their own and the unassigned ones), in every way a conversation reaches
an agent: list, search, detail, messages (and so attachment links), customers, sockets."""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from inbox import realtime
from inbox.enums import InboxVisibility, MessageDirection, SenderType
from inbox.models import Conversation
from inbox.search import conversation_search
from inbox.selectors import conversation_get, conversation_list, customer_list
from inbox.selectors import realtime_groups_for_user as groups_for
from inbox.services.assignment import conversation_assign, conversation_transfer
from inbox.services.messages import message_append, message_send
from tests.factories.accounts import AgentFactory
from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(agent):
    """The agent belongs to the "assigned" inbox R directly and to team T, which serves the
    "assigned" inbox S; open inbox O (visibility "all") they belong to as before."""
    restricted = InboxFactory(visibility=InboxVisibility.ASSIGNED)
    via_team = InboxFactory(visibility=InboxVisibility.ASSIGNED)
    open_inbox = InboxFactory()
    restricted.members.add(agent)
    open_inbox.members.add(agent)
    team = TeamFactory()
    team.members.add(agent)
    via_team.teams.add(team)
    colleague = AgentFactory()
    rows = {
        "own": ConversationFactory(inbox=restricted, assignee=agent),
        "unassigned": ConversationFactory(inbox=restricted),
        "colleagues": ConversationFactory(inbox=restricted, assignee=colleague),
        "team_unassigned": ConversationFactory(inbox=via_team),
        "team_colleagues": ConversationFactory(inbox=via_team, assignee=colleague),
        "team_field_colleagues": ConversationFactory(
            inbox=restricted, team=team, assignee=colleague
        ),
        "open_colleagues": ConversationFactory(inbox=open_inbox, assignee=colleague),
    }
    for conversation in rows.values():
        message_append(
            conversation=conversation,
            direction=MessageDirection.INBOUND,
            sender_type=SenderType.CUSTOMER,
            body="我想申请退款",
        )
    return {"rows": rows, "restricted": restricted, "via_team": via_team, "team": team,
            "open": open_inbox, "colleague": colleague}  # fmt: skip


VISIBLE = {"own", "unassigned", "team_unassigned", "open_colleagues"}


def names(world, conversations) -> set[str]:
    by_pk = {conversation.pk: name for name, conversation in world["rows"].items()}
    return {by_pk[conversation.pk] for conversation in conversations}


def test_list_search_and_detail_show_own_and_unassigned_only(agent, world):
    assert names(world, conversation_list(user=agent)) == VISIBLE
    assert names(world, conversation_search(user=agent, q="退款")) == VISIBLE
    for plan in ("collect", "walk"):
        assert names(world, conversation_search(user=agent, q="退款", plan=plan)) == VISIBLE
    for name, conversation in world["rows"].items():
        assert (conversation_get(user=agent, uuid=conversation.uuid) is not None) == (
            name in VISIBLE
        )


def test_supervisors_see_all_and_the_colleague_sees_their_own(supervisor, world):
    assert names(world, conversation_list(user=supervisor)) == set(world["rows"])
    world["restricted"].members.add(world["colleague"])
    assert names(world, conversation_list(user=world["colleague"])) == {
        "unassigned",
        "colleagues",
        "team_field_colleagues",
        "team_colleagues",  # assigned to them, whatever the inbox
        "open_colleagues",
    }


def test_the_api_hides_the_others_detail_messages_and_attachment_links(api_client, agent, world):
    api_client.force_authenticate(agent)
    hidden = world["rows"]["colleagues"]
    shown = world["rows"]["unassigned"]
    assert api_client.get(f"/api/v1/conversations/{hidden.uuid}/").status_code == 404
    # Attachment links are issued with the messages, which are refused too.
    assert api_client.get(f"/api/v1/conversations/{hidden.uuid}/messages/").status_code == 404
    assert api_client.get(f"/api/v1/conversations/{shown.uuid}/messages/").status_code == 200
    listed = {row["id"] for row in api_client.get("/api/v1/conversations/").json()["results"]}
    assert listed == {str(world["rows"][name].uuid) for name in VISIBLE}
    found = api_client.get("/api/v1/search/", {"q": "退款"}).json()["results"]
    assert {row["id"] for row in found} == listed


def test_customers_follow_the_same_rule(agent, world):
    customers = set(customer_list(user=agent))
    assert customers == {world["rows"][name].customer for name in VISIBLE}


def test_an_all_inbox_behaves_as_before(agent, world):
    world["restricted"].visibility = InboxVisibility.ALL
    world["restricted"].save()
    assert {"colleagues", "team_field_colleagues"} <= names(world, conversation_list(user=agent))
    assert "team_colleagues" not in names(world, conversation_list(user=agent))


def test_socket_groups_follow_the_rule(agent, world):
    restricted, via_team, team = world["restricted"], world["via_team"], world["team"]
    joined = set(groups_for(user=agent))
    assert f"inbox.{restricted.pk}.unassigned" in joined
    assert f"inbox.{restricted.pk}" not in joined
    assert f"inbox.{world['open'].pk}" in joined
    assert {f"team.{team.pk}", f"team.{team.pk}.unassigned", f"user.{agent.pk}"} <= joined

    def reach(name: str) -> set[str]:
        conversation = Conversation.objects.get(pk=world["rows"][name].pk)
        return set(realtime.agent_groups(conversation)) & joined

    for name in world["rows"]:
        assert bool(reach(name)) == (name in VISIBLE), name
    assert reach("unassigned") == {f"inbox.{restricted.pk}.unassigned"}
    assert reach("team_unassigned") == {f"team.{team.pk}.unassigned"}
    assert reach("own") == {f"user.{agent.pk}"}
    assert f"inbox.{via_team.pk}.unassigned" not in joined  # the agent is there by team only


@pytest.mark.parametrize("how", ["assign", "transfer", "reply"])
def test_changing_hands_tells_those_who_saw_it_to_drop_the_row(
    agent, world, how, django_capture_on_commit_callbacks
):
    """Assigning, transferring or answering an unassigned conversation in an "assigned
    only" inbox: the inbox's unassigned group hears `conversation.removed`, the new holder
    hears `conversation.updated`."""
    conversation = world["rows"]["unassigned"]
    colleague = world["colleague"]
    unassigned_group = f"inbox.{world['restricted'].pk}.unassigned"

    def change_hands():
        with django_capture_on_commit_callbacks(execute=True):
            if how == "assign":
                conversation_assign(conversation=conversation, agent=colleague, actor=None)
            elif how == "transfer":
                conversation_transfer(conversation=conversation, to_agent=colleague, actor=agent)
            else:
                message_send(conversation=conversation, author=colleague, body="On it")

    async def first_of(layer, channel, kind: str) -> dict:
        while True:  # activity lines and notifications come too
            event = (await asyncio.wait_for(layer.receive(channel), 5))["event"]
            if event["type"] == kind:
                return event

    async def listen() -> tuple[dict, dict]:
        layer = get_channel_layer()
        watcher, holder = await layer.new_channel(), await layer.new_channel()
        await layer.group_add(unassigned_group, watcher)
        await layer.group_add(realtime.user_group(colleague.pk), holder)
        await sync_to_async(change_hands)()
        seen = await first_of(layer, watcher, "conversation.removed")
        told = await first_of(layer, holder, "conversation.updated")
        await layer.group_discard(unassigned_group, watcher)
        await layer.group_discard(realtime.user_group(colleague.pk), holder)
        return seen, told

    seen, told = async_to_sync(listen)()
    assert seen == {"type": "conversation.removed", "conversation": str(conversation.uuid)}
    assert told["conversation"]["assignee"]["id"] == colleague.pk
