import factory

from channels_app.enums import ChannelKind
from channels_app.models import ChannelAccount, WidgetConfig

from .inbox import InboxFactory


class WebChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelAccount

    kind = ChannelKind.WEB
    name = factory.Sequence(lambda n: f"Website {n}")
    inbox = factory.SubFactory(InboxFactory)
    public_key = factory.Sequence(lambda n: f"site-{n}")


class WidgetConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WidgetConfig

    channel = factory.SubFactory(WebChannelFactory)
    title = "Acme"


class ChannelFactory(factory.django.DjangoModelFactory):
    """A messaging channel of any kind, with the credentials and settings its adapter
    reads (fake values: tests point the providers' URLs at a local fake server)."""

    class Meta:
        model = ChannelAccount

    kind = ChannelKind.WHATSAPP
    name = factory.Sequence(lambda n: f"Channel {n}")
    inbox = factory.SubFactory(InboxFactory)
    public_key = factory.Sequence(lambda n: f"channel-{n}")
    webhook_secret = factory.Sequence(lambda n: f"webhook-secret-{n}")
    credentials = factory.LazyAttribute(lambda o: dict(CREDENTIALS.get(o.kind, {})))
    settings = factory.LazyAttribute(lambda o: dict(SETTINGS.get(o.kind, {})))


CREDENTIALS = {
    ChannelKind.WHATSAPP: {"access_token": "wa-token", "app_secret": "wa-app-secret"},
    ChannelKind.MESSENGER: {"page_access_token": "page-token", "app_secret": "fb-app-secret"},
    ChannelKind.INSTAGRAM: {"access_token": "ig-token", "app_secret": "ig-app-secret"},
    ChannelKind.TELEGRAM: {"bot_token": "123456:ABC-test-token"},
    ChannelKind.LINE: {"channel_secret": "line-secret", "channel_access_token": "line-token"},
    ChannelKind.EMAIL: {"imap_password": "imap-pass", "smtp_password": "smtp-pass"},
    ChannelKind.API: {},
}
SETTINGS = {
    ChannelKind.WHATSAPP: {
        "phone_number_id": "106540352242922",
        "business_account_id": "102290129340398",
    },
    ChannelKind.MESSENGER: {"page_id": "104502815810239"},
    ChannelKind.INSTAGRAM: {
        "instagram_account_id": "17841405822304914",
        "page_id": "104502815810239",
    },
    ChannelKind.EMAIL: {"address": "support@shop.example"},
    ChannelKind.API: {},
}
