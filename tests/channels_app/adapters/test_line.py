import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from django.test import RequestFactory

from channels_app.adapters import adapter_for
from channels_app.adapters.base import (
    ContactEvent,
    Ignored,
    InboundMessage,
    MediaRef,
    MessageDeletion,
    OutboundFile,
    OutboundMessage,
    PayloadMalformed,
    PermanentError,
    SignatureInvalid,
    TransientError,
)
from channels_app.adapters.line import LineAdapter
from tests.channels_app.fake_provider import FakeProvider
from tests.factories.channels import ChannelFactory

from .sign_line import signature, webhook_request

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "line"
USER = "U4af4980629a1b2c3d4e5f60718293a4b"
RETRY_KEY = "6f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8"
SENT = {"sentMessages": [{"id": "461230966842064897", "quoteToken": "IStG5h1Tz7b"}]}


def load(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


@pytest.fixture
def channel():
    return ChannelFactory.build(kind="line")


@pytest.fixture
def adapter(channel) -> LineAdapter:
    return adapter_for(channel)


@pytest.fixture
def fake(settings):
    with FakeProvider() as fake:
        settings.LINE_API_URL = fake.url
        settings.LINE_DATA_API_URL = fake.url + "/data"
        yield fake


def post(body: bytes, **kwargs):
    return RequestFactory().generic("POST", "/webhooks/line/x/", data=body, **kwargs)


def events_of(adapter: LineAdapter, name: str) -> list:
    body = load(name)
    return [e for raw in adapter.split(body, post(body)) for e in adapter.parse(raw.payload)]


def one(adapter: LineAdapter, name: str):
    [event] = events_of(adapter, name)
    return event


def outbound(**kwargs) -> OutboundMessage:
    return OutboundMessage(recipient=USER, idempotency_key=RETRY_KEY, **kwargs)


# --- verify -------------------------------------------------------------------------------


def test_verify_accepts_lines_signature(adapter, channel):
    body = load("text")
    adapter.verify(post(body, **webhook_request(channel, body)))


def test_verify_refuses_a_tampered_body(adapter, channel):
    body = load("text")
    kwargs = webhook_request(channel, body)
    with pytest.raises(SignatureInvalid):
        adapter.verify(post(body.replace(b"Hello", b"Hallo"), **kwargs))


@pytest.mark.parametrize(
    "headers", [{}, {"X-Line-Signature": ""}, {"X-Line-Signature": signature("other", b"{}")}]
)
def test_verify_refuses_a_missing_or_wrong_signature(adapter, headers):
    with pytest.raises(SignatureInvalid):
        adapter.verify(post(b"{}", content_type="application/json", headers=headers))


# --- split ----------------------------------------------------------------------------------


def test_split_gives_each_event_its_own_key_and_keeps_the_destination(adapter):
    batch = json.loads(load("text"))
    batch["events"] += json.loads(load("follow"))["events"]
    body = json.dumps(batch).encode()
    first, second = adapter.split(body, post(body))
    assert first.dedupe_key == "event:01HZ8Q4N7TKXJ3M2B5C6D7E001"
    assert second.dedupe_key == "event:01HZ8Q4N7TKXJ3M2B5C6D7E010"
    assert first.payload == {"destination": batch["destination"], "event": batch["events"][0]}


def test_the_consoles_verify_request_has_no_events(adapter):
    body = load("verify_empty")
    assert adapter.split(body, post(body)) == []


@pytest.mark.parametrize("body", [b"nope", b"[]", b'{"destination": "U1"}', b'{"events": {}}'])
def test_split_refuses_what_is_not_a_line_webhook(adapter, body):
    with pytest.raises(PayloadMalformed):
        adapter.split(body, post(body))


# --- parse ----------------------------------------------------------------------------------

EXPECTED = {
    "text": InboundMessage,
    "quoted_text": InboundMessage,
    "sticker": InboundMessage,
    "image": InboundMessage,
    "image_external": InboundMessage,
    "video": InboundMessage,
    "audio": InboundMessage,
    "file": InboundMessage,
    "location": InboundMessage,
    "follow": ContactEvent,
    "unfollow": ContactEvent,
    "postback": InboundMessage,
    "postback_datetime": InboundMessage,
    "unsend": MessageDeletion,
    "standby": Ignored,
    "group_text": Ignored,
    "unknown_event": Ignored,
}


def test_every_payload_file_has_an_expectation():
    names = sorted(p.stem for p in PAYLOADS.glob("*.json"))
    assert names == sorted([*EXPECTED, "verify_empty"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_payload_file_parses_to_its_event(adapter, name):
    assert type(one(adapter, name)) is EXPECTED[name]


def test_text_message(adapter):
    event = one(adapter, "text")
    assert event.external_id == "510234567890123456"
    assert event.text == "Hello, is my order on its way?"
    assert event.sent_at == datetime(2024, 6, 5, 7, 0, 0, 123000, tzinfo=UTC)
    assert event.reply_token == "5f3a9c2be1d04f7a8b6c2d1e0f9a8b01"
    assert (event.sender.kind, event.sender.value, event.sender.name) == ("line", USER, "")


def test_a_quoted_message_points_at_the_original(adapter):
    assert one(adapter, "quoted_text").reply_to_external_id == "510234567890123455"


def test_sticker(adapter):
    event = one(adapter, "sticker")
    assert event.sticker == "446/1988"
    assert event.text == ""
    assert event.extra["sticker_keywords"] == ["Happy", "Smile", "OK"]


def test_media_is_referenced_by_message_id(adapter):
    assert one(adapter, "image").media == (MediaRef(ref="510234567890123462", kind="image"),)
    assert one(adapter, "video").media[0].kind == "video"
    assert one(adapter, "audio").media[0].kind == "audio"
    [file] = one(adapter, "file").media
    assert (file.ref, file.name, file.size, file.kind) == (
        "510234567890123466",
        "invoice-10045.pdf",
        48211,
        "file",
    )


def test_an_external_image_is_referenced_by_its_url(adapter):
    [media] = one(adapter, "image_external").media
    assert media.ref == "https://cdn.shop.example/photos/damaged-box.jpg"


def test_location(adapter):
    location = one(adapter, "location").location
    assert (location.latitude, location.longitude, location.name) == (
        35.681236,
        139.767125,
        "Tokyo Station",
    )


def test_follow_keeps_its_reply_token_and_unfollow_has_none(adapter):
    follow = one(adapter, "follow")
    assert (follow.action, follow.sender.value) == ("follow", USER)
    assert follow.reply_token
    unfollow = one(adapter, "unfollow")
    assert (unfollow.action, unfollow.reply_token) == ("unfollow", "")


def test_postback(adapter):
    event = one(adapter, "postback")
    assert event.postback.payload == "action=rate&value=good"
    assert event.external_id == "postback:01HZ8Q4N7TKXJ3M2B5C6D7E012"
    assert event.reply_token
    assert one(adapter, "postback_datetime").extra["postback_params"] == {
        "datetime": "2024-06-10T14:00"
    }


def test_unsend(adapter):
    event = one(adapter, "unsend")
    assert (event.external_id, event.sender.value) == ("510234567890123456", USER)


def test_standby_group_and_unknown_events_say_why_they_are_ignored(adapter):
    assert "standby" in one(adapter, "standby").reason
    assert "group" in one(adapter, "group_text").reason
    assert "beacon" in one(adapter, "unknown_event").reason


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"type": "message", "source": {"type": "user", "userId": USER}},
        {"type": "message", "source": {"type": "user", "userId": USER}, "message": {"id": "1"}},
        {"type": "message", "source": {"type": "user"}, "message": {"id": "1", "type": "text"}},
        {"type": "unsend", "source": {"type": "user", "userId": USER}},
        {"type": "message", "source": "user"},
    ],
)
def test_parse_is_total(adapter, event):
    assert all(isinstance(e, Ignored) for e in adapter.parse({"event": event}))


