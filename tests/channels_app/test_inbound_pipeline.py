"""From a signed provider webhook to a message in the inbox: customer and identities,
conversation, provider timestamps, files, referrals, receipts, reactions, edits, replays
and the sweeper that finishes what a crash left behind."""

import datetime
import json
import threading
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from channels_app.models import InboundEvent
from channels_app.services.inbound import MAX_ATTEMPTS, event_process, events_due
from customers.enums import ChangeAction, IdentityKind, Verification
from customers.models import Customer, Identity
from customers.services import IdentityClaim, change_record, customer_resolve
from inbox.enums import DeliveryStatus, MessageDirection, SenderType
from inbox.models import Conversation, Message
from inbox.services import message_append, message_receive
from tests.channels_app.conftest import post_webhook, process_pending
from tests.factories.channels import ChannelFactory

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
WA_ID = "16505551234"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9"
    b"\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


def payload(kind: str, name: str) -> bytes:
    return (PAYLOADS / kind / name).read_bytes()


@pytest.fixture
def whatsapp(db):
    return ChannelFactory(kind="whatsapp", name="Shop WhatsApp")


@pytest.mark.django_db
def test_a_whatsapp_text_becomes_a_message_of_a_verified_customer(client, whatsapp):
    assert post_webhook(client, whatsapp, payload("whatsapp", "text.json")).status_code == 200
    process_pending()

    message = Message.objects.get()
    assert message.body == "Does it come in another color?"
    assert message.direction == MessageDirection.INBOUND
    assert message.external_id.startswith("wamid.")
    # The provider's clock, not our arrival time, is what the console shows.
    assert message.sent_at == datetime.datetime.fromtimestamp(1749416383, datetime.UTC)
    conversation = message.conversation
    assert conversation.inbox == whatsapp.inbox
    assert conversation.last_inbound_at == message.sent_at
    customer = conversation.customer
    assert customer.display_name == "Sheena Nelson"
    kinds = dict(customer.identities.values_list("kind", "value"))
    assert kinds == {IdentityKind.WHATSAPP: WA_ID, IdentityKind.PHONE: "+" + WA_ID}
    assert conversation.identity.kind == IdentityKind.WHATSAPP
    assert InboundEvent.objects.get().processed_at is not None


@pytest.mark.django_db
def test_a_replayed_webhook_and_a_second_processing_store_one_message(client, whatsapp):
    body = payload("whatsapp", "text.json")
    post_webhook(client, whatsapp, body)
    post_webhook(client, whatsapp, body)
    event = InboundEvent.objects.get()
    event_process(event.pk)
    event_process(event.pk)
    assert Message.objects.count() == 1
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_the_same_message_under_another_event_id_is_stored_once(client, whatsapp):
    post_webhook(client, whatsapp, payload("whatsapp", "text.json"))
    process_pending()
    event = InboundEvent.objects.get()
    InboundEvent.objects.create(
        channel=whatsapp, dedupe_key="redelivered-under-another-key", payload=event.payload
    )
    process_pending()
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_second_message_joins_the_open_conversation_and_one_after_resolution_starts_anew(
    client, whatsapp
):
    post_webhook(client, whatsapp, payload("whatsapp", "text.json"))
    post_webhook(client, whatsapp, payload("whatsapp", "location.json"))
    process_pending()
    assert Conversation.objects.count() == 1
    location = Message.objects.get(content__has_key="location")
    assert location.content["location"]["latitude"]

    Conversation.objects.update(status="resolved")
    post_webhook(client, whatsapp, payload("whatsapp", "contacts.json"))
    process_pending()
    assert Conversation.objects.count() == 2
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_a_file_is_downloaded_checked_and_stored(client, whatsapp, fake):
    fake.reply(
        "GET",
        "/v23.0/1003383421387256",
        200,
        {"url": fake.url + "/cdn/scratch", "mime_type": "image/png", "file_size": len(PNG)},
    )
    fake.reply("GET", "/cdn/scratch", 200, PNG, headers={"Content-Type": "image/png"})
    post_webhook(client, whatsapp, payload("whatsapp", "image.json"))
    process_pending()

    message = Message.objects.get()
    assert message.body == "This is the scratch on the box"
    attachment = message.attachments.get()
    assert attachment.content_type == "image/png"  # read from the bytes
    assert attachment.size == len(PNG)
    # The download carried the channel's token.
    assert fake.sent("GET", "/cdn/scratch")[0].headers["authorization"] == "Bearer wa-token"


