"""LINE's webhook signature: base64 of HMAC-SHA256 over the raw body, keyed with the
channel secret, in X-Line-Signature."""

import base64
import hashlib
import hmac


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_request(channel, body: bytes) -> dict:
    return {
        "content_type": "application/json; charset=utf-8",
        "headers": {"X-Line-Signature": signature(channel.credentials["channel_secret"], body)},
    }
