"""The widget's REST API as the frame calls it, for the widget tests."""

import uuid

from django.urls import reverse
from rest_framework.test import APIClient


def url(channel, name):
    return reverse(f"widget-{name}", kwargs={"public_key": channel.public_key})


def start(channel, client=None, **body):
    client = client or APIClient()
    response = client.post(url(channel, "session"), body, format="json")
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Visitor {token}")
    return client, response.json()


def send(client, channel, body="hello", client_id=None):
    return client.post(
        url(channel, "messages"),
        {"client_id": client_id or uuid.uuid4().hex, "body": body},
        format="json",
    )
