import io

import pytest
from django.urls import reverse

from inbox.enums import MessageDirection, SenderType
from inbox.models import Message
from inbox.selectors import realtime_groups_for_user
from inbox.services import message_append
from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory

pytestmark = pytest.mark.django_db


def receive(conversation, body):
    return message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body=body,
    )[0]


def messages_url(conversation):
    return reverse("api-conversation-messages", kwargs={"uuid": conversation.uuid})


@pytest.fixture
def mine(agent):
    inbox = InboxFactory()
    inbox.members.add(agent)
    return ConversationFactory(inbox=inbox)


def test_the_list_has_tabs_mine_unassigned_and_all(api_client, agent, mine):
    inbox = mine.inbox
    assigned = ConversationFactory(inbox=inbox, assignee=agent)
    ConversationFactory()  # another inbox: never listed
    api_client.force_authenticate(agent)

    def ids(view):
        response = api_client.get(reverse("api-conversation-list"), {"view": view})
        return {row["id"] for row in response.json()["results"]}

    assert ids("mine") == {str(assigned.uuid)}
    assert ids("unassigned") == {str(mine.uuid)}
    assert ids("all") == {str(mine.uuid), str(assigned.uuid)}
    bad = api_client.get(reverse("api-conversation-list"), {"view": "everything"})
    assert bad.status_code == 400


def test_a_reply_is_stored_once_and_assigns_an_unassigned_conversation(api_client, agent, mine):
    receive(mine, "hello?")
    api_client.force_authenticate(agent)
    body = {"client_id": "reply-1", "body": "Hi, how can I help?"}
    first = api_client.post(messages_url(mine), body, format="json")
    again = api_client.post(messages_url(mine), body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["seq"] == again.json()["seq"] == 2
    assert first.json()["author"]["id"] == agent.pk
    mine.refresh_from_db()
    assert mine.assignee == agent
    assert mine.unread_count == 0
    assert Message.objects.filter(conversation=mine).count() == 2


def test_a_reply_quotes_a_message_of_its_conversation(api_client, agent, mine):
    receive(mine, "Where is order 123?")
    other = receive(ConversationFactory(inbox=mine.inbox), "elsewhere")
    api_client.force_authenticate(agent)
    quoted = api_client.post(
        messages_url(mine), {"body": "On its way", "reply_to": 1}, format="json"
    )
    assert quoted.status_code == 201
    assert quoted.json()["reply_to"] == 1
    # A seq of another conversation (or none at all) is refused, and nothing is stored.
    for seq in (other.seq + 5, 99):
        refused = api_client.post(messages_url(mine), {"body": "x", "reply_to": seq}, format="json")
        assert refused.status_code == 400
        assert "reply_to" in refused.json()["error"]["details"]
    assert Message.objects.filter(conversation=mine).count() == 2


def test_history_pages_by_seq(api_client, agent, mine):
    for n in range(7):
        receive(mine, f"m{n}")
    api_client.force_authenticate(agent)
    newest = api_client.get(messages_url(mine), {"limit": 3}).json()
    assert [m["seq"] for m in newest["results"]] == [5, 6, 7]
    assert newest["has_more"] is True
    older = api_client.get(messages_url(mine), {"before": 5, "limit": 3}).json()
    assert [m["seq"] for m in older["results"]] == [2, 3, 4]
    resumed = api_client.get(messages_url(mine), {"after": 6}).json()
    assert [m["seq"] for m in resumed["results"]] == [7]
    assert resumed["has_more"] is False
    assert api_client.get(messages_url(mine), {"after": "x"}).status_code == 400


def test_reading_clears_the_unread_count_up_to_the_seq(api_client, agent, mine):
    for n in range(3):
        receive(mine, f"m{n}")
    mine.refresh_from_db()
    assert mine.unread_count == 3
    api_client.force_authenticate(agent)
    url = reverse("api-conversation-read", kwargs={"uuid": mine.uuid})
    response = api_client.post(url, {"seq": 2}, format="json")
    assert response.json()["unread_count"] == 1
    # Read state never moves back.
    assert api_client.post(url, {"seq": 1}, format="json").json()["agent_read_seq"] == 2


def test_an_agent_cannot_touch_a_conversation_outside_their_inboxes(api_client, agent):
    stranger = ConversationFactory()
    receive(stranger, "private")
    api_client.force_authenticate(agent)
    for name, method, body in [
        ("api-conversation-detail", "get", None),
        ("api-conversation-messages", "get", None),
        ("api-conversation-messages", "post", {"body": "x"}),
        ("api-conversation-read", "post", {"seq": 1}),
        ("api-conversation-typing", "post", {"typing": True}),
    ]:
        url = reverse(name, kwargs={"uuid": stranger.uuid})
        response = getattr(api_client, method)(url, body, format="json")
        assert response.status_code == 404, (name, method)
    assert Message.objects.filter(conversation=stranger).count() == 1


def test_an_agent_sends_a_file(api_client, agent, mine):
    api_client.force_authenticate(agent)
    upload = io.BytesIO(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    upload.name = "invoice.pdf"
    url = reverse("api-conversation-attachments", kwargs={"uuid": mine.uuid})
    response = api_client.post(url, {"file": upload, "client_id": "f-1"})
    assert response.status_code == 201, response.content
    assert response.json()["attachments"][0]["content_type"] == "application/pdf"
    mine.refresh_from_db()
    assert mine.last_message_preview == "📎 invoice.pdf"


def test_detail_shows_the_customer_and_the_source(api_client, agent, mine):
    mine.source = {"page_url": "https://shop.example.com/", "utm_campaign": "spring"}
    mine.save()
    api_client.force_authenticate(agent)
    data = api_client.get(reverse("api-conversation-detail", kwargs={"uuid": mine.uuid})).json()
    assert data["source"]["utm_campaign"] == "spring"
    assert data["customer"]["id"] == str(mine.customer.uuid)


def test_socket_groups_follow_the_visibility_paths(agent, supervisor):
    team = TeamFactory()
    team.members.add(agent)
    inbox = InboxFactory()
    inbox.members.add(agent)
    groups = realtime_groups_for_user(user=agent)
    assert set(groups) == {f"user.{agent.pk}", f"inbox.{inbox.pk}", f"team.{team.pk}"}
    assert "staff" in realtime_groups_for_user(user=supervisor)
