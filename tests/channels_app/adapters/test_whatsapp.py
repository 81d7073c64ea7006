"""The WhatsApp Cloud API adapter against recorded payloads and a fake Graph API."""

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from django.test import RequestFactory

from channels_app.adapters import adapter_for
from channels_app.adapters.base import (
    ContactCard,
    Ignored,
    InboundMessage,
    Location,
    MediaRef,
    MessageDeletion,
    MessageEdit,
    OutboundFile,
    OutboundMessage,
    PayloadMalformed,
    PermanentError,
    Postback,
    Reaction,
    SignatureInvalid,
    StatusUpdate,
    TransientError,
)
from channels_app.adapters.whatsapp import WhatsAppAdapter
from channels_app.enums import ChannelKind
from tests.channels_app.fake_provider import FakeProvider
from tests.factories.channels import CREDENTIALS, SETTINGS, ChannelFactory

from .sign_whatsapp import webhook_request

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "whatsapp"
PHONE_ID = "106540352242922"
WABA_ID = "102290129340398"
CUSTOMER = "16505551234"
OUR_MESSAGE = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
MESSAGES_PATH = f"/v23.0/{PHONE_ID}/messages"
MEDIA_PATH = f"/v23.0/{PHONE_ID}/media"
URL = "/webhooks/whatsapp/00000000-0000-0000-0000-000000000000/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel():
    return ChannelFactory(kind=ChannelKind.WHATSAPP)


@pytest.fixture
def adapter(channel):
    return WhatsAppAdapter(channel)


@pytest.fixture
def fake(settings):
    with FakeProvider() as provider:
        settings.META_GRAPH_URL = provider.url
        settings.META_GRAPH_VERSION = "v23.0"
        yield provider


def sent_answer(message_id: str) -> dict:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
        "messages": [{"id": message_id}],
    }


def graph_error(code: int, message: str, details: str = "") -> dict:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": "AazWwF9-7vW2gQ7zK1h0nqS",
        }
    }


def events_of(adapter, name: str):
    body = (PAYLOADS / name).read_bytes()
    raw = adapter.split(body, None)
    # Payloads are stored as JSON and parsed later: parse what the database would return.
    return raw, [e for r in raw for e in adapter.parse(json.loads(json.dumps(r.payload)))]


def only(events, cls):
    assert len(events) == 1, events
    assert isinstance(events[0], cls), events[0]
    return events[0]


def at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


# --- Registry, form fields, rules -----------------------------------------------------


def test_registry_and_fields_match_the_factory(channel):
    adapter = adapter_for(channel)
    assert isinstance(adapter, WhatsAppAdapter)
    assert adapter.identity_kind == "whatsapp"
    secrets = {f.name for f in adapter.fields if f.secret}
    plain = {f.name for f in adapter.fields if not f.secret}
    assert secrets == set(CREDENTIALS[ChannelKind.WHATSAPP])
    assert set(SETTINGS[ChannelKind.WHATSAPP]) <= plain
    assert "default_region" in plain
    rules = adapter.rules
    assert rules.reply_window_hours == 24 and rules.outside_window == "template"
    assert rules.max_text_length == 4096
    assert rules.media_limits["image/jpeg"] == 5 * 1024 * 1024
    assert rules.media_limits["video/mp4"] == 16 * 1024 * 1024
    assert rules.media_limits["application/pdf"] == 100 * 1024 * 1024
    assert "image/gif" not in rules.media_limits


# --- Handshake and signatures ---------------------------------------------------------


def test_handshake_answers_the_challenge(adapter, channel):
    request = RequestFactory().get(
        URL,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": channel.webhook_secret,
            "hub.challenge": "1158201444",
        },
    )
    response = adapter.handshake(request)
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "SECRET", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {},
    ],
)
def test_handshake_refuses(adapter, channel, params):
    params = {k: channel.webhook_secret if v == "SECRET" else v for k, v in params.items()}
    response = adapter.handshake(RequestFactory().get(URL, params))
    assert response.status_code == 403
    assert b"1" not in response.content


