"""The generic API channel: Standard Webhooks signatures both ways, the JSON contract of
docs/channels/api.md, and delivery to the integrator's outbound URL (a FakeProvider)."""

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from django.test import RequestFactory

from channels_app.adapters import adapter_class, adapter_for
from channels_app.adapters.api import ApiAdapter, outbound_url_allowed, sign, signing_key
from channels_app.adapters.base import (
    FetchedMedia,
    Ignored,
    InboundMessage,
    MediaRef,
    MessageDeletion,
    MessageEdit,
    OutboundFile,
    OutboundMessage,
    PayloadMalformed,
    PermanentError,
    Reaction,
    SignatureInvalid,
    StatusUpdate,
    TransientError,
)
from channels_app.services.rules import media_limit
from tests.channels_app.adapters.sign_api import webhook_request
from tests.channels_app.fake_provider import FakeProvider
from tests.factories.channels import ChannelFactory

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "api"
URL = "/webhooks/api/{}/"


def payload_body(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


@pytest.fixture
def channel():
    return ChannelFactory(kind="api", webhook_secret="s3cr3t-url-safe_value-for-tests")


@pytest.fixture
def fake():
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def sending_channel(fake):
    return ChannelFactory(
        kind="api",
        webhook_secret="s3cr3t-url-safe_value-for-tests",
        settings={"outbound_url": f"{fake.url}/switchboard/outbound"},
    )


def signed_request(channel, body: bytes, **headers):
    """A POST to the webhook URL, signed like sign_api does, headers overridable (None
    removes one)."""
    kwargs = webhook_request(channel, body)
    merged = {**kwargs["headers"], **headers}
    merged = {name: value for name, value in merged.items() if value is not None}
    return RequestFactory().generic(
        "POST",
        URL.format(channel.uuid),
        data=body,
        content_type=kwargs["content_type"],
        headers=merged,
    )


def stored(event_payload: dict) -> dict:
    # What parse sees: the payload after a round trip through the JSONField.
    return json.loads(json.dumps(event_payload))


def split_and_parse(adapter, name: str):
    body = payload_body(name)
    events = adapter.split(body, signed_request(adapter.channel, body))
    assert len(events) == 1
    return events[0], adapter.parse(stored(events[0].payload))


# --- Signing -----------------------------------------------------------------------------


def test_sign_matches_the_standard_webhooks_reference_vector():
    # The test vector of the reference library (standard-webhooks, libraries/python tests).
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_plain_secret_signs_with_its_utf8_bytes():
    body = '{"text":"你好"}'.encode()
    digest = hmac.new(b"plain-secret", b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert sign("plain-secret", "msg_1", 1700000000, body) == (
        "v1," + base64.b64encode(digest).decode()
    )


def test_signing_key_decodes_whsec_and_refuses_what_cannot_sign():
    assert signing_key("whsec_" + base64.b64encode(b"k" * 24).decode()) == b"k" * 24
    assert signing_key("whsec_" + base64.b64encode(b"k" * 24).decode().rstrip("=")) == b"k" * 24
    assert signing_key("abc-_DEF") == b"abc-_DEF"
    for secret in ("", "whsec_", "whsec_not*base64!"):
        with pytest.raises(ValueError):
            signing_key(secret)


# --- verify ------------------------------------------------------------------------------


def test_a_correctly_signed_request_is_accepted(channel):
    body = payload_body("text.json")
    ApiAdapter(channel).verify(signed_request(channel, body))


def test_a_whsec_channel_secret_is_used_as_base64_key_bytes(channel):
    key = b"\x00\x01binary key bytes\xff" * 2
    channel.webhook_secret = "whsec_" + base64.b64encode(key).decode()
    body = payload_body("text.json")
    timestamp = int(time.time())
    digest = hmac.new(key, f"msg_abc.{timestamp}.".encode() + body, hashlib.sha256).digest()
    request = signed_request(
        channel,
        body,
        **{
            "webhook-id": "msg_abc",
            "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        },
    )
    ApiAdapter(channel).verify(request)


def test_a_wrong_secret_is_refused(channel):
    body = payload_body("text.json")
    request = signed_request(channel, body)
    channel.webhook_secret = "another-secret"
    with pytest.raises(SignatureInvalid):
        ApiAdapter(channel).verify(request)


def test_a_tampered_body_is_refused(channel):
    body = payload_body("text.json")
    request = signed_request(channel, body)
    request._body = body.replace(b"night cream", b"day cream")
    with pytest.raises(SignatureInvalid):
        ApiAdapter(channel).verify(request)


def test_a_signature_for_another_webhook_id_is_refused(channel):
    body = payload_body("text.json")
    request = signed_request(channel, body, **{"webhook-id": "msg_other"})
    with pytest.raises(SignatureInvalid):
        ApiAdapter(channel).verify(request)


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(channel, header):
    request = signed_request(channel, payload_body("text.json"), **{header: None})
    with pytest.raises(SignatureInvalid, match="required"):
        ApiAdapter(channel).verify(request)


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_a_timestamp_more_than_five_minutes_off_is_refused(channel, offset):
    body = payload_body("text.json")
    timestamp = int(time.time()) + offset
    request = signed_request(
        channel,
        body,
        **{
            "webhook-timestamp": str(timestamp),
            # Correctly signed: only the time is wrong.
            "webhook-signature": sign(channel.webhook_secret, "msg_t", timestamp, body),
            "webhook-id": "msg_t",
        },
    )
    with pytest.raises(SignatureInvalid, match="5 minutes"):
        ApiAdapter(channel).verify(request)


def test_a_timestamp_within_five_minutes_is_accepted(channel):
    body = payload_body("text.json")
    timestamp = int(time.time()) - 290
    request = signed_request(
        channel,
        body,
        **{
            "webhook-id": "msg_t",
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(channel.webhook_secret, "msg_t", timestamp, body),
        },
    )
    ApiAdapter(channel).verify(request)


@pytest.mark.parametrize("value", ["1700000000.5", "soon", "-1700000000"])
def test_a_timestamp_that_is_not_whole_seconds_is_refused(channel, value):
    request = signed_request(channel, payload_body("text.json"), **{"webhook-timestamp": value})
    with pytest.raises(SignatureInvalid):
        ApiAdapter(channel).verify(request)


def test_one_valid_signature_among_several_is_enough(channel):
    body = payload_body("text.json")
    valid = webhook_request(channel, body)["headers"]["webhook-signature"]
    header = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v1a," + valid.partition(",")[2],
            valid,
            "garbage",
        ]
    )
    request = signed_request(channel, body, **{"webhook-signature": header})
    ApiAdapter(channel).verify(request)


def test_several_signatures_none_valid_are_refused(channel):
    body = payload_body("text.json")
    valid = webhook_request(channel, body)["headers"]["webhook-signature"]
    header = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2," + valid.partition(",")[2]
    request = signed_request(channel, body, **{"webhook-signature": header})
    with pytest.raises(SignatureInvalid):
        ApiAdapter(channel).verify(request)


def test_a_webhook_id_with_a_dot_is_refused(channel):
    body = payload_body("text.json")
    timestamp = int(time.time())
    request = signed_request(
        channel,
        body,
        **{
            "webhook-id": "msg.1",
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(channel.webhook_secret, "msg.1", timestamp, body),
        },
    )
    with pytest.raises(SignatureInvalid, match="dot"):
        ApiAdapter(channel).verify(request)


def test_a_channel_without_secret_refuses_everything(channel):
    request = signed_request(channel, payload_body("text.json"))
    channel.webhook_secret = ""
    with pytest.raises(SignatureInvalid):
        ApiAdapter(channel).verify(request)


# --- split and parse: every stored payload -------------------------------------------------

EXPECTED = {
    "text.json": ("message.created:6650a1f2000000001e03b7c4", InboundMessage),
    "image.json": ("message.created:6650a21b000000001e03b7d9", InboundMessage),
    "file.json": ("message.created:6650a3c8000000001e03b802", InboundMessage),
    "reply.json": ("message.created:6650a4d1000000001e03b81a", InboundMessage),
    "referral.json": ("message.created:6650a012000000001e03b790", InboundMessage),
    "status_delivered.json": ("status:xhs-out-8c41d0e2:delivered", StatusUpdate),
    "status_read.json": ("status:xhs-out-8c41d0e2:read", StatusUpdate),
    "status_failed.json": ("status:xhs-out-9b27f6a0:failed", StatusUpdate),
    "edited.json": ("message.updated:6650a4d1000000001e03b81a:msg_", MessageEdit),
    "deleted.json": ("message.deleted:6650a21b000000001e03b7d9", MessageDeletion),
    "reaction.json": (
        "message.reaction:xhs-out-8c41d0e2:5f1e2d3c000000000101a2b3:msg_",
        Reaction,
    ),
    "unknown_event.json": ("webhook:msg_", Ignored),
    "ping.json": ("webhook:msg_", Ignored),
}


def test_every_payload_file_has_an_expectation():
    assert sorted(path.name for path in PAYLOADS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_payload_splits_into_one_event_and_parses(channel, name):
    adapter = ApiAdapter(channel)
    raw, events = split_and_parse(adapter, name)
    key, event_class = EXPECTED[name]
    assert raw.dedupe_key.startswith(key)
    assert len(raw.dedupe_key) <= 255
    assert len(events) == 1
    assert isinstance(events[0], event_class)
    # Sent twice with the same webhook-id: the same key, so the second is a replay.
    body = payload_body(name)
    again = adapter.split(body, signed_request(channel, body))
    assert again[0].dedupe_key == raw.dedupe_key


def test_a_text_message_names_an_unverified_external_contact(channel):
    _, [message] = split_and_parse(ApiAdapter(channel), "text.json")
    assert message.external_id == "6650a1f2000000001e03b7c4"
    assert message.text.startswith("你好")
    assert message.sent_at == datetime(2025, 6, 3, 8, 15, 26, 412000, tzinfo=UTC)
    sender = message.sender
    assert sender.kind == "external"
    assert sender.value == f"{channel.uuid}:5f1e2d3c000000000101a2b3"
    assert sender.name == "小林 Lin"
    assert sender.avatar_url.endswith("5f1e2d3c000000000101a2b3.jpg")
    assert sender.language == "zh-CN"
    # Typed by the user on the other platform: details only, never verified identities.
    assert sender.phones == () and sender.emails == ()
    assert sender.details == {"email": "lin.xiaoyu@mail.example", "phone": "+8613800138000"}


def test_an_image_message_carries_its_link(channel):
    _, [message] = split_and_parse(ApiAdapter(channel), "image.json")
    assert message.text == ""
    assert message.sent_at == datetime.fromtimestamp(1748938567, UTC)
    assert message.media == (
        MediaRef(
            ref="https://bridge.shop.example/media/6650a21b000000001e03b7d9/0.jpg",
            content_type="image/jpeg",
            name="IMG_2041.jpg",
            size=284113,
            kind="image",
        ),
    )
    assert message.sender.details == {}


def test_file_kinds_come_from_the_content_type_unless_given(channel):
    _, [message] = split_and_parse(ApiAdapter(channel), "file.json")
    assert [media.kind for media in message.media] == ["file", "voice"]
    assert message.sent_at == datetime(2025, 6, 3, 0, 24, 40, tzinfo=UTC)


def test_a_reply_and_a_referral(channel):
    _, [reply] = split_and_parse(ApiAdapter(channel), "reply.json")
    assert reply.reply_to_external_id == "xhs-out-8c41d0e2"
    _, [message] = split_and_parse(ApiAdapter(channel), "referral.json")
    assert message.referral.source == "post"
    assert message.referral.source_id == "6648e5a7000000001303c2b1"
    assert message.referral.headline == "Summer sale: 3 creams for 2"
    assert message.referral.ref == "summer-sale-2025"


def test_statuses(channel):
    adapter = ApiAdapter(channel)
    _, [read] = split_and_parse(adapter, "status_read.json")
    assert read == StatusUpdate(
        external_id="xhs-out-8c41d0e2", status="read", at=datetime.fromtimestamp(1748938850, UTC)
    )
    _, [failed] = split_and_parse(adapter, "status_failed.json")
    assert failed.status == "failed"
    assert failed.error.startswith("The user has restricted messages")
    assert failed.error_code == "recipient_restricted"


def test_edit_delete_and_reaction(channel):
    adapter = ApiAdapter(channel)
    contact = f"{channel.uuid}:5f1e2d3c000000000101a2b3"
    _, [edit] = split_and_parse(adapter, "edited.json")
    assert (edit.external_id, edit.text, edit.sender.value) == (
        "6650a4d1000000001e03b81a",
        "Yes, the 30 ml one please.",
        contact,
    )
    _, [deletion] = split_and_parse(adapter, "deleted.json")
    assert deletion.external_id == "6650a21b000000001e03b7d9"
    assert deletion.at == datetime(2025, 6, 3, 8, 33, 12, tzinfo=UTC)
    _, [reaction] = split_and_parse(adapter, "reaction.json")
    assert (reaction.external_id, reaction.emoji, reaction.sender.value) == (
        "xhs-out-8c41d0e2",
        "❤️",
        contact,
    )


def test_two_edits_of_one_message_are_two_events(channel):
    adapter = ApiAdapter(channel)
    body = payload_body("edited.json")
    first = adapter.split(body, signed_request(channel, body, **{"webhook-id": "msg_edit1"}))
    second = adapter.split(body, signed_request(channel, body, **{"webhook-id": "msg_edit2"}))
    assert first[0].dedupe_key != second[0].dedupe_key


def test_the_event_time_falls_back_to_the_body_timestamp_then_the_header(channel):
    adapter = ApiAdapter(channel)
    body = json.dumps(
        {
            "type": "message.created",
            "timestamp": "2025-01-02T03:04:05Z",
            "data": {"id": "m1", "contact": {"id": 42}, "text": "hi"},
        }
    ).encode()
    [raw] = adapter.split(body, signed_request(channel, body))
    [message] = adapter.parse(stored(raw.payload))
    assert message.sent_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    # An integer contact id is an id like any other.
    assert message.sender.value == f"{channel.uuid}:42"

    body = json.dumps(
        {"type": "message.status", "data": {"id": "out-1", "status": "delivered"}}
    ).encode()
    request = signed_request(channel, body, **{"webhook-timestamp": "1748938000"})
    [raw] = adapter.split(body, request)
    [status] = adapter.parse(stored(raw.payload))
    assert status.at == datetime.fromtimestamp(1748938000, UTC)


def test_an_unknown_type_is_stored_by_webhook_id_and_ignored(channel):
    adapter = ApiAdapter(channel)
    body = payload_body("unknown_event.json")
    [raw] = adapter.split(body, signed_request(channel, body, **{"webhook-id": "msg_42"}))
    assert raw.dedupe_key == "webhook:msg_42"
    [event] = adapter.parse(stored(raw.payload))
    assert isinstance(event, Ignored)
    assert "contact.followed" in event.reason


def test_split_without_a_request_keys_by_body(channel):
    body = payload_body("ping.json")
    [raw] = ApiAdapter(channel).split(body, None)
    assert raw.dedupe_key.startswith("webhook:sha256:")


MALFORMED = [
    (b"not json", "JSON"),
    (b"[1, 2]", "JSON object"),
    ({"data": {}}, '"type"'),
    ({"type": 7, "data": {}}, '"type"'),
    ({"type": "message.created"}, '"data"'),
    ({"type": "message.created", "data": []}, '"data"'),
    ({"type": "message.created", "data": {"contact": {"id": "u"}, "text": "x"}}, '"data.id"'),
    ({"type": "message.created", "data": {"id": "m", "text": "x"}}, '"data.contact"'),
    (
        {"type": "message.created", "data": {"id": "m", "contact": {"name": "A"}, "text": "x"}},
        '"data.contact.id"',
    ),
    (
        {"type": "message.created", "data": {"id": "m", "contact": {"id": True}, "text": "x"}},
        '"data.contact.id"',
    ),
    (
        {"type": "message.created", "data": {"id": "m", "contact": {"id": "u"}, "text": 5}},
        '"data.text"',
    ),
    (
        {"type": "message.created", "data": {"id": "m", "contact": {"id": "u"}, "text": " "}},
        '"data.text" or "data.attachments"',
    ),
    (
        {
            "type": "message.created",
            "data": {"id": "m", "contact": {"id": "u", "email": ["a@b.c"]}, "text": "x"},
        },
        '"data.contact.email"',
    ),
    (
        {
            "type": "message.created",
            "data": {"id": "m", "contact": {"id": "u"}, "attachments": {"url": "x"}},
        },
        '"data.attachments"',
    ),
    (
        {
            "type": "message.created",
            "data": {
                "id": "m",
                "contact": {"id": "u"},
                "attachments": [{"url": "ftp://files.example/a.jpg"}],
            },
        },
        '"data.attachments[0].url"',
    ),
    (
        {
            "type": "message.created",
            "data": {
                "id": "m",
                "contact": {"id": "u"},
                "attachments": [{"url": "https://files.example/a.jpg"}, {"name": "b.jpg"}],
            },
        },
        '"data.attachments[1].url"',
    ),
    (
        {
            "type": "message.created",
            "data": {
                "id": "m",
                "contact": {"id": "u"},
                "attachments": [{"url": "https://files.example/a.jpg", "size": -1}],
            },
        },
        '"data.attachments[0].size"',
    ),
    (
        {
            "type": "message.created",
            "data": {
                "id": "m",
                "contact": {"id": "u"},
                "attachments": [{"url": "https://files.example/a", "kind": "hologram"}],
            },
        },
        '"data.attachments[0].kind"',
    ),
    (
        {
            "type": "message.created",
            "data": {"id": "m", "contact": {"id": "u"}, "text": "x", "sent_at": "yesterday"},
        },
        '"data.sent_at"',
    ),
    (
        {
            "type": "message.created",
            "data": {"id": "m", "contact": {"id": "u"}, "text": "x", "referral": {"ref": "a"}},
        },
        '"data.referral.source"',
    ),
    (
        {"type": "message.created", "data": {"id": "m" * 201, "contact": {"id": "u"}, "text": "x"}},
        '"data.id"',
    ),
    ({"type": "message.status", "data": {"id": "o", "status": "seen"}}, '"data.status"'),
    ({"type": "message.status", "data": {"status": "read"}}, '"data.id"'),
    (
        {"type": "message.updated", "data": {"id": "m", "contact": {"id": "u"}}},
        '"data.text"',
    ),
    ({"type": "message.deleted", "data": {"id": "m"}}, '"data.contact"'),
    (
        {"type": "message.reaction", "data": {"contact": {"id": "u"}, "emoji": "👍"}},
        '"data.message_id"',
    ),
]


@pytest.mark.parametrize(("body", "field"), MALFORMED)
def test_a_wrong_shape_is_refused_naming_the_field(channel, body, field):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(PayloadMalformed) as caught:
        ApiAdapter(channel).split(raw, signed_request(channel, raw))
    assert field in str(caught.value)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "message.created", "data": {"id": "m", "text": "no contact"}},
        {"type": "message.status", "data": "read"},
        {"type": "message.reaction"},
        {"no": "type"},
    ],
)
def test_parse_is_total(channel, payload):
    [event] = ApiAdapter(channel).parse(payload)
    assert isinstance(event, Ignored)


