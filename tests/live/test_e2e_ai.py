"""The AI agent in real browsers against a real server and a real Celery worker, with a
local OpenAI-compatible server as the model (nothing of ours is faked).

The newcomer's path: an admin uploads a FAQ in the Django admin and waits until it is
ready; a visitor asks the widget a question and the AI answers from the FAQ (streamed as
it is written), with its source shown to the agent; the visitor gets angry and the AI
hands over to the agent with a summary; the admin sees the runs' tokens and cost. Then an
agent takes a conversation over from the AI in one click, and the AI stays quiet."""

import json
import re
import time
from functools import partial

import pytest
from django.db.models import Sum
from playwright.sync_api import expect

from ai_agent.enums import DocumentStatus, HandoffReason, RunOutcome
from ai_agent.fake_provider import FakeOpenAI, FakeReply
from ai_agent.models import AgentRun, KnowledgeDocument
from channels_app.models import WidgetConfig
from demo.services import DEMO_WIDGET_KEY
from inbox.enums import Availability, Handler, MessageDirection, SenderType
from inbox.models import AgentProfile, Conversation, Message
from tests.factories.accounts import PASSWORD, AdminFactory, AgentFactory
from tests.factories.ai import AiProfileFactory, KnowledgeBaseFactory
from tests.factories.channels import WebChannelFactory
from tests.live.browser import add_session_cookie, screenshot
from tests.live.browser import wait_until as _wait_until
from tests.live.clients import session_cookies
from tests.live.conftest import PAGES

FAQ_CSV = """question,answer
How long does shipping take?,Orders ship within 2 business days and arrive in 3 to 5 days.
What is your return policy?,You can return any unused item within 30 days for a full refund.
"""
SHIPPING_ANSWER = "Orders ship within 2 business days and arrive in 3 to 5 days."
ANGRY = "This is useless, I am furious! Terrible service, I want my money back now!"
ANGRY_WORDS = ("furious", "useless", "terrible")
HOSTILE = "<img src=x onerror=alert(1)>"
TOTALS = r"(\d+) runs · (\d+) input tokens · (\d+) output tokens · cost ([\d.]+)"

expect.set_options(timeout=15_000)  # a console, a widget, an admin, a server and a worker
wait_until = partial(_wait_until, timeout=20.0)


def model_reply(request: dict) -> FakeReply:
    """The model: reads the mood from the last customer message for an analysis (a JSON
    request), and answers questions from the FAQ citing source [1], slowly enough that
    the widget and the console show the answer being written."""
    last = next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")
    if "response_format" in request:
        angry = any(word in last.lower() for word in ANGRY_WORDS)
        reading = {
            "intent": "complaint" if angry else "question",
            "emotion": -0.9 if angry else 0,
            "wants_human": False,
            "language": "en",
        }
        return FakeReply(text=json.dumps(reading))
    # The pause lets the agent open the conversation before the answer streams.
    return FakeReply(text=f"{SHIPPING_ANSWER} [1]", delay=2.0, chunk_delay=0.2)


@pytest.fixture
def model():
    with FakeOpenAI(responder=model_reply) as server:
        yield server


@pytest.fixture
def shop(transactional_db):
    """The demo page's widget, an online agent of its inbox, and an admin."""
    channel = WebChannelFactory(public_key=DEMO_WIDGET_KEY)
    WidgetConfig.objects.create(channel=channel, title="Acme Coffee", greeting="Hi there!")
    agent = AgentFactory(display_name="Li Wei")
    channel.inbox.members.add(agent)
    AgentProfile.objects.create(user=agent, availability=Availability.ONLINE, capacity=5)
    return {"inbox": channel.inbox, "agent": agent, "admin": AdminFactory()}


@pytest.fixture
def watch(request):
    """Watches a page: fails the test if it opens a dialog (injected script ran) or
    throws; its screenshot goes with a failure report."""
    opened, errors = [], []

    def watch_page(page):
        page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: errors.append(str(error)))
        request.node.stash.setdefault(PAGES, []).append(page)
        return page

    yield watch_page
    assert opened == [], f"a page ran injected script: {opened}"
    assert errors == [], f"a page threw: {errors}"


def new_page(browser, watch):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    return watch(context.new_page())


def console_for(browser, base, user, watch):
    page = new_page(browser, watch)
    add_session_cookie(page.context, base, session_cookies(user))
    page.goto(f"{base}/console/")
    expect(page.locator(".sb-console")).to_be_visible()
    return page


def open_widget(page, base):
    page.goto(f"{base}/demo/")
    frame = page.frame_locator("iframe#switchboard-frame")
    frame.locator("button.sb-launcher").click()
    return frame


