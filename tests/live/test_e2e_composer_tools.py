"""The composer's tools in the console, in a real browser against a real server: a private
note with @mentions picked by keyboard, quoting a customer's message, canned replies
inserted by typing "/", and saving the composer's text as a canned reply; each checked
in the database."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_app.enums import ChannelKind
from customers.enums import IdentityKind, Verification
from inbox.enums import MessageDirection, NotificationKind, SenderType
from inbox.models import CannedReply, Message, Notification
from inbox.services import message_append, message_receive
from tests.factories.accounts import AgentFactory
from tests.factories.channels import ChannelFactory, WebChannelFactory
from tests.factories.customers import CustomerFactory, IdentityFactory
from tests.factories.inbox import ConversationFactory, TeamFactory
from tests.live.browser import add_session_cookie, screenshot, wait_until
from tests.live.clients import session_cookies

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
QUESTION = "Where is my parcel?"


@pytest.fixture
def shop(transactional_db):
    """Two agents of one web inbox (the second with a hostile name, also in the Billing
    team), Ann's conversation, and canned replies: shared, the first agent's own, and the
    second agent's own (which the first must not see)."""
    channel = WebChannelFactory(name="Acme website")
    li = AgentFactory(display_name="Li Wei")
    other = AgentFactory(display_name=HOSTILE_NAME)
    channel.inbox.members.add(li, other)
    billing = TeamFactory(name="Billing")
    billing.members.add(other)
    ann = CustomerFactory(display_name="Ann Lee")
    visitor = IdentityFactory(
        customer=ann, kind=IdentityKind.WEB_VISITOR, value="v-ann", channel=channel
    )
    conversation = ConversationFactory(inbox=channel.inbox, customer=ann, identity=visitor)
    question, _ = message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body=QUESTION,
    )
    CannedReply.objects.create(
        shortcut="greet", title="Greeting", body="Hello {{customer.name}}, thanks for waiting!"
    )
    CannedReply.objects.create(
        shortcut="gift", title="Gift wrap", body="We can gift-wrap it for you.", owner=li
    )
    CannedReply.objects.create(
        shortcut="gossip", title="Not yours", body="Someone else's.", owner=other
    )
    return {
        "li": li,
        "other": other,
        "billing": billing,
        "conversation": conversation,
        "question": question,
    }