# --- media_fetch -----------------------------------------------------------------------------


def test_media_is_downloaded_from_its_link(channel, fake):
    fake.reply("GET", "/media/0.jpg", 200, b"\xff\xd8jpeg", headers={"Content-Type": "image/jpeg"})
    fetched = ApiAdapter(channel).media_fetch(MediaRef(ref=f"{fake.url}/media/0.jpg"))
    assert fetched == FetchedMedia(data=b"\xff\xd8jpeg", content_type="image/jpeg", name="0.jpg")


def test_media_follows_a_redirect_and_keeps_the_given_name(channel, fake):
    fake.reply("GET", "/media/a", 302, b"", headers={"Location": f"{fake.url}/cdn/a.pdf"})
    fake.reply("GET", "/cdn/a.pdf", 200, b"%PDF-1.7", headers={"Content-Type": "application/pdf"})
    fetched = ApiAdapter(channel).media_fetch(
        MediaRef(ref=f"{fake.url}/media/a", name="receipt.pdf")
    )
    assert (fetched.data, fetched.content_type, fetched.name) == (
        b"%PDF-1.7",
        "application/pdf",
        "receipt.pdf",
    )


@pytest.mark.parametrize(
    "ref", ["file:///etc/passwd", "ftp://files.example/a.jpg", "gopher://x/", "/media/0.jpg"]
)
def test_media_links_other_than_http_are_refused(channel, ref):
    with pytest.raises(PermanentError):
        ApiAdapter(channel).media_fetch(MediaRef(ref=ref))


