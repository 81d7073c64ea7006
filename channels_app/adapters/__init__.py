"""The adapter of each channel kind; `adapter_for(channel)` is how the rest of the app
reaches one."""

from importlib import import_module

from .base import Adapter

# kind → "module:Class", imported on first use.
ADAPTERS = {
    "whatsapp": "channels_app.adapters.whatsapp:WhatsAppAdapter",
    "messenger": "channels_app.adapters.meta:MessengerAdapter",
    "instagram": "channels_app.adapters.meta:InstagramAdapter",
    "telegram": "channels_app.adapters.telegram:TelegramAdapter",
    "line": "channels_app.adapters.line:LineAdapter",
    "email": "channels_app.adapters.email:EmailAdapter",
    "api": "channels_app.adapters.api:ApiAdapter",
}


class UnknownChannelKind(LookupError):
    pass


def adapter_class(kind: str) -> type[Adapter]:
    try:
        path = ADAPTERS[kind]
    except KeyError:
        raise UnknownChannelKind(kind) from None
    module, name = path.split(":")
    return getattr(import_module(module), name)


def adapter_for(channel) -> Adapter:
    return adapter_class(channel.kind)(channel)


def has_adapter(kind: str) -> bool:
    return kind in ADAPTERS