def visitor_says(frame, text):
    frame.locator("textarea.sb-input").fill(text)
    frame.locator("textarea.sb-input").press("Enter")


def ai_replies(conversation):
    return Message.objects.filter(
        conversation=conversation,
        sender_type=SenderType.AI,
        direction=MessageDirection.OUTBOUND,
        private=False,
    )


def test_a_newcomer_uploads_a_faq_and_the_ai_answers_then_hands_over(
    start_servers, live_worker, browser, page, shop, model, watch, tmp_path
):
    (base,) = start_servers()
    agent = shop["agent"]
    knowledge = KnowledgeBaseFactory(name="Acme help")
    AiProfileFactory(
        name="Ava",
        inboxes=[shop["inbox"]],
        knowledge_bases=[knowledge],
        base_url=model.url,
        model="fake-chat",
        api_key="sk-test",
        input_price_per_million=2,
        output_price_per_million=8,
        cite_to_customer=True,
    )

    # a. The admin signs in and uploads the FAQ; the worker indexes it until it is Ready.
    admin = new_page(browser, watch)
    admin.goto(f"{base}/accounts/login/")
    admin.fill("input[name=login]", shop["admin"].email)
    admin.fill("input[name=password]", PASSWORD)
    admin.locator("form button[type=submit]").first.click()
    admin.wait_for_url(f"{base}/console/")
    faq = tmp_path / "faq.csv"
    faq.write_text(FAQ_CSV)
    admin.goto(f"{base}/admin/ai_agent/knowledgedocument/add/")
    admin.locator("#id_knowledge_base").select_option(label="Acme help")
    admin.locator("#id_file").set_input_files(str(faq))
    admin.locator("input[name=_save]").click()
    row = admin.locator("#result_list tbody tr").filter(has_text="faq.csv")
    expect(row).to_have_count(1)

    def ready_in_the_list():
        admin.reload()
        return "Ready" in row.inner_text()

    wait_until(ready_in_the_list)
    document = KnowledgeDocument.objects.get()
    assert (document.status, document.knowledge_base) == (DocumentStatus.READY, knowledge)
    assert document.chunk_count > 0

    # b, c. The visitor asks; the AI takes the conversation and answers from the FAQ,
    # shown while it is written in the widget and in the agent's console.
    visitor = watch(page)
    frame = open_widget(visitor, base)
    visitor_says(frame, "How long does shipping take?")
    wait_until(Conversation.objects.exists)
    conversation = Conversation.objects.get()
    console = console_for(browser, base, agent, watch)
    console.goto(f"{base}/console/?c={conversation.uuid}")
    head = console.locator(".sb-conv-head")
    expect(console.locator("#conversation-assignee")).to_have_text("The AI agent is answering")
    expect(head.locator(".ai-answering")).to_have_text("AIAva")
    expect(head.get_by_label("AI agent Ava is answering")).to_be_visible()
    expect(head.get_by_role("button", name="Take over")).to_be_visible()
    expect(frame.locator(".sb-typing-text")).to_contain_text("Orders ship")
    expect(console.locator("#ai-draft .msg-body")).to_contain_text("Orders ship")
    screenshot(console, "ai-draft-console")

    answer = frame.locator(".sb-msg.sb-out").filter(has_text=SHIPPING_ANSWER)
    expect(answer.locator(".sb-body")).to_contain_text("Sources: faq.csv")
    expect(answer.locator(".sb-author")).to_contain_text("Ava")
    expect(answer.locator(".sb-author")).to_have_text("Ava · AI")
    expect(frame.locator(".sb-typing")).to_be_hidden()
    reply = console.locator(".msg-from-ai").filter(has_text=SHIPPING_ANSWER)
    expect(reply.locator(".msg-author")).to_have_text("Ava")
    expect(reply.locator(".ai-badge")).to_have_text("AI")
    expect(reply.locator(".ai-engine")).to_have_text("fake-chat")
    expect(reply.locator(".ai-source-title")).to_have_text(["faq.csv"])
    expect(console.locator("#ai-draft")).to_have_count(0)
    (stored,) = ai_replies(conversation)
    assert stored.content["ai"]["citations"][0]["title"] == "faq.csv"

    # d. The visitor gets angry: the AI hands over to Li Wei (online, in the inbox) with
    # a summary; the console turns to the human view and the widget says so.
    visitor_says(frame, ANGRY)
    expect(frame.locator(".sb-msg.sb-out .sb-body").last).to_have_text(
        "Let me get a colleague for you. Someone will be with you shortly."
    )
    expect(console.locator("#conversation-assignee")).to_have_text("Assigned to you")
    expect(head.get_by_role("button", name="Hand back to AI")).to_be_visible()
    expect(head.locator(".ai-answering")).to_have_count(0)
    summary = console.locator(".msg.ai-summary")
    expect(summary.locator(".ai-summary-head")).to_have_text("AI handover summary")
    expect(summary.locator(".msg-body")).to_contain_text("AI handover: The customer is upset")
    lines = summary.locator(".msg-body").inner_text().splitlines()
    assert lines[0] == "AI handover: The customer is upset"
    assert lines[1].startswith("Need: This is useless")
    assert any(line.startswith("Mood: angry") for line in lines)
    conversation.refresh_from_db()
    assert (conversation.handler, conversation.assignee) == (Handler.HUMAN, agent)

    screenshot(console, "ai-handover-console")
    screenshot(visitor, "ai-handover-widget")

    # The run log of the conversation, in the console.
    head.get_by_role("button", name="AI runs").click()
    runs = console.locator("#ai-runs .ai-run")
    expect(runs).to_have_count(2)
    expect(runs.locator(".ai-run-outcome")).to_have_text(["Handed over", "Answered"])
    expect(runs.first).to_contain_text("The customer is upset")
    expect(runs.last.locator(".ai-source-title")).to_have_text(["faq.csv"])
    answered = AgentRun.objects.get(outcome=RunOutcome.ANSWERED)
    expect(runs.last).to_contain_text(
        f"{answered.prompt_tokens} in · {answered.completion_tokens} out"
    )
    screenshot(console, "ai-runs-console")
    console.keyboard.press("Escape")
    expect(console.locator("#ai-runs")).to_have_count(0)

    # e. The admin's run log: both runs, with the tokens and cost they add up to.
    handed = AgentRun.objects.get(outcome=RunOutcome.HANDED_OFF)
    assert handed.handoff_reason == HandoffReason.EMOTION
    totals = AgentRun.objects.aggregate(
        prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"), cost=Sum("cost")
    )
    assert totals["prompt"] > 0 and totals["completion"] > 0 and totals["cost"] > 0
    admin.goto(f"{base}/admin/ai_agent/agentrun/")
    expect(admin.locator("#result_list tbody tr")).to_have_count(2)
    line = admin.locator(".ai-run-totals").inner_text()
    shown = re.search(TOTALS, line)
    assert shown, line
    assert [int(shown[1]), int(shown[2]), int(shown[3])] == [
        2,
        totals["prompt"],
        totals["completion"],
    ]
    assert float(shown[4]) == pytest.approx(float(totals["cost"]))
    screenshot(admin, "ai-runs-admin")