def test_a_redirect_to_another_scheme_is_refused(channel, fake):
    fake.reply("GET", "/media/evil", 302, b"", headers={"Location": "file:///etc/passwd"})
    with pytest.raises(PermanentError):
        ApiAdapter(channel).media_fetch(MediaRef(ref=f"{fake.url}/media/evil"))


def test_media_errors(channel, fake):
    fake.reply("GET", "/media/gone", 404, "expired link")
    fake.reply("GET", "/media/busy", 503, "busy", headers={"Retry-After": "3"})
    adapter = ApiAdapter(channel)
    with pytest.raises(PermanentError, match="expired link"):
        adapter.media_fetch(MediaRef(ref=f"{fake.url}/media/gone"))
    with pytest.raises(TransientError) as caught:
        adapter.media_fetch(MediaRef(ref=f"{fake.url}/media/busy"))
    assert caught.value.retry_after == 3


def test_media_larger_than_the_limit_is_refused(channel, fake, settings):
    settings.CHANNEL_MEDIA_MAX_MB = 1
    fake.reply("GET", "/media/big", 200, b"x" * (1024 * 1024 + 1))
    with pytest.raises(PermanentError, match="larger than 1 MB"):
        ApiAdapter(channel).media_fetch(MediaRef(ref=f"{fake.url}/media/big"))