def signed_post(channel, body: bytes, **override):
    kwargs = webhook_request(channel, body)
    headers = {**kwargs["headers"], **override}
    headers = {k: v for k, v in headers.items() if v is not None}
    return RequestFactory().generic(
        "POST", URL, data=body, content_type=kwargs["content_type"], headers=headers
    )


def test_verify_accepts_metas_signature(adapter, channel):
    adapter.verify(signed_post(channel, (PAYLOADS / "text.json").read_bytes()))


def test_verify_refuses_wrong_missing_or_tampered(adapter, channel):
    body = (PAYLOADS / "text.json").read_bytes()
    with pytest.raises(SignatureInvalid):
        adapter.verify(signed_post(channel, body, **{"X-Hub-Signature-256": "sha256=00ff"}))
    with pytest.raises(SignatureInvalid):
        adapter.verify(signed_post(channel, body, **{"X-Hub-Signature-256": None}))
    tampered = signed_post(channel, body)
    tampered._body = body.replace(b"color", b"colour")
    with pytest.raises(SignatureInvalid):
        adapter.verify(tampered)


def test_verify_refuses_without_an_app_secret(channel):
    body = (PAYLOADS / "text.json").read_bytes()
    request = signed_post(channel, body)
    channel.credentials = {"access_token": "wa-token"}
    with pytest.raises(SignatureInvalid):
        WhatsAppAdapter(channel).verify(request)


# --- Split and parse of every recorded payload ----------------------------------------


def check_text(events):
    message = only(events, InboundMessage)
    assert message.external_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert message.text == "Does it come in another color?"
    assert message.sent_at == at(1749416383)
    assert message.sender.kind == "whatsapp"
    assert message.sender.value == CUSTOMER
    assert message.sender.name == "Sheena Nelson"
    assert message.sender.phones == ("+16505551234",)
    assert message.reply_to_external_id == ""


def check_text_reply(events):
    message = only(events, InboundMessage)
    assert message.text == "Yes, the blue one please"
    assert message.reply_to_external_id == OUR_MESSAGE


def check_image(events):
    message = only(events, InboundMessage)
    assert message.media == (
        MediaRef(ref="1003383421387256", content_type="image/jpeg", kind="image"),
    )
    assert message.text == "This is the scratch on the box"


def check_video(events):
    message = only(events, InboundMessage)
    assert message.media[0].kind == "video"
    assert message.media[0].ref == "1238475926654321"
    assert message.text == ""


def check_audio_voice(events):
    media = only(events, InboundMessage).media[0]
    assert media.kind == "voice"
    assert media.content_type == "audio/ogg; codecs=opus"


def check_document(events):
    message = only(events, InboundMessage)
    assert message.media == (
        MediaRef(
            ref="2069463813612345",
            content_type="application/pdf",
            name="invoice-1042.pdf",
            kind="file",
        ),
    )
    assert message.text == "My invoice"


def check_sticker(events):
    media = only(events, InboundMessage).media[0]
    assert (media.kind, media.content_type) == ("sticker", "image/webp")


def check_location(events):
    assert only(events, InboundMessage).location == Location(
        latitude=37.483307,
        longitude=-122.148981,
        name="Meta Headquarters",
        address="1 Hacker Way, Menlo Park, CA 94025",
        url="https://www.meta.com",
    )


def check_contacts(events):
    assert only(events, InboundMessage).contacts == (
        ContactCard(
            name="Barbara J. Johnson",
            phones=("+1 (940) 555-1234",),
            emails=("bjohnson@example.com",),
            organization="Lucky Shrub",
        ),
    )


def check_interactive_button_reply(events):
    message = only(events, InboundMessage)
    assert message.postback == Postback(payload="confirm-order-1042", title="Confirm order")
    assert message.text == "Confirm order"
    assert message.reply_to_external_id == OUR_MESSAGE


