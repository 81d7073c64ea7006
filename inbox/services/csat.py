"""Customer satisfaction (CSAT): after a conversation is resolved, ask its customer for a
rating from 1 to 5, in the widget (a rating box, pushed) or, on other channels, as a
message within the channel's reply window ("reply with a number from 1 to 5").

A request is open for `RATING_WINDOW` after it was asked. The widget may submit (and
re-submit, changing its answer) while it is open; on other channels the customer's next
message that is exactly a digit from 1 to 5 (also full-width, or 一 to 五) is taken as
the rating, once. A comment comes only from the widget: a message after the rating is an
ordinary message."""

import datetime
import logging
from functools import partial

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .. import realtime
from ..enums import ConversationStatus, DeliveryStatus, MessageDirection, SenderType
from ..models import Conversation, CsatResponse, Message
from ..outbound import ReplyBlocked, ReplyDraft, reply_enqueue, reply_plan
from .messages import message_append

logger = logging.getLogger(__name__)

RATING_WINDOW = datetime.timedelta(hours=24)
COMMENT_MAX_LENGTH = 2000
# What a customer may type as a rating: ASCII and full-width digits, and Chinese numerals.
RATINGS = {
    text: value
    for value in range(1, 6)
    for text in (str(value), chr(0xFF10 + value), "一二三四五"[value - 1])
}


def rating_parse(text: str) -> int | None:
    """The rating a message's text is, exactly (surrounding spaces aside), or None."""
    return RATINGS.get((text or "").strip())


def csat_question(*, conversation: Conversation, by_message: bool) -> str:
    """The inbox's question, or the default one in the conversation's language; a question
    sent as a message also says how to answer."""
    with translation.override(conversation.language or translation.get_language()):
        question = conversation.inbox.csat_question or _("How would you rate this conversation?")
        if by_message:
            question = " ".join(
                [question, _("Reply with a number from 1 (poor) to 5 (excellent).")]
            )
    return question


@transaction.atomic
def csat_request(
    *, conversation: Conversation, now: datetime.datetime | None = None
) -> CsatResponse | None:
    """Asks for a rating of a just-resolved conversation, once, when its inbox asks for
    ratings. Returns the request, or None when none was asked (not enabled, not resolved,
    asked before, or the channel refuses a message now, e.g. its reply window closed)."""
    now = now or timezone.now()
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("inbox")
        .get(pk=conversation.pk)
    )
    if not conversation.inbox.csat_enabled or conversation.status != ConversationStatus.RESOLVED:
        return None
    if CsatResponse.objects.filter(conversation=conversation).exists():
        return None
    question = csat_question(conversation=conversation, by_message=True)
    try:
        plan = reply_plan(conversation=conversation, draft=ReplyDraft(body=question))
    except ReplyBlocked as blocked:
        logger.info(
            "No rating asked: the channel refuses a message now (%s)",
            blocked.code,
            extra={"conversation": str(conversation.uuid)},
        )
        return None
    csat = CsatResponse.objects.create(
        conversation=conversation,
        assignee_id=conversation.assignee_id,
        team_id=conversation.team_id,
        requested_at=now,
    )
    if plan.delivers:
        message, _created = message_append(
            conversation=conversation,
            direction=MessageDirection.OUTBOUND,
            sender_type=SenderType.SYSTEM,
            body=plan.body,
            content={**plan.content, "csat": True},
            delivery_status=DeliveryStatus.QUEUED,
        )
        reply_enqueue(message=message, plan=plan)
    else:
        # No courier carries it: the website widget, which shows a rating box instead.
        transaction.on_commit(
            partial(
                realtime.push_csat_requested,
                conversation,
                question=csat_question(conversation=conversation, by_message=False),
            ),
            robust=True,
        )
    return csat


