"""The whole product in a real browser: a visitor on the demo host page chats through the
widget with an agent in the console (Debian's Chromium driven by Playwright)."""

import re

import httpx
import pytest
from playwright.sync_api import expect

from accounts.services import api_token_create
from channels_app.models import WidgetConfig
from demo.services import DEMO_WIDGET_KEY
from inbox.enums import MessageDirection, SenderType
from inbox.models import Conversation, Message
from inbox.services import message_append
from tests.factories.accounts import AgentFactory
from tests.factories.channels import WebChannelFactory
from tests.live.browser import add_session_cookie, screenshot, wait_until
from tests.live.clients import session_cookies
from tests.live.test_realtime import lossy_layer

HOSTILE_MESSAGE = "<img src=x onerror=alert(1)>"
HOSTILE_NAME = "<script>alert('name')</script>"


@pytest.fixture
def shop(transactional_db):
    """The demo host page's widget, and an agent of its inbox."""
    channel = WebChannelFactory(public_key=DEMO_WIDGET_KEY)
    WidgetConfig.objects.create(channel=channel, title="Acme Coffee", greeting="Hi there!")
    agent = AgentFactory(display_name="Li Wei")
    channel.inbox.members.add(agent)
    return {"channel": channel, "agent": agent}


@pytest.fixture
def no_dialogs():
    """Fails the test if any page opens an alert (a script from message text ran)."""
    opened = []

    def watch(page):
        page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
        return page

    yield watch
    assert opened == [], f"a page ran injected script: {opened}"


def open_console(browser, base_url, agent, watch):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    add_session_cookie(context, base_url, session_cookies(agent))
    page = watch(context.new_page())
    page.goto(f"{base_url}/console/")
    expect(page.locator(".sb-console")).to_be_visible()
    return page


def widget(page):
    return page.frame_locator("iframe#switchboard-frame")


def visitor_says(frame, text):
    frame.locator("textarea.sb-input").fill(text)
    frame.locator("textarea.sb-input").press("Enter")


def test_a_visitor_and_an_agent_chat_live(start_servers, browser, page, shop, no_dialogs):
    (base,) = start_servers()
    visitor = no_dialogs(page)
    visitor.goto(f"{base}/demo/")
    frame = widget(visitor)
    expect(frame.locator("button.sb-launcher")).to_be_visible()

    # Nothing is stored before the visitor uses the chat: not on load, not on opening it.
    frame.locator("button.sb-launcher").click()
    expect(frame.locator(".sb-panel")).to_be_visible()
    assert visitor.context.cookies() == []
    frame_page = visitor.frame(url=re.compile(r"/widget/frame/"))
    assert frame_page.evaluate("localStorage.length") == 0

    console = open_console(browser, base, shop["agent"], no_dialogs)
    visitor_says(frame, "Hello, is my order on its way?")
    expect(frame.locator(".sb-msg.sb-in .sb-body")).to_have_text(["Hello, is my order on its way?"])
    wait_until(lambda: frame_page.evaluate("localStorage.length") == 1)  # the token, now

    row = console.locator(".conv-row").filter(has_text="Hello, is my order on its way?")
    expect(row).to_be_visible()
    row.click()
    expect(console.locator("#conversation .msg-in .msg-body")).to_have_text(
        ["Hello, is my order on its way?"]
    )
    expect(console.locator("#customer-panel")).to_contain_text("/demo/")
    console.locator("textarea#composer").fill("Yes! It ships today.")
    console.locator("textarea#composer").press("Enter")

    expect(frame.locator(".sb-msg.sb-out .sb-body")).to_have_text(["Yes! It ships today."])
    expect(console.locator("#conversation .msg-out .msg-body")).to_have_text(
        ["Yes! It ships today."]
    )
    screenshot(visitor, "chat-visitor")
    screenshot(console, "chat-console")
    assert Message.objects.count() == 2