# --- send ---------------------------------------------------------------------------------

OUTBOUND = "/switchboard/outbound"


def outbound(channel, **fields) -> OutboundMessage:
    values = {
        "recipient": f"{channel.uuid}:5f1e2d3c000000000101a2b3",
        "text": "It is back in stock: 30 ml and 50 ml.",
        "idempotency_key": "0b6c9a52-4f7e-4d0a-9f51-3c2e8d1a7b90",
    }
    return OutboundMessage(**(values | fields))


def test_send_posts_a_signed_message(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 200, {"id": "xhs-out-8c41d0e2"})
    before = int(time.time())
    result = ApiAdapter(sending_channel).send(
        outbound(
            sending_channel,
            reply_to_external_id="6650a1f2000000001e03b7c4",
            thread_key="note-6648e5a7",
            files=(
                OutboundFile(
                    name="price-list.pdf",
                    content_type="application/pdf",
                    size=1234,
                    data=b"%PDF",
                    url="https://desk.shop.example/files/abc/",
                ),
            ),
        )
    )
    assert result.external_id == "xhs-out-8c41d0e2"
    assert result.status == "sent"

    [request] = fake.sent("POST", OUTBOUND)
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == "msg_0b6c9a52-4f7e-4d0a-9f51-3c2e8d1a7b90"
    timestamp = int(headers["webhook-timestamp"])
    assert before <= timestamp <= int(time.time())
    assert headers["webhook-signature"] == sign(
        sending_channel.webhook_secret, headers["webhook-id"], timestamp, request.body
    )
    assert request.json() == {
        "type": "message.created",
        "data": {
            "id": "0b6c9a52-4f7e-4d0a-9f51-3c2e8d1a7b90",
            "conversation": "note-6648e5a7",
            "recipient": {"id": "5f1e2d3c000000000101a2b3"},
            "text": "It is back in stock: 30 ml and 50 ml.",
            "attachments": [
                {
                    "url": "https://desk.shop.example/files/abc/",
                    "name": "price-list.pdf",
                    "content_type": "application/pdf",
                    "size": 1234,
                }
            ],
            "reply_to": "6650a1f2000000001e03b7c4",
            "template": None,
        },
    }