def check_interactive_list_reply(events):
    message = only(events, InboundMessage)
    assert message.postback == Postback(payload="priority-express", title="Express shipping")
    assert message.text == "Express shipping"


def check_button_template_reply(events):
    message = only(events, InboundMessage)
    assert message.postback == Postback(payload="STOP_PROMOTIONS", title="Stop promotions")
    assert message.text == "Stop promotions"


def check_reaction(events):
    reaction = only(events, Reaction)
    assert reaction.external_id == OUR_MESSAGE
    assert reaction.emoji == "\U0001f44d"
    assert reaction.sender.value == CUSTOMER
    assert reaction.at == at(1749416700)


def check_reaction_removed(events):
    reaction = only(events, Reaction)
    assert reaction.external_id == OUR_MESSAGE
    assert reaction.emoji == ""


def check_referral_ad(events):
    message = only(events, InboundMessage)
    referral = message.referral
    assert message.text == "Hi! I saw your ad for the summer sale"
    assert referral.source == "ad"
    assert referral.source_id == "120226305854810726"
    assert referral.source_url == "https://fb.me/3cr4Wqqkv"
    assert referral.headline == "Lucky Shrub summer sale"
    assert referral.body.startswith("Summer sale")
    assert referral.click_id.startswith("ARAkLkA8rmlFeiCktEJQ")


def check_unsupported(events):
    assert "Message type unknown" in only(events, Ignored).reason


def check_edit(events):
    edit = only(events, MessageEdit)
    assert edit.external_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert edit.text == "Does it come in another colour?"
    assert edit.sender.value == CUSTOMER


def check_revoke(events):
    deletion = only(events, MessageDeletion)
    assert deletion.external_id == (
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    )
    assert deletion.at == at(1749416800)


def check_system_changed_number(events):
    assert "changed from" in only(events, Ignored).reason


def check_status(expected):
    def check(events):
        update = only(events, StatusUpdate)
        assert update.external_id == OUR_MESSAGE
        assert update.status == expected
        assert update.error == ""

    return check


def check_status_failed(events):
    update = only(events, StatusUpdate)
    assert update.status == "failed"
    assert update.error_code == "131047"
    assert "Re-engagement message" in update.error
    assert "24 hours" in update.error
    assert update.at == at(1749500000)


def check_unknown_event(events):
    assert "message_template_status_update" in only(events, Ignored).reason


EXPECTED = {
    "text.json": check_text,
    "text_reply.json": check_text_reply,
    "image.json": check_image,
    "video.json": check_video,
    "audio_voice.json": check_audio_voice,
    "document.json": check_document,
    "sticker.json": check_sticker,
    "location.json": check_location,
    "contacts.json": check_contacts,
    "interactive_button_reply.json": check_interactive_button_reply,
    "interactive_list_reply.json": check_interactive_list_reply,
    "button_template_reply.json": check_button_template_reply,
    "reaction.json": check_reaction,
    "reaction_removed.json": check_reaction_removed,
    "referral_ad.json": check_referral_ad,
    "unsupported.json": check_unsupported,
    "edit.json": check_edit,
    "revoke.json": check_revoke,
    "system_changed_number.json": check_system_changed_number,
    "status_sent.json": check_status("sent"),
    "status_delivered.json": check_status("delivered"),
    "status_read.json": check_status("read"),
    "status_failed.json": check_status_failed,
    "unknown_event.json": check_unknown_event,
}