# --- media -----------------------------------------------------------------------------------


def test_media_fetch_downloads_from_the_data_api_with_the_token(adapter, fake):
    fake.reply(
        "GET",
        "/data/v2/bot/message/510234567890123462/content",
        200,
        b"\xff\xd8jpeg",
        headers={"Content-Type": "image/jpeg"},
    )
    media = adapter.media_fetch(MediaRef(ref="510234567890123462", kind="image"))
    assert (media.data, media.content_type) == (b"\xff\xd8jpeg", "image/jpeg")
    assert media.name == "line-image.jpg"
    assert fake.requests[0].headers["authorization"] == "Bearer line-token"


def test_media_still_being_prepared_is_transient(adapter, fake):
    fake.reply("GET", "/data/v2/bot/message/510234567890123464/content", 202, b"")
    with pytest.raises(TransientError):
        adapter.media_fetch(MediaRef(ref="510234567890123464", kind="video"))


def test_media_fetch_refuses_a_plain_http_link(adapter, fake):
    with pytest.raises(PermanentError):
        adapter.media_fetch(MediaRef(ref=fake.url + "/photo.jpg"))
    assert fake.requests == []


# --- send ------------------------------------------------------------------------------------


def test_a_fresh_reply_token_uses_the_free_reply_api(adapter, fake):
    fake.reply("POST", "/v2/bot/message/reply", 200, SENT)
    result = adapter.send(
        outbound(text="It ships today.", reply_token="rt-1", reply_token_at=datetime.now(UTC))
    )
    assert result.external_id == "461230966842064897"
    [request] = fake.requests
    assert request.path == "/v2/bot/message/reply"
    assert request.headers["authorization"] == "Bearer line-token"
    assert "x-line-retry-key" not in request.headers  # the reply API refuses it
    assert request.json() == {
        "replyToken": "rt-1",
        "messages": [{"type": "text", "text": "It ships today."}],
    }


