"""One contract for every adapter, run over every stored provider payload:
- a correctly signed body is accepted, a wrongly signed one is refused and not stored;
- posting the same body again (and concurrently) stores nothing new;
- parse is total: every stored event parses into the framework's dataclasses."""

import threading
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from channels_app.adapters import ADAPTERS, adapter_for
from channels_app.adapters.base import (
    ContactEvent,
    Ignored,
    InboundMessage,
    MessageDeletion,
    MessageEdit,
    Reaction,
    StatusUpdate,
)
from channels_app.models import ChannelAccount, InboundEvent
from tests.channels_app.conftest import post_webhook, signed, webhook_url
from tests.factories.channels import ChannelFactory

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
EVENT_TYPES = (
    InboundMessage,
    StatusUpdate,
    Reaction,
    MessageEdit,
    MessageDeletion,
    ContactEvent,
    Ignored,
)
CASES = sorted(
    (kind, path)
    for kind in ADAPTERS
    for path in (PAYLOADS / kind).glob("*")
    if path.suffix in (".json", ".eml")
)


def test_every_adapter_has_payloads():
    assert {kind for kind, _ in CASES} == set(ADAPTERS)


def _forged(channel: ChannelAccount) -> ChannelAccount:
    """The same channel with every secret changed: what an attacker would sign with."""
    return ChannelAccount(
        kind=channel.kind,
        uuid=channel.uuid,
        webhook_secret=channel.webhook_secret + "-forged",
        credentials={k: f"{v}-forged" for k, v in channel.credentials.items()},
        settings=channel.settings,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "path"), CASES, ids=[f"{k}/{p.name}" for k, p in CASES])
def test_adapter_contract(client, kind, path):
    channel = ChannelFactory(kind=kind)
    body = path.read_bytes()

    forged = client.generic(
        "POST", webhook_url(channel), data=body, **signed(_forged(channel), body)
    )
    assert forged.status_code in (401, 403)
    assert not InboundEvent.objects.exists()
    channel.refresh_from_db()
    assert channel.rejected_webhooks == 1

    first = post_webhook(client, channel, body)
    assert first.status_code == 200, first.content
    stored = list(InboundEvent.objects.filter(channel=channel))
    again = post_webhook(client, channel, body)
    assert again.status_code == 200
    assert InboundEvent.objects.filter(channel=channel).count() == len(stored)

    adapter = adapter_for(channel)
    for event in stored:
        items = adapter.parse(event.payload)
        assert isinstance(items, list)
        assert all(isinstance(item, EVENT_TYPES) for item in items), items


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", sorted(ADAPTERS))
def test_concurrent_deliveries_of_one_body_store_it_once(kind):
    channel = ChannelFactory(kind=kind)
    path = next(p for k, p in CASES if k == kind and p.stem in ("text", "plain"))
    body = path.read_bytes()
    statuses = []
    barrier = threading.Barrier(4)

    def deliver():
        barrier.wait()
        try:
            statuses.append(post_webhook(Client(), channel, body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    assert InboundEvent.objects.filter(channel=channel).count() == 1


@pytest.mark.django_db
def test_a_malformed_body_is_a_400_and_an_unknown_channel_a_404(client):
    channel = ChannelFactory(kind="whatsapp")
    response = post_webhook(client, channel, b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert not InboundEvent.objects.exists()

    other = ChannelFactory.build(kind="whatsapp")
    response = client.post(webhook_url(other), data=b"{}", content_type="application/json")
    assert response.status_code == 404


@pytest.mark.django_db
def test_an_inactive_channel_takes_no_events(client):
    channel = ChannelFactory(kind="telegram", is_active=False)
    body = (PAYLOADS / "telegram" / "text.json").read_bytes()
    assert post_webhook(client, channel, body).status_code == 404
    assert not InboundEvent.objects.exists()


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_a_413_not_a_retry(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    channel = ChannelFactory(kind="telegram")
    body = b'{"update_id": 1, "message": {"text": "' + b"x" * 2000 + b'"}}'
    response = post_webhook(client, channel, body)
    assert response.status_code == 413
    assert not InboundEvent.objects.exists()
