"""Snooze times are wall-clock times in the agent's own time zone (their profile's), not the
browser's: "Tomorrow at 9:00" from a browser in Los Angeles, for an agent who works in
Shanghai, is 9:00 in Shanghai, from the conversation's menu, the custom time and the
list's bulk snooze alike."""

import datetime
import re
import zoneinfo

from playwright.sync_api import expect

from inbox.enums import MessageDirection, SenderType
from inbox.models import Conversation
from inbox.services import message_append
from tests.factories.accounts import AgentFactory
from tests.factories.channels import WebChannelFactory
from tests.factories.customers import CustomerFactory
from tests.factories.inbox import ConversationFactory
from tests.live.browser import add_session_cookie, wait_until
from tests.live.clients import session_cookies

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def wait_for_snooze(conversation) -> datetime.datetime:
    """The conversation's `snoozed_until` in Shanghai, once the console has set it."""
    snoozed = Conversation.objects.filter(pk=conversation.pk, snoozed_until__isnull=False)
    wait_until(snoozed.exists, timeout=15.0)
    return snoozed.get().snoozed_until.astimezone(SHANGHAI)


def wake(conversation) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(status="open", snoozed_until=None)


def test_snooze_choices_are_in_the_agents_time_zone(start_servers, browser, transactional_db):
    (base,) = start_servers()
    agent = AgentFactory(display_name="Mei Lin", timezone="Asia/Shanghai")
    web = WebChannelFactory()
    web.inbox.members.add(agent)
    conversation = ConversationFactory(
        inbox=web.inbox, customer=CustomerFactory(display_name="Zoe Park"), assignee=agent
    )
    message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body="Call me back later",
    )
    context = browser.new_context(
        locale="en-US", timezone_id="America/Los_Angeles", viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(15_000)
    add_session_cookie(context, base, session_cookies(agent))
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    actions = page.locator("#conversation-actions")
    row = page.locator(".conv-row").filter(has_text="Zoe Park")

    def open_conversation():
        # Opened, loaded and its head drawn, so that no redraw closes the menu.
        page.goto(f"{base}/console/?c={conversation.uuid}")
        expect(page.locator("#conversation .msg-in .msg-body")).to_have_text(["Call me back later"])
        expect(actions.locator("[data-action='resolve']")).to_be_visible()

    open_conversation()

    # The conversation's menu: tomorrow at 9:00 in Shanghai.
    actions.locator("[data-action='snooze']").click()
    page.get_by_role("menuitem", name=re.compile("^Tomorrow at 9:00")).click()
    until = wait_for_snooze(conversation)
    tomorrow = datetime.datetime.now(SHANGHAI).date() + datetime.timedelta(days=1)
    assert (until.date(), until.time()) == (tomorrow, datetime.time(9, 0))

    # A time chosen by hand is read in Shanghai too.
    wake(conversation)
    open_conversation()
    actions.locator("[data-action='snooze']").click()
    page.get_by_role("menuitem", name="Until a time you choose…").click()
    expect(page.get_by_text("Snooze until (Asia/Shanghai)")).to_be_visible()
    page.locator("#wf-snooze-at").fill("2031-01-02T10:30")
    page.locator("dialog.wf-dialog").get_by_role("button", name="Snooze").click()
    until = wait_for_snooze(conversation)
    assert until.replace(tzinfo=None) == datetime.datetime(2031, 1, 2, 10, 30)

    # The list's bulk snooze offers the same choices: next Monday at 9:00 in Shanghai.
    wake(conversation)
    open_conversation()
    row.locator(".lt-check input").click()
    page.locator(".lt-bulk").get_by_role("button", name="Snooze").click()
    page.locator(".lt-pop-bulk-snooze").get_by_role(
        "button", name=re.compile("Next Monday at 9:00")
    ).click()
    until = wait_for_snooze(conversation)
    today = datetime.datetime.now(SHANGHAI).date()
    assert until.weekday() == 0 and until.time() == datetime.time(9, 0)
    assert 1 <= (until.date() - today).days <= 7
    assert errors == []
    context.close()
