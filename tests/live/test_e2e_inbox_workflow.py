"""One conversation through the team's whole workflow, in real browsers against a real
server and a real Celery worker: a visitor writes in the widget, a routing rule sends it
to a team and an agent, that agent writes a note mentioning a colleague (who is notified
live), transfers it to them with a note, the colleague resolves it, and the visitor
rates the conversation in the widget. Checked in the database after each step."""

from functools import partial

import pytest
from playwright.sync_api import expect

from channels_app.models import WidgetConfig
from demo.services import DEMO_WIDGET_KEY
from inbox.enums import Availability, ConversationStatus
from inbox.models import (
    AgentProfile,
    Conversation,
    CsatResponse,
    Message,
    Notification,
    RoutingRule,
)
from tests.factories.accounts import AgentFactory
from tests.factories.channels import WebChannelFactory
from tests.factories.inbox import TeamFactory
from tests.live.browser import add_session_cookie, screenshot
from tests.live.browser import wait_until as _wait_until
from tests.live.clients import session_cookies
from tests.live.conftest import PAGES

HOSTILE = "<img src=x onerror=alert(1)>"
expect.set_options(timeout=15_000)  # two consoles, a widget, a server and a worker on 2 cores
wait_until = partial(_wait_until, timeout=15.0)


@pytest.fixture
def team_world(transactional_db):
    channel = WebChannelFactory(public_key=DEMO_WIDGET_KEY)
    WidgetConfig.objects.create(channel=channel, title="Acme Coffee", greeting="Hi there!")
    inbox = channel.inbox
    inbox.csat_enabled = True
    inbox.csat_question = "How did we do?"
    inbox.save()
    first = AgentFactory(display_name="Ana Silva")
    second = AgentFactory(display_name="Bo Chen")
    bystander = AgentFactory(display_name=HOSTILE)  # in the pickers: shown as text
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    support.members.add(first)
    billing.members.add(second, bystander)
    inbox.teams.add(support, billing)
    for agent in (first, second, bystander):
        AgentProfile.objects.create(user=agent, availability=Availability.ONLINE, capacity=5)
    bystander.agent_profile.availability = Availability.OFFLINE
    bystander.agent_profile.save()
    RoutingRule.objects.create(name="Web chat to support", channel_kinds=["web"], team=support)
    return {"first": first, "second": second, "support": support, "billing": billing}


@pytest.fixture
def no_dialogs(request):
    """Watches a page: fails the test if it opens a dialog (injected script ran) or throws;
    its screenshot goes with a failure report."""
    opened, errors = [], []

    def watch(page):
        page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: errors.append(str(error)))
        request.node.stash.setdefault(PAGES, []).append(page)
        return page

    yield watch
    assert opened == [], f"a page ran injected script: {opened}"
    assert errors == [], f"a page threw: {errors}"


def console_for(browser, base, user, watch):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    add_session_cookie(context, base, session_cookies(user))
    page = watch(context.new_page())
    page.goto(f"{base}/console/")
    expect(page.locator(".wf-availability")).to_have_text("Online")
    return page


def test_arrival_routing_note_transfer_resolution_and_rating(
    start_servers, live_worker, browser, page, team_world, no_dialogs
):
    (base,) = start_servers()
    first, second = team_world["first"], team_world["second"]
    ana = console_for(browser, base, first, no_dialogs)
    bo = console_for(browser, base, second, no_dialogs)

    # Arrival: the visitor writes; the rule routes it to Support, and Ana (online, in
    # Support, with room) gets it, live in her "Mine" tab.
    visitor = no_dialogs(page)
    visitor.goto(f"{base}/demo/")
    frame = visitor.frame_locator("iframe#switchboard-frame")
    frame.locator("button.sb-launcher").click()
    frame.locator("textarea.sb-input").fill("I was charged twice for my order")
    frame.locator("textarea.sb-input").press("Enter")
    wait_until(lambda: Conversation.objects.filter(assignee=first).exists())
    conversation = Conversation.objects.get()
    assert conversation.team == team_world["support"]
    ana.locator(".sb-tab[data-view='mine']").click()
    row = ana.locator(".conv-row").filter(has_text="I was charged twice")
    expect(row).to_be_visible()
    row.click()
    expect(ana.locator("#conversation-assignee")).to_have_text("Assigned to you")

    # A note mentioning Bo: staff only, and Bo is notified live.
    ana.locator("#composer-tools").get_by_role("button", name="Note").click()
    composer = ana.locator("textarea#composer")
    composer.press_sequentially("Billing issue, @Bo")
    ana.get_by_role("option", name="Bo Chen").click()
    composer.press_sequentially(" can you check the refund?")
    composer.press("Enter")
    expect(ana.locator("#conversation .msg-note .msg-body")).to_contain_text("can you check")
    notes = Message.objects.filter(private=True, content__has_key="mentions")
    wait_until(notes.exists)
    note = notes.get()
    assert f"(user:{second.pk})" in note.body
    expect(bo.locator("#notifications-toggle .wf-count")).to_have_text("1")
    assert Notification.objects.filter(user=second, kind="mention").count() == 1
    # The widget never shows the note.
    expect(frame.locator(".sb-msg")).to_have_count(1)

    # Transfer to Bo with a note; Bo hears of it and finds it in his "Mine" tab.
    ana.locator("#conversation-actions [data-action='more']").click()
    ana.get_by_role("menuitem", name="Transfer (T)").click()
    dialog = ana.locator("dialog.wf-dialog")
    expect(dialog.locator(".wf-choice").filter(has_text=HOSTILE)).to_be_visible()
    dialog.get_by_label("Find an agent or team").fill("Bo")
    dialog.locator(".wf-choice").filter(has_text="Bo Chen").click()
    dialog.locator("#wf-transfer-note").fill("Customer was charged twice: refund one")
    dialog.get_by_role("button", name="Transfer").click()
    expect(dialog).to_have_count(0)
    wait_until(lambda: Conversation.objects.get().assignee_id == second.pk)
    expect(bo.locator("#notifications-toggle .wf-count")).to_have_text("2")
    bo.locator("#notifications-toggle").click()
    bo.locator(".wf-notification").first.click()
    expect(bo.locator("#conversation-assignee")).to_have_text("Assigned to you")
    expect(bo.locator("#conversation .msg-in .msg-body")).to_have_text(
        ["I was charged twice for my order"]
    )

    # Bo answers and resolves; the visitor is asked for a rating and gives one.
    bo.locator("textarea#composer").fill("Refunded, sorry about that!")
    bo.locator("textarea#composer").press("Enter")
    expect(frame.locator(".sb-msg.sb-out .sb-body")).to_have_text(["Refunded, sorry about that!"])
    bo.locator("#conversation-actions [data-action='resolve']").click()
    expect(bo.locator("#conversation-status")).to_have_text("Resolved")
    wait_until(lambda: Conversation.objects.get().status == ConversationStatus.RESOLVED)
    rating = frame.locator(".sb-rate")
    expect(rating).to_contain_text("How did we do?")
    rating.locator("input").fill("Quick and kind")
    rating.get_by_role("button", name="5").click()
    answered = CsatResponse.objects.filter(rating__isnull=False)
    wait_until(answered.exists)
    answer = answered.get()
    assert (answer.rating, answer.comment) == (5, "Quick and kind")
    assert answer.conversation_id == conversation.pk
    screenshot(bo, "workflow-resolved-console")
    screenshot(visitor, "workflow-rated-widget")
