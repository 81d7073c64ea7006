import datetime

import pytest
from celery import current_app

from customers.enums import IdentityKind
from inbox.enums import HoursCondition, MessageDirection, Priority, SenderType
from inbox.models import AgentProfile, BusinessHours, Conversation, RoutingRule, Shift
from inbox.services.language import language_detect
from inbox.services.messages import message_append
from inbox.services.routing import (
    conversation_route,
    country_from_ip,
    country_from_phone,
    routing_rule_for,
)
from inbox.tasks.routing import routing_route_conversation
from tests.factories.accounts import AgentFactory
from tests.factories.channels import WebChannelFactory
from tests.factories.customers import CustomerFactory, IdentityFactory, TagFactory
from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory

pytestmark = pytest.mark.django_db

# A Monday, 10:00 UTC.
MONDAY_10 = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("你好", "zh"),
        ("我的订单还没到，请帮我查一下", "zh"),
        ("請問這個多少錢", "zh"),
        ("where is my order", "en"),
        ("I need a refund please", "en"),
        ("Can I change my delivery address?", "en"),
        ("注文がまだ届きません", "ja"),
        ("주문이 아직 안 왔어요", "ko"),
        ("dónde está mi pedido", "es"),
        ("hi", ""),  # too short to tell
        ("123", ""),
        ("👍", ""),
        ("", ""),
    ],
)
def test_language_detection_on_short_texts(text, language):
    assert language_detect(text) == language


def test_country_from_phone_and_ip():
    assert country_from_phone("+8613800138000") == "CN"
    assert country_from_phone("85291234567") == "HK"  # WhatsApp ids have no "+"
    assert country_from_phone("not a number") == ""
    assert country_from_ip("114.114.114.114") == "CN"
    assert country_from_ip("8.8.8.8") == "US"
    assert country_from_ip("10.0.0.1") == ""  # private
    assert country_from_ip("nonsense") == ""


def customer_writes(conversation, body):
    message, _ = message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body=body,
    )
    return message


def rule(**fields):
    inboxes = fields.pop("inboxes", [])
    tags = fields.pop("tags", [])
    created = RoutingRule.objects.create(name=fields.pop("name", "rule"), **fields)
    created.inboxes.set(inboxes)
    created.tags.set(tags)
    return created


def matches(conversation, now=MONDAY_10) -> bool:
    conversation = Conversation.objects.select_related("inbox", "customer").get(pk=conversation.pk)
    return routing_rule_for(conversation=conversation, now=now) is not None


def test_channel_condition():
    web = WebChannelFactory()
    rule(channel_kinds=["whatsapp", "web"])
    assert matches(ConversationFactory(inbox=web.inbox))
    assert not matches(ConversationFactory())  # an inbox without a channel


def test_inbox_condition():
    inbox = InboxFactory()
    rule(inboxes=[inbox])
    assert matches(ConversationFactory(inbox=inbox))
    assert not matches(ConversationFactory())


def test_country_condition():
    rule(countries=["CN", "HK"])
    assert matches(ConversationFactory(customer=CustomerFactory(country="HK")))
    assert not matches(ConversationFactory(customer=CustomerFactory(country="US")))
    assert not matches(ConversationFactory())


def test_language_condition():
    rule(languages=["zh"])
    assert matches(ConversationFactory(language="zh"))
    assert matches(ConversationFactory(language="zh-hant"))
    assert not matches(ConversationFactory(language="en"))
    assert not matches(ConversationFactory(language=""))


def test_tags_condition_needs_any_of_them():
    vip, gold, other = TagFactory(), TagFactory(), TagFactory()
    rule(tags=[vip, gold])
    tagged = CustomerFactory()
    tagged.tags.add(gold)
    untagged = CustomerFactory()
    untagged.tags.add(other)
    assert matches(ConversationFactory(customer=tagged))
    assert not matches(ConversationFactory(customer=untagged))


def test_attributes_condition_needs_all_equal():
    rule(attributes={"plan": "enterprise", "region": "apac"})
    both = CustomerFactory(attributes={"plan": "enterprise", "region": "apac", "x": 1})
    one = CustomerFactory(attributes={"plan": "enterprise", "region": "emea"})
    assert matches(ConversationFactory(customer=both))
    assert not matches(ConversationFactory(customer=one))
    assert not matches(ConversationFactory())


def test_hours_conditions():
    hours = BusinessHours.objects.create(name="Office", timezone="UTC")
    Shift.objects.create(
        schedule=hours, weekday=0, opens=datetime.time(9), closes=datetime.time(17)
    )
    conversation = ConversationFactory(inbox=InboxFactory(business_hours=hours))
    evening = MONDAY_10.replace(hour=20)
    inside = rule(hours=HoursCondition.INSIDE)
    assert matches(conversation, now=MONDAY_10)
    assert not matches(conversation, now=evening)
    inside.delete()
    rule(hours=HoursCondition.OUTSIDE)
    assert not matches(conversation, now=MONDAY_10)
    assert matches(conversation, now=evening)


