import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.enums import IdentityKind
from customers.models import Tag
from inbox.enums import ConversationStatus, MessageDirection, Priority, SenderType
from inbox.models import Conversation, Message
from inbox.services import message_receive, message_send
from inbox.services.claims import conversation_claim
from inbox.services.workflow import (
    conversation_merge,
    conversation_priority_set,
    conversation_status_set,
    conversation_tags_set,
    conversations_auto_resolve,
    conversations_bulk,
    conversations_wake,
)
from inbox.signals import conversation_resolved
from inbox.tasks import workflow as workflow_tasks
from tests.factories.accounts import AgentFactory
from tests.factories.channels import ChannelFactory
from tests.factories.customers import CustomerFactory, IdentityFactory
from tests.factories.inbox import ConversationFactory, InboxFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()
OPEN, PENDING, SNOOZED, RESOLVED = (
    ConversationStatus.OPEN,
    ConversationStatus.PENDING,
    ConversationStatus.SNOOZED,
    ConversationStatus.RESOLVED,
)


@pytest.fixture
def inbox(agent):
    inbox = InboxFactory()
    inbox.members.add(agent)
    return inbox


@pytest.fixture
def conversation(inbox):
    return ConversationFactory(inbox=inbox)


def _bodies(conversation):
    return list(conversation.messages.order_by("seq").values_list("seq", "body"))


def test_resolving_records_it_ends_the_claim_and_the_queue_and_announces_it(
    conversation, agent, django_capture_on_commit_callbacks
):
    conversation_claim(conversation=conversation, user=agent)
    Conversation.objects.filter(pk=conversation.pk).update(queued_at=NOW)
    heard = []

    def receiver(sender, conversation, actor, **kwargs):
        heard.append((conversation.pk, actor))

    conversation_resolved.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            resolved = conversation_status_set(
                conversation=conversation, status=RESOLVED, actor=agent, now=NOW
            )
    finally:
        conversation_resolved.disconnect(receiver)
    assert heard == [(conversation.pk, agent)]
    resolved.refresh_from_db()
    assert resolved.status == RESOLVED and resolved.resolved_at == NOW
    assert resolved.claimed_by is None and resolved.queued_at is None
    # Setting the same status again changes nothing and announces nothing.
    with django_capture_on_commit_callbacks(execute=True):
        conversation_status_set(conversation=conversation, status=RESOLVED, actor=agent)
    assert len(heard) == 1


