"""Email through the whole inbound pipeline: webhook → stored event → conversation, with the
threading rule (a reply joins only the same customer's thread), files, and bounces."""

import base64
from pathlib import Path

import pytest

from channels_app.adapters.email.imap import mailbox_poll
from channels_app.models import InboundEvent
from customers.enums import IdentityKind
from inbox.enums import DeliveryStatus, MessageDirection, SenderType
from inbox.models import Conversation, Message
from inbox.services import message_append
from tests.channels_app.conftest import post_webhook, process_pending, webhook_url
from tests.factories.channels import ChannelFactory

from .fake_imap import FakeImap

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "email"
OURS = "171717171717.4242.8807345577172638821@shop.example"


def load(name: str) -> bytes:
    return (PAYLOADS / f"{name}.eml").read_bytes()


@pytest.fixture
def channel(db):
    return ChannelFactory(kind="email", name="Support mailbox")


def _first_conversation_with_our_reply(client, channel) -> Conversation:
    assert post_webhook(client, channel, load("text")).status_code == 200
    process_pending()
    conversation = Conversation.objects.get()
    message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AGENT,
        body="Your parcel left our warehouse this morning.",
        external_id=OURS,
        delivery_status=DeliveryStatus.SENT,
    )
    return conversation


def test_an_email_becomes_a_message_of_the_sender(client, channel):
    assert post_webhook(client, channel, load("text")).status_code == 200
    process_pending()
    message = Message.objects.get()
    assert message.body.startswith("Hi,\n\nI ordered a pair of running shoes")
    assert message.external_id == "CAJ7q8mS1x0pZ3b9QhY2f5kR0WnL6t4Vd=qeXw1@mail.gmail.com"
    assert message.content["subject"] == "Where is my order #10482?"
    customer = message.conversation.customer
    assert customer.display_name == "Ann Lee"
    assert dict(customer.identities.values_list("kind", "value")) == {
        IdentityKind.EMAIL: "ann.lee@example.com"
    }


def test_a_reply_joins_the_thread_and_another_senders_reply_does_not(client, channel):
    conversation = _first_conversation_with_our_reply(client, channel)

    assert post_webhook(client, channel, load("reply_gmail")).status_code == 200
    process_pending()
    reply = Message.objects.get(external_id="CAJ7q8mT0aB4c7XyQ2p9Lw3nV5s1k8Rz6YdU@mail.gmail.com")
    assert reply.conversation == conversation
    assert reply.body == "Thank you, the parcel just arrived!"
    assert "warehouse" in reply.content["quoted"]

    # The same references from someone else (a forward, a guessed id) start their own thread.
    assert post_webhook(client, channel, load("reply_outlook")).status_code == 200
    process_pending()
    other = Message.objects.get(external_id__startswith="DB9PR04MB8412C0E5A3D1F0A2B7C4E9F1D93A2")
    assert other.conversation != conversation
    assert other.conversation.customer != conversation.customer


def test_a_new_email_without_references_starts_a_new_conversation(client, channel):
    conversation = _first_conversation_with_our_reply(client, channel)
    assert post_webhook(client, channel, load("attachment")).status_code == 200  # same sender
    process_pending()
    message = Message.objects.get(external_id="6b1d2f00-8c3a-4e55-9b1e-2f4a5c6d7e8f@example.com")
    assert message.conversation != conversation
    assert message.conversation.customer == conversation.customer
    # Its files were read back from the stored email and kept.
    assert sorted(message.attachments.values_list("name", "content_type")) == [
        ("Lieferschein Müller.pdf", "application/pdf"),
        ("box.png", "image/png"),
    ]


def test_a_bounce_of_our_reply_marks_it_failed(client, channel):
    _first_conversation_with_our_reply(client, channel)
    assert post_webhook(client, channel, load("bounce")).status_code == 200
    process_pending()
    ours = Message.objects.get(external_id=OURS)
    assert ours.delivery_status == DeliveryStatus.FAILED
    assert InboundEvent.objects.filter(processed_at__isnull=True).count() == 0


def test_a_chinese_email_is_stored_readable(client, channel):
    assert post_webhook(client, channel, load("chinese_gbk")).status_code == 200
    process_pending()
    message = Message.objects.get()
    assert "朱镕基路店" in message.body
    assert message.content["subject"] == "关于订单10482的退款问题（朱镕基路店）"
    assert message.conversation.customer.display_name == "王小明"


def test_polled_mail_goes_through_the_same_pipeline(channel):
    with FakeImap() as imap:
        channel.settings = {**channel.settings, **imap.settings()}
        channel.save()
        imap.append(load("text"))
        imap.append(load("chinese_gbk"))
        assert mailbox_poll(channel) == 2
        assert mailbox_poll(channel) == 0
    process_pending()
    assert Message.objects.count() == 2
    assert Conversation.objects.count() == 2


def test_sendgrid_raw_mode_with_credentials_in_the_url(client, channel):
    """SendGrid cannot send headers of ours: the secret rides in the URL's user info, which
    arrives as HTTP Basic auth; the raw message is the form field "email"."""
    raw = load("chinese_gbk")
    boundary = "xYzZY"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="to"\r\n\r\n'
            "support@shop.example\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n'
        ).encode()
        + raw
        + f"\r\n--{boundary}--\r\n".encode()
    )
    token = base64.b64encode(f"inbound:{channel.webhook_secret}".encode()).decode()
    response = client.generic(
        "POST",
        webhook_url(channel),
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Authorization": f"Basic {token}"},
    )
    assert response.status_code == 200
    process_pending()
    assert "朱镕基路店" in Message.objects.get().body
