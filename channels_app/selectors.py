"""Reads of channels_app."""

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from .enums import DeliveryState
from .models import ChannelAccount


def channel_health(channel: ChannelAccount) -> dict:
    """What an admin checks when a channel seems quiet: events waiting or failing, replies
    that failed recently, and refused webhook calls."""
    since = timezone.now() - datetime.timedelta(hours=24)
    events = channel.inbound_events
    return {
        "last_event_at": events.order_by("-received_at")
        .values_list("received_at", flat=True)
        .first(),
        "events_waiting": events.filter(processed_at__isnull=True).count(),
        "events_failing": events.filter(processed_at__isnull=True).exclude(error="").count(),
        "deliveries_queued": channel.deliveries.filter(
            state__in=[DeliveryState.QUEUED, DeliveryState.SENDING]
        ).count(),
        "deliveries_failed_24h": channel.deliveries.filter(
            state=DeliveryState.FAILED, updated_at__gte=since
        ).count(),
    }


def channel_health_text(channel: ChannelAccount) -> str:
    health = channel_health(channel)
    last = health["last_event_at"]
    return _(
        "Last event: %(last)s. Events waiting: %(waiting)d (failing: %(failing)d). "
        "Replies queued: %(queued)d; failed in the last 24 h: %(failed)d."
    ) % {
        "last": timezone.localtime(last).strftime("%Y-%m-%d %H:%M") if last else _("none yet"),
        "waiting": health["events_waiting"],
        "failing": health["events_failing"],
        "queued": health["deliveries_queued"],
        "failed": health["deliveries_failed_24h"],
    }
