"""Webhook ingress: one URL per channel account, /webhooks/<kind>/<channel uuid>/.

Thin by design: the adapter verifies and splits, `events_store` commits, and only then
does the provider get its 200. A provider never sees a 500: a bad signature is 403, a
body that is not the provider's format is 400, and anything that stops us from storing
the event is 503, so that the provider delivers it again."""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .adapters import adapter_for, has_adapter
from .adapters.base import PayloadMalformed, SignatureInvalid
from .models import ChannelAccount
from .services.inbound import events_store, webhook_rejected

logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@csrf_exempt
def channel_webhook(request, kind: str, channel_uuid):
    channel = (
        ChannelAccount.objects.filter(uuid=channel_uuid, kind=kind, is_active=True).first()
        if has_adapter(kind)
        else None
    )
    if channel is None:
        return _error(404, "not_found", "No active channel at this address.")
    adapter = adapter_for(channel)
    if request.method == "GET":
        return adapter.handshake(request) or HttpResponseNotAllowed(["POST"])
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        request.body  # noqa: B018 (read once, within DATA_UPLOAD_MAX_MEMORY_SIZE)
    except RequestDataTooBig:
        logger.warning("Webhook body too large", extra={"channel": str(channel.uuid)})
        return _error(413, "too_large", "The body is larger than this server accepts.")
    try:
        adapter.verify(request)
    except SignatureInvalid as exc:
        webhook_rejected(channel=channel, reason=str(exc) or "bad signature")
        return _error(403, "invalid_signature", "The request's signature does not match.")
    try:
        events = adapter.split(request.body, request)
        events_store(channel=channel, events=events)
    except PayloadMalformed as exc:
        logger.warning("Malformed webhook body: %s", exc, extra={"channel": str(channel.uuid)})
        return _error(400, "malformed", str(exc))
    except Exception:
        logger.exception("Webhook could not be stored", extra={"channel": str(channel.uuid)})
        return HttpResponse("Temporarily unavailable; please deliver again.", status=503)
    return adapter.acknowledge(events)