def test_what_we_send_verifies_with_our_own_inbound_check(sending_channel, fake):
    # The receiver's check is the one we apply to inbound calls: run it on our request.
    fake.reply("POST", OUTBOUND, 204)
    ApiAdapter(sending_channel).send(outbound(sending_channel))
    [sent] = fake.sent("POST", OUTBOUND)
    request = RequestFactory().generic(
        "POST",
        "/",
        data=sent.body,
        content_type="application/json",
        headers={name: sent.headers[name] for name in ("webhook-id", "webhook-timestamp")}
        | {"webhook-signature": sent.headers["webhook-signature"]},
    )
    ApiAdapter(sending_channel).verify(request)


def test_the_webhook_id_is_the_external_id_when_the_answer_has_none(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 202, "accepted")
    result = ApiAdapter(sending_channel).send(outbound(sending_channel))
    assert result.external_id == "msg_0b6c9a52-4f7e-4d0a-9f51-3c2e8d1a7b90"


def test_the_webhook_id_is_stable_across_retries(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 503, "down")
    fake.reply("POST", OUTBOUND, 200, {"id": 991})
    adapter = ApiAdapter(sending_channel)
    message = outbound(sending_channel)
    with pytest.raises(TransientError):
        adapter.send(message)
    assert adapter.send(message).external_id == "991"
    first, second = fake.sent("POST", OUTBOUND)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.json()["data"]["id"] == second.json()["data"]["id"]
    # Another message gets another id.
    adapter.send(outbound(sending_channel, idempotency_key="another-key"))
    assert fake.sent("POST", OUTBOUND)[2].headers["webhook-id"] == "msg_another-key"


