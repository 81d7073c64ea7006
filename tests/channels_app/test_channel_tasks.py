"""The beat tasks: every mailbox polled in its own task, sweepers that queue what was left."""

import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone

from channels_app import tasks
from channels_app.models import InboundEvent
from channels_app.services.connections import mailbox_poll_once, mailboxes_to_poll
from tests.factories.channels import ChannelFactory

pytestmark = pytest.mark.django_db


def test_only_active_mailboxes_with_an_imap_server_are_polled():
    polled = ChannelFactory(kind="email", settings={"address": "a@x.test", "imap_host": "imap.x"})
    ChannelFactory(kind="email", settings={"address": "b@x.test"})  # webhook only
    ChannelFactory(kind="email", settings={"imap_host": "imap.y"}, is_active=False)
    ChannelFactory(kind="telegram")
    assert mailboxes_to_poll() == [polled.pk]


def test_a_mailbox_being_polled_is_not_polled_twice_at_once():
    channel = ChannelFactory(kind="email", settings={"imap_host": "imap.invalid"})
    cache.add(f"mailbox-poll:{channel.pk}", 1, timeout=60)
    assert mailbox_poll_once(channel.pk) == 0  # returned at once, without connecting


def test_an_unreachable_mailbox_is_logged_not_raised(caplog):
    channel = ChannelFactory(
        kind="email",
        settings={
            "address": "a@x.test",
            "imap_host": "127.0.0.1",
            "imap_port": "1",
            "imap_security": "none",
            "imap_user": "a",
        },
    )
    assert mailbox_poll_once(channel.pk) == 0
    assert "unavailable" in caplog.text


def test_the_inbound_sweeper_queues_events_left_unprocessed(monkeypatch):
    channel = ChannelFactory(kind="telegram")
    old = InboundEvent.objects.create(channel=channel, dedupe_key="a", payload={})
    InboundEvent.objects.create(channel=channel, dedupe_key="b", payload={})  # just arrived
    InboundEvent.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    queued = []
    monkeypatch.setattr(tasks.inbound_process_event, "delay", queued.append)
    assert tasks.inbound_sweep() == 1
    assert queued == [old.pk]
