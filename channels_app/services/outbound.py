"""Outbound: the outbox that carries replies to the providers.

`message_send` (inbox) stores a reply and, through `ChannelCourier.enqueue`, its
`OutboundDelivery` row in the same transaction. `delivery_attempt` (the `outbound_deliver`
task) claims the row, sends through the adapter and records the answer:
- accepted → the message is "sent" (receipts move it on to delivered and read);
- a transient failure (5xx, 429, timeout) → tried again after an exponential backoff with
  jitter, never sooner than the provider's Retry-After;
- a permanent refusal → "failed" with the provider's reason, shown to the agent.
`deliveries_due` finds rows whose task was lost or whose worker died, for the sweeper.
"""

from __future__ import annotations

import datetime
import logging
import random
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inbox.enums import DeliveryStatus, MessageDirection
from inbox.files import provider_attachment_url
from inbox.models import Message
from inbox.outbound import ReplyDraft, ReplyPlan
from inbox.services import message_delivery_update

from ..adapters import adapter_for
from ..adapters.base import (
    ChannelRules,
    OutboundFile,
    OutboundMessage,
    PermanentError,
    TransientError,
)
from ..enums import DeliveryState
from ..models import OutboundDelivery
from .rules import channel_of, reply_check

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 30 * 60
# The outbound_deliver task's own time limits: well above the adapter's provider timeout
# (10 s to read, 5 s to connect, per request), far below the default ones for slow tasks.
DELIVER_SOFT_TIME_LIMIT = 45
DELIVER_TIME_LIMIT = 60
# A worker holds a claimed delivery this long; after that the sweeper assumes the worker
# died and sends it again. It must outlive the hard time limit: a worker that is slow but
# alive is either done or killed by then, so a delivery is never sent by two at once.
# Kept short because it is how long a reply waits after its worker is killed.
CLAIM_SECONDS = DELIVER_TIME_LIMIT + 30
# The references an email reply carries: the first message of the thread and the latest.
THREAD_REFS_MAX = 20


class ChannelCourier:
    """inbox's `Courier`: checks replies against the channel's rules and writes the outbox."""

    def plan(self, *, conversation, draft: ReplyDraft) -> ReplyPlan:
        return reply_check(conversation, draft)

    def enqueue(self, *, message: Message, plan: ReplyPlan) -> None:
        channel = channel_of(message.conversation)
        delivery = OutboundDelivery.objects.create(
            message=message, channel=channel, options=plan.options
        )
        transaction.on_commit(partial(_enqueue, delivery.pk), robust=True)

    def retry(self, *, message: Message) -> None:
        delivery = OutboundDelivery.objects.select_for_update().filter(message=message).first()
        if delivery is None:
            return
        delivery.state = DeliveryState.QUEUED
        delivery.attempts = 0
        delivery.next_attempt_at = timezone.now()
        delivery.claimed_until = None
        delivery.error = delivery.error_code = ""
        delivery.save()
        transaction.on_commit(partial(_enqueue, delivery.pk), robust=True)


def _enqueue(delivery_id: int, countdown: float = 0) -> None:
    from ..tasks import outbound_deliver

    if countdown:
        outbound_deliver.apply_async((delivery_id,), countdown=countdown)
    else:
        outbound_deliver.delay(delivery_id)


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never less than the provider's Retry-After."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not security)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def _rate_allows(channel_id: int, rules: ChannelRules) -> bool:
    """A per-second budget per channel account, shared by every worker (in the cache)."""
    key = f"outbound-rate:{channel_id}:{int(timezone.now().timestamp())}"
    cache.add(key, 0, timeout=5)
    try:
        used = cache.incr(key)
    except ValueError:
        return True
    return used <= max(1, int(rules.rate_per_second))


def _claim(delivery_id: int) -> OutboundDelivery | None:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            OutboundDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel", "message__conversation__identity")
            .filter(pk=delivery_id, state__in=[DeliveryState.QUEUED, DeliveryState.SENDING])
            .first()
        )
        if delivery is None:
            return None
        if delivery.state == DeliveryState.SENDING and (
            delivery.claimed_until and delivery.claimed_until > now
        ):
            return None  # another worker is sending it
        if delivery.next_attempt_at > now + datetime.timedelta(seconds=1):
            return None  # not due: its own countdown or the sweeper brings it back
        rules = adapter_for(delivery.channel).rules
        if not _rate_allows(delivery.channel_id, rules):
            delivery.next_attempt_at = now + datetime.timedelta(seconds=1)
            delivery.save(update_fields=["next_attempt_at", "updated_at"])
            transaction.on_commit(partial(_enqueue, delivery.pk, 1), robust=True)
            return None
        delivery.state = DeliveryState.SENDING
        delivery.claimed_until = now + datetime.timedelta(seconds=CLAIM_SECONDS)
        delivery.attempts += 1
        delivery.save(update_fields=["state", "claimed_until", "attempts", "updated_at"])
    return delivery