def test_every_payload_file_is_checked():
    assert sorted(p.name for p in PAYLOADS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_split_and_parse(adapter, name):
    raw, events = events_of(adapter, name)
    assert len(raw) == 1
    data = json.loads((PAYLOADS / name).read_bytes())
    value = data["entry"][0]["changes"][0]["value"]
    if value.get("messages"):
        assert raw[0].dedupe_key == value["messages"][0]["id"]
    elif value.get("statuses"):
        status = value["statuses"][0]
        assert raw[0].dedupe_key == f"status:{status['id']}:{status['status']}"
    else:
        assert raw[0].dedupe_key.startswith("sha256:")
    EXPECTED[name](events)


def test_split_makes_one_self_contained_event_per_message_and_receipt(adapter):
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_ID,
                            },
                            "contacts": [
                                {"profile": {"name": "Ann"}, "wa_id": "447700900123"},
                                {"profile": {"name": "Bo"}, "wa_id": "5511987654321"},
                            ],
                            "messages": [
                                {
                                    "from": "5511987654321",
                                    "id": "wamid.B",
                                    "timestamp": "1749416383",
                                    "type": "text",
                                    "text": {"body": "Olá"},
                                },
                                {
                                    "from": "447700900123",
                                    "id": "wamid.A",
                                    "timestamp": "1749416384",
                                    "type": "text",
                                    "text": {"body": "Hello"},
                                },
                            ],
                            "statuses": [
                                {"id": "wamid.S", "status": "read", "timestamp": "1749416385"}
                            ],
                        },
                    }
                ],
            }
        ],
    }
    raw = adapter.split(json.dumps(body).encode(), None)
    assert [r.dedupe_key for r in raw] == ["wamid.B", "wamid.A", "status:wamid.S:read"]
    first, second = (adapter.parse(r.payload)[0] for r in raw[:2])
    assert (first.sender.value, first.sender.name, first.text) == ("5511987654321", "Bo", "Olá")
    assert (second.sender.value, second.sender.name) == ("447700900123", "Ann")
    assert raw[0].payload["metadata"]["phone_number_id"] == PHONE_ID
    assert adapter.parse(raw[2].payload)[0].status == "read"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"object": "page", "entry": []}).encode(),
        json.dumps({"object": "whatsapp_business_account", "entry": "x"}).encode(),
    ],
)
def test_split_refuses_what_is_not_a_whatsapp_webhook(adapter, body):
    with pytest.raises(PayloadMalformed):
        adapter.split(body, None)


def test_a_user_known_only_by_business_scoped_id(adapter):
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
        "contacts": [
            {"profile": {"name": "Bob", "username": "@bob"}, "user_id": "US.13491208655302741918"}
        ],
        "messages": [
            {
                "from_user_id": "US.13491208655302741918",
                "id": "wamid.U",
                "timestamp": "1749416383",
                "type": "text",
                "text": {"body": "hi"},
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }
    (raw,) = adapter.split(json.dumps(body).encode(), None)
    sender = adapter.parse(raw.payload)[0].sender
    assert sender.value == "US.13491208655302741918"
    assert sender.phones == ()
    assert sender.details == {"user_id": "US.13491208655302741918", "username": "@bob"}


def test_events_for_another_number_of_the_account_are_ignored(adapter):
    raw, _ = events_of(adapter, "text.json")
    payload = {**raw[0].payload, "metadata": {"phone_number_id": "999999999999999"}}
    assert isinstance(only(adapter.parse(payload), Ignored), Ignored)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"kind": "message", "message": "x"},
        {"kind": "message", "message": {"from": CUSTOMER, "id": "w", "type": "location"}},
        {
            "kind": "message",
            "message": {"from": CUSTOMER, "id": "w", "type": "location", "location": {}},
        },
        {"kind": "message", "message": {"from": CUSTOMER, "id": "w", "type": "image"}},
        {"kind": "message", "message": {"id": "w", "type": "text", "text": {"body": "x"}}},
        {"kind": "message", "message": {"from": CUSTOMER, "id": "w", "type": "carousel"}},
        {
            "kind": "message",
            "message": {
                "from": CUSTOMER,
                "group_id": "Y2FwaV9ncm91cDox",
                "id": "w",
                "type": "text",
                "text": {"body": "x"},
            },
        },
        {"kind": "status", "status": {"id": "w", "status": "warning"}},
        {"kind": "status", "status": None},
        {"kind": "other", "value": {"errors": [{"code": 130429, "title": "Rate limit hit"}]}},
    ],
)
def test_parse_is_total(adapter, payload):
    assert isinstance(only(adapter.parse(payload), Ignored), Ignored)