def test_notes_mentions_quotes_and_canned_replies(start_servers, no_dialogs, shop):
    (base,) = start_servers()
    page = no_dialogs
    page.context.set_default_timeout(15_000)
    li, other, billing = shop["li"], shop["other"], shop["billing"]
    conversation = shop["conversation"]
    add_session_cookie(page.context, base, session_cookies(li))
    page.goto(f"{base}/console/?c={conversation.uuid}")
    expect(page.locator("#conversation .msg-in .msg-body")).to_have_text([QUESTION])
    composer = page.locator("textarea#composer")
    form = page.locator("#composer-form")
    tools = page.locator("#composer-tools")
    popup = tools.locator(".sb-ct-popup")
    options = popup.get_by_role("option")

    def messages() -> int:
        return Message.objects.filter(conversation=conversation).count()

    # Note mode by its shortcut: the composer looks like a note and says so.
    composer.focus()
    composer.press("Alt+n")
    expect(tools.get_by_role("button", name="Note")).to_have_attribute("aria-pressed", "true")
    expect(form).to_have_class(re.compile(r"\bsb-ct-note\b"))
    expect(composer).to_have_attribute("placeholder", re.compile("private note"))

    # "@" lists colleagues and teams (not me); arrows move, Enter picks and does not send.
    composer.press_sequentially("Please check @")
    expect(popup).to_be_visible()
    expect(popup.get_by_role("listbox")).to_be_visible()
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text(HOSTILE_NAME)
    expect(options.nth(1)).to_contain_text("Billing")
    expect(options.filter(has_text="Li Wei")).to_have_count(0)
    composer.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(composer).to_have_attribute("aria-activedescendant", "sb-ct-suggest-1")
    composer.press("ArrowUp")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    composer.press_sequentially("<im")
    expect(options).to_have_count(1)
    before = messages()
    composer.press("Enter")
    expect(popup).to_be_hidden()
    user_token = f"@[{HOSTILE_NAME}](user:{other.pk}) "
    expect(composer).to_have_value(f"Please check {user_token}")
    # A team by Tab, then Escape closes a list without picking.
    composer.press_sequentially("and @bil")
    expect(options).to_have_count(1)
    composer.press("Tab")
    team_token = f"@[Billing](team:{billing.pk}) "
    expect(composer).to_have_value(f"Please check {user_token}and {team_token}")
    composer.press_sequentially("@zz")
    expect(popup).to_contain_text("No colleague or team matches")
    composer.press("Escape")
    expect(popup).to_be_hidden()
    for _ in range(3):
        composer.press("Backspace")
    assert messages() == before, "a key the list took sent the note"

    composer.press_sequentially("please.")
    composer.press("Enter")
    note = page.locator("#conversation .msg-note:not(.msg-pending)")
    expect(note).to_have_count(1)
    chips = note.locator(".msg-body .sb-mention")
    expect(chips).to_have_text([f"@{HOSTILE_NAME}", "@Billing"])
    expect(note.locator(".msg-body")).to_have_text(
        f"Please check @{HOSTILE_NAME} and @Billing please."
    )
    assert page.locator("#conversation img[src=x]").count() == 0
    wait_until(lambda: Message.objects.filter(conversation=conversation, private=True).exists())
    saved = Message.objects.get(conversation=conversation, private=True)
    assert saved.body == f"Please check {user_token}and {team_token}please."
    assert saved.author == li
    wait_until(
        lambda: Notification.objects.filter(user=other, kind=NotificationKind.MENTION).exists()
    )
    # Mentioned directly and through the team: told once.
    assert Notification.objects.filter(user=other, message=saved).count() == 1
    # Note mode stays for this conversation until switched back.
    expect(tools.get_by_role("button", name="Note")).to_have_attribute("aria-pressed", "true")
    tools.get_by_role("button", name="Reply", exact=True).click()
    expect(form).not_to_have_class(re.compile(r"\bsb-ct-note\b"))

    # Quote the customer's message: the bar says what is quoted; the reply records it.
    question_li = page.locator("#conversation .msg-in").filter(has_text=QUESTION)
    question_li.hover()
    question_li.locator(".sb-ct-quote-btn").click()
    quote = tools.locator(".sb-ct-quote")
    expect(quote).to_be_visible()
    expect(quote).to_contain_text("Replying to Ann Lee:")
    expect(quote).to_contain_text(QUESTION)
    expect(composer).to_be_focused()
    composer.press("Escape")  # cancels the quote
    expect(quote).to_be_hidden()
    question_li.hover()
    question_li.locator(".sb-ct-quote-btn").click()
    expect(quote).to_be_visible()
    composer.press_sequentially("It ships today.")
    composer.press("Enter")
    expect(quote).to_be_hidden()
    reply_li = page.locator("#conversation .msg-out:not(.msg-pending)").filter(
        has_text="It ships today."
    )
    expect(reply_li.locator(".msg-reply-to")).to_contain_text(QUESTION)
    wait_until(
        lambda: Message.objects.filter(conversation=conversation, body="It ships today.").exists()
    )
    reply = Message.objects.get(conversation=conversation, body="It ships today.")
    assert not reply.private
    assert reply.reply_to_id == shop["question"].pk

    # "/" lists my canned replies and the shared ones, marked; not another agent's own.
    composer.press_sequentially("/")
    expect(popup).to_be_visible()
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("/gift")
    expect(options.nth(0)).to_contain_text("Personal")
    expect(options.nth(1)).to_contain_text("/greet")
    expect(options.nth(1)).to_contain_text("Shared")
    expect(popup).not_to_contain_text("gossip")
    # Nothing matches: Enter closes the list and sends nothing.
    composer.press_sequentially("zzz")
    expect(popup).to_contain_text("No canned reply matches")
    before = messages()
    composer.press("Enter")
    expect(popup).to_be_hidden()
    expect(composer).to_have_value("/zzz")
    composer.fill("")
    # Part of the shortcut, Enter: the server's text for this conversation replaces "/gre".
    composer.press_sequentially("/gre")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Hello {{customer.name}}")
    composer.press("Enter")
    expect(composer).to_have_value("Hello Ann Lee, thanks for waiting!")
    expect(popup).to_be_hidden()
    time.sleep(0.5)
    assert messages() == before, "Enter in the list sent the text"

    # Save the composer's text as a personal canned reply.
    tools.get_by_role("button", name="Save as canned reply").click()
    tools.get_by_role("textbox", name="Shortcut").fill("/wait")
    tools.get_by_role("textbox", name="Title (optional)").fill("Thanks for waiting")
    tools.get_by_role("textbox", name="Title (optional)").press("Enter")
    expect(tools.locator(".sb-ct-saved")).to_contain_text("/wait")
    wait_until(lambda: CannedReply.objects.filter(shortcut="wait", owner=li).exists())
    assert CannedReply.objects.get(shortcut="wait").body == "Hello Ann Lee, thanks for waiting!"
    assert messages() == before, "saving a canned reply sent the text"
    # The same shortcut again: the API's message shows beside the form.
    tools.get_by_role("button", name="Save as canned reply").click()
    tools.get_by_role("textbox", name="Shortcut").fill("wait")
    tools.get_by_role("button", name="Save", exact=True).click()
    expect(tools.locator(".sb-ct-save .sb-ct-error")).to_contain_text("/wait")
    tools.get_by_role("button", name="Cancel", exact=True).click()
    screenshot(page, "composer-tools")

    # A phone: the tools still fit.
    page.set_viewport_size({"width": 390, "height": 800})
    expect(tools.get_by_role("button", name="Note")).to_be_visible()
    composer.fill("")
    composer.press("Alt+n")
    composer.press_sequentially("@")
    expect(options).to_have_count(2)
    box = popup.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    screenshot(page, "composer-tools-phone")
    options.filter(has_text="Billing").click()  # by mouse too
    expect(composer).to_have_value(f"@[Billing](team:{billing.pk}) ")
    expect(composer).to_be_focused()
    assert page.locator("img[src=x]").count() == 0