def delivery_attempt(delivery_id: int) -> None:
    delivery = _claim(delivery_id)
    if delivery is None:
        return
    adapter = adapter_for(delivery.channel)
    try:
        outbound = outbound_message_build(delivery, with_refs=adapter.threads_by_refs)
        result = adapter.send(outbound)
    except TransientError as exc:
        _retry_later(delivery, exc.reason, exc.code, exc.retry_after)
    except PermanentError as exc:
        _fail(delivery, exc.reason, exc.code)
    except Exception as exc:
        # An adapter bug or an unreadable file: retried like a transient error, so that it
        # ends visibly failed rather than silently stuck.
        logger.exception("Delivery %s failed unexpectedly", delivery.pk)
        _retry_later(delivery, f"{type(exc).__name__}: {exc}", "internal", None)
    else:
        with transaction.atomic():
            delivery.state = DeliveryState.SENT
            delivery.external_id = result.external_id[:255]
            delivery.sent_at = timezone.now()
            delivery.claimed_until = None
            delivery.error = delivery.error_code = ""
            delivery.save()
            message_delivery_update(
                message=delivery.message,
                status=result.status or DeliveryStatus.SENT,
                external_id=result.external_id or None,
            )


def _retry_later(
    delivery: OutboundDelivery, reason: str, code: str, retry_after: float | None
) -> None:
    if delivery.attempts >= MAX_ATTEMPTS:
        _fail(delivery, reason, code or "gave_up")
        return
    delay = backoff_seconds(delivery.attempts, retry_after)
    with transaction.atomic():
        delivery.state = DeliveryState.QUEUED
        delivery.next_attempt_at = timezone.now() + datetime.timedelta(seconds=delay)
        delivery.claimed_until = None
        delivery.error = reason[:500]
        delivery.error_code = code[:100]
        delivery.save()
        if delay <= settings.TASK_MAX_ETA_SECONDS:
            transaction.on_commit(partial(_enqueue, delivery.pk, delay), robust=True)
    logger.info("Delivery %s will be retried in %.0f s: %s", delivery.pk, delay, reason)


def _fail(delivery: OutboundDelivery, reason: str, code: str) -> None:
    with transaction.atomic():
        delivery.state = DeliveryState.FAILED
        delivery.claimed_until = None
        delivery.error = reason[:500]
        delivery.error_code = code[:100]
        delivery.save()
        message_delivery_update(
            message=delivery.message, status=DeliveryStatus.FAILED, error=reason
        )
    logger.warning("Delivery %s failed: %s", delivery.pk, reason)


def outbound_message_build(
    delivery: OutboundDelivery, *, with_refs: bool = True
) -> OutboundMessage:
    """What the adapter needs to send one message, from the stored message and its thread.
    The thread's references (every provider id of the conversation, a read that grows with
    it) only for the channels that thread by them (email)."""
    message = delivery.message
    conversation = message.conversation
    identity = conversation.identity
    latest_inbound = (
        conversation.messages.filter(direction=MessageDirection.INBOUND).order_by("-seq").first()
    )
    refs = (
        list(
            conversation.messages.exclude(external_id=None)
            .order_by("seq")
            .values_list("external_id", flat=True)
        )
        if with_refs
        else []
    )
    if len(refs) > THREAD_REFS_MAX:
        refs = refs[:1] + refs[-(THREAD_REFS_MAX - 1) :]
    reply_to = ""
    if conversation.thread_key.startswith("comment:") and latest_inbound:
        reply_to = latest_inbound.external_id or ""
    template = message.content.get("template")
    return OutboundMessage(
        recipient=identity.value if identity else "",
        text=message.body,
        files=tuple(_files(message)),
        template=template,
        options=delivery.options,
        reply_to_external_id=reply_to,
        thread_refs=tuple(refs),
        subject=conversation.source.get("subject", ""),
        reply_token=(latest_inbound.content.get("reply_token", "") if latest_inbound else ""),
        reply_token_at=latest_inbound.sent_at if latest_inbound else None,
        thread_key=conversation.thread_key,
        idempotency_key=str(delivery.uuid),
    )


def _files(message: Message):
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as handle:
            data = handle.read()
        url = (
            settings.PUBLIC_URL + provider_attachment_url(attachment) if settings.PUBLIC_URL else ""
        )
        yield OutboundFile(
            name=attachment.name,
            content_type=attachment.content_type,
            size=attachment.size,
            data=data,
            url=url,
        )


def deliveries_due(*, now: datetime.datetime | None = None, limit: int = 500) -> list[int]:
    """Deliveries whose task was lost (queued and overdue) or whose worker died (claimed
    past its time): the sweeper queues them again."""
    now = now or timezone.now()
    return list(
        OutboundDelivery.objects.filter(
            Q(state=DeliveryState.QUEUED, next_attempt_at__lte=now - datetime.timedelta(seconds=15))
            | Q(state=DeliveryState.SENDING, claimed_until__lt=now)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
