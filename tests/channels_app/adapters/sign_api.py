"""Signs a webhook body for the API channel exactly as an integrator's bridge does
(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)."""

import hashlib
import time

from channels_app.adapters.api import sign


def webhook_request(channel, body: bytes) -> dict:
    """Keyword arguments for `client.generic("POST", url, data=body, **kwargs)`. The
    webhook-id comes from the body, so posting the same body twice is the same delivery
    retried, as a real sender would do."""
    msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:32]
    timestamp = int(time.time())
    return {
        "content_type": "application/json",
        "headers": {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(channel.webhook_secret, msg_id, timestamp, body),
        },
    }
