"""Replying through a messaging channel in the console, in a real browser against real
servers: the channel's rules in the composer (a closed WhatsApp window, an approved
template with its values), the delivery status of a reply live from `message.updated`
with a retry, and what channels add to a message (cards, postbacks, ads, email), shown
as text. Checked in the database after each step; no Celery worker runs, so replies stay
in the outbox (rows are asserted, not provider calls)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_app.enums import ChannelKind, DeliveryState
from channels_app.models import MessageTemplate, OutboundDelivery
from customers.enums import IdentityKind, Verification
from inbox.enums import DeliveryStatus, MessageDirection
from inbox.models import Conversation, Message
from inbox.services import (
    message_delete_by_customer,
    message_delivery_update,
    message_edit_by_customer,
    message_reaction_set,
    message_receive,
)
from tests.factories.accounts import AgentFactory
from tests.factories.channels import ChannelFactory
from tests.factories.customers import CustomerFactory, IdentityFactory
from tests.factories.inbox import ConversationFactory
from tests.live.browser import add_session_cookie, screenshot, wait_until
from tests.live.clients import session_cookies

HOSTILE_TITLE = "<img src=x onerror=alert('postback')>"
HOSTILE_CONTACT = "<script>alert('contact')</script>Bob"
HOSTILE_HTML = "<p>Please <b>see</b> the invoice</p><img src=x onerror=alert('email')>"
PROVIDER_ERROR = "Phone number not on WhatsApp"


def whatsapp_conversation(*, channel, customer, phone: str) -> Conversation:
    identity = IdentityFactory(
        customer=customer,
        kind=IdentityKind.WHATSAPP,
        value=phone,
        verified=True,
        verification=Verification.CHANNEL,
        channel=channel,
    )
    return ConversationFactory(
        inbox=channel.inbox,
        customer=customer,
        identity=identity,
        source={"channel": channel.kind, "channel_name": channel.name},
    )


def the_reply(conversation) -> Message:
    return Message.objects.get(conversation=conversation, direction=MessageDirection.OUTBOUND)


def provider_refused(message: Message, reason: str) -> None:
    """What the outbox records when the provider refuses a reply for good."""
    OutboundDelivery.objects.filter(message=message).update(
        state=DeliveryState.FAILED, error=reason, error_code="131026", attempts=1
    )
    message_delivery_update(message=message, status=DeliveryStatus.FAILED, error=reason)


@pytest.fixture
def agent(transactional_db):
    return AgentFactory(display_name="Li Wei")


def open_console(page, base, agent, conversation):
    page.context.set_default_timeout(15_000)
    add_session_cookie(page.context, base, session_cookies(agent))
    page.goto(f"{base}/console/?c={conversation.uuid}")
    expect(page.locator("#conversation .msg").first).to_be_visible()


def test_a_template_outside_the_window_and_a_failed_delivery(start_servers, no_dialogs, agent):
    page = no_dialogs
    channel = ChannelFactory(kind=ChannelKind.WHATSAPP, name="Acme WhatsApp")
    channel.inbox.members.add(agent)
    MessageTemplate.objects.create(
        channel=channel,
        name="order_ready",
        language="en",
        category="UTILITY",
        body="Hi {{1}}, your order {{2}} is ready",
    )
    ann = CustomerFactory(display_name="Ann Lee")
    conversation = whatsapp_conversation(channel=channel, customer=ann, phone="447700900123")
    now = timezone.now()
    message_receive(
        conversation=conversation,
        body="Is my order ready?",
        external_id="wamid.1",
        sent_at=now - timedelta(hours=26),
    )
    # Sent before the first one but received after it: shown in the order it was sent.
    message_receive(
        conversation=conversation,
        body=HOSTILE_CONTACT,
        external_id="wamid.2",
        sent_at=now - timedelta(hours=27),
        content={
            "contacts": [
                {
                    "name": HOSTILE_CONTACT,
                    "phones": ["+44 7700 900456"],
                    "emails": ["bob@example.com"],
                    "organization": "",
                }
            ]
        },
    )
    message_receive(
        conversation=conversation,
        body=HOSTILE_TITLE,
        external_id="wamid.3",
        sent_at=now - timedelta(hours=25),
        content={"postback": {"payload": "ORDER_STATUS", "title": HOSTILE_TITLE}},
    )
    assert Conversation.objects.get(pk=conversation.pk).last_inbound_at < now - timedelta(hours=24)

    (base,) = start_servers()
    open_console(page, base, agent, conversation)
    conversation_view = page.locator("#conversation")

    # The channel is named in the header and the list.
    expect(page.locator("#conversation-channel")).to_have_text("WhatsApp")
    expect(page.locator(".conv-row .conv-channel")).to_have_text("WhatsApp")

    # Customer data as text, in the order it was sent.
    incoming = conversation_view.locator(".msg-in")
    expect(incoming).to_have_count(3)
    expect(incoming.nth(0).locator(".msg-contact .msg-card-title")).to_have_text(HOSTILE_CONTACT)
    expect(incoming.nth(0).locator(".msg-contact")).to_contain_text("bob@example.com")
    expect(incoming.nth(1).locator(".msg-body")).to_have_text("Is my order ready?")
    expect(incoming.nth(2).locator(".msg-postback")).to_have_text(f"Pressed: {HOSTILE_TITLE}")
    assert conversation_view.locator("img[src=x]").count() == 0
    assert conversation_view.locator(".msg script").count() == 0

    # The window is closed: the reason, free text disabled, the template picker open.
    banner = page.locator(".sb-reply-blocked")
    expect(banner).to_contain_text("more than 24 hours")
    expect(banner).to_contain_text("approved template")
    expect(page.locator("#composer")).to_be_disabled()
    expect(page.locator("#send")).to_be_disabled()
    option = page.locator(".sb-template-option").filter(has_text="order_ready")
    expect(option).to_contain_text("Hi {{1}}, your order {{2}} is ready")
    option.click()

    # One input per variable, and the text as it will be sent.
    values = page.locator(".sb-template-var input")
    expect(values).to_have_count(2)
    send = page.get_by_role("button", name="Send template")
    expect(send).to_be_disabled()
    values.nth(0).fill("Ann")
    expect(page.locator(".sb-template-preview")).to_have_text("Hi Ann, your order {{2}} is ready")
    values.nth(1).fill("A-1001")
    expect(page.locator(".sb-template-preview")).to_have_text("Hi Ann, your order A-1001 is ready")
    screenshot(page, "channel-replies-template")
    send.click()

    reply_body = conversation_view.locator(".msg-out .msg-body")
    expect(reply_body).to_have_text("Hi Ann, your order A-1001 is ready")
    wait_until(
        lambda: Message.objects.filter(
            conversation=conversation, direction=MessageDirection.OUTBOUND
        ).exists()
    )
    reply = the_reply(conversation)
    assert reply.body == "Hi Ann, your order A-1001 is ready"
    assert reply.content["template"] == {
        "name": "order_ready",
        "language": "en",
        "variables": ["Ann", "A-1001"],
    }
    assert reply.delivery_status == DeliveryStatus.QUEUED
    delivery = OutboundDelivery.objects.get(message=reply)
    assert (delivery.channel, delivery.state) == (channel, DeliveryState.QUEUED)
    status = conversation_view.locator(".msg-out .msg-status")
    expect(status).to_have_attribute("data-state", "queued")
    expect(conversation_view.locator(".msg-out .msg-label-template")).to_have_text(
        "Template: order_ready"
    )
    # The picker starts afresh; the window is still closed.
    expect(page.locator(".sb-template-option")).to_have_count(1)

    # The provider refuses it: shown live, with the reason and a retry.
    provider_refused(reply, PROVIDER_ERROR)
    expect(status).to_have_attribute("data-state", "failed")
    expect(status).to_contain_text("Not delivered")
    expect(status).to_contain_text(PROVIDER_ERROR)
    # A template's text is the approved one: it is sent again as it is, never edited.
    expect(status.get_by_role("button", name="Edit and retry")).to_have_count(0)
    screenshot(page, "channel-replies-failed")
    status.get_by_role("button", name="Retry").click()

    wait_until(lambda: OutboundDelivery.objects.get(pk=delivery.pk).state == DeliveryState.QUEUED)
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.error) == (0, "")
    reply.refresh_from_db()
    assert (reply.delivery_status, reply.delivery_error) == (DeliveryStatus.QUEUED, "")
    expect(status).to_have_attribute("data-state", "queued")
    expect(status).not_to_contain_text("Not delivered")

    # A receipt while the console is offline: fetched again after the reconnect.
    page.context.set_offline(True)
    message_delivery_update(message=reply, status=DeliveryStatus.DELIVERED, external_id="wamid.out")
    page.context.set_offline(False)
    expect(status).to_have_attribute("data-state", "delivered")
    expect(status.locator(".msg-ticks")).to_have_text("✓✓")
    # And live.
    message_delivery_update(message=reply, status=DeliveryStatus.READ)
    expect(status).to_have_attribute("data-state", "read")
    assert page.locator("img[src=x]").count() == 0


def test_an_open_window_a_refusal_and_what_channels_add(start_servers, no_dialogs, agent):
    page = no_dialogs
    channel = ChannelFactory(kind=ChannelKind.WHATSAPP, name="Acme WhatsApp")
    # The console's socket joins the agent's inboxes when it connects.
    email = ChannelFactory(kind=ChannelKind.EMAIL, name="Support mailbox")
    for inbox in (channel.inbox, email.inbox):
        inbox.members.add(agent)
    ann = CustomerFactory(display_name="Ann Lee")
    conversation = whatsapp_conversation(channel=channel, customer=ann, phone="447700900123")
    now = timezone.now()
    from_ad, _ = message_receive(
        conversation=conversation,
        body="I saw your ad",
        external_id="wamid.ad",
        sent_at=now - timedelta(hours=2, minutes=5),
        content={
            "referral": {
                "source": "ad",
                "source_id": "120200001",
                "source_url": "https://fb.me/spring-sale",
                "headline": "Spring sale",
                "body": "",
                "ref": "",
                "click_id": "ctwa-1",
            }
        },
    )
    message_receive(
        conversation=conversation,
        body="Acme Store",
        external_id="wamid.location",
        sent_at=now - timedelta(hours=2, minutes=4),
        content={
            "location": {
                "latitude": 51.5033,
                "longitude": -0.1196,
                "name": "Acme Store",
                "address": "1 Riverside, London",
                "url": "",
            },
            "media_refused": [{"name": "virus.exe", "reason": "this file type is not accepted"}],
        },
    )
    oops, _ = message_receive(
        conversation=conversation,
        body="Wrong chat, sorry",
        external_id="wamid.oops",
        sent_at=now - timedelta(hours=2, minutes=3),
    )
    typo, _ = message_receive(
        conversation=conversation,
        body="My ordr number is A-1001",
        external_id="wamid.typo",
        sent_at=now - timedelta(hours=2),
    )

    (base,) = start_servers()
    open_console(page, base, agent, conversation)
    view = page.locator("#conversation")

    # What the messages carry, as text and safe links.
    chip = view.locator(".msg-referral a")
    expect(chip).to_have_text("From ad: Spring sale")
    expect(chip).to_have_attribute("href", "https://fb.me/spring-sale")
    location = view.locator(".msg-location")
    expect(location).to_contain_text("1 Riverside, London")
    map_link = location.get_by_role("link", name="Open in OpenStreetMap")
    expect(map_link).to_have_attribute(
        "href", "https://www.openstreetmap.org/?mlat=51.5033&mlon=-0.1196#map=16/51.5033/-0.1196"
    )
    expect(map_link).to_have_attribute("rel", "noopener noreferrer")
    expect(view.locator(".msg-refused")).to_have_text(
        "File not accepted: virus.exe — this file type is not accepted"
    )

    # Reactions, edits and deletions arrive live.
    message_reaction_set(message=from_ad, emoji="👍")
    expect(view.locator(".msg-reactions")).to_have_text("👍")
    message_edit_by_customer(
        message=typo, body="My order number is A-1001", edited_at=timezone.now()
    )
    edited = view.locator(f".msg[data-seq='{typo.seq}']")
    expect(edited.locator(".msg-body")).to_have_text("My order number is A-1001")
    expect(edited.locator(".msg-label-edited")).to_have_text("edited")
    expect(edited.locator(".msg-label-edited")).to_have_attribute(
        "title", re.compile("My ordr number is A-1001")
    )
    message_delete_by_customer(message=oops, deleted_at=timezone.now())
    deleted = view.locator(f".msg[data-seq='{oops.seq}']")
    expect(deleted.locator(".msg-label-deleted")).to_have_text("deleted by the customer")
    expect(deleted).to_have_class(re.compile("is-deleted"))

    # The window is open: its closing time, a counter, free text.
    expect(page.locator(".sb-window-note")).to_contain_text("Reply window closes in 22 hours")
    expect(page.locator(".sb-reply-blocked")).to_have_count(0)
    composer = page.locator("#composer")
    expect(composer).to_be_enabled()
    composer.fill("Thanks! It ships today.")
    expect(page.locator("#char-count")).to_have_text("23 / 4096")
    composer.press("Enter")
    expect(view.locator(".msg-out .msg-body")).to_have_text("Thanks! It ships today.")
    wait_until(lambda: OutboundDelivery.objects.filter(message__conversation=conversation).exists())
    reply = the_reply(conversation)

    # Refused by the provider: corrected and sent again.
    provider_refused(reply, "Message failed to send because of a typo filter")
    status = view.locator(".msg-out .msg-status")
    expect(status).to_contain_text("Not delivered: Message failed to send")
    status.get_by_role("button", name="Edit and retry").click()
    editor = view.locator(".msg-retry-form textarea")
    expect(editor).to_have_value("Thanks! It ships today.")
    editor.fill("Thanks! Your order ships today.")
    view.get_by_role("button", name="Send again").click()
    expect(view.locator(".msg-out .msg-body")).to_have_text("Thanks! Your order ships today.")
    expect(status).to_have_attribute("data-state", "queued")
    expect(view.locator(".msg-retry-form")).to_have_count(0)
    reply.refresh_from_db()
    assert (reply.body, reply.delivery_status) == (
        "Thanks! Your order ships today.",
        DeliveryStatus.QUEUED,
    )
    assert OutboundDelivery.objects.get(message=reply).state == DeliveryState.QUEUED

    # The window closed meanwhile (the console does not know yet): the refusal and its
    # hint show beside the composer, the text stays, and the rules are shown again.
    Conversation.objects.filter(pk=conversation.pk).update(
        last_inbound_at=now - timedelta(hours=30)
    )
    composer.fill("One more thing")
    composer.press("Enter")
    error = page.locator("#composer-error")
    expect(error).to_contain_text("more than 24 hours")
    expect(error.locator(".sb-refusal-hint")).to_contain_text("approved template")
    expect(composer).to_have_value("One more thing")
    expect(page.locator(".sb-reply-blocked")).to_be_visible()
    expect(composer).to_be_disabled()
    assert Message.objects.filter(conversation=conversation).count() == 5
    screenshot(page, "channel-replies-refused")

    # An email: subject, quoted history on request, the HTML only in a sandboxed frame,
    # and an auto-reply dimmed.
    mail_identity = IdentityFactory(customer=ann, kind=IdentityKind.EMAIL, value="ann@example.com")
    mail = ConversationFactory(inbox=email.inbox, customer=ann, identity=mail_identity)
    message_receive(
        conversation=mail,
        body="Please see the invoice",
        external_id="<m1@example.com>",
        content={
            "subject": "Invoice 42",
            "quoted": "On Monday you wrote:\n> Here is your invoice",
            "html": HOSTILE_HTML,
        },
    )
    message_receive(
        conversation=mail,
        body="I am away until Monday.",
        external_id="<m2@example.com>",
        content={"subject": "Out of office", "automated": True},
    )
    row = page.locator(".conv-row").filter(has_text="I am away until Monday.")
    row.click()
    # The list names only the inbox: the kind is learnt from the conversation's rules.
    expect(page.locator("#conversation-channel")).to_have_text("Email")
    expect(row.locator(".conv-channel")).to_have_text("Email")
    first = view.locator(".msg-in").first
    expect(first.locator(".msg-subject")).to_have_text("Invoice 42")
    quoted = first.locator(".msg-quoted")
    expect(quoted.locator(".msg-quoted-text")).to_have_count(0)
    quoted.get_by_text("Show quoted text").click()
    expect(quoted.locator(".msg-quoted-text")).to_contain_text("> Here is your invoice")
    expect(first.locator("iframe")).to_have_count(0)
    first.get_by_text("Show original formatting").click()
    frame = first.locator("iframe.msg-html-frame")
    expect(frame).to_have_attribute("sandbox", "")
    expect(page.frame_locator("iframe.msg-html-frame").locator("b")).to_have_text("see")
    auto = view.locator(".msg-in.msg-automated")
    expect(auto.locator(".msg-label-auto")).to_have_text("Auto-reply")
    screenshot(page, "channel-replies-email")
    assert page.locator("img[src=x]").count() == 0


def test_the_human_agent_tag_and_a_private_answer_to_a_comment(start_servers, no_dialogs, agent):
    page = no_dialogs
    channel = ChannelFactory(kind=ChannelKind.MESSENGER, name="Acme page")
    channel.inbox.members.add(agent)
    ann = CustomerFactory(display_name="Ann Lee")
    psid = IdentityFactory(
        customer=ann, kind=IdentityKind.MESSENGER, value="PSID-1", verified=True, channel=channel
    )
    direct = ConversationFactory(inbox=channel.inbox, customer=ann, identity=psid)
    message_receive(
        conversation=direct,
        body="Any news about my refund?",
        external_id="m_1",
        sent_at=timezone.now() - timedelta(hours=30),
    )
    bob = CustomerFactory(display_name="Bob Stone")
    bob_psid = IdentityFactory(
        customer=bob, kind=IdentityKind.MESSENGER, value="PSID-2", verified=True, channel=channel
    )
    on_post = ConversationFactory(
        inbox=channel.inbox, customer=bob, identity=bob_psid, thread_key="comment:post-1"
    )
    message_receive(
        conversation=on_post,
        body="How much is shipping?",
        external_id="comment-1",
        content={
            "comment": {
                "comment_id": "comment-1",
                "post_id": "post-1",
                "permalink": "https://www.facebook.com/acme/posts/1",
                "platform": "facebook",
            }
        },
    )

    (base,) = start_servers()
    open_console(page, base, agent, direct)

    # Past the 24 hours but within 7 days: free text only with the human-agent tag.
    expect(page.locator(".sb-reply-blocked")).to_contain_text("more than 24 hours")
    expect(page.locator("#send")).to_be_disabled()
    composer = page.locator("#composer")
    expect(composer).to_be_enabled()
    composer.fill("Your refund was sent today.")
    expect(page.locator("#char-count")).to_have_text("27 / 2000")
    page.get_by_role("button", name="Send with the human-agent tag").click()
    view = page.locator("#conversation")
    expect(view.locator(".msg-out .msg-label-tag")).to_have_text("Sent with the human-agent tag")
    wait_until(lambda: OutboundDelivery.objects.filter(message__conversation=direct).exists())
    reply = the_reply(direct)
    assert reply.body == "Your refund was sent today."
    assert reply.content["options"] == {"message_tag": "HUMAN_AGENT"}
    assert OutboundDelivery.objects.get(message=reply).options == {"message_tag": "HUMAN_AGENT"}

    # A comment on a post: answered in public or privately, as the agent chooses.
    page.locator(".conv-row").filter(has_text="How much is shipping?").click()
    comment = view.locator(".msg-in .msg-comment a")
    expect(comment).to_have_text("Comment on post")
    expect(comment).to_have_attribute("href", "https://www.facebook.com/acme/posts/1")
    expect(page.locator(".sb-reply-mode")).to_be_visible()
    expect(page.get_by_label("In public")).to_be_checked()
    page.get_by_label("As a private message").check()
    composer.fill("Shipping is free, I sent you the details.")
    composer.press("Enter")
    expect(view.locator(".msg-out .msg-label-private")).to_have_text("Private reply")
    wait_until(lambda: OutboundDelivery.objects.filter(message__conversation=on_post).exists())
    private = the_reply(on_post)
    assert private.content["options"] == {"reply_mode": "private"}
    screenshot(page, "channel-replies-comment")
