"""The list's conversation shape is built by hand for speed; it must stay what the
declared fields (the OpenAPI schema) say, for every kind of row."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from inbox.api_search import SearchResultSerializer
from inbox.enums import ConversationStatus, Priority
from inbox.selectors import conversation_list, for_list_page
from inbox.serializers import ConversationSerializer
from tests.factories.accounts import AgentFactory
from tests.factories.channels import WebChannelFactory
from tests.factories.customers import CustomerFactory, TagFactory
from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory

pytestmark = pytest.mark.django_db

declared = serializers.ModelSerializer.to_representation  # DRF's walk through the fields


@pytest.fixture
def rows(supervisor):
    now = timezone.now()
    agent = AgentFactory(display_name="")  # named by email
    bare = ConversationFactory(customer=CustomerFactory(display_name=""))  # no channel
    full = ConversationFactory(
        inbox=WebChannelFactory().inbox,
        customer=CustomerFactory(display_name="王伟 <b>"),
        status=ConversationStatus.SNOOZED,
        priority=Priority.URGENT,
        assignee=agent,
        team=TeamFactory(name="Billing"),
        claimed_by=AgentFactory(display_name="Ann"),
        claimed_until=now + timedelta(minutes=5),
        snoozed_until=now + timedelta(hours=2),
        queued_at=now - timedelta(minutes=3),
        first_response_due_at=now + timedelta(minutes=10),
        next_response_due_at=now + timedelta(minutes=20),
        resolution_due_at=now + timedelta(days=1),
        last_message_at=now,
        last_message_preview="Where is my order?",
        last_seq=7,
        unread_count=2,
        agent_read_seq=5,
        customer_read_seq=6,
        language="zh",
    )
    full.tags.add(TagFactory(name="vip"), TagFactory(name="refund"))
    ConversationFactory(inbox=InboxFactory(), assignee=agent)
    page = list(for_list_page(conversation_list(user=supervisor)).order_by("pk"))
    assert {row.pk for row in page} >= {bare.pk, full.pk}
    return page


@pytest.mark.parametrize("serializer_class", [ConversationSerializer, SearchResultSerializer])
def test_hand_built_shape_is_the_declared_one(rows, serializer_class):
    snippet = {"seq": 3, "text": "…order", "private": False, "sent_at": timezone.now()}
    serializer = serializer_class(context={"snippets": {rows[1].pk: snippet}})
    for conversation in rows:
        built = serializer.to_representation(conversation)
        expected = dict(declared(serializer, conversation))
        assert built == expected
        assert list(built) == list(expected)  # the same order of keys too
    assert any(serializer.to_representation(row)["tags"] == ["refund", "vip"] for row in rows)


def test_a_plain_conversation_read_without_the_list_fields(supervisor):
    """A conversation read on its own (a push, an action's answer) has the same shape."""
    conversation = ConversationFactory(team=TeamFactory(), assignee=AgentFactory())
    conversation.tags.add(TagFactory(name="b"), TagFactory(name="a"))
    serializer = ConversationSerializer()
    assert serializer.to_representation(conversation) == dict(declared(serializer, conversation))
    assert serializer.to_representation(conversation)["tags"] == ["a", "b"]