# --- Send -----------------------------------------------------------------------------


def test_send_text(adapter, fake):
    fake.reply("POST", MESSAGES_PATH, 200, sent_answer("wamid.OUT1"))
    result = adapter.send(OutboundMessage(recipient=CUSTOMER, text="Hello there"))
    assert result.external_id == "wamid.OUT1"
    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", MESSAGES_PATH)
    assert request.headers["authorization"] == "Bearer wa-token"
    assert request.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "text",
        "text": {"body": "Hello there", "preview_url": False},
    }


def test_send_reply_carries_the_context(adapter, fake):
    fake.reply("POST", MESSAGES_PATH, 200, sent_answer("wamid.OUT2"))
    adapter.send(OutboundMessage(recipient=CUSTOMER, text="Yes", reply_to_external_id="wamid.IN1"))
    assert fake.requests[0].json()["context"] == {"message_id": "wamid.IN1"}


def test_send_to_a_business_scoped_user_id(adapter, fake):
    fake.reply("POST", MESSAGES_PATH, 200, sent_answer("wamid.OUT3"))
    adapter.send(OutboundMessage(recipient="US.13491208655302741918", text="Hi"))
    data = fake.requests[0].json()
    assert data["recipient"] == "US.13491208655302741918"
    assert "to" not in data


def test_send_reads_local_numbers_in_the_default_region(channel, fake):
    channel.settings = {**channel.settings, "default_region": "GB"}
    adapter = WhatsAppAdapter(channel)
    fake.reply("POST", MESSAGES_PATH, 200, sent_answer("wamid.OUT4"))
    adapter.send(OutboundMessage(recipient="07911 123456", text="Hi"))
    adapter.send(OutboundMessage(recipient=CUSTOMER, text="Hi"))
    assert [r.json()["to"] for r in fake.requests] == ["447911123456", CUSTOMER]


@pytest.mark.parametrize(
    ("variables", "components"),
    [
        (
            ["Sheena", "1042"],
            [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Sheena"},
                        {"type": "text", "text": "1042"},
                    ],
                }
            ],
        ),
        (
            {"first_name": "Sheena"},
            [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "parameter_name": "first_name", "text": "Sheena"}
                    ],
                }
            ],
        ),
        ([], None),
    ],
)
def test_send_template(adapter, fake, variables, components):
    fake.reply("POST", MESSAGES_PATH, 200, sent_answer("wamid.TPL"))
    result = adapter.send(
        OutboundMessage(
            recipient=CUSTOMER,
            text="Hi Sheena, order 1042 is ready",
            template={"name": "order_ready", "language": "en_US", "variables": variables},
        )
    )
    assert result.external_id == "wamid.TPL"
    data = fake.requests[0].json()
    assert data["type"] == "template"
    expected = {"name": "order_ready", "language": {"code": "en_US"}}
    if components:
        expected["components"] = components
    assert data["template"] == expected
    assert "text" not in data


def test_send_image_uploads_first_then_sends_by_id_with_caption(adapter, fake):
    fake.reply("POST", MEDIA_PATH, 200, {"id": "1479537139650973"})
    fake.reply("POST", MESSAGES_PATH, 200, sent_answer("wamid.IMG"))
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg"
    result = adapter.send(
        OutboundMessage(
            recipient=CUSTOMER,
            text="Here is the blue one",
            files=(OutboundFile(name="blue.jpg", content_type="image/jpeg", size=14, data=jpeg),),
        )
    )
    assert result.external_id == "wamid.IMG"
    upload, send = fake.requests
    assert upload.path == MEDIA_PATH
    assert upload.headers["authorization"] == "Bearer wa-token"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b'name="messaging_product"\r\n\r\nwhatsapp' in upload.body
    assert b'filename="blue.jpg"' in upload.body
    assert jpeg in upload.body
    assert send.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "image",
        "image": {"id": "1479537139650973", "caption": "Here is the blue one"},
    }


