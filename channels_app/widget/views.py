"""The widget's two documents: the loader a website embeds (`/widget.js`) and the chat
page it frames (`/widget/frame/<public key>/`). Neither sets a cookie."""

from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from ..enums import WidgetLanguage
from .services import (
    widget_allowed_origins,
    widget_availability,
    widget_channel_get,
    widget_config_get,
)
from .strings import widget_strings

LOADER_PATH = settings.BASE_DIR / "static" / "widget" / "widget.js"


@cache
def _loader_source() -> bytes:
    return LOADER_PATH.read_bytes()


@require_GET
def widget_loader(request):
    source = LOADER_PATH.read_bytes() if settings.DEBUG else _loader_source()
    response = HttpResponse(source, content_type="application/javascript; charset=utf-8")
    # Short, so a new release reaches every website within minutes.
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _frame_language(request, configured: str) -> str:
    if configured != WidgetLanguage.AUTO:
        return configured
    return translation.get_language_from_request(request)


def _frame_policy(origins: list[str], avatar_url: str) -> str:
    ancestors = " ".join(["'self'", *origins]) if origins else "*"
    images = "'self' data: blob:"
    if avatar_url:
        parts = urlsplit(avatar_url)
        images += f" {parts.scheme}://{parts.netloc}"
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; "
        f"connect-src 'self'; media-src 'self' data:; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )


@require_GET
@xframe_options_exempt
def widget_frame(request, public_key: str):
    channel = widget_channel_get(public_key)
    if channel is None:
        raise Http404
    config = widget_config_get(channel)
    language = _frame_language(request, config.language)
    with translation.override(language):
        payload = {
            "key": channel.public_key,
            "api": f"/widget/v1/{public_key}/",
            "socket": f"/ws/widget/{public_key}/",
            "language": language,
            "title": config.title,
            "greeting": config.greeting,
            "avatar_url": config.avatar_url,
            "color": config.color,
            "position": config.position,
            "away_message": config.away_message,
            "prechat": {
                "name": config.prechat_name,
                "email": config.prechat_email,
                "phone": config.prechat_phone,
            },
            "attachments": {
                "types": config.allowed_content_types,
                "max_bytes": config.attachment_max_mb * 2**20,
            },
            "sound": config.sound,
            **widget_availability(channel, config),
            "strings": widget_strings(),
        }
        response = render(request, "widget/frame.html", {"config": payload, "language": language})
    response["Content-Security-Policy"] = _frame_policy(
        widget_allowed_origins(config), config.avatar_url
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response