def test_a_dropped_connection_loses_nothing(start_servers, browser, page, shop, no_dialogs):
    (base,) = start_servers()
    visitor = no_dialogs(page)
    visitor.goto(f"{base}/demo/")
    frame = widget(visitor)
    frame.locator("button.sb-launcher").click()
    visitor_says(frame, "first, while online")
    expect(frame.locator(".sb-msg.sb-in .sb-body")).to_have_count(1)
    expect(frame.locator(".sb-msg.sb-in .sb-status").last).not_to_have_text(re.compile("Sending"))
    wait_until(Conversation.objects.exists)
    conversation = Conversation.objects.get()

    visitor.context.set_offline(True)
    visitor_says(frame, "typed offline 1")
    visitor_says(frame, "typed offline 2")
    # Meanwhile the agent answers; the widget cannot hear it now.
    _token, key = api_token_create(user=shop["agent"], name="e2e")
    httpx.post(
        f"{base}/api/v1/conversations/{conversation.uuid}/messages/",
        json={"client_id": "agent-while-offline", "body": "answered while you were away"},
        headers={"Authorization": f"Token {key}"},
        timeout=10,
        trust_env=False,
    ).raise_for_status()
    screenshot(visitor, "reconnect-offline")
    visitor.context.set_offline(False)

    expect(frame.locator(".sb-msg .sb-body")).to_have_text(
        [
            "first, while online",
            "answered while you were away",
            "typed offline 1",
            "typed offline 2",
        ]
    )
    expect(frame.locator(".sb-msg.sb-in .sb-status").last).not_to_have_text(re.compile("Sending"))
    screenshot(visitor, "reconnect-back-online")
    bodies = list(Message.objects.order_by("seq").values_list("body", flat=True))
    assert bodies == [
        "first, while online",
        "answered while you were away",
        "typed offline 1",
        "typed offline 2",
    ]

    # And the console resumes too after its own drop.
    console = open_console(browser, base, shop["agent"], no_dialogs)
    console.locator(".conv-row").first.click()
    expect(console.locator("#conversation .msg")).to_have_count(4)
    console.context.set_offline(True)
    message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body="sent while the agent was offline",
    )
    console.context.set_offline(False)
    expect(console.locator("#conversation .msg .msg-body").last).to_have_text(
        "sent while the agent was offline"
    )
    expect(console.locator("#conversation .msg")).to_have_count(5)


def test_hostile_text_is_shown_as_text(start_servers, browser, page, shop, no_dialogs):
    (base,) = start_servers()
    visitor = no_dialogs(page)
    visitor.goto(f"{base}/demo/")
    visitor.evaluate(f"Switchboard('setUser', {{id: 'u-1', name: {HOSTILE_NAME!r}}})")
    frame = widget(visitor)
    frame.locator("button.sb-launcher").click()
    visitor_says(frame, HOSTILE_MESSAGE)
    expect(frame.locator(".sb-msg.sb-in .sb-body")).to_have_text([HOSTILE_MESSAGE])

    console = open_console(browser, base, shop["agent"], no_dialogs)
    row = console.locator(".conv-row").first
    expect(row.locator(".conv-preview")).to_have_text(HOSTILE_MESSAGE)
    expect(row.locator(".conv-name")).to_have_text(HOSTILE_NAME)
    row.click()
    expect(console.locator("#conversation .msg-in .msg-body")).to_have_text([HOSTILE_MESSAGE])
    expect(console.locator("#customer-panel")).to_contain_text(HOSTILE_NAME)
    # Text, not elements: no <img> or <script> came out of the visitor's words.
    assert console.locator("#conversation img[src=x]").count() == 0
    assert frame.locator(".sb-messages img[src=x]").count() == 0
    screenshot(console, "hostile-text-console")
    screenshot(visitor, "hostile-text-widget")


def test_a_burst_over_a_lossy_layer_reaches_both_browsers_whole(
    start_servers, browser, page, shop, settings, no_dialogs
):
    """The channel layer drops pushes beyond its capacity; the widget and the console
    notice the gaps by seq and fetch what they miss."""
    lossy = {"CHANNEL_LAYER": "list", "CHANNEL_LAYER_CAPACITY": "20"}
    (base,) = start_servers(env=lossy)
    settings.CHANNEL_LAYERS = lossy_layer(settings, capacity=20)
    visitor = no_dialogs(page)
    visitor.goto(f"{base}/demo/")
    frame = widget(visitor)
    frame.locator("button.sb-launcher").click()
    visitor_says(frame, "start")
    expect(frame.locator(".sb-msg.sb-in")).to_have_count(1)
    wait_until(Conversation.objects.exists)
    conversation = Conversation.objects.get()
    console = open_console(browser, base, shop["agent"], no_dialogs)
    console.locator(".conv-row").first.click()
    expect(console.locator("#conversation .msg")).to_have_count(1)

    burst = 300
    for n in range(burst):
        message_append(
            conversation=conversation,
            direction=MessageDirection.OUTBOUND,
            sender_type=SenderType.AGENT,
            author=shop["agent"],
            body=f"burst {n}",
        )
    expect(frame.locator(".sb-msg")).to_have_count(burst + 1, timeout=60_000)
    expect(console.locator("#conversation .msg")).to_have_count(burst + 1, timeout=60_000)
    expect(frame.locator(".sb-msg .sb-body").last).to_have_text(f"burst {burst - 1}")
    screenshot(visitor, "burst-widget")