def test_a_whsec_secret_signs_outbound_with_its_key_bytes(sending_channel, fake):
    key = b"0123456789abcdef01234567"
    sending_channel.webhook_secret = "whsec_" + base64.b64encode(key).decode()
    fake.reply("POST", OUTBOUND, 200, {})
    ApiAdapter(sending_channel).send(outbound(sending_channel))
    [sent] = fake.sent("POST", OUTBOUND)
    signed = f"{sent.headers['webhook-id']}.{sent.headers['webhook-timestamp']}.".encode()
    digest = hmac.new(key, signed + sent.body, hashlib.sha256).digest()
    assert sent.headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()


def test_a_template_is_passed_on(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 200, {})
    template = {"name": "restock", "language": "zh_CN", "variables": ["面霜"]}
    ApiAdapter(sending_channel).send(outbound(sending_channel, text="", template=template))
    assert fake.sent("POST", OUTBOUND)[0].json()["data"]["template"] == template


def test_429_is_transient_with_retry_after(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 429, "slow down", headers={"Retry-After": "7"})
    with pytest.raises(TransientError) as caught:
        ApiAdapter(sending_channel).send(outbound(sending_channel))
    assert caught.value.retry_after == 7
    assert caught.value.code == "429"


def test_500_is_transient(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 500, "boom")
    with pytest.raises(TransientError) as caught:
        ApiAdapter(sending_channel).send(outbound(sending_channel))
    assert caught.value.retry_after is None
    assert "boom" in caught.value.reason