def csat_open(
    *, conversation: Conversation, now: datetime.datetime | None = None
) -> CsatResponse | None:
    """The conversation's request while it may still be answered (answered or not)."""
    now = now or timezone.now()
    return CsatResponse.objects.filter(
        conversation=conversation, requested_at__gt=now - RATING_WINDOW
    ).first()


def csat_awaited_question(
    *, conversation: Conversation, now: datetime.datetime | None = None
) -> str | None:
    """The question the widget shows while a resolved conversation's rating is awaited
    (asked, unanswered, still open); None otherwise. No query unless resolved."""
    if conversation.status != ConversationStatus.RESOLVED:
        return None
    csat = csat_open(conversation=conversation, now=now)
    if csat is None or csat.rating is not None:
        return None
    return csat_question(conversation=conversation, by_message=False)


def csat_rated_conversation(
    *,
    inbox_id: int,
    identity_id: int,
    thread_key: str,
    body: str,
    now: datetime.datetime | None = None,
) -> Conversation | None:
    """The resolved conversation a customer's message answers when the message is a rating
    (a lone digit) and that conversation's request is open and unanswered: the rating goes
    there, instead of opening a new conversation that says only "5"."""
    if rating_parse(body) is None:
        return None
    now = now or timezone.now()
    return (
        Conversation.objects.filter(
            inbox_id=inbox_id,
            identity_id=identity_id,
            thread_key=thread_key,
            status=ConversationStatus.RESOLVED,
            csat__rating__isnull=True,
            csat__requested_at__gt=now - RATING_WINDOW,
        )
        .order_by("-csat__requested_at")
        .first()
    )


def csat_answers(*, conversation: Conversation, body: str) -> bool:
    """Whether a customer's message on this conversation is the rating it asked for."""
    if rating_parse(body) is None or conversation.status != ConversationStatus.RESOLVED:
        return False
    csat = csat_open(conversation=conversation)
    return csat is not None and csat.rating is None


@transaction.atomic
def csat_submit(
    *,
    conversation: Conversation,
    rating: int,
    comment: str = "",
    now: datetime.datetime | None = None,
) -> CsatResponse | None:
    """Stores a rating (and comment) for the conversation's open request; a second submit
    while it is open replaces the first. None when no request is open."""
    if rating not in range(1, 6):
        raise ValueError("rating must be 1 to 5")
    now = now or timezone.now()
    csat = (
        CsatResponse.objects.select_for_update()
        .filter(conversation=conversation, requested_at__gt=now - RATING_WINDOW)
        .first()
    )
    if csat is None:
        return None
    csat.rating = rating
    csat.comment = comment.strip()[:COMMENT_MAX_LENGTH]
    csat.responded_at = now
    csat.save(update_fields=["rating", "comment", "responded_at"])
    return csat


@transaction.atomic
def csat_reply_take(
    *, message: Message, now: datetime.datetime | None = None
) -> CsatResponse | None:
    """Takes a customer's message as the rating it is, when it is exactly a digit from 1
    to 5 and their identity in this inbox has an unanswered open request asked before it
    (the inbound pipeline files such a reply in the resolved conversation, which stays
    resolved: `csat_rated_conversation`). None when the message is no rating."""
    rating = rating_parse(message.body)
    if (
        rating is None
        or message.direction != MessageDirection.INBOUND
        or message.sender_type != SenderType.CUSTOMER
        or message.private
    ):
        return None
    now = now or timezone.now()
    conversation = message.conversation
    if conversation.identity_id is None:
        return None
    csat = (
        CsatResponse.objects.select_for_update(of=("self",))
        .filter(
            conversation__identity_id=conversation.identity_id,
            conversation__inbox_id=conversation.inbox_id,
            rating__isnull=True,
            requested_at__gt=now - RATING_WINDOW,
            requested_at__lte=message.created_at,
        )
        .order_by("-requested_at")
        .first()
    )
    if csat is None:
        return None
    csat.rating = rating
    csat.responded_at = now
    csat.save(update_fields=["rating", "responded_at"])
    return csat
