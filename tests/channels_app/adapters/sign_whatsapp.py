"""Signs a webhook body exactly as Meta does for the WhatsApp Cloud API:
X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256 of the raw body, keyed by the app secret."""

import hashlib
import hmac


def webhook_request(channel, body: bytes) -> dict:
    """Keyword arguments for `client.generic("POST", url, data=body, **kwargs)`."""
    secret = channel.credentials["app_secret"].encode()
    signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {
        "content_type": "application/json",
        "headers": {"X-Hub-Signature-256": f"sha256={signature}"},
    }
