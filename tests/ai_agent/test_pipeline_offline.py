"""The AI's loop with no model configured: the offline engine answers from the knowledge
base when the match is strong, asks once, and hands over with a summary."""

import datetime

import pytest
from django.utils import timezone

from ai_agent.enums import Engine, HandoffReason, RunOutcome, WorkingMode
from ai_agent.models import AgentRun, AiConversation
from customers.enums import CaptureVia, IdentityKind
from inbox.enums import Availability, Handler, SenderType
from inbox.models import AgentProfile, BusinessHours, Holiday, RoutingRule, Shift
from tests.channels_app.fake_provider import FakeProvider
from tests.factories.accounts import AgentFactory
from tests.factories.ai import AgentToolFactory

pytestmark = pytest.mark.django_db


def online_agent(inbox, capacity=5):
    agent = AgentFactory()
    inbox.members.add(agent)
    AgentProfile.objects.update_or_create(
        user=agent, defaults={"availability": Availability.ONLINE, "capacity": capacity}
    )
    return agent


def test_the_ai_takes_a_new_conversation_and_answers_a_faq_with_its_source(profile, chat):
    chat.say("How long does shipping take?")

    assert chat.conversation.handler == Handler.AI
    assert chat.conversation.assignee is None
    (reply,) = chat.replies()
    assert reply.sender_type == SenderType.AI
    assert "2 business days" in reply.body
    ai = reply.content["ai"]
    assert ai["engine"] == Engine.OFFLINE
    assert ai["citations"][0]["title"] == "faq.csv"
    run = AgentRun.objects.get()
    assert (run.outcome, run.engine, run.reply_id) == (RunOutcome.ANSWERED, "offline", reply.pk)
    assert run.citations == ai["citations"]


def test_a_chinese_question_is_answered_from_the_chinese_faq(profile, chat):
    chat.say("请问运费是多少")

    (reply,) = chat.replies()
    assert "99元包邮" in reply.body


def test_a_passage_of_a_document_answers_when_it_covers_the_question(profile, chat):
    chat.say("Is damage from dropping the kettle covered by the warranty?")

    (reply,) = chat.replies()
    assert "not covered" in reply.body
    assert reply.content["ai"]["citations"][0]["headings"] == ["Warranty"]


def test_no_answer_asks_once_then_hands_over_with_a_summary(profile, chat, web_inbox):
    agent = online_agent(web_inbox)
    chat.say("Do you sell replacement lids for the blender?")

    assert len(chat.replies()) == 1
    assert AgentRun.objects.get().outcome == RunOutcome.CLARIFIED
    assert chat.conversation.handler == Handler.AI

    chat.say("The blue one, model B200")

    assert chat.conversation.handler == Handler.HUMAN
    assert chat.conversation.assignee == agent
    last_run = AgentRun.objects.order_by("created_at").last()
    assert (last_run.outcome, last_run.handoff_reason) == (
        RunOutcome.HANDED_OFF,
        HandoffReason.ATTEMPTS,
    )
    summary = next(note for note in chat.notes() if note.sender_type == SenderType.AI)
    assert "Need: The blue one, model B200" in summary.body
    assert "Tried:" in summary.body
    assert "1 questions back" in summary.body or "questions back" in summary.body
    assert chat.replies()[-1].content["ai"]["handoff"] is True


def test_asking_for_a_person_hands_over_at_once(profile, chat):
    chat.say("转人工")

    assert chat.conversation.handler == Handler.HUMAN
    assert chat.conversation.queued_at is not None  # nobody is online: it waits
    state = AiConversation.objects.get(conversation=chat.conversation)
    assert state.handoff_reason == HandoffReason.ASKED
    handover = chat.replies()[-1]
    assert "人工" in handover.body or "同事" in handover.body or "colleague" in handover.body


def test_anger_hands_over(profile, chat):
    chat.say("How long does shipping take?")
    chat.say("This is ridiculous, the worst service ever, you are scammers!!! 😡")

    assert chat.conversation.handler == Handler.HUMAN
    run = AgentRun.objects.order_by("created_at").last()
    assert run.handoff_reason == HandoffReason.EMOTION
    assert run.emotion <= profile.emotion_threshold
    summary = next(note for note in chat.notes() if note.sender_type == SenderType.AI)
    assert "Mood: angry" in summary.body


def test_contact_details_become_identities_and_a_lead(profile, chat):
    chat.say("我叫张伟，电话13800138000，邮箱 zhang.wei@example.com，运费是多少？")

    customer = chat.conversation.customer
    customer.refresh_from_db()
    kinds = dict(customer.identities.values_list("kind", "value"))
    assert kinds[IdentityKind.PHONE] == "+8613800138000"
    assert kinds[IdentityKind.EMAIL] == "zhang.wei@example.com"
    assert customer.lead_via == CaptureVia.AI
    assert customer.lead_captured_at is not None


def test_the_ai_never_answers_an_automated_message(profile, chat):
    chat.say("How long does shipping take?")
    chat.say("[Auto-reply] I am away until Monday", automated=True)

    assert len(chat.replies()) == 1
    assert AgentRun.objects.count() == 1


