import json
import logging
from datetime import UTC, datetime
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
    MessageEdit,
    OutboundFile,
    OutboundMessage,
    PayloadMalformed,
    PermanentError,
    RawEvent,
    SignatureInvalid,
    TransientError,
)
from channels_app.adapters.telegram import TelegramAdapter
from tests.channels_app.fake_provider import FakeProvider
from tests.factories.channels import ChannelFactory

from .sign_telegram import webhook_request

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "telegram"
TOKEN = "123456:ABC-test-token"
API = f"/bot{TOKEN}"
CUSTOMER = "412345678"


def load(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


@pytest.fixture
def channel():
    return ChannelFactory.build(kind="telegram")


@pytest.fixture
def adapter(channel) -> TelegramAdapter:
    return adapter_for(channel)


@pytest.fixture
def fake(settings):
    with FakeProvider() as fake:
        settings.TELEGRAM_API_URL = fake.url
        yield fake


def post(body: bytes, **kwargs):
    return RequestFactory().generic("POST", "/webhooks/telegram/x/", data=body, **kwargs)


def events_of(adapter: TelegramAdapter, name: str) -> list:
    body = load(name)
    [raw] = adapter.split(body, post(body))
    return adapter.parse(raw.payload)


def one(adapter: TelegramAdapter, name: str):
    [event] = events_of(adapter, name)
    return event


def ok(result: dict) -> dict:
    return {"ok": True, "result": result}


def sent_message(message_id: int, chat_id: int = int(CUSTOMER)) -> dict:
    return ok({"message_id": message_id, "chat": {"id": chat_id, "type": "private"}, "date": 1})


# --- verify -------------------------------------------------------------------------------


def test_verify_accepts_the_secret_token_telegram_repeats(adapter, channel):
    body = load("text")
    adapter.verify(post(body, **webhook_request(channel, body)))


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}])
def test_verify_refuses_a_missing_or_wrong_token(adapter, headers):
    with pytest.raises(SignatureInvalid):
        adapter.verify(post(load("text"), content_type="application/json", headers=headers))


def test_verify_never_matches_when_the_channel_has_no_secret(channel):
    channel.webhook_secret = ""
    request = post(b"{}", headers={"X-Telegram-Bot-Api-Secret-Token": ""})
    with pytest.raises(SignatureInvalid):
        TelegramAdapter(channel).verify(request)


# --- split ----------------------------------------------------------------------------------


def test_split_keeps_one_update_keyed_by_its_update_id(adapter):
    body = load("text")
    assert adapter.split(body, post(body)) == [
        RawEvent(dedupe_key="update:702104001", payload=json.loads(body))
    ]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}', b'{"update_id": true}'],
)
def test_split_refuses_what_is_not_an_update(adapter, body):
    with pytest.raises(PayloadMalformed):
        adapter.split(body, post(body))


def test_split_records_when_a_button_press_arrived(adapter):
    body = load("callback")
    [raw] = adapter.split(body, post(body))
    assert abs(raw.payload["received_at"] - datetime.now(UTC).timestamp()) < 5


# --- parse ----------------------------------------------------------------------------------

EXPECTED = {
    "text": InboundMessage,
    "start_link": InboundMessage,
    "reply": InboundMessage,
    "photo": InboundMessage,
    "document": InboundMessage,
    "voice": InboundMessage,
    "video": InboundMessage,
    "audio": InboundMessage,
    "sticker": InboundMessage,
    "location": InboundMessage,
    "venue": InboundMessage,
    "contact": InboundMessage,
    "edited": MessageEdit,
    "callback": InboundMessage,
    "group": Ignored,
    "channel_post": Ignored,
    "blocked": ContactEvent,
    "unblocked": ContactEvent,
    "poll": Ignored,
    "unknown_event": Ignored,
}


