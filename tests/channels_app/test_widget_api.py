import datetime
import io

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from channels_app.widget.authentication import WidgetSendThrottle
from customers.enums import IdentityKind
from customers.models import Identity
from inbox.models import Conversation, Message
from tests.channels_app.widget_client import send, start, url
from tests.factories.channels import WebChannelFactory, WidgetConfigFactory

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def channel():
    return WidgetConfigFactory().channel


def test_a_session_starts_an_anonymous_visitor_and_records_the_page(channel):
    client, session = start(
        channel,
        context={"page_url": "https://shop.example.com/p?utm_source=ads", "utm_source": "ads"},
        HTTP_USER_AGENT="Mozilla/5.0 Test",
    )
    identity = Identity.objects.get(kind=IdentityKind.WEB_VISITOR, value=session["visitor_id"])
    assert session["conversation"] is None
    assert identity.details["context"]["utm_source"] == "ads"

    send(client, channel, "hi")
    conversation = Conversation.objects.get(customer=identity.customer)
    assert conversation.inbox_id == channel.inbox_id
    assert conversation.source["page_url"] == "https://shop.example.com/p?utm_source=ads"
    assert conversation.source["channel"] == "web"


def test_a_returning_visitor_continues_and_a_forged_token_starts_afresh(channel):
    client, first = start(channel)
    send(client, channel, "first visit")
    _, again = start(channel, token=first["token"])
    assert again["visitor_id"] == first["visitor_id"]
    assert again["conversation"]["last_seq"] == 1

    _, forged = start(channel, token=first["token"][:-2] + "xx")
    assert forged["visitor_id"] != first["visitor_id"]


def test_a_retried_send_is_stored_once_and_returns_the_same_message(channel):
    client, _ = start(channel)
    first = send(client, channel, "only once", client_id="c-1")
    retry = send(client, channel, "only once", client_id="c-1")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json() == retry.json()
    assert Message.objects.filter(body="only once").count() == 1


def test_the_idempotency_key_header_works_like_client_id(channel):
    client, _ = start(channel)
    for expected in (201, 200):
        response = client.post(
            url(channel, "messages"), {"body": "hdr"}, format="json", HTTP_IDEMPOTENCY_KEY="k-9"
        )
        assert response.status_code == expected
    assert Message.objects.filter(body="hdr").count() == 1


def test_messages_resume_after_a_seq(channel):
    client, _ = start(channel)
    for n in range(5):
        send(client, channel, f"m{n}")
    page = client.get(url(channel, "messages"), {"after": 2}).json()
    assert [m["seq"] for m in page["results"]] == [3, 4, 5]
    assert page["conversation"]["last_seq"] == 5
    older = client.get(url(channel, "messages"), {"before": 3, "limit": 1}).json()
    assert [m["seq"] for m in older["results"]] == [2]
    assert older["has_more"] is True


