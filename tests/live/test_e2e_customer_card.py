"""The customer card in the console, in a real browser against real servers: identities,
the customer's conversations across channels, tags, typed attributes, notes, and merging
two customers from a suggestion and undoing it, checked in the database after each step."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_app.models import ChannelAccount
from customers.enums import ChangeAction, IdentityKind, SuggestionStatus, Verification
from customers.models import (
    AttributeDefinition,
    Customer,
    CustomerChange,
    CustomerNote,
    MergeRecord,
    MergeSuggestion,
)
from customers.services import merge_suggest
from inbox.enums import ConversationStatus, MessageDirection, SenderType
from inbox.models import Conversation, Inbox
from inbox.services import message_append
from inbox.services.workflow import conversation_status_set
from tests.factories.accounts import AgentFactory
from tests.factories.channels import WebChannelFactory
from tests.factories.customers import CustomerFactory, IdentityFactory
from tests.factories.inbox import ConversationFactory
from tests.live.browser import add_session_cookie, screenshot, wait_until
from tests.live.clients import session_cookies

HOSTILE_NAME = "<img src=x onerror=alert('name')>"
HOSTILE_NOTE = "Prefers WhatsApp <img src=x onerror=alert('note')>"


def conversation_with(*, inbox, customer, identity, text) -> Conversation:
    conversation = ConversationFactory(inbox=inbox, customer=customer, identity=identity)
    message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body=text,
    )
    return conversation


def visitor_of(customer):
    return customer.identities.get(kind=IdentityKind.WEB_VISITOR)


@pytest.fixture
def shop(transactional_db):
    """Ann writes from the website and from WhatsApp; a second customer (with a hostile
    name) typed Ann's email in the website chat, so the two may be one person."""
    agent = AgentFactory(display_name="Li Wei")
    web = WebChannelFactory(name="Acme website")
    whatsapp_inbox = Inbox.objects.create(name="WhatsApp support")
    whatsapp = ChannelAccount.objects.create(
        kind="whatsapp", name="Acme WhatsApp", inbox=whatsapp_inbox
    )
    for inbox in (web.inbox, whatsapp_inbox):
        inbox.members.add(agent)

    now = timezone.now()
    # Seen last, so her values win where the merge has to choose.
    ann = CustomerFactory(
        display_name="Ann Lee",
        country="GB",
        last_seen_at=now,
        first_touch={
            "channel": "web",
            "page_url": "https://shop.example.com/pricing",
            "referrer": "https://www.google.com/",
            "utm_source": "newsletter",
            "utm_campaign": "spring",
            "at": "2025-03-01T10:00:00+00:00",
        },
        last_touch={
            "channel": "whatsapp",
            "ad_id": "120200001",
            "at": "2025-03-04T10:00:00+00:00",
        },
    )
    email = IdentityFactory(customer=ann, kind=IdentityKind.EMAIL, value="ann@example.com")
    phone = IdentityFactory(
        customer=ann,
        kind=IdentityKind.WHATSAPP,
        value="447700900123",
        verified=True,
        verification=Verification.CHANNEL,
        channel=whatsapp,
    )
    visitor = IdentityFactory(
        customer=ann, kind=IdentityKind.WEB_VISITOR, value="v-ann", channel=web
    )
    on_web = conversation_with(
        inbox=web.inbox, customer=ann, identity=visitor, text="Hello from the website"
    )
    on_whatsapp = conversation_with(
        inbox=whatsapp_inbox, customer=ann, identity=phone, text="Hi again, on WhatsApp"
    )

    twin = CustomerFactory(display_name=HOSTILE_NAME, last_seen_at=now - timedelta(days=1))
    twin_visitor = IdentityFactory(
        customer=twin, kind=IdentityKind.WEB_VISITOR, value="v-twin", channel=web
    )
    twin_conversation = conversation_with(
        inbox=web.inbox, customer=twin, identity=twin_visitor, text="Where is my parcel?"
    )
    suggestion = merge_suggest(
        twin,
        ann,
        evidence={
            "kind": "email",
            "value": email.value,
            "reason": "unverified_match",
            "channel": "web",
        },
    )
    AttributeDefinition.objects.create(key="orders", label="Orders", type="number", position=1)
    AttributeDefinition.objects.create(
        key="plan", label="Plan", type="list", options=["Gold", "Silver"], position=2
    )
    AttributeDefinition.objects.create(key="site", label="Website", type="link", position=3)
    return {
        "agent": agent,
        "ann": ann,
        "twin": twin,
        "on_web": on_web,
        "on_whatsapp": on_whatsapp,
        "twin_conversation": twin_conversation,
        "suggestion": suggestion,
    }


