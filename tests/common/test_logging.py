import json
import logging

import pytest
from django.test import override_settings

from common.context import request_id_var
from common.logging import RedactSecretsFilter, RequestIdFilter, build_logging_config

pytestmark = pytest.mark.django_db


def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert first and second and first != second


def test_a_safe_caller_request_id_is_kept_and_an_unsafe_one_replaced(client):
    assert (
        client.get("/healthz", HTTP_X_REQUEST_ID="proxy-abc-123456")["X-Request-ID"]
        == "proxy-abc-123456"
    )
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="bad\nid <script>")["X-Request-ID"]
    assert replaced != "bad\nid <script>" and len(replaced) == 32


def test_log_lines_caused_by_a_request_carry_its_id(client, caplog):
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/api/v1/no-such-endpoint/", HTTP_X_REQUEST_ID="trace-0000-1111")
    assert response.status_code == 404
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records and all(r.request_id == "trace-0000-1111" for r in records)
    assert response.json()["request_id"] == "trace-0000-1111"


def _formatted(fmt: str, message: str, *args) -> str:
    config = build_logging_config(fmt=fmt, level="INFO")
    formatter_spec = dict(config["formatters"]["default"])
    if "()" in formatter_spec:
        from pythonjsonlogger.json import JsonFormatter

        formatter = JsonFormatter(formatter_spec["format"])
    else:
        formatter = logging.Formatter(formatter_spec["format"])
    record = logging.LogRecord("switchboard.test", logging.INFO, __file__, 1, message, args, None)
    for log_filter in (RequestIdFilter(), RedactSecretsFilter()):
        log_filter.filter(record)
    return formatter.format(record)


def test_json_lines_in_production_format_with_the_request_id():
    token = request_id_var.set("req-json-0001")
    try:
        line = _formatted("json", "delivered %s", "msg-1")
    finally:
        request_id_var.reset(token)
    parsed = json.loads(line)
    assert parsed["message"] == "delivered msg-1"
    assert parsed["request_id"] == "req-json-0001"
    assert parsed["levelname"] == "INFO"


def test_text_lines_in_development_are_readable():
    line = _formatted("text", "hello")
    assert "INFO" in line and "[-]" in line and line.endswith("hello")


@override_settings(
    AI_API_KEY="sk-live-very-secret-key-123", EMAIL_HOST_PASSWORD="smtp-password-456"
)
def test_secrets_never_reach_a_log_line():
    line = _formatted(
        "text",
        "calling model with key %s and smtp %s",
        "sk-live-very-secret-key-123",
        "smtp-password-456",
    )
    assert "sk-live-very-secret-key-123" not in line
    assert "smtp-password-456" not in line
    assert line.count("[redacted]") == 2