def test_send_document_keeps_its_file_name(adapter, fake):
    fake.reply("POST", MEDIA_PATH, 200, {"id": "555"})
    fake.reply("POST", MESSAGES_PATH, 200, sent_answer("wamid.DOC"))
    adapter.send(
        OutboundMessage(
            recipient=CUSTOMER,
            files=(
                OutboundFile(
                    name="invoice.pdf", content_type="application/pdf", size=4, data=b"%PDF"
                ),
            ),
            reply_to_external_id="wamid.IN1",
        )
    )
    data = fake.sent("POST", MESSAGES_PATH)[0].json()
    assert data["document"] == {"id": "555", "filename": "invoice.pdf"}
    assert data["context"] == {"message_id": "wamid.IN1"}


def test_send_audio_with_text_sends_the_text_after_it(adapter, fake):
    fake.reply("POST", MEDIA_PATH, 200, {"id": "777"})
    fake.reply("POST", MESSAGES_PATH, 200, sent_answer("wamid.AUDIO"))
    fake.reply("POST", MESSAGES_PATH, 200, sent_answer("wamid.TEXT"))
    result = adapter.send(
        OutboundMessage(
            recipient=CUSTOMER,
            text="Listen to this",
            files=(OutboundFile(name="a.mp3", content_type="audio/mpeg", size=3, data=b"ID3"),),
        )
    )
    first, second = (r.json() for r in fake.sent("POST", MESSAGES_PATH))
    assert first["audio"] == {"id": "777"}
    assert second["text"] == {"body": "Listen to this", "preview_url": False}
    assert result.external_id == "wamid.AUDIO"


def test_a_failed_upload_sends_nothing(adapter, fake):
    fake.reply("POST", MEDIA_PATH, 400, graph_error(131053, "(#131053) Media upload error"))
    with pytest.raises(PermanentError) as caught:
        adapter.send(
            OutboundMessage(
                recipient=CUSTOMER,
                text="x",
                files=(OutboundFile(name="a.png", content_type="image/png", size=1, data=b"x"),),
            )
        )
    assert "Media upload error" in caught.value.reason
    assert fake.sent("POST", MESSAGES_PATH) == []


def test_429_is_transient_with_retry_after(adapter, fake):
    fake.reply(
        "POST",
        MESSAGES_PATH,
        429,
        graph_error(4, "(#4) Application request limit reached"),
        headers={"Retry-After": "7"},
    )
    with pytest.raises(TransientError) as caught:
        adapter.send(OutboundMessage(recipient=CUSTOMER, text="x"))
    assert caught.value.retry_after == 7.0
    assert "Application request limit reached" in caught.value.reason


def test_500_is_transient(adapter, fake):
    fake.reply("POST", MESSAGES_PATH, 500, "<html>Internal error</html>")
    with pytest.raises(TransientError) as caught:
        adapter.send(OutboundMessage(recipient=CUSTOMER, text="x"))
    assert caught.value.code == "500"


@pytest.mark.parametrize("code", [130429, 131056, 131016, 80007])
def test_throttling_codes_on_a_400_are_transient(adapter, fake, code):
    fake.reply("POST", MESSAGES_PATH, 400, graph_error(code, f"(#{code}) Rate limit hit"))
    with pytest.raises(TransientError) as caught:
        adapter.send(OutboundMessage(recipient=CUSTOMER, text="x"))
    assert caught.value.code == str(code)


