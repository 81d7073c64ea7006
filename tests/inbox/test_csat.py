"""CSAT: a rating is asked once on resolution when the inbox asks for ratings; on other
channels as a message within the reply window, answered by a reply that is a digit."""

import datetime
import json
from pathlib import Path

import pytest
from django.utils import timezone

from channels_app.models import OutboundDelivery
from inbox.enums import ConversationStatus, MessageDirection, SenderType
from inbox.models import Conversation, CsatResponse, Message
from inbox.services.csat import RATING_WINDOW, csat_reply_take, csat_request, rating_parse
from inbox.services.workflow import conversation_status_set
from tests.channels_app.conftest import post_webhook, process_pending
from tests.factories.accounts import AgentFactory
from tests.factories.channels import ChannelFactory
from tests.factories.inbox import ConversationFactory, TeamFactory

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"


def resolve(conversation: Conversation, capture) -> None:
    """Resolves through the workflow service; its signal is sent on commit."""
    with capture(execute=True):
        conversation_status_set(
            conversation=conversation, status=ConversationStatus.RESOLVED, actor=None
        )
    conversation.refresh_from_db()


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", 5),
        (" 1 ", 1),
        ("３", 3),
        ("五", 5),
        ("二", 2),
        ("0", None),
        ("6", None),
        ("5 stars", None),
        ("great", None),
        ("", None),
        ("六", None),
    ],
)
def test_what_counts_as_a_rating(text, rating):
    assert rating_parse(text) == rating


def test_a_rating_is_asked_once_on_resolution_only_when_the_inbox_asks(
    django_capture_on_commit_callbacks,
):
    quiet = ConversationFactory()
    resolve(quiet, django_capture_on_commit_callbacks)
    assert not CsatResponse.objects.exists()

    agent, team = AgentFactory(), TeamFactory()
    conversation = ConversationFactory(assignee=agent, team=team)
    conversation.inbox.csat_enabled = True
    conversation.inbox.save()
    assert csat_request(conversation=conversation) is None  # not resolved yet
    resolve(conversation, django_capture_on_commit_callbacks)
    assert csat_request(conversation=conversation) is None  # asked already: once only

    csat = CsatResponse.objects.get()
    assert (csat.conversation, csat.assignee, csat.team) == (conversation, agent, team)
    assert csat.rating is None


def _telegram_update(text: str, n: int) -> bytes:
    update = json.loads((PAYLOADS / "telegram" / "text.json").read_bytes())
    update["update_id"] += n
    update["message"]["message_id"] += n
    update["message"]["text"] = text
    return json.dumps(update).encode()


def test_on_telegram_the_question_is_a_message_and_a_digit_reply_is_the_rating(
    client, django_capture_on_commit_callbacks
):
    telegram = ChannelFactory(kind="telegram")
    telegram.inbox.csat_enabled = True
    telegram.inbox.save()
    post_webhook(client, telegram, _telegram_update("Where is my order?", 0))
    process_pending()
    conversation = Conversation.objects.get()
    agent, team = AgentFactory(), TeamFactory()
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent, team=team)
    resolve(conversation, django_capture_on_commit_callbacks)

    question = Message.objects.get(conversation=conversation, sender_type=SenderType.SYSTEM)
    assert question.direction == MessageDirection.OUTBOUND
    assert "1 (poor) to 5 (excellent)" in question.body
    assert question.content["csat"] is True
    assert OutboundDelivery.objects.filter(message=question).exists()

    for n, text in enumerate(["5 stars, thanks", "５"], start=1):
        with django_capture_on_commit_callbacks(execute=True):
            post_webhook(client, telegram, _telegram_update(text, n))
            process_pending()
        csat = CsatResponse.objects.get()
        if n == 1:
            assert csat.rating is None  # not a lone digit: an ordinary message
    assert csat.rating == 5
    assert (csat.assignee, csat.team) == (agent, team)
    assert csat.responded_at is not None
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.RESOLVED


def test_a_reply_is_taken_once_and_not_after_a_day(django_capture_on_commit_callbacks):
    conversation = ConversationFactory(status=ConversationStatus.RESOLVED)
    conversation.identity = conversation.customer.identities.create(kind="phone", value="+1555")
    conversation.save()
    asked = timezone.now() - RATING_WINDOW - datetime.timedelta(minutes=1)
    csat = CsatResponse.objects.create(conversation=conversation, requested_at=asked)
    late = Message.objects.create(
        conversation=conversation, seq=1, direction="in", sender_type="customer", body="4"
    )
    assert csat_reply_take(message=late) is None

    csat.requested_at = timezone.now() - datetime.timedelta(hours=1)
    csat.save()
    assert csat_reply_take(message=late).rating == 4
    again = Message.objects.create(
        conversation=conversation, seq=2, direction="in", sender_type="customer", body="1"
    )
    assert csat_reply_take(message=again) is None
    csat.refresh_from_db()
    assert csat.rating == 4


def test_no_rating_is_asked_when_the_channels_reply_window_is_closed(
    client, django_capture_on_commit_callbacks
):
    whatsapp = ChannelFactory(kind="whatsapp")
    whatsapp.inbox.csat_enabled = True
    whatsapp.inbox.save()
    # The recorded message is from 2025: WhatsApp's 24-hour window closed long ago.
    post_webhook(client, whatsapp, (PAYLOADS / "whatsapp" / "text.json").read_bytes())
    process_pending()
    conversation = Conversation.objects.get()
    resolve(conversation, django_capture_on_commit_callbacks)

    assert not CsatResponse.objects.exists()
    assert not Message.objects.filter(sender_type=SenderType.SYSTEM).exists()


def test_a_rating_reply_stays_in_the_resolved_conversation(
    client, django_capture_on_commit_callbacks
):
    """A lone digit answering the question is filed in the conversation that asked, which
    stays resolved: no new conversation saying only "4". A digit after that is an ordinary
    message and starts a new one."""
    telegram = ChannelFactory(kind="telegram")
    telegram.inbox.csat_enabled = True
    telegram.inbox.save()
    post_webhook(client, telegram, _telegram_update("Where is my order?", 0))
    process_pending()
    conversation = Conversation.objects.get()
    resolve(conversation, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(client, telegram, _telegram_update("4", 1))
        process_pending()
    assert Conversation.objects.count() == 1
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.RESOLVED
    assert conversation.unread_count == 1  # only the first message
    rating = Message.objects.get(conversation=conversation, body="4")
    assert rating.content["csat_rating"] is True
    assert CsatResponse.objects.get().rating == 4

    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(client, telegram, _telegram_update("5", 2))
        process_pending()
    assert Conversation.objects.count() == 2
    assert CsatResponse.objects.get().rating == 4
