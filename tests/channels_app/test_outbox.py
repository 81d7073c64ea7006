"""Replies through the outbox: written with the message in one transaction, sent by the
adapter, retried with backoff on transient failures (honouring Retry-After), failed with
the provider's reason on permanent ones, retried by the agent, and swept after a crash."""

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from channels_app.enums import DeliveryState
from channels_app.models import OutboundDelivery
from channels_app.services import outbound
from channels_app.services.outbound import (
    MAX_ATTEMPTS,
    backoff_seconds,
    deliveries_due,
    delivery_attempt,
)
from customers.enums import IdentityKind
from inbox.enums import DeliveryStatus, MessageDirection
from inbox.models import Message
from inbox.services import message_receive, message_retry, message_send
from tests.factories.accounts import AgentFactory
from tests.factories.channels import ChannelFactory
from tests.factories.customers import CustomerFactory, IdentityFactory
from tests.factories.inbox import ConversationFactory

SEND_PATH = "/v23.0/106540352242922/messages"


@pytest.fixture
def conversation(db):
    channel = ChannelFactory(kind="whatsapp")
    customer = CustomerFactory()
    identity = IdentityFactory(customer=customer, kind=IdentityKind.WHATSAPP, value="16505551234")
    conversation = ConversationFactory(inbox=channel.inbox, customer=customer, identity=identity)
    message_receive(conversation=conversation, body="Hi", external_id="wamid.IN1")
    return conversation


@pytest.fixture
def agent(db):
    return AgentFactory()


def _reply(conversation, agent, body="Yes, in blue."):
    message, _ = message_send(conversation=conversation, author=agent, body=body)
    return message


@pytest.mark.django_db
def test_a_reply_and_its_delivery_are_written_together(conversation, agent):
    message = _reply(conversation, agent)
    delivery = OutboundDelivery.objects.get(message=message)
    assert delivery.state == DeliveryState.QUEUED
    assert message.delivery_status == DeliveryStatus.QUEUED

    with pytest.raises(RuntimeError), transaction.atomic():
        _reply(conversation, agent, "rolled back")
        raise RuntimeError
    assert not Message.objects.filter(body="rolled back").exists()
    assert OutboundDelivery.objects.count() == 1


@pytest.mark.django_db
def test_an_accepted_send_marks_the_reply_sent_with_the_providers_id(conversation, agent, fake):
    fake.reply("POST", SEND_PATH, 200, {"messages": [{"id": "wamid.OUT1"}]})
    message = _reply(conversation, agent)
    delivery_attempt(message.delivery.pk)

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert message.external_id == "wamid.OUT1"
    sent = fake.sent("POST", SEND_PATH)[0]
    assert sent.headers["authorization"] == "Bearer wa-token"
    assert sent.json()["to"] == "16505551234"
    assert sent.json()["text"]["body"] == "Yes, in blue."
    delivery = OutboundDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.external_id) == ("sent", 1, "wamid.OUT1")
    # A second attempt of a sent delivery (a duplicated task) sends nothing.
    delivery_attempt(delivery.pk)
    assert len(fake.sent("POST", SEND_PATH)) == 1


@pytest.mark.django_db
def test_a_429_waits_at_least_the_providers_retry_after(conversation, agent, fake):
    fake.reply(
        "POST", SEND_PATH, 429, {"error": {"message": "slow down"}}, headers={"Retry-After": "120"}
    )
    message = _reply(conversation, agent)
    before = timezone.now()
    delivery_attempt(message.delivery.pk)

    delivery = OutboundDelivery.objects.get()
    assert delivery.state == DeliveryState.QUEUED
    assert delivery.attempts == 1
    assert delivery.next_attempt_at >= before + datetime.timedelta(seconds=120)
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.QUEUED
    # Not due yet: an early task does not send.
    delivery_attempt(delivery.pk)
    assert len(fake.sent("POST", SEND_PATH)) == 1


@pytest.mark.django_db
def test_a_500_is_retried_and_succeeds_later(conversation, agent, fake):
    fake.reply("POST", SEND_PATH, 500, {"error": {"message": "oops", "code": 1}})
    fake.reply("POST", SEND_PATH, 200, {"messages": [{"id": "wamid.OUT2"}]})
    message = _reply(conversation, agent)
    delivery_attempt(message.delivery.pk)
    OutboundDelivery.objects.update(next_attempt_at=timezone.now())
    delivery_attempt(message.delivery.pk)
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert OutboundDelivery.objects.get().attempts == 2


@pytest.mark.django_db
def test_a_timeout_is_transient(conversation, agent, fake, monkeypatch):
    import httpx

    from channels_app.adapters.whatsapp import WhatsAppAdapter

    monkeypatch.setattr(WhatsAppAdapter, "timeout", httpx.Timeout(0.3))
    fake.reply("POST", SEND_PATH, 200, {"messages": [{"id": "late"}]}, delay=1.0)
    message = _reply(conversation, agent)
    delivery_attempt(message.delivery.pk)
    delivery = OutboundDelivery.objects.get()
    assert delivery.state == DeliveryState.QUEUED
    assert delivery.error_code == "timeout"