def test_a_timeout_is_transient(adapter, fake, monkeypatch):
    monkeypatch.setattr(WhatsAppAdapter, "timeout", httpx.Timeout(0.2))
    fake.reply("POST", MESSAGES_PATH, 200, sent_answer("wamid.LATE"), delay=1.0)
    with pytest.raises(TransientError) as caught:
        adapter.send(OutboundMessage(recipient=CUSTOMER, text="x"))
    assert caught.value.code == "timeout"


def test_outside_the_window_is_permanent_with_a_reason(adapter, fake):
    fake.reply(
        "POST",
        MESSAGES_PATH,
        400,
        graph_error(
            131047,
            "(#131047) Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the "
            "customer last replied to this number.",
        ),
    )
    with pytest.raises(PermanentError) as caught:
        adapter.send(OutboundMessage(recipient=CUSTOMER, text="x"))
    assert caught.value.code == "131047"
    assert "template" in caught.value.reason  # what the agent can do
    assert "(#131047) Re-engagement message" in caught.value.reason  # Meta's own words


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (401, 190, "expired"),
        (500, 3, "permission"),  # Meta sends code 3 with a 500: retrying cannot help
        (400, 131026, "could not deliver"),
        (400, 132001, "template"),
        (400, 100, "invalid"),
    ],
)
def test_refusals_are_permanent(adapter, fake, status, code, words):
    fake.reply("POST", MESSAGES_PATH, status, graph_error(code, f"(#{code}) Refused"))
    with pytest.raises(PermanentError) as caught:
        adapter.send(OutboundMessage(recipient=CUSTOMER, text="x"))
    assert caught.value.code == str(code)
    assert words in caught.value.reason.lower()


# --- Media, templates, connection -----------------------------------------------------


def test_media_fetch(adapter, fake):
    media_url = f"{fake.url}/whatsapp_business/attachments/"
    fake.reply(
        "GET",
        "/v23.0/1003383421387256",
        200,
        {
            "messaging_product": "whatsapp",
            "url": media_url + "?mid=1003383421387256&ext=1749416500&hash=ATu",
            "mime_type": "image/jpeg",
            "sha256": "u0WU1zV1vUo",
            "file_size": 10,
            "id": "1003383421387256",
        },
    )
    fake.reply(
        "GET",
        "/whatsapp_business/attachments/",
        200,
        b"\xff\xd8\xff\xe0JFIF!",
        headers={"Content-Type": "image/jpeg"},
    )
    fetched = adapter.media_fetch(
        MediaRef(ref="1003383421387256", content_type="image/jpeg", kind="image")
    )
    assert fetched.data == b"\xff\xd8\xff\xe0JFIF!"
    assert fetched.content_type == "image/jpeg"
    assert fetched.name.startswith("whatsapp-1003383421387256.")
    info, download = fake.requests
    assert download.query["mid"] == "1003383421387256"
    assert info.headers["authorization"] == download.headers["authorization"] == "Bearer wa-token"


def test_media_fetch_refuses_a_file_too_large_before_downloading(adapter, fake, settings):
    settings.CHANNEL_MEDIA_MAX_MB = 1
    fake.reply(
        "GET",
        "/v23.0/42",
        200,
        {"url": f"{fake.url}/big", "mime_type": "video/mp4", "file_size": 2 * 1024 * 1024},
    )
    with pytest.raises(PermanentError):
        adapter.media_fetch(MediaRef(ref="42", kind="video"))
    assert fake.sent("GET", "/big") == []


def test_media_fetch_of_an_expired_media_id(adapter, fake):
    fake.reply("GET", "/v23.0/42", 400, graph_error(100, "(#100) Invalid parameter"))
    with pytest.raises(PermanentError):
        adapter.media_fetch(MediaRef(ref="42"))


def template(name: str, status: str, body: str) -> dict:
    return {
        "name": name,
        "language": "en_US",
        "status": status,
        "category": "UTILITY",
        "id": "594425479261596",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Order update"},
            {"type": "BODY", "text": body},
            {"type": "FOOTER", "text": "Lucky Shrub"},
        ],
    }