def test_resolving_an_assigned_conversation_frees_its_agents_capacity(
    inbox, agent, django_capture_on_commit_callbacks
):
    from inbox.models import AgentProfile

    AgentProfile.objects.create(user=agent, availability="online", capacity=1)
    busy = ConversationFactory(inbox=inbox, assignee=agent)
    waiting = ConversationFactory(inbox=inbox, queued_at=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_status_set(conversation=busy, status=RESOLVED, actor=agent)
    waiting.refresh_from_db()
    assert waiting.assignee == agent and waiting.queued_at is None


def test_snoozing_needs_a_time_in_the_future(conversation, agent):
    with pytest.raises(ValidationError):
        conversation_status_set(conversation=conversation, status=SNOOZED, actor=agent)
    with pytest.raises(ValidationError):
        conversation_status_set(
            conversation=conversation,
            status=SNOOZED,
            actor=agent,
            snoozed_until=NOW - datetime.timedelta(minutes=1),
        )
    with pytest.raises(ValidationError):
        conversation_status_set(conversation=conversation, status="closed", actor=agent)
    later = timezone.now() + datetime.timedelta(hours=1)
    snoozed = conversation_status_set(
        conversation=conversation, status=SNOOZED, actor=agent, snoozed_until=later
    )
    assert snoozed.snoozed_until == later
    assert (
        conversation_status_set(conversation=conversation, status=OPEN, actor=agent).snoozed_until
        is None
    )


@pytest.mark.parametrize("status", [PENDING, SNOOZED])
def test_a_customer_message_reopens_a_waiting_conversation(
    conversation, agent, status, django_capture_on_commit_callbacks
):
    conversation_status_set(
        conversation=conversation,
        status=status,
        actor=agent,
        snoozed_until=timezone.now() + datetime.timedelta(hours=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=conversation, author=agent, body="anything else?")
    conversation.refresh_from_db()
    assert conversation.status == status  # an agent's reply does not reopen it
    with django_capture_on_commit_callbacks(execute=True):
        message_receive(conversation=Conversation.objects.get(pk=conversation.pk), body="yes")
    conversation.refresh_from_db()
    assert conversation.status == OPEN and conversation.snoozed_until is None


@pytest.mark.parametrize("reopen_by", ["customer", "agent"])
def test_reopening_forgets_the_earlier_resolution(conversation, agent, reopen_by):
    conversation_status_set(conversation=conversation, status=RESOLVED, actor=agent, now=NOW)
    if reopen_by == "customer":
        message_receive(conversation=Conversation.objects.get(pk=conversation.pk), body="again")
    else:
        conversation_status_set(conversation=conversation, status=OPEN, actor=agent)
    conversation.refresh_from_db()
    assert conversation.status == OPEN and conversation.resolved_at is None
    later = NOW + datetime.timedelta(hours=1)
    conversation_status_set(conversation=conversation, status=RESOLVED, actor=agent, now=later)
    conversation.refresh_from_db()
    assert conversation.resolved_at == later


def test_answering_a_queued_conversation_takes_it_out_of_the_queue(inbox, agent):
    waiting = ConversationFactory(inbox=inbox, queued_at=NOW)
    message_send(conversation=waiting, author=agent, body="I'm here")
    waiting.refresh_from_db()
    assert waiting.assignee == agent and waiting.queued_at is None


def test_snoozed_conversations_wake_when_their_time_comes(inbox, agent):
    due = ConversationFactory(inbox=inbox)
    later = ConversationFactory(inbox=inbox)
    soon = timezone.now() + datetime.timedelta(minutes=5)
    conversation_status_set(conversation=due, status=SNOOZED, actor=agent, snoozed_until=soon)
    conversation_status_set(
        conversation=later,
        status=SNOOZED,
        actor=agent,
        snoozed_until=soon + datetime.timedelta(hours=1),
    )
    assert conversations_wake(now=soon - datetime.timedelta(seconds=1)) == 0
    assert conversations_wake(now=soon) == 1
    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.status, later.status) == (OPEN, SNOOZED)
    assert workflow_tasks.conversations_wake() == 0  # the beat task: nothing else due now


def test_idle_conversations_are_resolved_with_the_inboxs_message(inbox):
    inbox.auto_resolve_after = datetime.timedelta(hours=1)
    inbox.auto_resolve_message = "We close this chat for now. Write again any time!"
    inbox.save()
    idle = ConversationFactory(inbox=inbox)
    message_receive(conversation=idle, body="thanks")
    busy = ConversationFactory(inbox=inbox)
    message_receive(conversation=busy, body="still here")
    Conversation.objects.filter(pk=idle.pk).update(
        last_message_at=NOW - datetime.timedelta(hours=2)
    )
    Conversation.objects.filter(pk=busy.pk).update(
        last_message_at=NOW - datetime.timedelta(minutes=30)
    )
    other = ConversationFactory(last_message_at=NOW - datetime.timedelta(days=9))  # no setting

    assert conversations_auto_resolve(now=NOW) == 1
    assert conversations_auto_resolve(now=NOW) == 0  # idempotent
    idle.refresh_from_db()
    assert idle.status == RESOLVED
    goodbye = idle.messages.get(seq=2)
    assert goodbye.body.startswith("We close this chat")
    assert goodbye.sender_type == SenderType.SYSTEM and not goodbye.private
    assert goodbye.direction == MessageDirection.OUTBOUND and goodbye.content["automated"]
    assert idle.messages.get(seq=3).private  # the activity entry
    busy.refresh_from_db()
    other.refresh_from_db()
    assert busy.status == OPEN and other.status == OPEN


def test_auto_resolve_skips_the_message_when_the_channel_refuses_it():
    channel = ChannelFactory()  # WhatsApp: nothing but templates outside 24 hours
    channel.inbox.auto_resolve_after = datetime.timedelta(hours=1)
    channel.inbox.auto_resolve_message = "Bye"
    channel.inbox.save()
    identity = IdentityFactory(kind=IdentityKind.WHATSAPP, value="8613800000000")
    conversation = ConversationFactory(
        inbox=channel.inbox,
        customer=identity.customer,
        identity=identity,
        last_message_at=NOW - datetime.timedelta(days=2),
        last_inbound_at=NOW - datetime.timedelta(days=2),
    )
    assert conversations_auto_resolve(now=NOW) == 1
    conversation.refresh_from_db()
    assert conversation.status == RESOLVED
    assert not conversation.messages.filter(private=False).exists()


def test_priority(conversation, agent, api_client):
    assert (
        conversation_priority_set(
            conversation=conversation, priority=Priority.URGENT, actor=agent
        ).priority
        == Priority.URGENT
    )
    with pytest.raises(ValidationError):
        conversation_priority_set(conversation=conversation, priority=7, actor=agent)
    api_client.force_authenticate(agent)
    url = f"/api/v1/conversations/{conversation.uuid}/priority/"
    response = api_client.post(url, {"priority": 0}, format="json")
    assert response.status_code == 200 and response.json()["priority"] == 0
    assert api_client.post(url, {"priority": "top"}, format="json").status_code == 400


def test_status_api(conversation, agent, api_client):
    api_client.force_authenticate(agent)
    url = f"/api/v1/conversations/{conversation.uuid}/status/"
    response = api_client.post(url, {"status": "snoozed"}, format="json")
    assert response.status_code == 400
    assert "snoozed_until" in response.json()["error"]["details"]
    until = (timezone.now() + datetime.timedelta(days=1)).isoformat()
    response = api_client.post(url, {"status": "snoozed", "snoozed_until": until}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "snoozed"
    response = api_client.post(url, {"status": "resolved"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "resolved"
    api_client.force_authenticate(AgentFactory())
    assert api_client.post(url, {"status": "open"}, format="json").status_code == 404


def test_tags_are_matched_case_insensitively_and_created_when_new(conversation, agent, api_client):
    vip = Tag.objects.create(name="VIP")
    conversation_tags_set(
        conversation=conversation, names=["vip", " New  tag", "new TAG", ""], actor=agent
    )
    assert sorted(conversation.tags.values_list("name", flat=True)) == ["New tag", "VIP"]
    assert Tag.objects.filter(name__iexact="vip").get() == vip

    api_client.force_authenticate(agent)
    url = f"/api/v1/conversations/{conversation.uuid}/tags/"
    response = api_client.put(url, {"tags": ["Refund", "VIP"]}, format="json")
    assert response.status_code == 200 and response.json()["tags"] == ["Refund", "VIP"]
    assert api_client.put(url, {"tags": ["x" * 51]}, format="json").status_code == 400
    assert api_client.put(url, {"tags": []}, format="json").json()["tags"] == []


def test_merge_keeps_order_and_both_numberings_contiguous(inbox, agent):
    customer = CustomerFactory()
    target = ConversationFactory(inbox=inbox, customer=customer)
    source = ConversationFactory(inbox=inbox, customer=customer)
    for body in ("t1", "t2"):
        message_receive(conversation=target, body=body)
    for body in ("s1", "s2", "s3"):
        message_receive(conversation=source, body=body)
    source.tags.add(Tag.objects.create(name="Billing"))

    conversation_merge(source=source, target=target, actor=agent)
    target.refresh_from_db()
    source.refresh_from_db()
    assert _bodies(target)[:5] == [(1, "t1"), (2, "t2"), (3, "s1"), (4, "s2"), (5, "s3")]
    assert [seq for seq, _ in _bodies(target)] == list(range(1, target.last_seq + 1))
    assert target.last_seq == 6 and target.messages.get(seq=6).private  # activity entry
    assert target.unread_count == 5
    assert list(target.tags.values_list("name", flat=True)) == ["Billing"]
    assert source.status == RESOLVED and source.merged_into == target
    assert [seq for seq, _ in _bodies(source)] == [1] and source.last_seq == 1
    assert source.messages.get().private
    with pytest.raises(ValidationError):  # a merged conversation stays resolved
        conversation_status_set(conversation=source, status=OPEN, actor=agent)
    # The next message in the target continues the numbering.
    assert message_receive(conversation=target, body="after")[0].seq == 7


def test_merge_refuses_other_customers_itself_and_twice(inbox, agent, api_client):
    customer = CustomerFactory()
    a = ConversationFactory(inbox=inbox, customer=customer)
    b = ConversationFactory(inbox=inbox, customer=customer)
    stranger = ConversationFactory(inbox=inbox)
    with pytest.raises(ValidationError):
        conversation_merge(source=a, target=stranger, actor=agent)
    with pytest.raises(ValidationError):
        conversation_merge(source=a, target=a, actor=agent)

    api_client.force_authenticate(agent)
    url = f"/api/v1/conversations/{a.uuid}/merge/"
    response = api_client.post(url, {"into": str(stranger.uuid)}, format="json")
    assert response.status_code == 400
    hidden = ConversationFactory(customer=customer)  # another inbox: not visible to the agent
    assert api_client.post(url, {"into": str(hidden.uuid)}, format="json").status_code == 400
    response = api_client.post(url, {"into": str(b.uuid)}, format="json")
    assert response.status_code == 200 and response.json()["id"] == str(b.uuid)
    assert api_client.post(url, {"into": str(b.uuid)}, format="json").status_code == 400


def test_bulk_only_touches_conversations_the_user_may_see(inbox, agent, api_client):
    mine = [ConversationFactory(inbox=inbox) for _ in range(2)]
    hidden = ConversationFactory()  # another inbox
    results = conversations_bulk(
        user=agent, uuids=[c.uuid for c in [*mine, hidden]], action="resolve"
    )
    assert [r["ok"] for r in results] == [True, True, False]
    assert results[2]["error"]["code"] == "not_found"
    hidden.refresh_from_db()
    assert hidden.status == OPEN
    assert set(Conversation.objects.filter(status=RESOLVED).values_list("pk", flat=True)) == {
        c.pk for c in mine
    }

    api_client.force_authenticate(agent)
    url = "/api/v1/conversations/bulk/"
    ids = [str(c.uuid) for c in [*mine, hidden]]
    response = api_client.post(url, {"ids": ids, "action": "tag", "tags": ["Spam"]}, format="json")
    assert response.status_code == 200
    assert [r["ok"] for r in response.json()["results"]] == [True, True, False]
    assert not hidden.tags.exists() and mine[0].tags.get().name == "Spam"
    until = (timezone.now() + datetime.timedelta(hours=2)).isoformat()
    response = api_client.post(
        url, {"ids": ids[:1], "action": "snooze", "snoozed_until": until}, format="json"
    )
    assert response.json()["results"] == [{"id": ids[0], "ok": True}]
    assert api_client.post(url, {"ids": ids, "action": "snooze"}, format="json").status_code == 400
    assert api_client.post(url, {"ids": ids, "action": "delete"}, format="json").status_code == 400
    assert (
        api_client.post(url, {"ids": ["nope"], "action": "resolve"}, format="json").status_code
        == 400
    )


def test_bulk_assign_lets_agents_take_and_supervisors_give(inbox, agent, supervisor, api_client):
    colleague = AgentFactory()
    inbox.members.add(colleague)
    conversations = [ConversationFactory(inbox=inbox) for _ in range(2)]
    ids = [str(c.uuid) for c in conversations]
    api_client.force_authenticate(agent)
    url = "/api/v1/conversations/bulk/"
    response = api_client.post(
        url, {"ids": ids, "action": "assign", "agent": colleague.pk}, format="json"
    )
    assert response.status_code == 403  # agents may not hand work to others
    response = api_client.post(
        url, {"ids": ids, "action": "assign", "agent": agent.pk}, format="json"
    )
    assert [r["ok"] for r in response.json()["results"]] == [True, True]
    assert set(
        Conversation.objects.filter(pk__in=[c.pk for c in conversations]).values_list(
            "assignee", flat=True
        )
    ) == {agent.pk}
    response = api_client.post(
        url, {"ids": ids, "action": "assign", "agent": 999999}, format="json"
    )
    assert response.status_code == 400

    api_client.force_authenticate(supervisor)
    response = api_client.post(
        url, {"ids": ids, "action": "assign", "agent": colleague.pk}, format="json"
    )
    assert [r["ok"] for r in response.json()["results"]] == [True, True]
    assert not Message.objects.filter(conversation__in=conversations, private=False).exists()