def test_every_payload_file_has_an_expectation():
    assert sorted(p.stem for p in PAYLOADS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_payload_file_parses_to_its_event(adapter, name):
    assert type(one(adapter, name)) is EXPECTED[name]


def test_text_message(adapter):
    event = one(adapter, "text")
    assert event.external_id == f"{CUSTOMER}:1365"
    assert event.text == "Hello, is my order on its way?"
    assert event.sent_at == datetime(2024, 6, 5, 7, 0, tzinfo=UTC)
    assert event.sender.kind == "telegram"
    assert event.sender.value == CUSTOMER
    assert event.sender.name == "Mei Tanaka"
    assert event.sender.language == "ja"
    assert event.sender.details == {"username": "mei_t"}
    assert event.sender.phones == ()
    assert not event.sender.is_bot


def test_a_start_link_payload_is_a_referral(adapter):
    event = one(adapter, "start_link")
    assert event.text == "/start spring_sale"
    assert event.referral.source == "link"
    assert event.referral.ref == "spring_sale"


def test_a_reply_points_at_the_message_it_answers(adapter):
    assert one(adapter, "reply").reply_to_external_id == f"{CUSTOMER}:1370"


def test_photo_takes_the_largest_size_and_the_caption(adapter):
    event = one(adapter, "photo")
    assert event.text == "The box arrived damaged"
    assert event.media == (
        MediaRef(
            ref="AgACAgIAAxkBAAIBXWZgAAE1photo1280",
            content_type="image/jpeg",
            size=182733,
            kind="image",
        ),
    )


@pytest.mark.parametrize(
    ("name", "ref", "content_type", "kind", "filename"),
    [
        (
            "document",
            "BQACAgIAAxkBAAIBXmZgAAE2invoice",
            "application/pdf",
            "file",
            "invoice-10045.pdf",
        ),
        ("voice", "AwACAgIAAxkBAAIBX2ZgAAE3voice", "audio/ogg", "voice", ""),
        ("video", "BAACAgIAAxkBAAIBYGZgAAE4video", "video/mp4", "video", "unboxing.mp4"),
        ("audio", "CQACAgIAAxkBAAIBYWZgAAE5audio", "audio/mpeg", "audio", "jingle.mp3"),
        ("sticker", "CAACAgIAAxkBAAIBYmZgAAE6sticker", "image/webp", "sticker", ""),
    ],
)
def test_files_are_media_refs_by_file_id(adapter, name, ref, content_type, kind, filename):
    [media] = one(adapter, name).media
    assert (media.ref, media.content_type, media.kind, media.name) == (
        ref,
        content_type,
        kind,
        filename,
    )


def test_document_keeps_caption_and_size(adapter):
    event = one(adapter, "document")
    assert event.text == "Invoice"
    assert event.media[0].size == 48211


def test_sticker_keeps_its_emoji(adapter):
    assert one(adapter, "sticker").sticker == "👍"


def test_an_animated_sticker_is_only_its_emoji(adapter):
    update = json.loads(load("sticker"))
    update["message"]["sticker"]["is_animated"] = True
    [event] = adapter.parse(update)
    assert event.sticker == "👍"
    assert event.media == ()


def test_location_and_venue(adapter):
    location = one(adapter, "location").location
    assert (location.latitude, location.longitude) == (35.659108, 139.703728)
    venue = one(adapter, "venue").location
    assert venue.name == "Tokyo Station"
    assert venue.address.startswith("1 Chome Marunouchi")


def test_a_shared_own_contact_proves_the_senders_phone(adapter):
    event = one(adapter, "contact")
    assert event.contacts[0].name == "Mei Tanaka"
    assert event.contacts[0].phones == ("819012345678",)
    assert event.sender.phones == ("+819012345678",)


def test_someone_elses_contact_proves_nothing_about_the_sender(adapter):
    update = json.loads(load("contact"))
    update["message"]["contact"]["user_id"] = 999
    [event] = adapter.parse(update)
    assert event.contacts[0].phones == ("819012345678",)
    assert event.sender.phones == ()


def test_edited_message(adapter):
    event = one(adapter, "edited")
    assert event.external_id == f"{CUSTOMER}:1365"
    assert event.text == "Hello, is my order #10045 on its way?"
    assert event.at == datetime(2024, 6, 5, 7, 1, tzinfo=UTC)


def test_a_live_location_edit_is_ignored(adapter):
    update = {
        "update_id": 1,
        "edited_message": {**json.loads(load("location"))["message"], "edit_date": 1717571760},
    }
    assert isinstance(adapter.parse(update)[0], Ignored)


def test_callback_is_a_postback_titled_by_the_pressed_button(adapter):
    event = one(adapter, "callback")
    assert event.external_id == "callback:1770999004512345678"
    assert event.postback.payload == "rate:good"
    assert event.postback.title == "👍 Good"
    assert event.sender.value == CUSTOMER
    assert event.extra["message_external_id"] == f"{CUSTOMER}:1371"


def test_callback_without_a_matching_button_has_no_title(adapter):
    update = json.loads(load("callback"))
    update["callback_query"]["data"] = "rate:later"
    [event] = adapter.parse(update)
    assert event.postback.payload == "rate:later"
    assert event.postback.title == ""


def test_group_and_channel_posts_are_ignored_with_a_reason(adapter):
    assert "supergroup" in one(adapter, "group").reason
    assert isinstance(one(adapter, "channel_post"), Ignored)


def test_a_message_from_a_bot_is_ignored(adapter):
    update = json.loads(load("text"))
    update["message"]["from"]["is_bot"] = True
    [event] = adapter.parse(update)
    assert isinstance(event, Ignored)
    assert "bot" in event.reason


def test_blocking_and_unblocking_the_bot(adapter):
    blocked = one(adapter, "blocked")
    assert (blocked.action, blocked.sender.value) == ("unfollow", CUSTOMER)
    assert blocked.at == datetime(2024, 6, 5, 7, 23, 20, tzinfo=UTC)
    assert one(adapter, "unblocked").action == "follow"


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 1, "message": "text"},
        {"update_id": 1, "message": {"chat": {"type": "private"}, "from": {"id": 5}}},
        {"update_id": 1, "message": {"message_id": 1, "chat": {"type": "private"}}},
        {"update_id": 1, "my_chat_member": {"chat": {"type": "private"}, "new_chat_member": {}}},
        {"update_id": 1},
    ],
)
def test_parse_is_total(adapter, update):
    assert all(isinstance(e, Ignored) for e in adapter.parse(update))