@pytest.mark.django_db
def test_a_file_of_a_refused_type_is_noted_not_stored(client, whatsapp, fake):
    html = b"<html><script>alert(1)</script></html>"
    fake.reply(
        "GET",
        "/v23.0/1003383421387256",
        200,
        {"url": fake.url + "/cdn/x", "mime_type": "image/jpeg", "file_size": len(html)},
    )
    fake.reply("GET", "/cdn/x", 200, html)
    post_webhook(client, whatsapp, payload("whatsapp", "image.json"))
    process_pending()
    message = Message.objects.get()
    assert not message.attachments.exists()
    assert message.content["media_refused"][0]["reason"]


@pytest.mark.django_db
def test_a_provider_outage_while_downloading_leaves_the_event_for_the_sweeper(
    client, whatsapp, fake
):
    fake.reply("GET", "/v23.0/1003383421387256", 503, {"error": {"message": "down"}})
    post_webhook(client, whatsapp, payload("whatsapp", "image.json"))
    process_pending()
    event = InboundEvent.objects.get()
    assert event.processed_at is None and event.attempts == 1 and event.error
    assert not Message.objects.exists()

    later = timezone.now() + datetime.timedelta(minutes=5)
    assert events_due(now=later) == [event.pk]


@pytest.mark.django_db
def test_an_ad_referral_is_recorded_as_the_customers_touch(client, whatsapp):
    post_webhook(client, whatsapp, payload("whatsapp", "referral_ad.json"))
    process_pending()
    message = Message.objects.get()
    referral = message.content["referral"]
    assert referral["source"] and referral["source_url"]
    customer = message.conversation.customer
    assert customer.first_touch["referral"]["source_url"] == referral["source_url"]
    assert message.conversation.source["channel"] == "whatsapp"


def _our_reply(conversation, external_id: str) -> Message:
    message, _ = message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AGENT,
        body="Yes, in blue.",
        external_id=external_id,
        delivery_status=DeliveryStatus.SENT,
    )
    return message


def _status_body(status: str, message_id: str) -> bytes:
    data = json.loads(payload("whatsapp", f"status_{status}.json"))
    data["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = message_id
    return json.dumps(data).encode()


@pytest.mark.django_db
def test_receipts_move_a_reply_forward_only(client, whatsapp):
    post_webhook(client, whatsapp, payload("whatsapp", "text.json"))
    process_pending()
    reply = _our_reply(Conversation.objects.get(), "wamid.OURS")

    post_webhook(client, whatsapp, _status_body("read", "wamid.OURS"))
    process_pending()
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.READ
    # A late "delivered" never undoes "read".
    post_webhook(client, whatsapp, _status_body("delivered", "wamid.OURS"))
    process_pending()
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.READ


@pytest.mark.django_db
def test_a_failed_receipt_carries_the_providers_reason(client, whatsapp):
    post_webhook(client, whatsapp, payload("whatsapp", "text.json"))
    process_pending()
    reply = _our_reply(Conversation.objects.get(), "wamid.OURS")
    post_webhook(client, whatsapp, _status_body("failed", "wamid.OURS"))
    process_pending()
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.FAILED
    assert reply.delivery_error


@pytest.mark.django_db
def test_a_receipt_that_overtakes_our_record_of_the_send_is_applied_later(client, whatsapp):
    post_webhook(client, whatsapp, payload("whatsapp", "text.json"))
    process_pending()
    post_webhook(client, whatsapp, _status_body("delivered", "wamid.LATE"))
    process_pending()
    receipt = InboundEvent.objects.get(dedupe_key__startswith="status:")
    assert receipt.processed_at is None and "wamid.LATE" in receipt.error

    reply = _our_reply(Conversation.objects.get(), "wamid.LATE")
    event_process(receipt.pk)
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.DELIVERED


@pytest.mark.django_db
def test_an_event_that_keeps_failing_stops_being_retried_and_shows_its_error(whatsapp):
    event = InboundEvent.objects.create(
        channel=whatsapp,
        dedupe_key="status:x:read",
        payload={},
        attempts=MAX_ATTEMPTS,
        error="no message",
    )
    InboundEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - datetime.timedelta(days=1)
    )
    assert events_due() == []


