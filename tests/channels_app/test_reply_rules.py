"""Channel rules are enforced before a reply is stored and explained to the agent:
WhatsApp's 24-hour window and templates, Messenger's human-agent tag, length and file
limits, unfollowed customers; through the API as the console uses it."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from channels_app.enums import TemplateStatus
from channels_app.models import MessageTemplate, OutboundDelivery
from customers.enums import IdentityKind
from inbox.models import Conversation, Message
from inbox.services import message_receive
from tests.factories.accounts import AgentFactory
from tests.factories.channels import ChannelFactory
from tests.factories.customers import CustomerFactory, IdentityFactory
from tests.factories.inbox import ConversationFactory


def _conversation(kind: str, *, last_wrote_hours_ago: float, identity_kind: str):
    channel = ChannelFactory(kind=kind)
    customer = CustomerFactory()
    identity = IdentityFactory(customer=customer, kind=identity_kind, value="16505551234")
    conversation = ConversationFactory(inbox=channel.inbox, customer=customer, identity=identity)
    message_receive(
        conversation=conversation,
        body="Hello",
        sent_at=timezone.now() - datetime.timedelta(hours=last_wrote_hours_ago),
    )
    return channel, conversation


@pytest.fixture
def staff(db):
    agent = AgentFactory()
    client = APIClient()
    client.force_authenticate(agent)
    return agent, client


def _url(conversation, tail="messages/"):
    return f"/api/v1/conversations/{conversation.uuid}/{tail}"


def _agent_sees(agent, conversation):
    conversation.inbox.members.add(agent)


@pytest.mark.django_db
def test_inside_the_window_free_text_goes_out(staff):
    agent, client = staff
    _, conversation = _conversation("whatsapp", last_wrote_hours_ago=2, identity_kind="whatsapp")
    _agent_sees(agent, conversation)
    options = client.get(_url(conversation, "reply-options/")).json()
    assert options["window_open"] is True and options["blocked_code"] == ""
    assert options["kind"] == "whatsapp" and options["max_text_length"] == 4096
    closes = datetime.datetime.fromisoformat(options["window_closes_at"])
    assert timezone.now() + datetime.timedelta(hours=21) < closes

    response = client.post(_url(conversation), {"body": "Yes, in blue."}, format="json")
    assert response.status_code == 201
    assert response.json()["delivery_status"] == "queued"
    assert OutboundDelivery.objects.count() == 1


@pytest.mark.django_db
def test_outside_the_window_free_text_is_refused_with_what_to_do(staff):
    agent, client = staff
    channel, conversation = _conversation(
        "whatsapp", last_wrote_hours_ago=30, identity_kind="whatsapp"
    )
    _agent_sees(agent, conversation)
    MessageTemplate.objects.create(
        channel=channel,
        name="order_ready",
        language="en_US",
        body="Hi {{1}}, your order {{2}} is ready.",
        status=TemplateStatus.APPROVED,
    )
    MessageTemplate.objects.create(
        channel=channel, name="pending_one", language="en_US", body="x", status="pending"
    )
    options = client.get(_url(conversation, "reply-options/")).json()
    assert options["window_open"] is False
    assert options["blocked_code"] == "window_closed"
    assert "24 hours" in options["blocked_reason"] and "template" in options["hint"]
    assert [t["name"] for t in options["templates"]] == ["order_ready"]
    assert options["templates"][0]["variables"] == 2

    response = client.post(_url(conversation), {"body": "Still there?"}, format="json")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "window_closed" and error["details"]["hint"]
    assert not Message.objects.filter(body="Still there?").exists()
    assert not OutboundDelivery.objects.exists()


@pytest.mark.django_db
def test_an_approved_template_is_filled_validated_and_sent(staff):
    agent, client = staff
    channel, conversation = _conversation(
        "whatsapp", last_wrote_hours_ago=30, identity_kind="whatsapp"
    )
    _agent_sees(agent, conversation)
    template = MessageTemplate.objects.create(
        channel=channel,
        name="order_ready",
        language="en_US",
        body="Hi {{1}}, your order {{2}} is ready.",
    )
    bad = client.post(
        _url(conversation),
        {"template": {"id": template.pk, "variables": ["Ann"]}},
        format="json",
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "template_variables"
    newline = client.post(
        _url(conversation),
        {"template": {"id": template.pk, "variables": ["Ann", "A\nB"]}},
        format="json",
    )
    assert newline.status_code == 422

    response = client.post(
        _url(conversation),
        {"template": {"id": template.pk, "variables": ["Ann", "#1042"]}},
        format="json",
    )
    assert response.status_code == 201, response.content
    message = Message.objects.get(pk__isnull=False, direction="out")
    assert message.body == "Hi Ann, your order #1042 is ready."
    assert message.content["template"] == {
        "name": "order_ready",
        "language": "en_US",
        "variables": ["Ann", "#1042"],
    }
    assert OutboundDelivery.objects.get().message == message


@pytest.mark.django_db
def test_messenger_allows_the_human_agent_tag_for_seven_days(staff):
    agent, client = staff
    _, conversation = _conversation("messenger", last_wrote_hours_ago=48, identity_kind="messenger")
    _agent_sees(agent, conversation)
    options = client.get(_url(conversation, "reply-options/")).json()
    assert options["outside_window"] == "message_tag" and options["tag_allowed_until"]

    refused = client.post(_url(conversation), {"body": "Update on your case"}, format="json")
    assert refused.status_code == 422
    tagged = client.post(
        _url(conversation),
        {"body": "Update on your case", "options": {"message_tag": "HUMAN_AGENT"}},
        format="json",
    )
    assert tagged.status_code == 201
    assert OutboundDelivery.objects.get().options == {"message_tag": "HUMAN_AGENT"}

    Conversation.objects.update(last_inbound_at=timezone.now() - datetime.timedelta(days=8))
    late = client.post(
        _url(conversation),
        {"body": "Too late", "options": {"message_tag": "HUMAN_AGENT"}},
        format="json",
    )
    assert late.status_code == 422


@pytest.mark.django_db
def test_length_and_file_limits_are_checked_before_storing(staff):
    agent, client = staff
    _, conversation = _conversation("messenger", last_wrote_hours_ago=1, identity_kind="messenger")
    _agent_sees(agent, conversation)
    limit = client.get(_url(conversation, "reply-options/")).json()["max_text_length"]
    response = client.post(_url(conversation), {"body": "x" * (limit + 1)}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "too_long"
    assert not Message.objects.filter(direction="out").exists()


@pytest.mark.django_db
def test_a_customer_who_unfollowed_cannot_be_messaged(staff):
    agent, client = staff
    _, conversation = _conversation("line", last_wrote_hours_ago=1, identity_kind="line")
    _agent_sees(agent, conversation)
    conversation.identity.details = {"following": False}
    conversation.identity.save()
    options = client.get(_url(conversation, "reply-options/")).json()
    assert options["blocked_code"] == "unsubscribed"
    response = client.post(_url(conversation), {"body": "Hello?"}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "unsubscribed"


@pytest.mark.django_db
def test_a_comment_conversation_replies_in_public_or_in_private(staff):
    agent, client = staff
    _, conversation = _conversation(
        "messenger", last_wrote_hours_ago=100, identity_kind="messenger"
    )
    Conversation.objects.filter(pk=conversation.pk).update(thread_key="comment:POST_1")
    conversation.refresh_from_db()
    _agent_sees(agent, conversation)
    options = client.get(_url(conversation, "reply-options/")).json()
    assert options["reply_modes"] == ["public", "private"]
    response = client.post(
        _url(conversation), {"body": "Thanks!", "options": {"reply_mode": "private"}}, format="json"
    )
    assert response.status_code == 201
    assert OutboundDelivery.objects.get().options == {"reply_mode": "private"}


@pytest.mark.django_db
def test_the_retry_endpoint_takes_only_failed_replies_and_respects_visibility(staff):
    agent, client = staff
    _, conversation = _conversation("telegram", last_wrote_hours_ago=1, identity_kind="telegram")
    _agent_sees(agent, conversation)
    sent = client.post(_url(conversation), {"body": "Hi"}, format="json").json()
    retry_url = _url(conversation, f"messages/{sent['seq']}/retry/")
    assert client.post(retry_url, {}, format="json").status_code == 422

    Message.objects.filter(seq=sent["seq"]).update(delivery_status="failed", delivery_error="x")
    response = client.post(retry_url, {"body": "Hi again"}, format="json")
    assert response.status_code == 200
    assert response.json()["delivery_status"] == "queued"
    assert response.json()["body"] == "Hi again"

    outsider = APIClient()
    outsider.force_authenticate(AgentFactory())
    assert outsider.post(retry_url, {}, format="json").status_code == 404
    assert outsider.get(_url(conversation, "reply-options/")).status_code == 404


@pytest.mark.django_db
def test_a_website_conversation_has_no_window(staff):
    from tests.factories.channels import WebChannelFactory

    agent, client = staff
    web = WebChannelFactory()
    conversation = ConversationFactory(
        inbox=web.inbox,
        identity=IdentityFactory(kind=IdentityKind.WEB_VISITOR, value="v1"),
    )
    _agent_sees(agent, conversation)
    options = client.get(_url(conversation, "reply-options/")).json()
    assert options["delivers"] is False and options["window_open"] is True