def test_acknowledging_a_button_press_answers_the_callback_in_the_response(adapter):
    body = load("callback")
    response = adapter.acknowledge(adapter.split(body, post(body)))
    assert response.status_code == 200
    assert json.loads(response.content) == {
        "method": "answerCallbackQuery",
        "callback_query_id": "1770999004512345678",
    }
    text = load("text")
    plain = adapter.acknowledge(adapter.split(text, post(text)))
    assert (plain.status_code, plain.content) == (200, b"")


# --- media -----------------------------------------------------------------------------------


def test_media_fetch_asks_for_the_path_then_downloads_the_file(adapter, fake):
    fake.reply(
        "POST",
        f"{API}/getFile",
        200,
        ok({"file_id": "BQAC", "file_size": 5, "file_path": "documents/file_7.pdf"}),
    )
    fake.reply("GET", f"/file{API}/documents/file_7.pdf", 200, b"%PDF-")
    media = adapter.media_fetch(
        MediaRef(ref="BQAC", content_type="application/pdf", name="invoice.pdf")
    )
    assert (media.data, media.content_type, media.name) == (
        b"%PDF-",
        "application/pdf",
        "invoice.pdf",
    )
    assert fake.sent("POST", f"{API}/getFile")[0].json() == {"file_id": "BQAC"}


def test_media_fetch_guesses_type_and_name_from_the_path(adapter, fake):
    fake.reply("POST", f"{API}/getFile", 200, ok({"file_path": "voice/file_3.oga"}))
    fake.reply("GET", f"/file{API}/voice/file_3.oga", 200, b"OggS")
    media = adapter.media_fetch(MediaRef(ref="AwAC"))
    assert media.name == "file_3.oga"
    assert media.content_type.startswith("audio/")


def test_media_fetch_of_a_file_over_20_mb_is_refused_for_good(adapter, fake):
    fake.reply(
        "POST",
        f"{API}/getFile",
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: file is too big"},
    )
    with pytest.raises(PermanentError) as caught:
        adapter.media_fetch(MediaRef(ref="BAAC"))
    assert "20 MB" in caught.value.reason
    assert "file is too big" in caught.value.reason


# --- send ------------------------------------------------------------------------------------