@pytest.mark.parametrize("status", [408, 502, 503, 504])
def test_other_temporary_failures_are_transient(sending_channel, fake, status):
    fake.reply("POST", OUTBOUND, status, "try later")
    with pytest.raises(TransientError) as caught:
        ApiAdapter(sending_channel).send(outbound(sending_channel))
    assert caught.value.code == str(status)


def test_a_timeout_is_transient(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 200, {}, delay=1.0)
    adapter = ApiAdapter(sending_channel)
    adapter.timeout = httpx.Timeout(0.2)
    with pytest.raises(TransientError) as caught:
        adapter.send(outbound(sending_channel))
    assert caught.value.code == "timeout"


def test_an_unreachable_receiver_is_transient(sending_channel, fake):
    sending_channel.settings["outbound_url"] = "http://127.0.0.1:9/closed"
    with pytest.raises(TransientError):
        ApiAdapter(sending_channel).send(outbound(sending_channel))


def test_400_is_permanent_with_the_receivers_words(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 400, {"error": "recipient 5f1e… is unknown"})
    with pytest.raises(PermanentError) as caught:
        ApiAdapter(sending_channel).send(outbound(sending_channel))
    assert caught.value.code == "400"
    assert "recipient 5f1e… is unknown" in caught.value.reason


def test_410_gone_is_permanent(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 410, "endpoint retired " + "x" * 1000)
    with pytest.raises(PermanentError) as caught:
        ApiAdapter(sending_channel).send(outbound(sending_channel))
    assert caught.value.code == "410"
    assert "410" in caught.value.reason
    assert "endpoint retired" in caught.value.reason
    assert len(caught.value.reason) < 450


def test_a_redirect_is_not_followed(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 301, "", headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(PermanentError):
        ApiAdapter(sending_channel).send(outbound(sending_channel))
    assert len(fake.requests) == 1


def test_send_without_outbound_url_is_permanent(channel):
    with pytest.raises(PermanentError) as caught:
        ApiAdapter(channel).send(outbound(channel))
    assert caught.value.code == "no_outbound_url"


def test_plain_http_to_another_host_is_refused(channel):
    channel.settings = {"outbound_url": "http://bridge.shop.example/outbound"}
    with pytest.raises(PermanentError) as caught:
        ApiAdapter(channel).send(outbound(channel))
    assert caught.value.code == "bad_outbound_url"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://bridge.shop.example/in", True),
        ("http://localhost:8080/in", True),
        ("http://bridge.localhost/in", True),
        ("http://127.0.0.1:9000/in", True),
        ("http://[::1]:9000/in", True),
        ("http://10.0.0.5/in", False),
        ("http://bridge.shop.example/in", False),
        ("ftp://bridge.shop.example/in", False),
        ("https:///in", False),
        ("bridge.shop.example/in", False),
    ],
)
def test_outbound_url_allowed(url, allowed):
    assert outbound_url_allowed(url) is allowed


