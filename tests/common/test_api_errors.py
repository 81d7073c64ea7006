import pytest
from rest_framework import exceptions

from common.api.errors import api_exception_handler
from common.context import request_id_var

pytestmark = pytest.mark.django_db


def _assert_error_shape(body: dict, code: str) -> None:
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_unauthenticated(api_client):
    response = api_client.get("/api/v1/conversations/")
    assert response.status_code == 401
    _assert_error_shape(response.json(), "not_authenticated")


def test_unknown_api_path_is_json(api_client):
    response = api_client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    _assert_error_shape(response.json(), "not_found")


def test_bad_cursor_is_a_clear_error_not_a_crash(api_client, agent):
    api_client.force_authenticate(agent)
    response = api_client.get("/api/v1/conversations/?cursor=%%%garbage")
    assert response.status_code == 404
    _assert_error_shape(response.json(), "not_found")
    assert "cursor" in response.json()["error"]["message"].lower()


def test_validation_errors_carry_per_field_details():
    token = request_id_var.set("req-validation-1")
    try:
        response = api_exception_handler(
            exceptions.ValidationError({"email": ["Enter a valid email."]}), {}
        )
    finally:
        request_id_var.reset(token)
    assert response.status_code == 400
    _assert_error_shape(response.data, "invalid")
    assert response.data["error"]["details"] == {"email": ["Enter a valid email."]}
    assert response.data["request_id"] == "req-validation-1"


def test_errors_speak_the_callers_language(api_client):
    response = api_client.get("/api/v1/conversations/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 401
    assert response.json()["error"]["message"] != "Authentication credentials were not provided."


def test_the_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/conversations/" in text and "tokenAuth" in text and "ErrorResponse" in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.content.decode()
