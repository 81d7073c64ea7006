import datetime

import pytest

from inbox.enums import (
    ConversationStatus,
    MessageDirection,
    NotificationKind,
    SenderType,
    SlaTarget,
)
from inbox.models import Conversation, Notification, SlaBreach, SlaPolicy
from inbox.services import conversation_create, message_append
from inbox.services.sla import sla_breaches_record, sla_on_created, sla_on_status
from tests.factories.accounts import AgentFactory
from tests.factories.customers import CustomerFactory
from tests.factories.inbox import ConversationFactory, InboxFactory
from tests.inbox.test_business_hours import make_schedule, weekdays

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
MINUTE, HOUR = 60, 3600


def t(day, hour, minute=0):
    """January 2025: the 10th is a Friday, the 13th a Monday, the 14th a Tuesday."""
    return datetime.datetime(2025, 1, day, hour, minute, tzinfo=UTC)


FRI, MON, TUE = 10, 13, 14


@pytest.fixture
def policy():
    return SlaPolicy.objects.create(
        name="Standard",
        first_response_minutes=60,
        next_response_minutes=30,
        resolution_minutes=8 * 60,
        business_hours=make_schedule("UTC", weekdays(("09:00", "17:00"))),
    )


@pytest.fixture
def conversation(policy, agent):
    """Created on Friday at 16:30, half an hour before the weekend."""
    conversation = ConversationFactory(inbox=InboxFactory(sla_policy=policy), assignee=agent)
    sla_on_created(conversation=conversation, now=t(FRI, 16, 30))
    return conversation


def write(conversation, who, when, **kwargs):
    sender, direction = {
        "customer": (SenderType.CUSTOMER, MessageDirection.INBOUND),
        "agent": (SenderType.AGENT, MessageDirection.OUTBOUND),
        "ai": (SenderType.AI, MessageDirection.OUTBOUND),
    }[who]
    message, _ = message_append(
        conversation=conversation,
        direction=direction,
        sender_type=sender,
        body=f"{who} at {when:%H:%M}",
        sent_at=when,
        **kwargs,
    )
    return message


def set_status(conversation, status, when):
    previous = conversation.status
    conversation.status = status
    conversation.save(update_fields=["status"])
    sla_on_status(conversation=conversation, previous_status=previous, now=when)


def stored(conversation):
    return Conversation.objects.get(pk=conversation.pk)


def test_a_new_conversation_takes_the_inboxs_policy():
    policy = SlaPolicy.objects.create(
        name="Around the clock", first_response_minutes=15, resolution_minutes=120
    )
    created = conversation_create(inbox=InboxFactory(sla_policy=policy), customer=CustomerFactory())
    conversation = stored(created)
    assert conversation.sla_policy == policy
    start = conversation.created_at
    assert conversation.first_response_due_at == start + datetime.timedelta(minutes=15)
    assert conversation.resolution_due_at == start + datetime.timedelta(minutes=120)
    assert conversation.next_response_due_at is None
    assert created.first_response_due_at == conversation.first_response_due_at

    without = stored(conversation_create(inbox=InboxFactory(), customer=CustomerFactory()))
    assert without.sla_policy is None
    assert without.first_response_due_at is None
    assert without.resolution_due_at is None


def test_without_hours_of_its_own_the_policy_counts_the_inboxs_hours():
    policy = SlaPolicy.objects.create(name="Inbox hours", first_response_minutes=60)
    inbox = InboxFactory(
        sla_policy=policy, business_hours=make_schedule("UTC", weekdays(("09:00", "17:00")))
    )
    conversation = ConversationFactory(inbox=inbox)
    sla_on_created(conversation=conversation, now=t(FRI, 16, 30))
    assert stored(conversation).first_response_due_at == t(MON, 9, 30)


def test_first_response_counts_business_hours_and_stops_at_the_first_agent_reply(
    conversation,
):
    # 30 minutes left on Friday, the rest on Monday morning.
    assert stored(conversation).first_response_due_at == t(MON, 9, 30)
    assert stored(conversation).resolution_due_at == t(MON, 16, 30)

    write(conversation, "agent", t(MON, 9, 0), private=True)  # a note is no reply
    write(conversation, "ai", t(MON, 9, 1))  # nor is the AI's
    assert stored(conversation).first_response_due_at == t(MON, 9, 30)
    assert stored(conversation).first_response_at is None

    write(conversation, "agent", t(MON, 9, 10))
    assert conversation.first_response_due_at is None  # the caller's copy too
    saved = stored(conversation)
    assert saved.first_response_at == t(MON, 9, 10)
    assert saved.first_response_due_at is None
    assert saved.resolution_due_at == t(MON, 16, 30)  # still running
    assert not SlaBreach.objects.exists()


