"""A request that finds the database unavailable answers 503 with Retry-After, for pages
and the API alike, never a 500 (bench/faults.py restarts PostgreSQL under load)."""

import pytest
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView


def page_view(request):
    raise OperationalError("connection failed: server closed the connection unexpectedly")


class ApiView(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise InterfaceError("connection already closed")


def ok_view(request):
    return HttpResponse("ok")


class BrokenApiView(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        return Response({"n": 1 / 0})


urlpatterns = [
    path("page/", page_view),
    path("api/v1/thing/", ApiView.as_view()),
    path("ok/", ok_view),
    path("api/v1/broken/", BrokenApiView.as_view()),
]

pytestmark = pytest.mark.urls(__name__)


@pytest.mark.parametrize("url", ["/page/", "/api/v1/thing/"])
def test_database_unavailable_is_503_with_retry_after(client, url):
    response = client.get(url)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["error"]["code"] == "unavailable"
    assert body["request_id"] == response["X-Request-ID"]


def test_other_errors_are_untouched(client):
    assert client.get("/ok/").content == b"ok"
    client.raise_request_exception = False
    assert client.get("/api/v1/broken/").status_code == 500
