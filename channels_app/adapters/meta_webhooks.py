"""What every Meta webhook shares (WhatsApp, Messenger, Instagram): the GET handshake with
the verify token, and the X-Hub-Signature-256 over the raw body, keyed by the app secret."""

from django.http import HttpResponse

from .base import SignatureInvalid, hmac_hex, signatures_match


def meta_handshake(request, *, verify_token: str) -> HttpResponse:
    """Answers Meta's subscription check with the challenge when the token matches."""
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token")
    if mode == "subscribe" and verify_token and signatures_match(verify_token, token):
        return HttpResponse(
            request.GET.get("hub.challenge", ""), content_type="text/plain; charset=utf-8"
        )
    return HttpResponse(status=403)


def meta_signature_verify(request, *, app_secret: str) -> None:
    given = request.headers.get("X-Hub-Signature-256") or ""
    if not app_secret or not given.startswith("sha256="):
        raise SignatureInvalid("Missing X-Hub-Signature-256 or app secret.")
    expected = "sha256=" + hmac_hex(app_secret, request.body)
    if not signatures_match(expected, given.lower()):
        raise SignatureInvalid("X-Hub-Signature-256 does not match the body.")
