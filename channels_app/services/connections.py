"""Connecting a channel account: its webhook address, checking the credentials,
registering the webhook at the provider, syncing templates, polling mailboxes."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ..adapters import adapter_for, has_adapter
from ..adapters.base import ConnectionCheck, PermanentError, TransientError
from ..enums import ChannelKind, TemplateStatus
from ..models import ChannelAccount, MessageTemplate

logger = logging.getLogger(__name__)

# A mailbox is polled by one worker at a time; the lock outlives a slow poll.
POLL_LOCK_SECONDS = 300


def webhook_url(channel: ChannelAccount) -> str:
    path = reverse("channel-webhook", kwargs={"kind": channel.kind, "channel_uuid": channel.uuid})
    return (settings.PUBLIC_URL or "https://switchboard.example.com") + path


def connection_test(channel: ChannelAccount) -> ConnectionCheck:
    return _checked(lambda: adapter_for(channel).test_connection())


def connection_connect(channel: ChannelAccount) -> ConnectionCheck:
    """Registers our webhook at the provider (Telegram's setWebhook, Messenger's page
    subscription); for providers without such an API it tests the connection."""
    return _checked(lambda: adapter_for(channel).connect(webhook_url(channel)))


def _checked(call) -> ConnectionCheck:
    try:
        return call()
    except (TransientError, PermanentError) as exc:
        return ConnectionCheck(ok=False, message=exc.reason)


@transaction.atomic
def templates_sync(channel: ChannelAccount) -> int:
    """Replaces the channel's templates with the provider's current list; returns how many.
    Templates the provider no longer has are disabled, not deleted: sent messages name them."""
    fetched = adapter_for(channel).templates_fetch()
    now = timezone.now()
    seen = set()
    for item in fetched:
        key = (item["name"], item["language"])
        seen.add(key)
        status = item.get("status", TemplateStatus.APPROVED)
        MessageTemplate.objects.update_or_create(
            channel=channel,
            name=item["name"],
            language=item["language"],
            defaults={
                "category": item.get("category", "")[:32],
                "status": status if status in TemplateStatus.values else TemplateStatus.PENDING,
                "body": item.get("body", ""),
                "components": item.get("components", []),
                "synced_at": now,
            },
        )
    for template in channel.templates.all():
        if (template.name, template.language) not in seen and template.synced_at:
            template.status = TemplateStatus.DISABLED
            template.save(update_fields=["status", "updated_at"])
    return len(fetched)


def mailboxes_to_poll() -> list[int]:
    if not has_adapter(ChannelKind.EMAIL):
        return []
    return list(
        ChannelAccount.objects.filter(kind=ChannelKind.EMAIL, is_active=True)
        .exclude(settings__imap_host="")
        .filter(settings__has_key="imap_host")
        .values_list("pk", flat=True)
    )


def mailbox_poll_once(channel_id: int) -> int:
    """Polls one mailbox unless another worker is polling it; returns new messages stored."""
    from ..adapters.email.imap import MailboxUnavailable, mailbox_poll

    lock = f"mailbox-poll:{channel_id}"
    if not cache.add(lock, 1, timeout=POLL_LOCK_SECONDS):
        return 0
    try:
        channel = ChannelAccount.objects.filter(pk=channel_id, is_active=True).first()
        if channel is None:
            return 0
        try:
            return mailbox_poll(channel)
        except MailboxUnavailable as exc:
            logger.warning("Mailbox %s unavailable: %s", channel.name, exc)
            return 0
    finally:
        cache.delete(lock)
