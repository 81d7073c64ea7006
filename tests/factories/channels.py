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