def test_a_file_without_a_public_link_is_refused(sending_channel, fake):
    file = OutboundFile(name="a.pdf", content_type="application/pdf", size=4, data=b"%PDF")
    with pytest.raises(PermanentError) as caught:
        ApiAdapter(sending_channel).send(outbound(sending_channel, files=(file,)))
    assert caught.value.code == "no_public_url"
    assert fake.requests == []


def test_a_recipient_of_another_channel_is_refused(sending_channel, fake):
    other = ChannelFactory(kind="api")
    with pytest.raises(PermanentError) as caught:
        ApiAdapter(sending_channel).send(outbound(sending_channel, recipient=f"{other.uuid}:u1"))
    assert caught.value.code == "foreign_recipient"
    assert fake.requests == []


# --- test_connection, declarations -------------------------------------------------------------


def test_connection_pings_the_receiver(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 200, {"ok": True})
    check = ApiAdapter(sending_channel).test_connection()
    assert check.ok
    assert "200" in check.message
    [ping] = fake.sent("POST", OUTBOUND)
    assert ping.json() == {"type": "ping", "data": {}}
    assert ping.headers["webhook-id"].startswith("ping_")
    assert ping.headers["webhook-signature"] == sign(
        sending_channel.webhook_secret,
        ping.headers["webhook-id"],
        int(ping.headers["webhook-timestamp"]),
        ping.body,
    )


def test_connection_reports_a_refusal(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 401, "bad signature")
    check = ApiAdapter(sending_channel).test_connection()
    assert not check.ok
    assert "401" in check.message and "bad signature" in check.message


def test_connection_reports_an_unreachable_receiver(sending_channel):
    sending_channel.settings["outbound_url"] = "http://127.0.0.1:9/closed"
    check = ApiAdapter(sending_channel).test_connection()
    assert not check.ok


def test_connection_without_outbound_url_says_so(channel):
    check = ApiAdapter(channel).test_connection()
    assert not check.ok
    assert "outbound URL" in check.message


def test_the_adapter_is_registered_and_declares_its_rules(channel):
    assert adapter_class("api") is ApiAdapter
    assert isinstance(adapter_for(channel), ApiAdapter)
    assert ApiAdapter.identity_kind == "external"
    assert ApiAdapter.rules.max_text_length == 10_000
    assert ApiAdapter.rules.files_by_url
    for content_type in ("image/heic", "application/octet-stream", "video/mp4", "text/csv"):
        assert media_limit(ApiAdapter.rules, content_type) == 25 * 1024 * 1024
    assert ApiAdapter.rules.reply_window_hours is None
    [field] = ApiAdapter.fields
    assert (field.name, field.secret, field.required) == ("outbound_url", False, False)
    assert field.help_text


def test_a_refusal_quotes_the_receivers_text_when_it_is_not_json(sending_channel, fake):
    fake.reply("POST", OUTBOUND, 422, "  text\n is   required  ")
    with pytest.raises(PermanentError) as caught:
        ApiAdapter(sending_channel).send(outbound(sending_channel))
    assert caught.value.reason.endswith("HTTP 422: text is required")


# --- Through the webhook URL ----------------------------------------------------------------


def test_the_webhook_url_stores_a_delivery_once(client, channel):
    body = payload_body("text.json")
    url = URL.format(channel.uuid)
    for _ in range(2):
        response = client.generic("POST", url, data=body, **webhook_request(channel, body))
        assert response.status_code == 200
    assert list(channel.inbound_events.values_list("dedupe_key", flat=True)) == [
        "message.created:6650a1f2000000001e03b7c4"
    ]


def test_the_webhook_url_refuses_a_bad_signature_and_names_a_bad_field(client, channel):
    url = URL.format(channel.uuid)
    body = payload_body("text.json")
    kwargs = webhook_request(channel, body)
    kwargs["headers"]["webhook-signature"] = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    assert client.generic("POST", url, data=body, **kwargs).status_code == 403

    body = json.dumps({"type": "message.created", "data": {"id": "m", "text": "x"}}).encode()
    response = client.generic("POST", url, data=body, **webhook_request(channel, body))
    assert response.status_code == 400
    assert '"data.contact"' in response.json()["error"]["message"]
    assert not channel.inbound_events.exists()