def test_send_text(adapter, fake):
    fake.reply("POST", f"{API}/sendMessage", 200, sent_message(1400))
    result = adapter.send(OutboundMessage(recipient=CUSTOMER, text="It ships today."))
    assert result.external_id == f"{CUSTOMER}:1400"
    [request] = fake.requests
    assert request.path == f"{API}/sendMessage"
    assert request.json() == {"chat_id": CUSTOMER, "text": "It ships today."}


def test_the_bot_token_in_the_url_never_reaches_the_log(adapter, fake, caplog):
    fake.reply("POST", f"{API}/getFile", 200, ok({"file_path": "photos/file_1.jpg"}))
    fake.reply("GET", f"/file{API}/photos/file_1.jpg", 200, b"jpeg")
    with caplog.at_level(logging.INFO, logger="httpx"):
        adapter.media_fetch(MediaRef(ref="AgAC"))
    assert "/bot[redacted]/getFile" in caplog.text
    assert "/file/bot[redacted]/photos/file_1.jpg" in caplog.text
    assert TOKEN not in caplog.text


def test_send_a_reply(adapter, fake):
    fake.reply("POST", f"{API}/sendMessage", 200, sent_message(1401))
    adapter.send(
        OutboundMessage(recipient=CUSTOMER, text="Yes", reply_to_external_id=f"{CUSTOMER}:1365")
    )
    assert fake.requests[0].json()["reply_parameters"] == {
        "message_id": 1365,
        "allow_sending_without_reply": True,
    }


def test_a_reply_to_another_chats_message_is_sent_plain(adapter, fake):
    fake.reply("POST", f"{API}/sendMessage", 200, sent_message(1402))
    adapter.send(OutboundMessage(recipient=CUSTOMER, text="Yes", reply_to_external_id="99:1"))
    assert "reply_parameters" not in fake.requests[0].json()


def jpeg(size: int = 10) -> OutboundFile:
    return OutboundFile(name="label.jpg", content_type="image/jpeg", size=size, data=b"\xff" * size)


def test_send_a_photo_with_its_caption(adapter, fake):
    fake.reply("POST", f"{API}/sendPhoto", 200, sent_message(1403))
    result = adapter.send(
        OutboundMessage(
            recipient=CUSTOMER,
            text="Your label",
            files=(jpeg(),),
            reply_to_external_id=f"{CUSTOMER}:1373",
        )
    )
    assert result.external_id == f"{CUSTOMER}:1403"
    [request] = fake.requests
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="chat_id"\r\n\r\n412345678' in request.body
    assert b'name="caption"\r\n\r\nYour label' in request.body
    assert b'name="photo"; filename="label.jpg"' in request.body
    assert b'"message_id": 1373' in request.body


def test_a_pdf_or_a_photo_over_10_mb_goes_as_a_document(adapter, fake, monkeypatch):
    fake.reply("POST", f"{API}/sendDocument", 200, sent_message(1404))
    pdf = OutboundFile(name="invoice.pdf", content_type="application/pdf", size=4, data=b"%PDF")
    adapter.send(OutboundMessage(recipient=CUSTOMER, files=(pdf,)))
    monkeypatch.setattr("channels_app.adapters.telegram.MAX_PHOTO", 5)
    adapter.send(OutboundMessage(recipient=CUSTOMER, files=(jpeg(6),)))
    first, second = fake.requests
    assert first.path == second.path == f"{API}/sendDocument"
    assert b'name="document"; filename="invoice.pdf"' in first.body
    assert b'name="caption"' not in first.body
    assert b'name="document"; filename="label.jpg"' in second.body


def test_a_text_too_long_for_a_caption_goes_first_on_its_own(adapter, fake):
    fake.reply("POST", f"{API}/sendMessage", 200, sent_message(1405))
    fake.reply("POST", f"{API}/sendPhoto", 200, sent_message(1406))
    text = "x" * 1025
    result = adapter.send(OutboundMessage(recipient=CUSTOMER, text=text, files=(jpeg(),)))
    assert result.external_id == f"{CUSTOMER}:1405"
    message, photo = fake.requests
    assert message.json()["text"] == text
    assert b'name="caption"' not in photo.body


