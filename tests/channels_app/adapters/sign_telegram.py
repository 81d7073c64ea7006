"""Telegram's webhook "signature": the secret token we gave setWebhook, repeated in a
header on every call."""


def webhook_request(channel, body: bytes) -> dict:
    return {
        "content_type": "application/json",
        "headers": {"X-Telegram-Bot-Api-Secret-Token": channel.webhook_secret},
    }