def test_next_response_starts_at_a_customer_message_after_a_reply(conversation):
    write(conversation, "customer", t(MON, 9, 5))  # before any reply: first response runs
    assert stored(conversation).next_response_due_at is None
    write(conversation, "agent", t(MON, 9, 10))

    write(conversation, "customer", t(MON, 10, 0))
    assert stored(conversation).next_response_due_at == t(MON, 10, 30)
    write(conversation, "customer", t(MON, 10, 10))  # waiting longer does not move it
    assert stored(conversation).next_response_due_at == t(MON, 10, 30)
    write(conversation, "agent", t(MON, 10, 20))
    assert stored(conversation).next_response_due_at is None

    # Ten minutes before closing: the other twenty count on Tuesday morning.
    write(conversation, "customer", t(MON, 16, 50))
    assert stored(conversation).next_response_due_at == t(TUE, 9, 20)


def test_the_clocks_are_read_afresh_not_from_a_stale_copy(conversation):
    stale = stored(conversation)  # loaded before the reply, e.g. by a widget session
    write(conversation, "agent", t(MON, 9, 10))
    write(stale, "customer", t(MON, 10, 0))
    saved = stored(conversation)
    assert saved.first_response_at == t(MON, 9, 10)
    assert saved.first_response_due_at is None
    assert saved.next_response_due_at == t(MON, 10, 30)


def test_the_first_response_is_kept_without_a_policy():
    conversation = ConversationFactory()
    write(conversation, "customer", t(MON, 9, 0))
    write(conversation, "agent", t(MON, 9, 10))
    write(conversation, "agent", t(MON, 9, 20))
    assert stored(conversation).first_response_at == t(MON, 9, 10)
    assert stored(conversation).first_response_due_at is None


def test_the_clocks_stop_while_pending_and_resume_with_what_was_left(conversation):
    write(conversation, "agent", t(MON, 9, 10))
    write(conversation, "customer", t(MON, 9, 50))  # next response due 10:20

    set_status(conversation, ConversationStatus.PENDING, t(MON, 10, 0))
    saved = stored(conversation)
    assert saved.next_response_due_at is None
    assert saved.resolution_due_at is None
    assert saved.sla_clock["paused"] is True
    assert saved.sla_clock["left"] == {
        SlaTarget.NEXT_RESPONSE: 20 * MINUTE,
        SlaTarget.RESOLUTION: 6 * HOUR + 30 * MINUTE,
    }
    # Nothing is overdue while paused, however long the customer takes.
    assert sla_breaches_record(now=t(TUE, 8, 0)) == 0

    set_status(conversation, ConversationStatus.OPEN, t(TUE, 9, 0))
    saved = stored(conversation)
    assert saved.next_response_due_at == t(TUE, 9, 20)
    assert saved.resolution_due_at == t(TUE, 15, 30)
    assert saved.sla_clock == {}


def test_snoozed_keeps_the_clocks_running(conversation):
    set_status(conversation, ConversationStatus.SNOOZED, t(MON, 10, 0))
    assert stored(conversation).resolution_due_at == t(MON, 16, 30)


def test_resolving_stops_the_clocks_and_a_customer_message_resumes_them(conversation):
    write(conversation, "agent", t(MON, 9, 10))
    set_status(conversation, ConversationStatus.RESOLVED, t(MON, 12, 0))
    saved = stored(conversation)
    assert saved.resolution_due_at is None
    assert saved.sla_clock["left"] == {SlaTarget.RESOLUTION: 4 * HOUR + 30 * MINUTE}

    write(conversation, "customer", t(TUE, 10, 0))  # reopens the conversation
    saved = stored(conversation)
    assert saved.status == ConversationStatus.OPEN
    assert saved.resolution_due_at == t(TUE, 14, 30)  # continues, does not start over
    assert saved.next_response_due_at == t(TUE, 10, 30)
    assert saved.sla_clock == {}