def test_a_rule_straight_to_a_person_keeps_the_ai_out(profile, chat, web_inbox):
    RoutingRule.objects.create(name="VIPs to people", skip_ai=True)
    chat.say("How long does shipping take?")

    assert chat.conversation.handler == Handler.HUMAN
    assert not chat.replies()


def test_outside_business_hours_mode_works_only_when_the_inbox_is_closed(profile, chat, web_inbox):
    profile.working_mode = WorkingMode.OUTSIDE_HOURS
    profile.save()
    always = BusinessHours.objects.create(name="Always open", timezone="UTC")
    for weekday in range(7):
        Shift.objects.create(
            schedule=always,
            weekday=weekday,
            opens=datetime.time(0),
            closes=datetime.time(23, 59, 59),
        )
    web_inbox.business_hours = always
    web_inbox.save()
    chat.say("How long does shipping take?")
    assert chat.conversation.handler == Handler.HUMAN  # open: people answer

    Holiday.objects.create(schedule=always, date=timezone.now().date(), name="Closed today")
    web_inbox.business_hours = BusinessHours.objects.get(pk=always.pk)
    web_inbox.save()
    other = type(chat)()
    other.say("How long does shipping take?")
    assert other.conversation.handler == Handler.AI


def test_no_agent_free_mode_leaves_the_conversation_to_a_free_agent(profile, chat, web_inbox):
    profile.working_mode = WorkingMode.NO_AGENT_FREE
    profile.save()
    agent = online_agent(web_inbox)
    chat.say("How long does shipping take?")

    assert chat.conversation.handler == Handler.HUMAN
    assert chat.conversation.assignee == agent
    assert not chat.replies()


def test_mood_getting_worse_over_turns_hands_over(profile, chat):
    profile.emotion_threshold = -0.95  # only the trend can hand over here
    profile.save()
    chat.say("What is your return policy?")
    chat.say("Hmm, that is not great. How long does shipping take?")
    chat.say("I am really unhappy and disappointed with this, it is bad")

    run = AgentRun.objects.order_by("created_at").last()
    assert run.handoff_reason == HandoffReason.EMOTION, [
        (r.outcome, r.emotion) for r in AgentRun.objects.order_by("created_at")
    ]


def test_an_inactive_profile_does_not_answer(profile, chat):
    profile.is_active = False
    profile.save()
    chat.say("How long does shipping take?")
    assert chat.conversation.handler == Handler.HUMAN
    assert not chat.replies()


def test_run_latency_is_recorded(profile, chat):
    before = timezone.now()
    chat.say("How long does shipping take?")
    run = AgentRun.objects.get()
    assert run.created_at >= before - datetime.timedelta(seconds=1)
    assert run.latency_ms >= 0


def test_logistics_with_an_order_number_is_answered_with_the_live_tracking_status(profile, chat):
    with FakeProvider() as tracking:
        tracking.reply(
            "GET",
            "/track/SO-99812",
            200,
            {"order": "SO-99812", "tracking": {"status": "In transit", "city": "Hangzhou"}},
        )
        tool = AgentToolFactory(
            name="track_parcel",
            url=tracking.url + "/track/{order_number}",
            offline_intent="logistics",
            offline_answer="Order {order_number}: {tracking.status} ({tracking.city}).",
            auth_header="Bearer shop-secret",
        )
        profile.tools.add(tool)
        chat.say("Where is my parcel? My order number is SO-99812")
        request = tracking.requests[0]

    (reply,) = chat.replies()
    assert reply.body == "Order SO-99812: In transit (Hangzhou)."
    assert request.headers["authorization"] == "Bearer shop-secret"
    (call,) = AgentRun.objects.get().tool_calls
    assert call["tool"] == "track_parcel" and call["ok"]


def test_a_tracking_tool_that_fails_is_not_an_answer(profile, chat):
    with FakeProvider() as tracking:
        tracking.reply("GET", "/track/SO-1234", 503, {})
        profile.tools.add(
            AgentToolFactory(
                url=tracking.url + "/track/{order_number}",
                offline_intent="logistics",
                offline_answer="Order {order_number}: {status}",
            )
        )
        chat.say("Where is my parcel? Order number SO-1234")

    run = AgentRun.objects.get()
    assert run.outcome == RunOutcome.CLARIFIED  # asked, never a made-up status
    assert run.tool_calls[0]["ok"] is False


def test_pre_sales_asks_an_interested_customer_for_contact_details_once(profile, chat):
    chat.say("运费是多少？我想买两个")
    chat.say("运费是多少？我想再买一个")

    first, second = chat.replies()
    assert "99元包邮" in first.body and "微信" in first.body
    assert "99元包邮" in second.body and "微信" not in second.body


def test_no_lead_question_without_the_pre_sales_skill(profile, chat):
    profile.skills = ["aftersales"]
    profile.save()
    chat.say("运费是多少？我想买两个")

    (reply,) = chat.replies()
    assert "99元包邮" in reply.body and "微信" not in reply.body