@pytest.mark.parametrize("age", [timedelta(seconds=50), timedelta(minutes=5), None])
def test_a_stale_or_missing_reply_token_means_push_with_the_retry_key(adapter, fake, age):
    fake.reply("POST", "/v2/bot/message/push", 200, SENT)
    issued = datetime.now(UTC) - age if age else None
    result = adapter.send(outbound(text="Hi", reply_token="rt-1", reply_token_at=issued))
    assert result.external_id == "461230966842064897"
    [request] = fake.requests
    assert request.path == "/v2/bot/message/push"
    assert request.headers["x-line-retry-key"] == RETRY_KEY
    assert request.headers["authorization"] == "Bearer line-token"
    assert request.json() == {"to": USER, "messages": [{"type": "text", "text": "Hi"}]}


def test_an_invalid_reply_token_falls_back_to_push_in_the_same_call(adapter, fake):
    fake.reply("POST", "/v2/bot/message/reply", 400, {"message": "Invalid reply token"})
    fake.reply("POST", "/v2/bot/message/push", 200, SENT)
    result = adapter.send(outbound(text="Hi", reply_token="rt-1", reply_token_at=datetime.now(UTC)))
    assert result.external_id == "461230966842064897"
    assert [r.path for r in fake.requests] == ["/v2/bot/message/reply", "/v2/bot/message/push"]


def test_another_reply_error_does_not_fall_back(adapter, fake):
    fake.reply("POST", "/v2/bot/message/reply", 500, {"message": "Internal error"})
    with pytest.raises(TransientError):
        adapter.send(outbound(text="Hi", reply_token="rt-1", reply_token_at=datetime.now(UTC)))
    assert len(fake.requests) == 1


def test_a_409_on_a_retried_push_means_it_was_already_sent(adapter, fake):
    fake.reply(
        "POST",
        "/v2/bot/message/push",
        409,
        {"message": "The retry key is already accepted", **SENT},
        headers={"x-line-accepted-request-id": "d8e4e0a4-bd1b-4a4d-9c2f-3f8c1b3c1a11"},
    )
    assert adapter.send(outbound(text="Hi")).external_id == "461230966842064897"