def test_an_agent_takes_over_from_the_ai_and_the_ai_stays_quiet(
    start_servers, live_worker, browser, page, shop, watch
):
    (base,) = start_servers()
    agent = shop["agent"]
    # The offline engine, with a name that must stay text everywhere.
    AiProfileFactory(name=HOSTILE, inboxes=[shop["inbox"]])
    visitor = watch(page)
    frame = open_widget(visitor, base)
    visitor_says(frame, "Hello!")
    expect(frame.locator(".sb-msg.sb-out .sb-author")).to_have_text([f"{HOSTILE} · AI"])
    conversation = Conversation.objects.get()
    assert conversation.handler == Handler.AI

    console = console_for(browser, base, agent, watch)
    console.goto(f"{base}/console/?c={conversation.uuid}")
    head = console.locator(".sb-conv-head")
    expect(console.locator(".msg-from-ai .ai-engine")).to_have_text("Offline engine")
    expect(console.locator(".msg-from-ai .msg-author")).to_have_text(HOSTILE)
    expect(head.locator(".ai-answering")).to_have_text(f"AI{HOSTILE}")
    head.get_by_role("button", name="Take over").click()
    expect(console.locator("#conversation-assignee")).to_have_text("Assigned to you")
    expect(head.get_by_role("button", name="Hand back to AI")).to_be_visible()
    conversation.refresh_from_db()
    assert (conversation.handler, conversation.assignee) == (Handler.HUMAN, agent)

    # The visitor's next message reaches the agent, and the AI does not answer it.
    visitor_says(frame, "How long does shipping take?")
    expect(console.locator(".msg-in .msg-body").last).to_have_text("How long does shipping take?")
    time.sleep(3)  # the worker has long handled the message's tasks by now
    assert ai_replies(conversation).count() == 1
    assert AgentRun.objects.count() == 1
    expect(frame.locator(".sb-msg.sb-out")).to_have_count(1)

    # Handing it back: the AI holds it again.
    head.get_by_role("button", name="Hand back to AI").click()
    expect(head.get_by_label(f"AI agent {HOSTILE} is answering")).to_be_visible()
    conversation.refresh_from_db()
    assert conversation.handler == Handler.AI