def test_min_priority_condition():
    rule(min_priority=Priority.HIGH)
    assert matches(ConversationFactory(priority=Priority.URGENT))
    assert matches(ConversationFactory(priority=Priority.HIGH))
    assert not matches(ConversationFactory(priority=Priority.NORMAL))


def test_rules_are_tried_in_order_and_inactive_ones_skipped():
    first_team, second_team, third_team = TeamFactory(), TeamFactory(), TeamFactory()
    rule(name="inactive", position=0, is_active=False, team=first_team)
    rule(name="late", position=20, team=third_team)
    rule(name="early", position=10, languages=["zh"], team=second_team)
    chinese = ConversationFactory(language="zh")
    english = ConversationFactory(language="en")
    conversation_route(conversation=chinese, now=MONDAY_10)
    conversation_route(conversation=english, now=MONDAY_10)
    chinese.refresh_from_db()
    english.refresh_from_db()
    assert chinese.team == second_team
    assert english.team == third_team


def test_routing_detects_language_and_country_applies_the_rule_and_runs_once():
    team = TeamFactory()
    identity = IdentityFactory(kind=IdentityKind.WHATSAPP, value="8613800138000")
    conversation = ConversationFactory(customer=identity.customer, identity=identity)
    customer_writes(conversation, "你好，我的订单还没到")
    rule(
        countries=["CN"],
        languages=["zh"],
        team=team,
        required_skills=["zh", "billing"],
        set_priority=Priority.HIGH,
    )
    applied = conversation_route(conversation=conversation, now=MONDAY_10)
    conversation.refresh_from_db()
    identity.customer.refresh_from_db()
    assert applied is not None
    assert conversation.language == "zh"
    assert identity.customer.country == "CN"
    assert conversation.team == team
    assert conversation.required_skills == ["zh", "billing"]
    assert conversation.priority == Priority.HIGH
    assert conversation.routed_at == MONDAY_10
    assert conversation.queued_at == MONDAY_10  # nobody online in the team

    RoutingRule.objects.update(team=TeamFactory())
    assert conversation_route(conversation=conversation) is None  # routed once
    conversation.refresh_from_db()
    assert conversation.team == team


def test_country_from_the_ip_in_the_source_when_no_phone():
    conversation = ConversationFactory(source={"ip": "114.114.114.114"})
    customer_writes(conversation, "hello, I have a question about my order")
    conversation_route(conversation=conversation, now=MONDAY_10)
    conversation.customer.refresh_from_db()
    assert conversation.customer.country == "CN"


def test_a_rule_can_send_to_an_agent_directly():
    agent = AgentFactory()
    conversation = ConversationFactory()
    customer_writes(conversation, "where is my order")
    rule(agent=agent)
    conversation_route(conversation=conversation, now=MONDAY_10)
    conversation.refresh_from_db()
    assert conversation.assignee == agent
    assert conversation.queued_at is None


def test_without_a_rule_the_inbox_members_are_assigned():
    agent = AgentFactory()
    AgentProfile.objects.create(user=agent, availability="online")
    conversation = ConversationFactory()
    conversation.inbox.members.add(agent)
    customer_writes(conversation, "where is my order")
    assert conversation_route(conversation=conversation, now=MONDAY_10) is None
    conversation.refresh_from_db()
    assert conversation.assignee == agent
    assert conversation.routed_at == MONDAY_10


@pytest.fixture
def eager_tasks():
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = False


def test_the_first_customer_message_routes_the_conversation(
    eager_tasks, django_capture_on_commit_callbacks
):
    team = TeamFactory()
    rule(languages=["en"], team=team)
    conversation = ConversationFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message_append(
            conversation=conversation,
            direction=MessageDirection.OUTBOUND,
            sender_type=SenderType.AGENT,
            body="Hello, how can we help you today?",
        )
    conversation.refresh_from_db()
    assert conversation.routed_at is None  # an agent's message does not route
    with django_capture_on_commit_callbacks(execute=True):
        customer_writes(conversation, "I need a refund for my last order please")
    conversation.refresh_from_db()
    assert conversation.routed_at is not None
    assert conversation.language == "en"
    assert conversation.team == team


def test_the_task_is_idempotent():
    team = TeamFactory()
    rule(team=team)
    conversation = ConversationFactory()
    customer_writes(conversation, "where is my order")
    routing_route_conversation(conversation.pk)
    conversation.refresh_from_db()
    routed_at = conversation.routed_at
    RoutingRule.objects.update(team=TeamFactory())
    routing_route_conversation(conversation.pk)
    routing_route_conversation(0)  # gone: nothing to do
    conversation.refresh_from_db()
    assert conversation.routed_at == routed_at
    assert conversation.team == team
