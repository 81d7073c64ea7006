"""The conversation list's tools in the console, in a real browser against real servers:
what each row shows (priority, SLA, tags, state, waiting, claim), filters that narrow the
list and that live pushes respect, a Chinese search with its snippet, a saved view that
comes back after a reload, bulk actions with their per-conversation failures, and a
second agent's console (on another server) that sees the bulk change arrive live."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Tag
from inbox.enums import Availability, ConversationStatus, MessageDirection, Priority, SenderType
from inbox.models import AgentProfile, Conversation, SavedView
from inbox.services import message_append
from inbox.services.workflow import conversation_status_set, conversation_tags_set
from tests.factories.accounts import AgentFactory, SupervisorFactory
from tests.factories.channels import WebChannelFactory
from tests.factories.customers import CustomerFactory
from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory
from tests.live.browser import add_session_cookie, screenshot, wait_until
from tests.live.clients import session_cookies

HOSTILE_NAME = "<img src=x onerror=alert('name')>"
HOSTILE_VIEW = "Returns <b onmouseover=alert('view')>"


@pytest.fixture
def desk(transactional_db):
    """One website inbox, two agents in it, and seven conversations, newest first: an
    urgent one whose first response is overdue, a high-priority one in Chinese from a
    customer with a hostile name (due soon, waiting in the queue), a pending one, one
    claimed by the colleague, a snoozed one, a resolved one, and one merged into another
    (which cannot be changed any more)."""
    now = timezone.now()
    agent = AgentFactory(display_name="Li Wei")
    colleague = AgentFactory(display_name="Jane Roe")
    web = WebChannelFactory(name="Acme website")
    web.inbox.members.add(agent, colleague)
    for user in (agent, colleague):  # chose offline: the queue keeps its waiting row
        AgentProfile.objects.create(user=user, availability=Availability.OFFLINE)
    vip = Tag.objects.create(name="vip", color="#dc2626")
    billing = Tag.objects.create(name="billing", color="#2563eb")
    shipping = Tag.objects.create(name="shipping")

    def conversation(name, text, *, minutes_ago, tags=(), **fields):
        customer = CustomerFactory(display_name=name)
        created = ConversationFactory(inbox=web.inbox, customer=customer)
        message_append(
            conversation=created,
            direction=MessageDirection.INBOUND,
            sender_type=SenderType.CUSTOMER,
            body=text,
        )
        created.tags.add(*tags)
        Conversation.objects.filter(pk=created.pk).update(
            last_message_at=now - timedelta(minutes=minutes_ago), **fields
        )
        created.refresh_from_db()
        return created

    overdue = conversation(
        "Ann Lee",
        "Where is my refund?",
        minutes_ago=1,
        tags=[vip, billing],
        priority=Priority.URGENT,
        first_response_due_at=now - timedelta(minutes=5),
        resolution_due_at=now + timedelta(hours=8),
    )
    returns = conversation(
        HOSTILE_NAME,
        "我想退货，订单号是12345",
        minutes_ago=2,
        tags=[vip],
        priority=Priority.HIGH,
        next_response_due_at=now + timedelta(minutes=10),
        queued_at=now - timedelta(minutes=7),
    )
    pending = conversation(
        "Bob Stone",
        "When will it ship?",
        minutes_ago=3,
        tags=[shipping],
        status=ConversationStatus.PENDING,
    )
    claimed = conversation(
        "Eve Park",
        "Can someone call me?",
        minutes_ago=4,
        claimed_by=colleague,
        claimed_until=now + timedelta(minutes=20),
    )
    snoozed = conversation(
        "Cara Diaz",
        "Thanks, talk later",
        minutes_ago=5,
        status=ConversationStatus.SNOOZED,
        snoozed_until=now + timedelta(days=1),
    )
    resolved = conversation(
        "Dan Wu",
        "All good now",
        minutes_ago=6,
        tags=[billing],
        status=ConversationStatus.RESOLVED,
    )
    merged = conversation("Gina Ho", "Same question again", minutes_ago=7, merged_into=overdue)
    return {
        "agent": agent,
        "colleague": colleague,
        "overdue": overdue,
        "returns": returns,
        "pending": pending,
        "claimed": claimed,
        "snoozed": snoozed,
        "resolved": resolved,
        "merged": merged,
    }


def row_of(page, conversation):
    return page.locator(f'#conversation-list .conv-row[data-id="{conversation.uuid}"]')


def listed_ids(page) -> list[str]:
    return page.locator("#conversation-list .conv-row").evaluate_all(
        "rows => rows.map(row => row.dataset.id)"
    )


def test_the_list_tools(start_servers, no_dialogs, browser, desk):
    first, second = start_servers(count=2)
    page = no_dialogs
    page.context.set_default_timeout(15_000)
    agent, colleague = desk["agent"], desk["colleague"]
    overdue, returns, pending = desk["overdue"], desk["returns"], desk["pending"]
    claimed, snoozed, resolved, merged = (
        desk["claimed"],
        desk["snoozed"],
        desk["resolved"],
        desk["merged"],
    )
    order = [overdue, returns, pending, claimed, snoozed, resolved, merged]

    # The colleague's console, on the other server, is open all along.
    other_context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    other_context.set_default_timeout(15_000)
    other = other_context.new_page()
    add_session_cookie(other_context, second, session_cookies(colleague))
    other.goto(f"{second}/console/")
    expect(other.locator("#conversation-list .conv-row")).to_have_count(7)

    add_session_cookie(page.context, first, session_cookies(agent))
    page.goto(f"{first}/console/")
    rows = page.locator("#conversation-list .conv-row")
    expect(rows).to_have_count(7)
    assert listed_ids(page) == [str(c.uuid) for c in order]

    # --- What each row shows.
    sla = row_of(page, overdue).locator(".lt-sla")
    expect(sla).to_have_text(re.compile(r"^overdue \d+ min$"))
    expect(sla).to_have_class(re.compile(r"\bis-overdue\b"))
    expect(row_of(page, overdue)).to_have_class(re.compile(r"\blt-overdue\b"))
    expect(row_of(page, overdue).locator(".lt-priority")).to_have_text("Urgent")
    expect(row_of(page, overdue).locator(".lt-tag")).to_have_text(["billing", "vip"])
    soon = row_of(page, returns).locator(".lt-sla")
    expect(soon).to_have_text(re.compile(r"^due in \d+ min$"))
    expect(soon).to_have_class(re.compile(r"\bis-soon\b"))
    expect(row_of(page, returns).locator(".lt-priority")).to_have_text("High")
    expect(row_of(page, returns).locator(".lt-waiting")).to_have_text(
        re.compile(r"^waiting \d+ min$")
    )
    expect(row_of(page, returns).locator(".conv-name")).to_have_text(HOSTILE_NAME)
    expect(row_of(page, pending).locator(".lt-status")).to_have_text("Pending")
    expect(row_of(page, pending).locator(".lt-sla")).to_have_count(0)
    expect(row_of(page, snoozed).locator(".lt-status")).to_contain_text("snoozed until")
    expect(row_of(page, claimed).locator(".lt-claim")).to_have_text("Jane Roe")
    expect(row_of(page, resolved).locator(".lt-status")).to_have_text("Resolved")
    expect(row_of(page, merged).locator(".lt-priority")).to_have_count(0)
    screenshot(page, "list-tools-rows")

    # --- Filters: status, then tag; the rows follow, and so do live pushes.
    page.locator(".lt-filter-btn").click()
    panel = page.locator(".lt-pop-filters")
    panel.get_by_role("button", name="Open", exact=True).click()
    expect(rows).to_have_count(4)
    assert listed_ids(page) == [str(c.uuid) for c in (overdue, returns, claimed, merged)]
    panel.locator(".lt-tag-input").fill("vip")
    panel.locator(".lt-tag-input").press("Enter")
    expect(rows).to_have_count(2)
    assert listed_ids(page) == [str(overdue.uuid), str(returns.uuid)]
    screenshot(page, "list-tools-filters")
    # Nothing low-priority among them: said in the list, with a way out.
    panel.get_by_role("button", name="Low", exact=True).click()
    expect(rows).to_have_count(0)
    expect(page.locator(".lt-no-match")).to_be_visible()
    expect(page.locator("#conversation-list-empty")).to_be_hidden()
    panel.get_by_role("button", name="Low", exact=True).click()
    expect(rows).to_have_count(2)
    expect(page.locator(".lt-no-match")).to_be_hidden()
    panel.get_by_role("button", name="Done").click()
    expect(panel).to_have_count(0)
    chips = page.locator(".lt-chips .lt-chip")
    expect(chips).to_have_count(2)
    expect(chips.first).to_contain_text("Open")
    expect(page.locator(".lt-filter-btn .lt-count")).to_have_text("2")

    # A push that does not match stays out; once it matches, its row comes in.
    conversation_tags_set(conversation=pending, names=["vip"], actor=None, add=True)
    expect(other.locator(f'.conv-row[data-id="{pending.uuid}"] .lt-tag')).to_have_text(
        ["shipping", "vip"]
    )
    expect(rows).to_have_count(2)
    conversation_status_set(conversation=pending, status=ConversationStatus.OPEN, actor=None)
    expect(rows).to_have_count(3)
    expect(row_of(page, pending).locator(".lt-tag")).to_have_text(["shipping", "vip"])

    # Removing the tag chip: every open conversation again.
    chips.filter(has_text="vip").get_by_role("button").click()
    expect(rows).to_have_count(5)
    page.locator(".lt-chips").get_by_role(
        "button", name=re.compile("Remove the filter Status")
    ).click()
    expect(rows).to_have_count(7)
    expect(page.locator(".lt-chips")).to_be_hidden()

    # --- Search in Chinese: the results replace the rows, with the snippet as text.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("/")
    search = page.locator(".lt-search-input")
    expect(search).to_be_focused()
    search.fill("退货")
    results = page.locator(".lt-result")
    expect(results).to_have_count(1)
    expect(results.first).to_have_attribute("data-id", str(returns.uuid))
    expect(results.first.locator(".lt-result-snippet")).to_contain_text("我想退货，订单号是12345")
    expect(results.first.locator("mark.lt-mark")).to_have_text(["退货"])
    expect(results.first.locator(".lt-result-name")).to_have_text(HOSTILE_NAME)
    expect(page.locator("#conversation-list-scroll")).to_be_hidden()
    screenshot(page, "list-tools-search")
    results.first.click()
    expect(page).to_have_url(re.compile(f"c={returns.uuid}"))
    expect(page.locator("#conversation-name")).to_have_text(HOSTILE_NAME)

    # --- Saved as a view (named in the page, not a browser prompt) ...
    page.locator(".lt-views-btn").click()
    menu = page.locator(".lt-pop-views")
    expect(menu.locator(".lt-pop-empty")).to_have_text("No saved views yet.")
    menu.get_by_role("button", name=re.compile("Save the search")).click()
    menu.locator(".lt-view-name-input").fill(HOSTILE_VIEW)
    screenshot(page, "list-tools-save-view")
    menu.get_by_role("button", name="Save", exact=True).click()
    expect(menu).to_have_count(0)
    wait_until(lambda: SavedView.objects.filter(user=agent).count() == 1)
    saved = SavedView.objects.get(user=agent)
    assert (saved.name, saved.filters) == (HOSTILE_VIEW, {"q": "退货"})
    expect(page.locator(".lt-chip-view")).to_contain_text(HOSTILE_VIEW)

    # ... remembered across a reload ...
    page.reload()
    expect(search).to_have_value("退货")
    expect(results).to_have_count(1)
    expect(results.first).to_have_attribute("data-id", str(returns.uuid))
    expect(page.locator(".lt-chip-view")).to_contain_text(HOSTILE_VIEW)

    # ... and applied again from the menu after going back to the list.
    page.locator(".lt-results-close").click()
    expect(page.locator("#conversation-list-scroll")).to_be_visible()
    expect(rows).to_have_count(7)
    expect(page.locator(".lt-chip-view")).to_have_count(0)
    page.locator(".lt-views-btn").click()
    menu.get_by_role("button", name=HOSTILE_VIEW, exact=True).click()
    expect(search).to_have_value("退货")
    expect(results).to_have_count(1)
    expect(page.locator(".lt-chip-view")).to_contain_text(HOSTILE_VIEW)
    search.focus()
    search.press("Escape")
    expect(search).to_have_value("")
    expect(page.locator("#conversation-list")).to_have_attribute("aria-busy", "false")
    expect(rows).to_have_count(7)

    # --- Bulk: a shift-click range, one taken out again, then resolve the two.
    row_of(page, overdue).locator(".lt-check input").click()
    bulk = page.locator(".lt-bulk")
    expect(bulk).to_be_visible()
    expect(page.locator(".lt-bar")).to_be_hidden()
    row_of(page, pending).locator(".lt-check input").click(modifiers=["Shift"])
    expect(page.locator(".lt-selected-count")).to_have_text("3 selected")
    row_of(page, returns).locator(".lt-check input").click()
    expect(page.locator(".lt-selected-count")).to_have_text("2 selected")
    screenshot(page, "list-tools-bulk")
    bulk.get_by_role("button", name="Resolve").click()
    expect(page.locator(".lt-notice")).to_contain_text("2 conversations changed.")
    wait_until(
        lambda: (
            set(
                Conversation.objects.filter(pk__in=[overdue.pk, pending.pk]).values_list(
                    "status", flat=True
                )
            )
            == {ConversationStatus.RESOLVED}
        )
    )
    assert Conversation.objects.get(pk=returns.pk).status == ConversationStatus.OPEN
    expect(bulk).to_be_hidden()
    expect(row_of(page, overdue).locator(".lt-status")).to_have_text("Resolved")
    expect(row_of(page, overdue).locator(".lt-sla")).to_have_count(0)

    # The colleague's console saw it happen.
    expect(other.locator(f'.conv-row[data-id="{overdue.uuid}"] .lt-status')).to_have_text(
        "Resolved"
    )
    expect(other.locator(f'.conv-row[data-id="{pending.uuid}"] .lt-status')).to_have_text(
        "Resolved"
    )
    screenshot(other, "list-tools-colleague")

    # --- A bulk snooze where one conversation cannot be changed: said, and left selected.
    row_of(page, merged).locator(".lt-check input").click()
    row_of(page, claimed).locator(".conv-link").focus()
    page.keyboard.press("x")
    expect(page.locator(".lt-selected-count")).to_have_text("2 selected")
    bulk.get_by_role("button", name="Snooze").click()
    page.locator(".lt-pop-bulk-snooze").get_by_role(
        "button", name=re.compile("For an hour")
    ).click()
    notice = page.locator(".lt-notice")
    expect(notice).to_contain_text("1 done, 1 could not be changed")
    expect(notice).to_contain_text("Gina Ho: This conversation was merged into another")
    screenshot(page, "list-tools-bulk-partial")
    wait_until(lambda: Conversation.objects.get(pk=claimed.pk).status == ConversationStatus.SNOOZED)
    assert Conversation.objects.get(pk=merged.pk).status == ConversationStatus.OPEN
    expect(page.locator(".lt-selected-count")).to_have_text("1 selected")
    expect(row_of(page, claimed).locator(".lt-status")).to_contain_text("snoozed until")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Escape")
    expect(bulk).to_be_hidden()

    # --- Assign to me (an agent may take conversations).
    row_of(page, returns).locator(".lt-check input").click()
    bulk.get_by_role("button", name="Assign").click()
    page.locator(".lt-pop-bulk-assign").get_by_role("button", name="To me").click()
    expect(notice).to_contain_text("1 conversation changed.")
    wait_until(lambda: Conversation.objects.get(pk=returns.pk).assignee_id == agent.pk)
    expect(row_of(page, returns).locator(".conv-assignee")).to_have_text("You")
    expect(bulk).to_be_hidden()

    # --- j / k move through the list (the one open is the Chinese conversation).
    expect(page).to_have_url(re.compile(f"c={returns.uuid}"))
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(f"c={pending.uuid}"))
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(f"c={returns.uuid}"))

    # --- The saved view deleted, after a confirmation.
    page.locator(".lt-views-btn").click()
    menu.get_by_role("button", name=f"Delete the view {HOSTILE_VIEW}").click()
    page.locator("dialog.sb-dialog").get_by_role("button", name="Delete").click()
    expect(menu.locator(".lt-pop-empty")).to_have_text("No saved views yet.")
    wait_until(lambda: not SavedView.objects.filter(user=agent).exists())

    # Nothing of the customers' data, or the view's name, became markup.
    assert page.locator("img[src=x]").count() == 0
    assert other.locator("img[src=x]").count() == 0
    assert page.locator("b[onmouseover]").count() == 0
    other_context.close()


def test_a_supervisor_filters_by_team_and_assignee_and_assigns_in_bulk(
    start_servers, no_dialogs, transactional_db
):
    (base,) = start_servers()
    page = no_dialogs
    page.context.set_default_timeout(15_000)
    supervisor = SupervisorFactory(display_name="Sam Boss")
    li = AgentFactory(display_name="Li Wei")
    billing = TeamFactory(name="Billing")
    billing.members.add(li)
    web = WebChannelFactory(name="Acme website")
    web.inbox.members.add(li)
    InboxFactory(name="Quiet inbox")

    def conversation(name, minutes_ago, **fields):
        created = ConversationFactory(inbox=web.inbox, customer=CustomerFactory(display_name=name))
        message_append(
            conversation=created,
            direction=MessageDirection.INBOUND,
            sender_type=SenderType.CUSTOMER,
            body=f"Hello from {name}",
        )
        Conversation.objects.filter(pk=created.pk).update(
            last_message_at=timezone.now() - timedelta(minutes=minutes_ago), **fields
        )
        return created

    teamed = conversation("Ann Lee", 1, team=billing)
    loose = conversation("Bob Stone", 2)
    taken = conversation("Cara Diaz", 3, assignee=li)

    add_session_cookie(page.context, base, session_cookies(supervisor))
    page.goto(f"{base}/console/")
    rows = page.locator("#conversation-list .conv-row")
    expect(rows).to_have_count(3)

    # Team, then assignee: the list is narrowed; the chips name them.
    page.locator(".lt-filter-btn").click()
    panel = page.locator(".lt-pop-filters")
    panel.locator("select[aria-label=Team]").select_option(label="Billing")
    expect(rows).to_have_count(1)
    assert listed_ids(page) == [str(teamed.uuid)]
    expect(page.locator(".lt-chips")).to_contain_text("Billing")
    panel.locator("select[aria-label=Team]").select_option(value="")
    panel.locator("select[aria-label=Assignee]").select_option(label="Li Wei")
    expect(row_of(page, taken)).to_have_count(1)
    expect(rows).to_have_count(1)
    panel.get_by_role("button", name="Clear all").click()
    expect(rows).to_have_count(3)
    # Every inbox is a choice, including one no listed conversation came from.
    inbox_choices = panel.locator("select[aria-label=Inbox] option")
    expect(inbox_choices.filter(has_text="Quiet inbox")).to_have_count(1)
    panel.locator("select[aria-label=Inbox]").select_option(label="Quiet inbox")
    expect(rows).to_have_count(0)
    panel.get_by_role("button", name="Clear all").click()
    expect(rows).to_have_count(3)
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)

    # Two conversations to Li Wei, picked from the agents.
    row_of(page, teamed).locator(".lt-check input").click()
    row_of(page, loose).locator(".lt-check input").click()
    page.locator(".lt-bulk").get_by_role("button", name="Assign").click()
    picker = page.locator(".lt-pop-bulk-assign")
    picker.locator(".lt-assign-search").fill("li")
    picker.locator(".lt-agent").filter(has_text="Li Wei").click()
    expect(page.locator(".lt-notice")).to_contain_text("2 conversations changed.")
    wait_until(
        lambda: (
            set(
                Conversation.objects.filter(pk__in=[teamed.pk, loose.pk]).values_list(
                    "assignee_id", flat=True
                )
            )
            == {li.pk}
        )
    )
    expect(row_of(page, loose).locator(".conv-assignee")).to_have_text("Li Wei")

    # One to the team's queue: unassigned, in the team.
    row_of(page, loose).locator(".lt-check input").click()
    page.locator(".lt-bulk").get_by_role("button", name="Assign").click()
    picker.locator(".lt-team").filter(has_text="Billing").click()
    wait_until(lambda: Conversation.objects.get(pk=loose.pk).team_id == billing.pk)
    assert Conversation.objects.get(pk=loose.pk).assignee_id is None
    expect(row_of(page, loose).locator(".conv-assignee")).to_be_hidden()