def test_a_visitor_reads_only_their_own_conversation(channel):
    alice, _ = start(channel)
    send(alice, channel, "alice's secret")
    bob, _ = start(channel)
    assert bob.get(url(channel, "messages")).json()["results"] == []

    other_channel = WebChannelFactory()
    alice_token = alice._credentials["HTTP_AUTHORIZATION"]
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=alice_token)
    response = stranger.get(url(other_channel, "messages"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_requests_without_a_session_are_refused(channel):
    response = APIClient().get(url(channel, "messages"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_an_unknown_or_inactive_widget_is_not_found(channel):
    channel.is_active = False
    channel.save()
    response = APIClient().post(url(channel, "session"), {}, format="json")
    assert response.status_code == 404


def test_the_prechat_form_enforces_the_channel_settings(channel):
    channel.widget.prechat_email = "required"
    channel.widget.prechat_phone = "optional"
    channel.widget.save()
    response = APIClient().post(
        url(channel, "session"), {"profile": {"phone": "call me"}}, format="json"
    )
    assert response.status_code == 400
    details = response.json()["error"]["details"]["profile"]
    assert set(details) == {"email", "phone"}

    _, session = start(
        channel, profile={"email": "ann@example.com", "phone": "+86 138 0013 8000", "name": "A"}
    )
    identity = Identity.objects.get(value=session["visitor_id"])
    # The name is not asked on this channel, so it is not stored.
    assert identity.details["prechat"] == {"email": "ann@example.com", "phone": "+86 138 0013 8000"}


def test_sending_too_fast_is_refused_with_a_wait(channel, monkeypatch):
    monkeypatch.setitem(WidgetSendThrottle.THROTTLE_RATES, "widget_send", "2/min")
    client, _ = start(channel)
    assert send(client, channel).status_code == 201
    assert send(client, channel).status_code == 201
    refused = send(client, channel)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "throttled"
    # Another visitor behind the same IP is not affected.
    neighbour, _ = start(channel)
    assert send(neighbour, channel).status_code == 201


def test_the_throttles_read_and_write_their_counters_in_one_round_trip_each(channel, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setitem(WidgetSendThrottle.THROTTLE_RATES, "widget_send", "2/min")
    client, _ = start(channel)
    calls = []
    for name in ("get", "set", "get_many", "set_many"):
        original = getattr(cache, name)
        monkeypatch.setattr(
            cache, name, lambda *a, _n=name, _o=original, **k: calls.append(_n) or _o(*a, **k)
        )
    assert send(client, channel).status_code == 201
    assert calls == ["get_many", "set_many"]
    assert send(client, channel).status_code == 201
    assert send(client, channel).status_code == 429


def test_a_chatting_visitor_is_marked_seen_at_most_once_a_minute(channel):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, _ = start(channel)
    assert send(client, channel).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert send(client, channel).status_code == 201
    assert not [q for q in queries if q["sql"].startswith('UPDATE "customers_customer"')]
    customer = Identity.objects.get(kind=IdentityKind.WEB_VISITOR).customer
    customer.last_seen_at -= datetime.timedelta(minutes=2)
    customer.save(update_fields=["last_seen_at"])
    with CaptureQueriesContext(connection) as queries:
        assert send(client, channel).status_code == 201
    assert [q for q in queries if q["sql"].startswith('UPDATE "customers_customer"')]


def test_an_image_is_accepted_and_served_by_its_signed_link(channel):
    client, _ = start(channel)
    upload = io.BytesIO(PNG)
    upload.name = "photo.png"
    response = client.post(url(channel, "attachments"), {"file": upload, "client_id": "f-1"})
    assert response.status_code == 201, response.content
    attachment = response.json()["attachments"][0]
    assert attachment["content_type"] == "image/png"
    assert attachment["is_image"] is True
    served = APIClient().get(attachment["url"])
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == PNG
    assert served["Content-Type"] == "image/png"
    assert "sandbox" in served["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>', "type"),
        ("photo.png", b"MZ\x90\x00" + b"\x00" * 64 + bytes(range(256)), "type"),
        ("big.png", PNG + b"\x00" * (2 * 2**20), "large"),
    ],
)
def test_files_of_the_wrong_type_or_size_are_refused_with_a_reason(channel, name, content, reason):
    channel.widget.attachment_max_mb = 1
    channel.widget.save()
    client, _ = start(channel)
    upload = io.BytesIO(content)
    upload.name = name
    response = client.post(url(channel, "attachments"), {"file": upload})
    assert response.status_code == 400
    assert reason in response.json()["error"]["details"]["file"][0]
    assert not Message.objects.exists()


def test_a_forged_or_expired_file_link_is_not_found(channel):
    response = APIClient().get(reverse("attachment-download", kwargs={"token": "abc:def"}))
    assert response.status_code == 404


def test_read_and_typing(channel, django_capture_on_commit_callbacks):
    client, _ = start(channel)
    send(client, channel, "one")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url(channel, "read"), {"seq": 99}, format="json").status_code == 204
    # Read state never passes the last message.
    assert Conversation.objects.get().customer_read_seq == 1
    assert client.post(url(channel, "typing"), {"typing": True}, format="json").status_code == 204
    assert client.post(url(channel, "typing"), {"typing": "x"}, format="json").status_code == 400


def test_set_user_without_a_hash_stores_what_the_website_reports_unverified(channel):
    client, session = start(channel)
    response = client.post(
        url(channel, "user"),
        {"id": "u-42", "name": "<script>", "email": "U@example.com"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["verified"] is False
    assert response.json()["token"] == session["token"]
    identity = Identity.objects.get(value=session["visitor_id"])
    assert identity.details["user"]["id"] == "u-42"
    assert "verified_user" not in identity.details
    assert identity.customer.display_name == "<script>"
    # The email is the customer's, unverified; the id without a hash is no identity at all.
    email = Identity.objects.get(kind=IdentityKind.EMAIL, value="u@example.com")
    assert (email.customer_id, email.verified) == (identity.customer_id, False)
    assert not Identity.objects.filter(kind=IdentityKind.WEB_USER).exists()