@pytest.mark.django_db
def test_a_permanent_refusal_fails_with_the_providers_reason(conversation, agent, fake):
    fake.reply(
        "POST",
        SEND_PATH,
        400,
        {"error": {"message": "Recipient phone number not in allowed list", "code": 131030}},
    )
    message = _reply(conversation, agent)
    delivery_attempt(message.delivery.pk)
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    assert "not in allowed list" in message.delivery_error
    assert OutboundDelivery.objects.get().state == DeliveryState.FAILED


@pytest.mark.django_db
def test_giving_up_after_the_last_attempt_fails_visibly(conversation, agent, fake):
    fake.reply("POST", SEND_PATH, 503, {"error": {"message": "unavailable"}})
    message = _reply(conversation, agent)
    OutboundDelivery.objects.update(attempts=MAX_ATTEMPTS - 1)
    delivery_attempt(message.delivery.pk)
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    assert OutboundDelivery.objects.get().state == DeliveryState.FAILED


@pytest.mark.django_db
def test_the_agent_retries_a_failed_reply_with_corrected_text(conversation, agent, fake):
    fake.reply("POST", SEND_PATH, 400, {"error": {"message": "Invalid parameter", "code": 100}})
    fake.reply("POST", SEND_PATH, 200, {"messages": [{"id": "wamid.OK"}]})
    message = _reply(conversation, agent, "Typo here")
    delivery_attempt(message.delivery.pk)

    message = message_retry(message=message, actor=agent, body="Fixed text")
    assert message.delivery_status == DeliveryStatus.QUEUED
    delivery_attempt(message.delivery.pk)
    message.refresh_from_db()
    assert (message.body, message.delivery_status) == ("Fixed text", DeliveryStatus.SENT)
    assert fake.sent("POST", SEND_PATH)[-1].json()["text"]["body"] == "Fixed text"


@pytest.mark.django_db
def test_the_sweeper_takes_back_what_a_crashed_worker_held(conversation, agent, fake):
    message = _reply(conversation, agent)
    delivery = message.delivery
    now = timezone.now()
    # A worker claimed it and died: past its claim, the sweeper queues it again.
    OutboundDelivery.objects.update(
        state=DeliveryState.SENDING, claimed_until=now - datetime.timedelta(seconds=1)
    )
    assert deliveries_due(now=now) == [delivery.pk]
    # A queued row whose task was lost is due too, once overdue.
    OutboundDelivery.objects.update(
        state=DeliveryState.QUEUED, next_attempt_at=now - datetime.timedelta(minutes=1)
    )
    assert deliveries_due(now=now) == [delivery.pk]
    # One being sent right now is left alone.
    OutboundDelivery.objects.update(
        state=DeliveryState.SENDING, claimed_until=now + datetime.timedelta(minutes=1)
    )
    assert deliveries_due(now=now) == []
    fake.reply("POST", SEND_PATH, 200, {"messages": [{"id": "x"}]})
    delivery_attempt(delivery.pk)
    assert fake.sent("POST", SEND_PATH) == []


def test_backoff_grows_with_jitter_and_honours_retry_after():
    first = [backoff_seconds(1) for _ in range(50)]
    fifth = [backoff_seconds(5) for _ in range(50)]
    assert max(first) <= outbound.BACKOFF_BASE_SECONDS
    assert min(fifth) >= outbound.BACKOFF_BASE_SECONDS * 2**4 / 2
    assert len(set(fifth)) > 1  # jitter
    assert backoff_seconds(1, retry_after=300) >= 300
    assert backoff_seconds(50) <= outbound.BACKOFF_CAP_SECONDS


@pytest.mark.django_db
def test_a_website_reply_has_no_outbox_row(agent):
    from tests.factories.channels import WebChannelFactory

    web = WebChannelFactory()
    conversation = ConversationFactory(inbox=web.inbox)
    message = _reply(conversation, agent)
    assert message.delivery_status == ""
    assert not OutboundDelivery.objects.exists()
    assert message.direction == MessageDirection.OUTBOUND


def test_a_killed_worker_s_delivery_is_taken_back_soon_but_never_from_a_live_worker():
    from channels_app.adapters.base import Adapter
    from channels_app.tasks import outbound_deliver

    provider_timeout = Adapter.timeout.connect + Adapter.timeout.read
    # A send that waits on a slow provider ends well within the task's limits...
    assert provider_timeout < outbound_deliver.soft_time_limit < outbound_deliver.time_limit
    # ...and the worker running it is done or killed before the sweeper may take it back,
    assert outbound_deliver.time_limit < outbound.CLAIM_SECONDS
    # which after a worker is killed comes in minutes at most, not the default limits.
    assert outbound.CLAIM_SECONDS <= 120
