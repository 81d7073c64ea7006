from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from inbox.outbound import courier_register

        from .services.outbound import ChannelCourier

        # Replies in the inbox go out through this app's outbox.
        courier_register(ChannelCourier())