def test_without_sent_messages_the_request_id_identifies_the_send(adapter, fake):
    fake.reply(
        "POST",
        "/v2/bot/message/push",
        409,
        {"message": "The retry key is already accepted"},
        headers={"x-line-accepted-request-id": "d8e4e0a4-bd1b-4a4d-9c2f-3f8c1b3c1a11"},
    )
    assert adapter.send(outbound(text="Hi")).external_id == "d8e4e0a4-bd1b-4a4d-9c2f-3f8c1b3c1a11"


def test_a_key_that_is_not_a_uuid_becomes_a_stable_uuid(adapter, fake):
    fake.reply("POST", "/v2/bot/message/push", 200, SENT)
    adapter.send(OutboundMessage(recipient=USER, text="a", idempotency_key="delivery-42"))
    adapter.send(OutboundMessage(recipient=USER, text="a", idempotency_key="delivery-42"))
    first, second = (r.headers["x-line-retry-key"] for r in fake.requests)
    assert first == second == str(uuid.UUID(first))


def png(url: str) -> OutboundFile:
    return OutboundFile(name="label.png", content_type="image/png", size=3, data=b"PNG", url=url)


def test_images_are_sent_by_their_public_link(adapter, fake):
    fake.reply("POST", "/v2/bot/message/push", 200, SENT)
    link = "https://support.example.com/media/signed/abc/label.png"
    adapter.send(outbound(text="Your label", files=(png(link),)))
    assert fake.requests[0].json()["messages"] == [
        {"type": "image", "originalContentUrl": link, "previewImageUrl": link},
        {"type": "text", "text": "Your label"},
    ]


@pytest.mark.parametrize(("url", "says"), [("", "PUBLIC_URL"), ("http://x.test/a.png", "HTTPS")])
def test_images_without_a_public_https_link_are_refused(adapter, fake, url, says):
    with pytest.raises(PermanentError) as caught:
        adapter.send(outbound(files=(png(url),)))
    assert says in caught.value.reason
    assert fake.requests == []


def test_files_other_than_images_are_refused(adapter):
    pdf = OutboundFile(
        name="a.pdf", content_type="application/pdf", size=1, data=b"%", url="https://x/a.pdf"
    )
    with pytest.raises(PermanentError):
        adapter.send(outbound(files=(pdf,)))


def test_rate_limit_is_transient(adapter, fake):
    fake.reply("POST", "/v2/bot/message/push", 429, {"message": "Too Many Requests"})
    with pytest.raises(TransientError) as caught:
        adapter.send(outbound(text="Hi"))
    assert caught.value.code == "429"


def test_the_monthly_quota_is_permanent_and_explained(adapter, fake):
    fake.reply(
        "POST", "/v2/bot/message/push", 429, {"message": "You have reached your monthly limit."}
    )
    with pytest.raises(PermanentError) as caught:
        adapter.send(outbound(text="Hi"))
    assert caught.value.code == "quota"
    assert "You have reached your monthly limit." in caught.value.reason


def test_server_error_and_timeout_are_transient(adapter, fake):
    fake.reply("POST", "/v2/bot/message/push", 500, {"message": "Internal server error"})
    with pytest.raises(TransientError):
        adapter.send(outbound(text="Hi"))
    adapter.timeout = httpx.Timeout(0.2)
    fake.reply("POST", "/v2/bot/message/reply", 200, SENT, delay=1)
    with pytest.raises(TransientError) as caught:
        adapter.send(outbound(text="Hi", reply_token="rt", reply_token_at=datetime.now(UTC)))
    assert caught.value.code == "timeout"