def test_templates_fetch_follows_paging(adapter, fake):
    path = f"/v23.0/{WABA_ID}/message_templates"
    fake.reply(
        "GET",
        path,
        200,
        {
            "data": [template("order_ready", "APPROVED", "Hi {{1}}, order {{2}} is ready")],
            "paging": {
                "cursors": {"before": "QVFI", "after": "QVFIUk"},
                "next": f"{fake.url}{path}?limit=100&after=QVFIUk",
            },
        },
    )
    fake.reply(
        "GET",
        path,
        200,
        {
            "data": [template("winback", "PAUSED", "We miss you, {{1}}")],
            "paging": {"cursors": {"before": "QVFIUk", "after": "QVFIUl"}},
        },
    )
    rows = adapter.templates_fetch()
    assert [(r["name"], r["status"]) for r in rows] == [
        ("order_ready", "approved"),
        ("winback", "paused"),
    ]
    assert rows[0]["body"] == "Hi {{1}}, order {{2}} is ready"
    assert rows[0]["language"] == "en_US"
    assert rows[0]["category"] == "utility"
    assert [c["type"] for c in rows[0]["components"]] == ["HEADER", "BODY", "FOOTER"]
    first, second = fake.requests
    assert first.query["fields"] == "name,language,status,category,components"
    assert second.query["after"] == "QVFIUk"
    assert second.headers["authorization"] == "Bearer wa-token"


def test_templates_fetch_never_follows_paging_to_another_host(adapter, fake):
    fake.reply(
        "GET",
        f"/v23.0/{WABA_ID}/message_templates",
        200,
        {
            "data": [template("order_ready", "APPROVED", "Hi")],
            "paging": {"next": "https://evil.example/steal?after=x"},
        },
    )
    assert len(adapter.templates_fetch()) == 1
    assert len(fake.requests) == 1


def test_test_connection(adapter, fake):
    fake.reply(
        "GET",
        f"/v23.0/{PHONE_ID}",
        200,
        {"display_phone_number": "+1 555-078-3881", "verified_name": "Lucky Shrub", "id": PHONE_ID},
    )
    check = adapter.test_connection()
    assert check.ok
    assert check.message == "Connected to +1 555-078-3881 (Lucky Shrub)."
    assert fake.requests[0].query["fields"] == "display_phone_number,verified_name"
    assert fake.requests[0].headers["authorization"] == "Bearer wa-token"


def test_test_connection_explains_an_expired_token(adapter, fake):
    fake.reply(
        "GET",
        f"/v23.0/{PHONE_ID}",
        401,
        graph_error(190, "Error validating access token: Session has expired"),
    )
    check = adapter.test_connection()
    assert not check.ok
    assert "expired" in check.message
    assert "Session has expired" in check.message


def test_test_connection_without_a_phone_number_id(channel, fake):
    channel.settings = {}
    check = WhatsAppAdapter(channel).test_connection()
    assert not check.ok
    assert fake.requests == []


def test_connect_subscribes_the_app_and_overrides_the_numbers_callback(adapter, channel, fake):
    fake.reply("POST", f"/v23.0/{WABA_ID}/subscribed_apps", 200, {"success": True})
    fake.reply("POST", f"/v23.0/{PHONE_ID}", 200, {"success": True})
    fake.reply(
        "GET",
        f"/v23.0/{PHONE_ID}",
        200,
        {"display_phone_number": "+1 555-078-3881", "verified_name": "Lucky Shrub"},
    )
    url = f"https://support.example.com/webhooks/whatsapp/{channel.uuid}/"
    check = adapter.connect(url)
    assert check.ok, check.message
    assert url in check.message
    override = fake.sent("POST", f"/v23.0/{PHONE_ID}")[0].json()
    assert override == {
        "webhook_configuration": {
            "override_callback_uri": url,
            "verify_token": channel.webhook_secret,
        }
    }