def test_a_breach_is_recorded_once_and_notified(conversation, agent, supervisor, admin_user):
    bystander = AgentFactory()
    assert sla_breaches_record(now=t(MON, 9, 29)) == 0
    assert sla_breaches_record(now=t(MON, 9, 31)) == 1

    breach = SlaBreach.objects.get()
    assert (breach.target, breach.due_at) == (SlaTarget.FIRST_RESPONSE, t(MON, 9, 30))
    assert breach.policy == conversation.sla_policy
    assert breach.assignee == agent
    notified = Notification.objects.filter(kind=NotificationKind.SLA_BREACH)
    assert {n.user for n in notified} == {agent, supervisor, admin_user}
    assert all(n.conversation_id == conversation.pk for n in notified)
    assert bystander not in {n.user for n in notified}
    # The due time stays on the conversation: the list shows it overdue.
    assert stored(conversation).first_response_due_at == t(MON, 9, 30)

    assert sla_breaches_record(now=t(MON, 9, 45)) == 0
    assert SlaBreach.objects.count() == 1
    assert notified.count() == 3

    assert sla_breaches_record(now=t(MON, 16, 31)) == 1
    assert SlaBreach.objects.filter(target=SlaTarget.RESOLUTION).count() == 1


def test_a_late_reply_is_recorded_as_a_breach_without_notifying(conversation, supervisor):
    write(conversation, "agent", t(MON, 10, 0))  # due 09:30, before the sweeper ran
    breach = SlaBreach.objects.get()
    assert (breach.target, breach.due_at) == (SlaTarget.FIRST_RESPONSE, t(MON, 9, 30))
    assert not Notification.objects.exists()
    assert sla_breaches_record(now=t(MON, 10, 5)) == 0


def test_a_target_overdue_when_paused_keeps_its_due_time(conversation, supervisor):
    set_status(conversation, ConversationStatus.PENDING, t(MON, 9, 45))
    assert SlaBreach.objects.filter(target=SlaTarget.FIRST_RESPONSE).count() == 1
    assert Notification.objects.filter(user=supervisor).count() == 1  # still unanswered
    assert stored(conversation).sla_clock["overdue"] == {
        SlaTarget.FIRST_RESPONSE: t(MON, 9, 30).isoformat()
    }

    set_status(conversation, ConversationStatus.OPEN, t(TUE, 9, 0))
    saved = stored(conversation)
    assert saved.first_response_due_at == t(MON, 9, 30)
    # Paused at 09:45 with 6 h 45 min left of the resolution's 8 hours.
    assert saved.resolution_due_at == t(TUE, 15, 45)
    assert sla_breaches_record(now=t(TUE, 9, 1)) == 0
    assert SlaBreach.objects.count() == 1


# --- Admin -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "businesshours",
        "slapolicy",
        "slabreach",
        "inbox",
        "team",
        "conversation",
        "agentprofile",
        "routingrule",
        "cannedreply",
        "savedview",
        "csatresponse",
    ],
)
def test_the_admin_lists_open_for_a_supervisor(client, supervisor, conversation, model):
    sla_breaches_record(now=t(MON, 17, 0))  # something in the breach list
    client.force_login(supervisor)
    assert client.get(f"/admin/inbox/{model}/").status_code == 200
    if model not in ("slabreach", "csatresponse"):
        assert client.get(f"/admin/inbox/{model}/add/").status_code == 200
    else:
        assert client.get(f"/admin/inbox/{model}/add/").status_code == 403


def _hours_form(**shift):
    return {
        "name": "Support desk",
        "timezone": "Asia/Shanghai",
        "shifts-TOTAL_FORMS": "1",
        "shifts-INITIAL_FORMS": "0",
        "shifts-0-weekday": "0",
        "shifts-0-opens": shift.get("opens", "09:00"),
        "shifts-0-closes": shift.get("closes", "18:00"),
        "holidays-TOTAL_FORMS": "1",
        "holidays-INITIAL_FORMS": "0",
        "holidays-0-date": "2025-10-01",
        "holidays-0-name": "National Day",
    }


def test_business_hours_are_edited_with_shifts_and_holidays_in_the_admin(client, supervisor):
    from inbox.models import BusinessHours

    client.force_login(supervisor)
    bad = client.post("/admin/inbox/businesshours/add/", _hours_form(opens="18:00", closes="09:00"))
    assert bad.status_code == 200  # the form again, with the error
    assert not BusinessHours.objects.exists()

    response = client.post("/admin/inbox/businesshours/add/", _hours_form())
    assert response.status_code == 302
    schedule = BusinessHours.objects.get()
    assert schedule.timezone == "Asia/Shanghai"
    assert [(s.weekday, f"{s.opens:%H:%M}") for s in schedule.shifts.all()] == [(0, "09:00")]
    assert schedule.holidays.get().name == "National Day"