@pytest.mark.django_db
def test_a_reaction_is_shown_on_the_message_it_reacts_to(client, whatsapp):
    post_webhook(client, whatsapp, payload("whatsapp", "text.json"))
    process_pending()
    target = Message.objects.get()
    data = json.loads(payload("whatsapp", "reaction.json"))
    reaction = data["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]
    reaction["message_id"] = target.external_id
    post_webhook(client, whatsapp, json.dumps(data).encode())
    process_pending()
    target.refresh_from_db()
    assert target.content["reactions"]["customer"] == reaction["emoji"]
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_telegram_edits_keep_the_earlier_text(client):
    telegram = ChannelFactory(kind="telegram")
    post_webhook(client, telegram, payload("telegram", "text.json"))
    process_pending()
    original = Message.objects.get()
    first_text = original.body
    post_webhook(client, telegram, payload("telegram", "edited.json"))
    process_pending()
    original.refresh_from_db()
    assert original.body == "Hello, is my order #10045 on its way?"
    assert original.content["edits"][0]["body"] == first_text
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_line_unfollow_blocks_replies_until_they_follow_again(client):
    line = ChannelFactory(kind="line")
    post_webhook(client, line, payload("line", "unfollow.json"))
    process_pending()
    identity = Identity.objects.get(kind=IdentityKind.LINE)
    assert identity.details["following"] is False
    post_webhook(client, line, payload("line", "follow.json"))
    process_pending()
    identity.refresh_from_db()
    assert identity.details["following"] is True


@pytest.mark.django_db
def test_a_comment_on_a_post_is_its_own_conversation_beside_the_direct_messages(client):
    page = ChannelFactory(kind="messenger")
    post_webhook(client, page, payload("messenger", "text.json"))
    post_webhook(client, page, payload("messenger", "comment.json"))
    process_pending()
    comment = Message.objects.get(content__has_key="comment")
    conversation = comment.conversation
    assert conversation.thread_key == f"comment:{comment.content['comment']['post_id']}"
    assert Conversation.objects.count() == 2
    assert conversation.source["comment"]["post_id"] == comment.content["comment"]["post_id"]


@pytest.mark.django_db
def test_an_echo_of_our_own_message_is_not_stored_as_the_customers(client):
    page = ChannelFactory(kind="messenger")
    post_webhook(client, page, payload("messenger", "echo.json"))
    process_pending()
    assert not Message.objects.exists()
    assert InboundEvent.objects.get().processed_at is not None


@pytest.mark.django_db(transaction=True)
def test_an_event_and_another_writer_of_the_same_customer_do_not_deadlock(client, whatsapp):
    """One transaction holds the conversation and adds a row referencing the customer
    (PostgreSQL checks that foreign key at commit with a key-share lock on the customer);
    the other, an event of the same customer, holds the customer from its resolution and
    waits for the conversation. The customer's lock must not exclude the key-share lock,
    or PostgreSQL rolls one of them back as a deadlock."""
    post_webhook(client, whatsapp, payload("whatsapp", "text.json"))
    process_pending()
    conversation = Conversation.objects.get()
    customer = conversation.customer
    conversation_held, customer_held = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def holder():
        try:
            with transaction.atomic():
                message_receive(conversation=conversation, body="first", external_id="w.1")
                conversation_held.set()
                assert customer_held.wait(10)
                # Until the event waits for the conversation that this transaction holds.
                with connection.cursor() as cursor:
                    for _ in range(100):
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND datname = current_database()"
                        )
                        if cursor.fetchone()[0]:
                            break
                        threading.Event().wait(0.05)
                change_record(customer, ChangeAction.UPDATED, field="note")
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            conversation_held.set()
            connection.close()

    def event():
        try:
            assert conversation_held.wait(10)
            with transaction.atomic():
                claim = IdentityClaim(
                    IdentityKind.WHATSAPP, WA_ID, verified=True, verification=Verification.CHANNEL
                )
                customer_resolve([claim], channel=whatsapp)
                customer_held.set()
                message_receive(conversation=conversation, body="second", external_id="w.2")
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            customer_held.set()
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=event)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    bodies = set(conversation.messages.values_list("body", flat=True))
    assert {"first", "second"} <= bodies


@pytest.mark.django_db
def test_an_event_rolled_back_by_a_deadlock_is_applied_again_at_once(client, whatsapp, monkeypatch):
    from django.db import OperationalError

    from channels_app.services import inbound

    class Deadlock(Exception):
        sqlstate = "40P01"

    apply, calls = inbound._apply, []

    def apply_once_deadlocked(*args):
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("deadlock detected") from Deadlock()
        return apply(*args)

    monkeypatch.setattr(inbound, "_apply", apply_once_deadlocked)
    post_webhook(client, whatsapp, payload("whatsapp", "text.json"))
    process_pending()
    event = InboundEvent.objects.get()
    assert event.processed_at is not None and event.error == ""
    assert Message.objects.count() == 1 and len(calls) == 2
