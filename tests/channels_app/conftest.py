import pytest
from django.urls import reverse

from channels_app.models import InboundEvent, OutboundDelivery
from channels_app.services.inbound import event_process
from channels_app.services.outbound import delivery_attempt
from tests.channels_app.fake_provider import FakeProvider

PROVIDER_URL_SETTINGS = (
    "META_GRAPH_URL",
    "INSTAGRAM_GRAPH_URL",
    "TELEGRAM_API_URL",
    "LINE_API_URL",
    "LINE_DATA_API_URL",
)


@pytest.fixture
def fake(settings):
    """Every provider's API, played by one local server."""
    with FakeProvider() as provider:
        for name in PROVIDER_URL_SETTINGS:
            setattr(settings, name, provider.url)
        yield provider


def webhook_url(channel) -> str:
    return reverse("channel-webhook", kwargs={"kind": channel.kind, "channel_uuid": channel.uuid})


def signed(channel, body: bytes) -> dict:
    from importlib import import_module

    return import_module(f"tests.channels_app.adapters.sign_{channel.kind}").webhook_request(
        channel, body
    )


def post_webhook(client, channel, body: bytes):
    return client.generic("POST", webhook_url(channel), data=body, **signed(channel, body))


def process_pending() -> None:
    """What the inbound workers do: apply every stored event not yet processed."""
    for event_id in InboundEvent.objects.filter(processed_at__isnull=True).values_list(
        "pk", flat=True
    ):
        event_process(event_id)


def deliver_pending() -> None:
    """What the outbound workers do: one attempt at every delivery that is due."""
    for delivery_id in OutboundDelivery.objects.values_list("pk", flat=True):
        delivery_attempt(delivery_id)