def test_the_customer_card(start_servers, no_dialogs, shop):
    (base,) = start_servers()
    page = no_dialogs
    page.context.set_default_timeout(15_000)
    ann, twin, agent = shop["ann"], shop["twin"], shop["agent"]
    add_session_cookie(page.context, base, session_cookies(agent))
    page.goto(f"{base}/console/?c={shop['on_web'].uuid}")
    panel = page.locator("#customer-panel")

    # Identities with their channel icons and the verified mark.
    expect(panel.locator(".sb-customer-name")).to_have_text("Ann Lee")
    identities = panel.locator(".sb-ident")
    expect(identities.filter(has_text="ann@example.com").locator(".sb-ch-email")).to_be_visible()
    whatsapp = identities.filter(has_text="447700900123")
    expect(whatsapp.locator(".sb-ch-whatsapp")).to_be_visible()
    expect(whatsapp.locator(".sb-verified")).to_have_count(1)
    expect(identities.filter(has_text="ann@example.com").locator(".sb-verified")).to_have_count(0)

    # Source and attribution.
    attribution = panel.locator(".sb-attribution")
    expect(attribution).to_contain_text("spring")
    expect(attribution).to_contain_text("120200001")
    expect(attribution.locator("a[href='https://shop.example.com/pricing']")).to_be_visible()

    # Every conversation of the customer, across channels, newest first; open the other one.
    timeline = panel.locator(".sb-timeline .sb-tl-item")
    expect(timeline).to_have_count(2)
    expect(timeline.first).to_contain_text("Hi again, on WhatsApp")
    expect(timeline.first.locator(".sb-ch-whatsapp")).to_be_visible()
    expect(timeline.nth(1)).to_have_class(re.compile("is-current"))
    timeline.first.locator("a").click()
    expect(page).to_have_url(re.compile(f"c={shop['on_whatsapp'].uuid}"))
    expect(page.locator("#conversation .msg-in .msg-body")).to_have_text(["Hi again, on WhatsApp"])
    expect(panel.locator(".sb-timeline .sb-tl-item.is-current")).to_contain_text("WhatsApp")

    # The list follows live: the other conversation is resolved elsewhere, then Ann writes
    # there again (it reopens and comes first), and a new conversation of hers appears.
    on_web = timeline.and_(panel.locator(f"[data-id='{shop['on_web'].uuid}']"))
    conversation_status_set(
        conversation=shop["on_web"], status=ConversationStatus.RESOLVED, actor=None
    )
    expect(on_web.locator(".sb-pill")).to_have_text("Resolved")
    message_append(
        conversation=shop["on_web"],
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body="One more question about my order",
    )
    expect(on_web.locator(".sb-pill")).to_have_text("Open")
    expect(timeline.first).to_contain_text("One more question about my order")
    conversation_with(
        inbox=shop["on_web"].inbox,
        customer=ann,
        identity=visitor_of(ann),
        text="A brand new question",
    )
    expect(timeline).to_have_count(3)
    expect(timeline.first).to_contain_text("A brand new question")

    # A tag, with autocomplete from the existing tags.
    panel.locator(".sb-tag-form input").fill("VIP")
    panel.locator(".sb-tag-form input").press("Enter")
    expect(panel.locator(".sb-tags .sb-tag")).to_have_text(["VIP"])
    wait_until(lambda: list(ann.tags.values_list("name", flat=True)) == ["VIP"])

    # A typed attribute: the API's validation message shows next to the field.
    orders = panel.locator(".sb-attr[data-key=orders]")
    orders.get_by_role("button", name="Edit Orders").click()
    orders.locator("input").fill("a dozen")
    orders.get_by_role("button", name="Save").click()
    expect(orders.locator(".sb-field-error")).to_contain_text("number")
    orders.locator("input").fill("12")
    orders.get_by_role("button", name="Save").click()
    expect(orders.locator("dd")).to_have_text("12")
    wait_until(lambda: Customer.objects.get(pk=ann.pk).attributes.get("orders") == 12)

    plan = panel.locator(".sb-attr[data-key=plan]")
    plan.get_by_role("button", name="Edit Plan").click()
    plan.locator("select").select_option("Gold")
    plan.get_by_role("button", name="Save").click()
    expect(plan.locator("dd")).to_have_text("Gold")

    # Links: only http(s), opened without a referrer.
    site = panel.locator(".sb-attr[data-key=site]")
    site.get_by_role("button", name="Edit Website").click()
    site.locator("input").fill("javascript:alert(1)")
    site.get_by_role("button", name="Save").click()
    expect(site.locator(".sb-field-error")).to_be_visible()
    site.locator("input").fill("https://ann.example.com/")
    site.get_by_role("button", name="Save").click()
    link = site.locator("a")
    expect(link).to_have_attribute("href", "https://ann.example.com/")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    wait_until(
        lambda: (
            Customer.objects.get(pk=ann.pk).attributes
            == {"orders": 12, "plan": "Gold", "site": "https://ann.example.com/"}
        )
    )

    # Lead status.
    panel.locator(".sb-lead-select").select_option("qualified")
    wait_until(lambda: Customer.objects.get(pk=ann.pk).lead_status == "qualified")
    expect(panel.locator(".sb-badge-lead")).to_have_text("Qualified")

    # A note, shown as text with its author.
    panel.locator(".sb-note-form textarea").fill(HOSTILE_NOTE)
    panel.get_by_role("button", name="Add note").click()
    note = panel.locator(".sb-note-item")
    expect(note.locator(".sb-note-body")).to_have_text(HOSTILE_NOTE)
    expect(note.locator(".sb-note-meta")).to_contain_text("You")
    wait_until(lambda: CustomerNote.objects.filter(customer=ann, author=agent).count() == 1)
    assert CustomerNote.objects.get(customer=ann).body == HOSTILE_NOTE

    # Every change is in the history with who made it.
    actions = set(
        CustomerChange.objects.filter(customer=ann, actor=agent).values_list("action", flat=True)
    )
    assert {ChangeAction.TAG_ADDED, ChangeAction.UPDATED, ChangeAction.NOTE_ADDED} <= actions
    panel.locator(".sb-history summary").click()
    history = panel.locator(".sb-history-item")
    expect(history.filter(has_text="Note added").first).to_contain_text("You")
    expect(history.filter(has_text="Tag added")).to_contain_text("VIP")
    expect(history.filter(has_text="Orders")).to_contain_text("12")
    screenshot(page, "customer-card")

    # The other customer's conversation: the suggestion names Ann, the hostile name is text.
    page.locator(".conv-row").filter(has_text="Where is my parcel?").click()
    expect(panel.locator(".sb-customer-name")).to_have_text(HOSTILE_NAME)
    suggestion = panel.locator(".sb-suggest")
    expect(suggestion).to_contain_text("Possibly the same person as Ann Lee")
    expect(suggestion).to_contain_text("ann@example.com typed in the website chat")
    suggestion.get_by_role("button", name="Confirm").click()
    dialog = page.locator("dialog.sb-dialog")
    expect(dialog).to_contain_text(HOSTILE_NAME)
    expect(dialog).to_contain_text("Ann Lee")
    screenshot(page, "customer-card-merge-confirm")
    dialog.get_by_role("button", name="Merge").click()
    expect(dialog).to_have_count(0)

    # Ann came first and is kept: the open conversation moved to her, and the card follows.
    wait_until(lambda: Customer.objects.get(pk=twin.pk).merged_into_id == ann.pk)
    record = MergeRecord.objects.get()
    assert (record.survivor, record.merged, record.actor) == (ann, twin, agent)
    assert MergeSuggestion.objects.get().status == SuggestionStatus.MERGED
    assert Conversation.objects.get(pk=shop["twin_conversation"].pk).customer == ann
    expect(panel.locator(".sb-customer-name")).to_have_text("Ann Lee")
    expect(panel.locator(".sb-timeline .sb-tl-item")).to_have_count(4)
    expect(panel.locator(".sb-suggest")).to_have_count(0)
    merge = panel.locator(".sb-merge-item")
    expect(merge).to_contain_text(HOSTILE_NAME)
    expect(panel.locator(".sb-tags .sb-tag")).to_have_text(["VIP"])

    # Undo it from the merge history, with a confirmation.
    merge.get_by_role("button", name="Undo merge").click()
    expect(dialog).to_contain_text(HOSTILE_NAME)
    dialog.get_by_role("button", name="Undo merge").click()
    wait_until(lambda: MergeRecord.objects.get().undone_at is not None)
    assert Customer.objects.get(pk=twin.pk).merged_into_id is None
    assert Conversation.objects.get(pk=shop["twin_conversation"].pk).customer == twin
    # The pair is kept apart from now on.
    assert MergeSuggestion.objects.get().status == SuggestionStatus.DISMISSED

    # The open conversation went back with the split-off customer.
    expect(panel.locator(".sb-customer-name")).to_have_text(HOSTILE_NAME)
    expect(panel.locator(".sb-timeline .sb-tl-item")).to_have_count(1)
    expect(panel.locator(".sb-suggest")).to_have_count(0)
    expect(page.locator("#conversation-name")).to_have_text(HOSTILE_NAME)

    # Nothing of the customers' data became markup.
    assert page.locator("img[src=x]").count() == 0
    screenshot(page, "customer-card-after-undo")