def test_a_note_where_the_channel_takes_no_reply_and_the_mode_per_conversation(
    start_servers, no_dialogs, shop
):
    """Outside WhatsApp's 24-hour window the console blocks replies; a note is never
    delivered, so Note mode writes one anyway, and Reply puts the block back. The mode
    is remembered per conversation."""
    page = no_dialogs
    li = shop["li"]
    channel = ChannelFactory(kind=ChannelKind.WHATSAPP, name="Acme WhatsApp")
    channel.inbox.members.add(li)
    bob = CustomerFactory(display_name="Bob Chen")
    phone = IdentityFactory(
        customer=bob,
        kind=IdentityKind.WHATSAPP,
        value="447700900456",
        verified=True,
        verification=Verification.CHANNEL,
        channel=channel,
    )
    closed = ConversationFactory(
        inbox=channel.inbox,
        customer=bob,
        identity=phone,
        source={"channel": channel.kind, "channel_name": channel.name},
    )
    message_receive(
        conversation=closed,
        body="Any news?",
        external_id="wamid.news",
        sent_at=timezone.now() - timedelta(hours=26),
    )
    (base,) = start_servers()
    page.context.set_default_timeout(15_000)
    add_session_cookie(page.context, base, session_cookies(li))
    page.goto(f"{base}/console/?c={closed.uuid}")
    composer = page.locator("textarea#composer")
    tools = page.locator("#composer-tools")
    note_button = tools.get_by_role("button", name="Note")
    expect(page.locator(".sb-reply-blocked")).to_be_visible()
    expect(composer).to_be_disabled()

    note_button.click()
    expect(composer).to_be_enabled()
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#attach")).to_be_disabled()
    composer.fill("Customer is waiting on the courier.")
    composer.press("Enter")
    expect(page.locator("#conversation .msg-note:not(.msg-pending)")).to_contain_text(
        "waiting on the courier"
    )
    wait_until(
        lambda: Message.objects.filter(
            conversation=closed, private=True, body="Customer is waiting on the courier."
        ).exists()
    )
    assert (
        not Message.objects.filter(conversation=closed, private=False)
        .exclude(direction=MessageDirection.INBOUND)
        .exists()
    )

    # Another conversation opens in Reply; coming back finds Note again.
    page.locator(".conv-row").filter(has_text="Ann Lee").click()
    expect(page.locator("#conversation .msg-in .msg-body")).to_have_text([QUESTION])
    expect(tools.get_by_role("button", name="Reply", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(composer).to_be_enabled()
    expect(composer).to_have_attribute("placeholder", re.compile("Write a reply"))
    page.locator(".conv-row").filter(has_text="Bob Chen").click()
    expect(page.locator("#conversation .msg-in .msg-body")).to_have_text(["Any news?"])
    expect(note_button).to_have_attribute("aria-pressed", "true")
    expect(composer).to_be_enabled()

    # Back to Reply: the channel's block is back.
    tools.get_by_role("button", name="Reply", exact=True).click()
    expect(composer).to_be_disabled()
    expect(page.locator("#send")).to_be_disabled()
    screenshot(page, "composer-tools-blocked")