def test_a_refusal_is_permanent_with_lines_details(adapter, fake):
    fake.reply(
        "POST",
        "/v2/bot/message/push",
        400,
        {
            "message": "The request body has 1 error(s)",
            "details": [
                {"message": "Length must be between 0 and 5000", "property": "messages[0].text"}
            ],
        },
    )
    with pytest.raises(PermanentError) as caught:
        adapter.send(outbound(text="Hi"))
    assert caught.value.reason == (
        "LINE said: The request body has 1 error(s) "
        "(messages[0].text: Length must be between 0 and 5000)"
    )
    assert caught.value.code == "400"


# --- connect and profile ------------------------------------------------------------------

INFO = {
    "userId": "U8e37c3a1b2d4f5e6a7b8c9d0e1f2a3b4",
    "basicId": "@216ru...",
    "displayName": "Acme Support",
    "chatMode": "bot",
    "markAsReadMode": "auto",
}


def test_test_connection_names_the_account(adapter, fake):
    fake.reply("GET", "/v2/bot/info", 200, INFO)
    check = adapter.test_connection()
    assert (check.ok, check.message) == (True, "Connected to Acme Support")
    assert fake.requests[0].headers["authorization"] == "Bearer line-token"


def test_test_connection_reports_a_bad_token(adapter, fake):
    fake.reply("GET", "/v2/bot/info", 401, {"message": "Authentication failed"})
    check = adapter.test_connection()
    assert not check.ok
    assert "Authentication failed" in check.message


def connect_answers(fake, *, active=True, success=True):
    fake.reply("GET", "/v2/bot/info", 200, INFO)
    fake.reply("PUT", "/v2/bot/channel/webhook/endpoint", 200, {})
    fake.reply("GET", "/v2/bot/channel/webhook/endpoint", 200, {"endpoint": "x", "active": active})
    fake.reply(
        "POST",
        "/v2/bot/channel/webhook/test",
        200,
        {
            "success": success,
            "timestamp": "2024-06-05T07:00:00.000Z",
            "statusCode": 200 if success else 401,
            "reason": "OK" if success else "ERROR_STATUS_CODE",
            "detail": "200" if success else "401",
        },
    )


WEBHOOK = "https://support.example.com/webhooks/line/3f1c/"


def test_connect_sets_and_tests_the_webhook(adapter, fake):
    connect_answers(fake)
    check = adapter.connect(WEBHOOK)
    assert check.ok, check.message
    assert fake.sent("PUT", "/v2/bot/channel/webhook/endpoint")[0].json() == {"endpoint": WEBHOOK}
    assert fake.sent("POST", "/v2/bot/channel/webhook/test")[0].json() == {"endpoint": WEBHOOK}


def test_connect_asks_to_turn_on_use_webhook(adapter, fake):
    connect_answers(fake, active=False)
    check = adapter.connect(WEBHOOK)
    assert not check.ok
    assert "Use webhook" in check.message


def test_connect_reports_a_failed_webhook_test(adapter, fake):
    connect_answers(fake, success=False)
    check = adapter.connect(WEBHOOK)
    assert not check.ok
    assert "ERROR_STATUS_CODE" in check.message


def test_profile_fetch(adapter, fake):
    fake.reply(
        "GET",
        f"/v2/bot/profile/{USER}",
        200,
        {
            "displayName": "Mei",
            "userId": USER,
            "language": "ja",
            "pictureUrl": "https://profile.line-scdn.net/abc",
        },
    )
    sender = adapter.profile_fetch(USER)
    assert (sender.kind, sender.value, sender.name, sender.language) == ("line", USER, "Mei", "ja")
    assert sender.avatar_url == "https://profile.line-scdn.net/abc"


def test_declarations(adapter):
    assert (adapter.kind, adapter.identity_kind) == ("line", "line")
    assert [(f.name, f.secret) for f in adapter.fields] == [
        ("channel_secret", True),
        ("channel_access_token", True),
    ]
    assert adapter.rules.max_text_length == 5000
    assert adapter.rules.media_limits == {
        "image/jpeg": 10 * 1024 * 1024,
        "image/png": 10 * 1024 * 1024,
    }
    assert adapter.rules.max_files == 4
    assert adapter.rules.files_by_url
