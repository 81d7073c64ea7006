"""The email channel's inbound-parse webhook is authenticated by a bearer token: the
channel's webhook secret in `Authorization: Bearer <secret>`. The body is the raw message."""


def webhook_request(channel, body: bytes) -> dict:
    return {
        "content_type": "message/rfc822",
        "headers": {"Authorization": f"Bearer {channel.webhook_secret}"},
    }