def test_rate_limit_is_transient_with_telegrams_wait(adapter, fake):
    fake.reply(
        "POST",
        f"{API}/sendMessage",
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )
    with pytest.raises(TransientError) as caught:
        adapter.send(OutboundMessage(recipient=CUSTOMER, text="hi"))
    assert caught.value.retry_after == 7
    assert "retry after 7" in caught.value.reason


def test_server_error_is_transient(adapter, fake):
    fake.reply("POST", f"{API}/sendMessage", 502, "<html>Bad Gateway</html>")
    with pytest.raises(TransientError):
        adapter.send(OutboundMessage(recipient=CUSTOMER, text="hi"))


def test_timeout_is_transient(adapter, fake):
    adapter.timeout = httpx.Timeout(0.2)
    fake.reply("POST", f"{API}/sendMessage", 200, sent_message(1), delay=1)
    with pytest.raises(TransientError) as caught:
        adapter.send(OutboundMessage(recipient=CUSTOMER, text="hi"))
    assert caught.value.code == "timeout"


@pytest.mark.parametrize(
    ("status", "description", "code"),
    [
        (403, "Forbidden: bot was blocked by the user", "blocked"),
        (400, "Bad Request: chat not found", "chat_not_found"),
        (403, "Forbidden: user is deactivated", "deactivated"),
        (400, "Bad Request: message text is empty", "400"),
    ],
)
def test_refusals_are_permanent_with_telegrams_words(adapter, fake, status, description, code):
    fake.reply(
        "POST",
        f"{API}/sendMessage",
        status,
        {"ok": False, "error_code": status, "description": description},
    )
    with pytest.raises(PermanentError) as caught:
        adapter.send(OutboundMessage(recipient=CUSTOMER, text="hi"))
    assert description in caught.value.reason
    assert caught.value.code == code


def test_nothing_to_send_is_refused(adapter):
    with pytest.raises(PermanentError):
        adapter.send(OutboundMessage(recipient=CUSTOMER))


# --- connect ---------------------------------------------------------------------------------

ME = ok(
    {"id": 123456, "is_bot": True, "first_name": "Acme Support", "username": "acme_support_bot"}
)


def test_test_connection_names_the_bot(adapter, fake):
    fake.reply("POST", f"{API}/getMe", 200, ME)
    check = adapter.test_connection()
    assert check.ok
    assert check.message == "Connected to @acme_support_bot"


def test_test_connection_reports_a_wrong_token(adapter, fake):
    fake.reply(
        "POST", f"{API}/getMe", 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
    )
    check = adapter.test_connection()
    assert not check.ok
    assert "Unauthorized" in check.message


def test_connect_sets_the_webhook_with_the_secret_token(adapter, channel, fake):
    fake.reply("POST", f"{API}/getMe", 200, ME)
    fake.reply(
        "POST",
        f"{API}/setWebhook",
        200,
        {"ok": True, "result": True, "description": "Webhook was set"},
    )
    url = "https://support.example.com/webhooks/telegram/3f1c/"
    check = adapter.connect(url)
    assert check.ok, check.message
    assert "@acme_support_bot" in check.message
    assert fake.sent("POST", f"{API}/setWebhook")[0].json() == {
        "url": url,
        "secret_token": channel.webhook_secret,
        "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member"],
        "drop_pending_updates": False,
    }


def test_connect_reports_telegrams_refusal(adapter, fake):
    fake.reply("POST", f"{API}/getMe", 200, ME)
    fake.reply(
        "POST",
        f"{API}/setWebhook",
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: bad webhook: HTTPS url must be provided for webhook",
        },
    )
    check = adapter.connect("http://localhost:8000/webhooks/telegram/3f1c/")
    assert not check.ok
    assert "HTTPS url must be provided" in check.message


def test_declarations(adapter):
    assert adapter.kind == "telegram"
    assert adapter.identity_kind == "telegram"
    assert [(f.name, f.secret) for f in adapter.fields] == [("bot_token", True)]
    assert adapter.rules.max_text_length == 4096
    assert adapter.rules.reply_window_hours is None
    assert adapter.rules.media_limits["application/pdf"] == 50 * 1024 * 1024
    assert adapter.rules.media_limits["image/*"] == 50 * 1024 * 1024
    assert adapter.rules.max_files == 1
