"""Messenger and Instagram adapters against Meta's documented payloads and a fake Graph API."""

import json
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

import httpx
import pytest
from django.test import RequestFactory

from channels_app.adapters import adapter_for
from channels_app.adapters.base import (
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
from channels_app.adapters.meta import InstagramAdapter, MessengerAdapter
from tests.channels_app.adapters import sign_instagram, sign_messenger
from tests.channels_app.fake_provider import FakeProvider
from tests.factories.channels import CREDENTIALS, SETTINGS, ChannelFactory

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads"
PAGE_ID = "104502815810239"
PSID = "6912245602126785"
IG_ID = "17841405822304914"
IGSID = "1130473911859392"
SIGNERS = {"messenger": sign_messenger, "instagram": sign_instagram}
KINDS = ("messenger", "instagram")

# What every stored payload file must parse into: a test fails for a file left out here.
EXPECTED = {
    "messenger": {
        "audio": ["InboundMessage"],
        "batch": ["InboundMessage", "InboundMessage"],
        "comment": ["InboundMessage"],
        "comment_edited": ["MessageEdit"],
        "comment_own_page": ["Ignored"],
        "comment_removed": ["MessageDeletion"],
        "comment_reply": ["InboundMessage"],
        "echo": ["Ignored"],
        "edit": ["MessageEdit"],
        "fallback": ["InboundMessage"],
        "feed_post": ["Ignored"],
        "file": ["InboundMessage"],
        "image": ["InboundMessage"],
        "postback": ["InboundMessage"],
        "postback_get_started_referral": ["InboundMessage"],
        "quick_reply": ["InboundMessage"],
        "reaction": ["Reaction"],
        "referral_ad": ["InboundMessage"],
        "referral_shortlink": ["InboundMessage"],
        "reply": ["InboundMessage"],
        "standby": ["InboundMessage"],
        "status_delivery": ["StatusUpdate", "StatusUpdate"],
        "status_read": ["Ignored"],
        "sticker": ["InboundMessage"],
        "text": ["InboundMessage"],
        "unknown_change": ["Ignored"],
        "unknown_event": ["Ignored"],
        "unreact": ["Reaction"],
        "video": ["InboundMessage"],
    },
    "instagram": {
        "audio": ["InboundMessage"],
        "comment": ["InboundMessage"],
        "comment_own": ["Ignored"],
        "comment_reply": ["InboundMessage"],
        "deleted": ["MessageDeletion"],
        "echo": ["Ignored"],
        "edit": ["MessageEdit"],
        "image": ["InboundMessage"],
        "live_comment": ["InboundMessage"],
        "mention": ["Ignored"],
        "postback": ["InboundMessage"],
        "quick_reply": ["InboundMessage"],
        "reaction": ["Reaction"],
        "reel": ["InboundMessage"],
        "referral_ad": ["InboundMessage"],
        "referral_link": ["InboundMessage"],
        "reply": ["InboundMessage"],
        "share": ["InboundMessage"],
        "status_read": ["StatusUpdate"],
        "story_mention": ["InboundMessage"],
        "story_reply": ["InboundMessage"],
        "text": ["InboundMessage"],
        "unknown_change": ["Ignored"],
        "unknown_event": ["Ignored"],
        "unreact": ["Reaction"],
        "unsupported": ["InboundMessage"],
        "video": ["InboundMessage"],
    },
}


def make_channel(kind: str, **settings_override):
    settings = {"messenger": {"page_id": PAGE_ID}, "instagram": {"instagram_account_id": IG_ID}}
    return ChannelFactory(kind=kind, settings={**settings[kind], **settings_override})


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def fake(settings):
    with FakeProvider() as provider:
        settings.META_GRAPH_URL = provider.url
        settings.INSTAGRAM_GRAPH_URL = provider.url
        yield provider


def version(settings) -> str:
    return settings.META_GRAPH_VERSION


def load(kind: str, name: str) -> bytes:
    return (PAYLOADS / kind / f"{name}.json").read_bytes()


def parse_file(adapter, name: str) -> list:
    events = adapter.split(load(adapter.kind, name), None)
    parsed = []
    for event in events:
        # What the pipeline stores is JSON: parse must work from the round-tripped copy.
        parsed.extend(adapter.parse(json.loads(json.dumps(event.payload))))
    return parsed


def one(adapter, name: str):
    events = parse_file(adapter, name)
    assert len(events) == 1, events
    return events[0]


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def multipart(recorded) -> dict:
    content_type = recorded.headers["content-type"]
    assert content_type.startswith("multipart/form-data")
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + recorded.body
    message = BytesParser(policy=HTTP).parsebytes(raw)
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    }


# --- Registry, rules, fields -----------------------------------------------------------


def test_registry_builds_the_meta_adapters():
    assert isinstance(adapter_for(make_channel("messenger")), MessengerAdapter)
    assert isinstance(adapter_for(make_channel("instagram")), InstagramAdapter)


def test_fields_use_the_factory_key_names(kind):
    adapter = adapter_for(make_channel(kind))
    for field in adapter.fields:
        if field.secret:
            assert field.name in CREDENTIALS[kind]
        elif field.required:
            assert field.name in SETTINGS[kind]
    assert adapter.identity_kind == kind


def test_rules_follow_meta_limits():
    messenger, instagram = MessengerAdapter.rules, InstagramAdapter.rules
    assert messenger.max_text_length == 2000
    assert instagram.max_text_length == 1000
    assert messenger.media_limits["image/jpeg"] == 25 * 1024 * 1024
    assert instagram.media_limits["image/jpeg"] == 8 * 1024 * 1024
    for rules in (messenger, instagram):
        assert rules.reply_window_hours == 24
        assert rules.outside_window == "message_tag"
        assert rules.tag_window_hours == 168


# --- Handshake and signatures ---------------------------------------------------------


def test_handshake_echoes_the_challenge_for_the_webhook_secret(kind):
    channel = make_channel(kind)
    request = RequestFactory().get(
        "/",
        {
            "hub.mode": "subscribe",
            "hub.verify_token": channel.webhook_secret,
            "hub.challenge": "1158201444",
        },
    )
    response = adapter_for(channel).handshake(request)
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "SECRET", "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_handshake_refuses_anything_else(kind, query):
    channel = make_channel(kind)
    query = {k: channel.webhook_secret if v == "SECRET" else v for k, v in query.items()}
    response = adapter_for(channel).handshake(RequestFactory().get("/", query))
    assert response.status_code == 403


def signed_request(channel, body: bytes, headers: dict | None = None):
    kwargs = SIGNERS[channel.kind].webhook_request(channel, body)
    if headers is not None:
        kwargs["headers"] = headers
    return RequestFactory().generic("POST", "/", data=body, **kwargs)


def test_verify_accepts_meta_signature(kind):
    channel = make_channel(kind)
    adapter_for(channel).verify(signed_request(channel, load(kind, "text")))


def test_verify_refuses_wrong_signature(kind):
    channel = make_channel(kind)
    body = load(kind, "text")
    other = SIGNERS[kind].webhook_request(channel, body + b" ")["headers"]
    with pytest.raises(SignatureInvalid):
        adapter_for(channel).verify(signed_request(channel, body, other))


def test_verify_refuses_signature_with_another_secret(kind):
    channel = make_channel(kind)
    body = load(kind, "text")
    stranger = make_channel(kind, **{})
    stranger.credentials = {**stranger.credentials, "app_secret": "someone-else"}
    headers = SIGNERS[kind].webhook_request(stranger, body)["headers"]
    with pytest.raises(SignatureInvalid):
        adapter_for(channel).verify(signed_request(channel, body, headers))


@pytest.mark.parametrize("headers", [{}, {"X-Hub-Signature-256": "abc"}, {"X-Hub-Signature": "x"}])
def test_verify_refuses_missing_signature(kind, headers):
    channel = make_channel(kind)
    with pytest.raises(SignatureInvalid):
        adapter_for(channel).verify(signed_request(channel, load(kind, "text"), headers))


def test_verify_refuses_when_no_app_secret_is_set(kind):
    channel = make_channel(kind)
    request = signed_request(channel, load(kind, "text"))
    channel.credentials = {**channel.credentials, "app_secret": ""}
    with pytest.raises(SignatureInvalid):
        adapter_for(channel).verify(request)


# --- Split ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object": "whatsapp_business_account", "entry": []}',
        b'{"object": "%s"}',
        b'{"object": "%s", "entry": ["x"]}',
    ],
)
def test_split_refuses_what_is_not_this_kinds_format(kind, body):
    adapter = adapter_for(make_channel(kind))
    body = body.replace(b"%s", adapter.object_name.encode())
    with pytest.raises(PayloadMalformed):
        adapter.split(body, None)


def test_split_refuses_the_other_meta_object():
    messenger = adapter_for(make_channel("messenger"))
    instagram = adapter_for(make_channel("instagram"))
    with pytest.raises(PayloadMalformed):
        messenger.split(load("instagram", "text"), None)
    with pytest.raises(PayloadMalformed):
        instagram.split(load("messenger", "text"), None)


def payload_files():
    return [
        pytest.param(kind, path.stem, id=f"{kind}/{path.stem}")
        for kind in KINDS
        for path in sorted((PAYLOADS / kind).glob("*.json"))
    ]


@pytest.mark.parametrize(("kind", "name"), payload_files())
def test_every_payload_file_splits_and_parses(kind, name):
    adapter = adapter_for(make_channel(kind))
    events = adapter.split(load(kind, name), None)
    keys = [event.dedupe_key for event in events]
    assert keys and len(set(keys)) == len(keys)
    assert all(0 < len(key) <= 255 for key in keys)
    # Splitting is deterministic: a replayed body gives the same keys.
    assert [e.dedupe_key for e in adapter.split(load(kind, name), None)] == keys
    parsed = parse_file(adapter, name)
    assert [type(event).__name__ for event in parsed] == EXPECTED[kind][name]
    for event in parsed:
        if isinstance(event, InboundMessage):
            assert event.sender.kind == kind and event.sender.value
            assert event.external_id


def test_every_expected_file_exists():
    for kind in KINDS:
        assert {p.stem for p in (PAYLOADS / kind).glob("*.json")} == set(EXPECTED[kind])


def test_dedupe_keys_are_the_providers_ids():
    messenger = adapter_for(make_channel("messenger"))
    (text,) = messenger.split(load("messenger", "text"), None)
    assert (
        text.dedupe_key
        == json.loads(load("messenger", "text"))["entry"][0]["messaging"][0]["message"]["mid"]
    )
    (comment,) = messenger.split(load("messenger", "comment"), None)
    assert comment.dedupe_key == "comment:122145678901234567_1354207589618104:add"
    (read,) = messenger.split(load("messenger", "status_read"), None)
    assert read.dedupe_key == f"read:{PSID}:1718092816500"
    instagram = adapter_for(make_channel("instagram"))
    (deleted,) = instagram.split(load("instagram", "deleted"), None)
    (text,) = instagram.split(load("instagram", "text"), None)
    # An unsend repeats the message's mid; it must not be taken for a replay of it.
    assert deleted.dedupe_key == "deleted:" + text.dedupe_key
    (reaction,) = instagram.split(load("instagram", "reaction"), None)
    (unreact,) = instagram.split(load("instagram", "unreact"), None)
    assert reaction.dedupe_key.startswith("reaction:") and reaction.dedupe_key != unreact.dedupe_key


def test_split_keeps_the_envelope_in_each_event():
    adapter = adapter_for(make_channel("messenger"))
    first, second = adapter.split(load("messenger", "batch"), None)
    assert first.payload["object"] == "page"
    assert first.payload["entry"]["id"] == PAGE_ID
    assert first.payload["messaging"]["message"]["text"] == "First"
    assert second.payload["messaging"]["message"]["text"] == "Second"


# --- Parse: Messenger -------------------------------------------------------------------


@pytest.fixture
def messenger():
    return adapter_for(make_channel("messenger"))


@pytest.fixture
def instagram():
    return adapter_for(make_channel("instagram"))


def test_messenger_text(messenger):
    event = one(messenger, "text")
    assert event.sender.kind == "messenger" and event.sender.value == PSID
    assert event.text == "Hi! Is the blue jacket still available in size M?"
    assert event.sent_at == ms(1718092800000)
    assert event.external_id.startswith("m_")
    assert event.comment is None and event.postback is None


def test_messenger_quick_reply_is_a_postback(messenger):
    event = one(messenger, "quick_reply")
    assert event.text == "Track my order"
    assert event.postback.payload == "TRACK_ORDER" and event.postback.title == "Track my order"


def test_messenger_reply_points_at_the_quoted_message(messenger):
    event = one(messenger, "reply")
    assert event.reply_to_external_id.startswith("m_") and event.reply_to_external_id.endswith(
        "90A"
    )


@pytest.mark.parametrize("name", ["image", "video", "audio", "file"])
def test_messenger_attachments_are_media_refs(messenger, name):
    event = one(messenger, name)
    (media,) = event.media
    assert isinstance(media, MediaRef)
    assert media.kind == name
    assert media.ref.startswith("https://")
    assert event.text == ""


def test_messenger_file_keeps_its_name(messenger):
    (media,) = one(messenger, "file").media
    assert media.name == "invoice-2024-0611.pdf"


def test_messenger_sticker(messenger):
    event = one(messenger, "sticker")
    assert event.sticker == "369239263222822"
    assert event.media[0].kind == "sticker"


def test_messenger_fallback_link(messenger):
    event = one(messenger, "fallback")
    assert "https://shop.example/products/blue-jacket" in event.text
    assert event.extra["links"][0]["title"] == "Blue Jacket - Acme Store"


def test_messenger_postback(messenger):
    event = one(messenger, "postback")
    assert event.postback.payload == "HUMAN_AGENT"
    assert event.postback.title == "Talk to an agent"
    assert event.text == "Talk to an agent"
    assert event.external_id.startswith("m_")


def test_messenger_get_started_with_shortlink_referral(messenger):
    event = one(messenger, "postback_get_started_referral")
    assert event.postback.payload == "GET_STARTED"
    assert event.referral.source == "shortlink" and event.referral.ref == "summer-sale-qr"
    # Without a mid the postback is named by its content, the same on every replay.
    assert event.external_id.startswith("postback:sha256:")
    assert one(messenger, "postback_get_started_referral").external_id == event.external_id


def test_messenger_ad_referral(messenger):
    event = one(messenger, "referral_ad")
    referral = event.referral
    assert referral.source == "ad"
    assert referral.source_id == "120210987654321098"
    assert referral.headline == "Summer jackets, 30% off"
    assert referral.source_url.startswith("https://scontent")
    assert referral.body == "104502815810239_122145678901234567"
    assert referral.ref == "jacket-campaign"
    assert event.text == "" and event.extra["event"] == "referral"


def test_messenger_shortlink_referral(messenger):
    event = one(messenger, "referral_shortlink")
    assert event.referral.source == "shortlink" and event.referral.ref == "store-berlin"


def test_echo_is_ignored(kind):
    event = one(adapter_for(make_channel(kind)), "echo")
    assert isinstance(event, Ignored) and "echo" in event.reason


def test_edit(kind):
    adapter = adapter_for(make_channel(kind))
    edit = one(adapter, "edit")
    original = one(adapter, "text")
    assert isinstance(edit, MessageEdit)
    assert edit.external_id == original.external_id
    assert edit.sender == original.sender
    assert edit.text.startswith("Hi! ")


def test_reaction_and_unreact(kind):
    adapter = adapter_for(make_channel(kind))
    reaction, removed = one(adapter, "reaction"), one(adapter, "unreact")
    assert isinstance(reaction, Reaction) and reaction.emoji == "\u2764\ufe0f"
    assert removed.emoji == "" and removed.external_id == reaction.external_id


def test_reaction_without_emoji_uses_the_reaction_name(messenger):
    payload = {
        "object": "page",
        "entry": {"id": PAGE_ID},
        "messaging": {
            "sender": {"id": PSID},
            "timestamp": 1718092800000,
            "reaction": {"mid": "m_1", "action": "react", "reaction": "like"},
        },
    }
    (event,) = messenger.parse(payload)
    assert event.emoji == "👍"


def test_messenger_delivery_receipt_gives_one_status_per_mid(messenger):
    first, second = parse_file(messenger, "status_delivery")
    assert {first.status, second.status} == {"delivered"}
    assert first.external_id != second.external_id
    assert first.at == ms(1718092816000)


def test_messenger_read_watermark_is_ignored(messenger):
    event = one(messenger, "status_read")
    assert isinstance(event, Ignored) and "watermark" in event.reason


def test_messenger_standby_message_is_still_a_message(messenger):
    event = one(messenger, "standby")
    assert event.text == "Hello? Anyone there?" and event.extra["standby"] is True


def test_messenger_batch(messenger):
    first, second = parse_file(messenger, "batch")
    assert (first.text, second.text) == ("First", "Second")
    assert first.sender.value != second.sender.value


def test_messenger_comment(messenger):
    event = one(messenger, "comment")
    assert event.text == "How much is shipping to Italy?"
    assert event.sender.kind == "messenger" and event.sender.value == "25617669544483307"
    assert event.sender.name == "Kiri Rossi"
    assert event.external_id == "122145678901234567_1354207589618104"
    assert event.sent_at == datetime.fromtimestamp(1718092897, UTC)
    comment = event.comment
    assert comment.comment_id == event.external_id
    assert comment.post_id == "104502815810239_122145678901234567"
    assert comment.parent_id == ""
    assert comment.platform == "facebook"
    assert comment.permalink.startswith("https://www.facebook.com/")


def test_messenger_reply_to_a_comment_names_its_parent(messenger):
    event = one(messenger, "comment_reply")
    assert event.comment.parent_id == "122145678901234567_1354207589618104"


def test_messenger_comment_edit_and_removal(messenger):
    edited, removed = one(messenger, "comment_edited"), one(messenger, "comment_removed")
    assert edited.external_id == removed.external_id == "122145678901234567_1354207589618104"
    assert edited.text == "How much is shipping to Italy and Spain?"
    assert isinstance(removed, MessageDeletion)


def test_our_own_page_comment_is_ignored(messenger):
    assert "own" in one(messenger, "comment_own_page").reason


def test_our_own_page_comment_is_ignored_by_configured_id_too(messenger):
    change = json.loads(load("messenger", "comment_own_page"))["entry"][0]["changes"][0]
    (event,) = messenger.parse({"object": "page", "entry": {"id": ""}, "change": change})
    assert isinstance(event, Ignored)


@pytest.mark.parametrize("name", ["feed_post", "unknown_change", "unknown_event"])
def test_messenger_events_we_do_not_use_are_ignored(messenger, name):
    assert isinstance(one(messenger, name), Ignored)


@pytest.mark.parametrize("name", ["text", "comment"])
def test_events_of_another_page_or_account_are_ignored(kind, name):
    other = {
        "messenger": {"page_id": "998877665544332"},
        "instagram": {"instagram_account_id": "1"},
    }
    adapter = adapter_for(ChannelFactory(kind=kind, settings=other[kind]))
    event = one(adapter, name)
    assert isinstance(event, Ignored) and "not this channel's" in event.reason


def test_dashboard_test_event_sent_as_a_change_is_parsed(messenger):
    item = json.loads(load("messenger", "text"))["entry"][0]["messaging"][0]
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                {"id": PAGE_ID, "time": 1, "changes": [{"field": "messages", "value": item}]}
            ],
        }
    ).encode()
    (raw,) = messenger.split(body, None)
    assert raw.dedupe_key == item["message"]["mid"]
    (event,) = messenger.parse(raw.payload)
    assert event.text == item["message"]["text"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"messaging": {"sender": {"id": "1"}, "message": "not an object"}},
        {"messaging": {"message": {"mid": "m_1", "text": "no sender"}}},
        {"messaging": {"sender": {"user_ref": "plugin-visitor"}, "message": {"mid": "m"}}},
        {
            "messaging": {
                "sender": {"id": "1"},
                "timestamp": "soon",
                "message": {
                    "mid": "m",
                    "attachments": [{"type": "location", "payload": {"coordinates": "x"}}],
                },
            }
        },
        {"change": {"field": "feed", "value": "x"}},
        {"change": {"field": "feed", "value": {"item": "comment", "verb": "add"}}},
        {"messaging": {"sender": {"id": "1"}, "delivery": {"mids": "m_1"}}},
    ],
)
def test_parse_is_total(kind, payload):
    adapter = adapter_for(make_channel(kind))
    for event in adapter.parse(payload):
        assert type(event).__name__ in {"Ignored", "InboundMessage", "StatusUpdate"}


def test_location_attachment(messenger):
    payload = {
        "object": "page",
        "entry": {"id": PAGE_ID},
        "messaging": {
            "sender": {"id": PSID},
            "timestamp": 1718092800000,
            "message": {
                "mid": "m_loc",
                "attachments": [
                    {
                        "type": "location",
                        "title": "Pinned Location",
                        "url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps",
                        "payload": {"coordinates": {"lat": 45.4642, "long": 9.19}},
                    }
                ],
            },
        },
    }
    (event,) = messenger.parse(payload)
    assert (event.location.latitude, event.location.longitude) == (45.4642, 9.19)
    assert event.location.name == "Pinned Location"


# --- Parse: Instagram -----------------------------------------------------------------


def test_instagram_text(instagram):
    event = one(instagram, "text")
    assert event.sender.kind == "instagram" and event.sender.value == IGSID
    assert event.text == "Hi! Do you ship to Canada?"
    assert event.sent_at == ms(1718092800000)


def test_instagram_media_and_shares(instagram):
    assert one(instagram, "image").media[0].kind == "image"
    assert one(instagram, "video").media[0].kind == "video"
    assert one(instagram, "audio").media[0].kind == "audio"
    share = one(instagram, "share")
    assert share.media[0].kind == "image" and share.extra["shares"][0]["type"] == "share"
    reel = one(instagram, "reel")
    assert reel.media[0].kind == "video"
    assert reel.extra["shares"][0]["title"] == "Behind the scenes at our workshop"


def test_instagram_story_mention(instagram):
    event = one(instagram, "story_mention")
    assert event.extra["story_mention"]["url"].startswith("https://lookaside.fbsbx.com/")
    assert event.media[0].ref == event.extra["story_mention"]["url"]


def test_instagram_story_reply(instagram):
    event = one(instagram, "story_reply")
    assert event.text == "Love this colour!"
    assert event.extra["story_reply"]["id"] == "18067890123456789"
    assert event.reply_to_external_id == ""


def test_instagram_unsupported_content_is_kept_and_flagged(instagram):
    event = one(instagram, "unsupported")
    assert event.extra["unsupported"] is True and event.text == ""


def test_instagram_unsend_is_a_deletion(instagram):
    event = one(instagram, "deleted")
    assert isinstance(event, MessageDeletion)
    assert event.external_id == one(instagram, "text").external_id


def test_instagram_seen_is_a_read_status(instagram):
    event = one(instagram, "status_read")
    assert isinstance(event, StatusUpdate)
    assert event.status == "read" and event.external_id == one(instagram, "reaction").external_id


def test_instagram_icebreaker_postback(instagram):
    event = one(instagram, "postback")
    assert event.postback.payload == "ICEBREAKER_HOURS"
    assert event.text == "What are your opening hours?"


def test_instagram_ad_referral_on_the_first_message(instagram):
    event = one(instagram, "referral_ad")
    assert event.text == "Is this still on sale?"
    assert event.referral.source == "ad" and event.referral.source_id == "120210987654321777"
    assert event.referral.headline == "Summer jackets"


def test_instagram_comment(instagram):
    event = one(instagram, "comment")
    assert event.sender.kind == "instagram" and event.sender.value == "6912345678901234"
    assert event.sender.name == "marta.designs"
    assert event.text == "Price please? 😍"
    assert event.comment.comment_id == event.external_id == "17865799348089039"
    assert event.comment.post_id == "18078901234567890"
    assert event.comment.parent_id == ""
    assert event.comment.platform == "instagram"
    assert event.sent_at == datetime.fromtimestamp(1718093000, UTC)


def test_instagram_comment_reply_and_live_comment(instagram):
    assert one(instagram, "comment_reply").comment.parent_id == "17865799348089039"
    assert one(instagram, "live_comment").extra["live"] is True


def test_instagram_own_comment_mention_and_unknown_field_are_ignored(instagram):
    assert "own" in one(instagram, "comment_own").reason
    assert "mention" in one(instagram, "mention").reason
    assert isinstance(one(instagram, "unknown_change"), Ignored)
    assert isinstance(one(instagram, "unknown_event"), Ignored)


def test_instagram_change_on_the_entry_itself(instagram):
    # Meta's Business Login examples show the change directly on the entry.
    value = json.loads(load("instagram", "comment"))["entry"][0]["changes"][0]["value"]
    body = json.dumps(
        {
            "object": "instagram",
            "entry": [{"id": IG_ID, "time": 1718093000, "field": "comments", "value": value}],
        }
    ).encode()
    (raw,) = instagram.split(body, None)
    assert raw.dedupe_key == "comment:17865799348089039"
    (event,) = instagram.parse(raw.payload)
    assert event.comment.comment_id == "17865799348089039"


# --- Send ---------------------------------------------------------------------------


def messages_path(settings, kind: str) -> str:
    node = PAGE_ID if kind == "messenger" else IG_ID
    return f"/{version(settings)}/{node}/messages"


TOKENS = {"messenger": "page-token", "instagram": "ig-token"}


def test_send_text(kind, fake, settings):
    path = messages_path(settings, kind)
    fake.reply("POST", path, 200, {"recipient_id": "R", "message_id": "m_sent_1"})
    adapter = adapter_for(make_channel(kind))
    result = adapter.send(OutboundMessage(recipient="R", text="Hello there"))
    assert result.external_id == "m_sent_1"
    (request,) = fake.sent("POST", path)
    assert request.headers["authorization"] == f"Bearer {TOKENS[kind]}"
    assert "access_token" not in request.query
    body = request.json()
    assert body["recipient"] == {"id": "R"}
    assert body["message"] == {"text": "Hello there"}
    if kind == "messenger":
        assert body["messaging_type"] == "RESPONSE"
    else:
        assert "messaging_type" not in body


def test_send_with_human_agent_tag(kind, fake, settings):
    path = messages_path(settings, kind)
    fake.reply("POST", path, 200, {"recipient_id": "R", "message_id": "m_sent_2"})
    adapter = adapter_for(make_channel(kind))
    adapter.send(
        OutboundMessage(
            recipient="R", text="Sorry for the wait", options={"message_tag": "HUMAN_AGENT"}
        )
    )
    body = fake.sent("POST", path)[0].json()
    assert body["messaging_type"] == "MESSAGE_TAG" and body["tag"] == "HUMAN_AGENT"


def test_send_refuses_other_tags(kind):
    adapter = adapter_for(make_channel(kind))
    with pytest.raises(PermanentError) as caught:
        adapter.send(OutboundMessage(recipient="R", text="x", options={"message_tag": "UPDATE"}))
    assert caught.value.code == "message_tag"


def test_messenger_uploads_files_as_multipart(fake, settings):
    path = messages_path(settings, "messenger")
    fake.reply("POST", path, 200, {"recipient_id": PSID, "message_id": "m_text"})
    fake.reply("POST", path, 200, {"recipient_id": PSID, "message_id": "m_file"})
    adapter = adapter_for(make_channel("messenger"))
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    result = adapter.send(
        OutboundMessage(
            recipient=PSID,
            text="Here is the size chart",
            files=(OutboundFile("chart.png", "image/png", len(png), png),),
            options={"message_tag": "HUMAN_AGENT"},
        )
    )
    assert result.external_id == "m_text"
    text_request, file_request = fake.sent("POST", path)
    assert text_request.json()["message"] == {"text": "Here is the size chart"}
    parts = multipart(file_request)
    assert json.loads(parts["recipient"][2]) == {"id": PSID}
    assert parts["messaging_type"][2] == b"MESSAGE_TAG" and parts["tag"][2] == b"HUMAN_AGENT"
    assert json.loads(parts["message"][2]) == {
        "attachment": {"type": "image", "payload": {"is_reusable": False}}
    }
    assert parts["filedata"] == ("chart.png", "image/png", png)
    assert file_request.headers["authorization"] == "Bearer page-token"


def test_messenger_sends_a_pdf_as_file(fake, settings):
    path = messages_path(settings, "messenger")
    fake.reply("POST", path, 200, {"recipient_id": PSID, "message_id": "m_pdf"})
    adapter = adapter_for(make_channel("messenger"))
    pdf = b"%PDF-1.7 test"
    result = adapter.send(
        OutboundMessage(recipient=PSID, files=(OutboundFile("a.pdf", "application/pdf", 13, pdf),))
    )
    assert result.external_id == "m_pdf"
    parts = multipart(fake.sent("POST", path)[0])
    assert json.loads(parts["message"][2])["attachment"]["type"] == "file"


def test_instagram_sends_files_by_link(fake, settings):
    path = messages_path(settings, "instagram")
    fake.reply("POST", path, 200, {"recipient_id": IGSID, "message_id": "ig_file"})
    adapter = adapter_for(make_channel("instagram"))
    file = OutboundFile(
        "photo.jpg", "image/jpeg", 3, b"jpg", url="https://desk.example/media/signed/photo.jpg"
    )
    result = adapter.send(OutboundMessage(recipient=IGSID, files=(file,)))
    assert result.external_id == "ig_file"
    body = fake.sent("POST", path)[0].json()
    assert body["message"] == {
        "attachment": {
            "type": "image",
            "payload": {"url": "https://desk.example/media/signed/photo.jpg"},
        }
    }


def test_instagram_without_a_public_link_refuses_files(fake):
    adapter = adapter_for(make_channel("instagram"))
    file = OutboundFile("photo.jpg", "image/jpeg", 3, b"jpg")
    with pytest.raises(PermanentError) as caught:
        adapter.send(OutboundMessage(recipient=IGSID, files=(file,)))
    assert caught.value.code == "no_public_url"
    assert fake.requests == []


def test_public_reply_to_a_comment(kind, fake, settings):
    comment_id = (
        "122145678901234567_1354207589618104" if kind == "messenger" else "17865799348089039"
    )
    edge = "comments" if kind == "messenger" else "replies"
    path = f"/{version(settings)}/{comment_id}/{edge}"
    fake.reply("POST", path, 200, {"id": "reply_123"})
    adapter = adapter_for(make_channel(kind))
    result = adapter.send(
        OutboundMessage(
            recipient="someone",
            text="We ship everywhere in the EU!",
            reply_to_external_id=comment_id,
            options={"reply_mode": "public"},
        )
    )
    assert result.external_id == "reply_123"
    (request,) = fake.sent("POST", path)
    assert request.form() == {"message": "We ship everywhere in the EU!"}
    assert request.headers["authorization"] == f"Bearer {TOKENS[kind]}"


def test_private_reply_to_a_comment(kind, fake, settings):
    path = messages_path(settings, kind)
    fake.reply("POST", path, 200, {"recipient_id": "R", "message_id": "m_private"})
    adapter = adapter_for(make_channel(kind))
    result = adapter.send(
        OutboundMessage(
            recipient="someone",
            text="Sent you the details here.",
            reply_to_external_id="17865799348089039",
            options={"reply_mode": "private"},
        )
    )
    assert result.external_id == "m_private"
    body = fake.sent("POST", path)[0].json()
    assert body["recipient"] == {"comment_id": "17865799348089039"}
    assert body["message"] == {"text": "Sent you the details here."}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (OutboundMessage(recipient="R", text="x", options={"reply_mode": "public"}), "no_comment"),
        (
            OutboundMessage(
                recipient="R",
                text="x",
                reply_to_external_id="c1",
                files=(OutboundFile("a.png", "image/png", 1, b"x"),),
                options={"reply_mode": "private"},
            ),
            "comment_files",
        ),
        (OutboundMessage(recipient="R", text="x", options={"reply_mode": "loud"}), "reply_mode"),
        (OutboundMessage(recipient="R", text="   "), "empty"),
        (OutboundMessage(recipient="R", text="x" * 2001), "text_too_long"),
    ],
)
def test_send_refuses_what_meta_would_refuse(kind, fake, message, code):
    with pytest.raises(PermanentError) as caught:
        adapter_for(make_channel(kind)).send(message)
    assert caught.value.code == code
    assert fake.requests == []


def test_instagram_counts_text_in_bytes(fake):
    adapter = adapter_for(make_channel("instagram"))
    with pytest.raises(PermanentError) as caught:
        adapter.send(OutboundMessage(recipient=IGSID, text="é" * 600))
    assert caught.value.code == "text_too_long"


def test_instagram_facebook_login_goes_through_the_page(fake, settings):
    path = f"/{version(settings)}/{PAGE_ID}/messages"
    fake.reply("POST", path, 200, {"recipient_id": IGSID, "message_id": "ig_fb_1"})
    channel = make_channel("instagram", login="facebook", page_id=PAGE_ID)
    settings.INSTAGRAM_GRAPH_URL = "http://127.0.0.1:9"  # must not be used
    result = adapter_for(channel).send(OutboundMessage(recipient=IGSID, text="Hi"))
    assert result.external_id == "ig_fb_1"


def test_rate_limit_with_retry_after_is_transient(kind, fake, settings):
    fake.reply("POST", messages_path(settings, kind), 429, {}, headers={"Retry-After": "7"})
    with pytest.raises(TransientError) as caught:
        adapter_for(make_channel(kind)).send(OutboundMessage(recipient="R", text="Hi"))
    assert caught.value.retry_after == 7


def test_server_error_is_transient(kind, fake, settings):
    fake.reply("POST", messages_path(settings, kind), 500, b"upstream")
    with pytest.raises(TransientError) as caught:
        adapter_for(make_channel(kind)).send(OutboundMessage(recipient="R", text="Hi"))
    assert caught.value.code == "500"


def test_timeout_is_transient(kind, fake, settings):
    fake.reply("POST", messages_path(settings, kind), 200, {"message_id": "late"}, delay=1.0)
    adapter = adapter_for(make_channel(kind))
    adapter.timeout = httpx.Timeout(0.2)
    with pytest.raises(TransientError) as caught:
        adapter.send(OutboundMessage(recipient="R", text="Hi"))
    assert caught.value.code == "timeout"


@pytest.mark.parametrize(
    "error",
    [
        {"message": "Calls to this api have exceeded the rate limit.", "code": 613},
        {"message": "(#4) Application request limit reached", "code": 4, "is_transient": True},
        {"message": "Temporary send message failure. Please try again later", "code": 1200},
        {
            "message": "An unexpected error has occurred. Please retry your request later.",
            "code": 2,
            "is_transient": True,
        },
    ],
)
def test_meta_throttling_codes_are_transient(kind, fake, settings, error):
    fake.reply(
        "POST", messages_path(settings, kind), 400, {"error": {"type": "OAuthException", **error}}
    )
    with pytest.raises(TransientError) as caught:
        adapter_for(make_channel(kind)).send(OutboundMessage(recipient="R", text="Hi"))
    assert caught.value.code == str(error["code"])
    assert error["message"] in caught.value.reason


def test_outside_the_window_is_permanent_with_metas_words(kind, fake, settings):
    error = {
        "message": "(#10) This message is sent outside of allowed window.",
        "type": "OAuthException",
        "code": 10,
        "error_subcode": 2018278,
        "fbtrace_id": "AbCdEf123",
    }
    fake.reply("POST", messages_path(settings, kind), 400, {"error": error})
    with pytest.raises(PermanentError) as caught:
        adapter_for(make_channel(kind)).send(OutboundMessage(recipient="R", text="Hi"))
    assert caught.value.code == "10/2018278"
    assert "outside of allowed window" in caught.value.reason
    assert "24 hours" in caught.value.reason


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            {
                "message": "(#551) This person isn't available right now.",
                "code": 551,
                "error_subcode": 1545041,
            },
            "can't be reached",
        ),
        (
            {
                "message": "Error validating access token: Session has expired",
                "code": 190,
                "error_subcode": 463,
            },
            "access token",
        ),
        ({"message": "(#10900) Activity already replied to", "code": 10900}, "private reply"),
        (
            {"message": "(#100) No matching user found", "code": 100, "error_subcode": 2018001},
            "no user",
        ),
    ],
)
def test_refusals_are_permanent_and_explained(kind, fake, settings, error, words):
    fake.reply(
        "POST", messages_path(settings, kind), 400, {"error": {"type": "OAuthException", **error}}
    )
    with pytest.raises(PermanentError) as caught:
        adapter_for(make_channel(kind)).send(OutboundMessage(recipient="R", text="Hi"))
    assert words in caught.value.reason
    assert error["message"] in caught.value.reason


# --- Media ------------------------------------------------------------------------------


def test_media_fetch_downloads_the_cdn_link_without_a_token(kind, fake):
    fake.reply("GET", "/cdn/v/t1/redirect", 302, b"", headers={"Location": "/cdn/final/photo.jpg"})
    fake.reply(
        "GET", "/cdn/final/photo.jpg", 200, b"\xff\xd8jpeg", headers={"Content-Type": "image/jpeg"}
    )
    adapter = adapter_for(make_channel(kind))
    fetched = adapter.media_fetch(MediaRef(ref=f"{fake.url}/cdn/v/t1/redirect?oh=1", kind="image"))
    assert fetched.data == b"\xff\xd8jpeg"
    assert fetched.content_type == "image/jpeg"
    assert fetched.name == "photo.jpg"
    assert "authorization" not in fake.requests[0].headers


def test_media_fetch_expired_link_is_permanent(kind, fake):
    fake.reply("GET", "/cdn/gone.jpg", 404, b"")
    with pytest.raises(PermanentError):
        adapter_for(make_channel(kind)).media_fetch(MediaRef(ref=f"{fake.url}/cdn/gone.jpg"))


def test_media_fetch_server_error_is_transient(kind, fake):
    fake.reply("GET", "/cdn/busy.jpg", 503, b"")
    with pytest.raises(TransientError):
        adapter_for(make_channel(kind)).media_fetch(MediaRef(ref=f"{fake.url}/cdn/busy.jpg"))


# --- Connection ---------------------------------------------------------------------------


def test_messenger_test_connection(fake, settings):
    path = f"/{version(settings)}/{PAGE_ID}"
    fake.reply("GET", path, 200, {"name": "Acme Store", "id": PAGE_ID})
    check = adapter_for(make_channel("messenger")).test_connection()
    assert check.ok and check.message == "Connected to Acme Store"
    (request,) = fake.sent("GET", path)
    assert request.query == {"fields": "name"}
    assert request.headers["authorization"] == "Bearer page-token"


def test_instagram_test_connection(fake, settings):
    path = f"/{version(settings)}/me"
    fake.reply("GET", path, 200, {"user_id": IG_ID, "username": "acme.store", "id": "2612"})
    check = adapter_for(make_channel("instagram")).test_connection()
    assert check.ok and check.message == "Connected to @acme.store"
    assert fake.sent("GET", path)[0].query == {"fields": "user_id,username"}


def test_instagram_test_connection_spots_a_token_of_another_account(fake, settings):
    fake.reply("GET", f"/{version(settings)}/me", 200, {"user_id": "999", "username": "other"})
    check = adapter_for(make_channel("instagram")).test_connection()
    assert not check.ok and "999" in check.message


def test_test_connection_reports_metas_error(kind, fake, settings):
    path = f"/{version(settings)}/{PAGE_ID}" if kind == "messenger" else f"/{version(settings)}/me"
    error = {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
    fake.reply("GET", path, 400, {"error": error})
    check = adapter_for(make_channel(kind)).test_connection()
    assert not check.ok and "Invalid OAuth access token." in check.message


def test_connect_subscribes_the_page(fake, settings):
    fake.reply("GET", f"/{version(settings)}/{PAGE_ID}", 200, {"name": "Acme Store"})
    path = f"/{version(settings)}/{PAGE_ID}/subscribed_apps"
    fake.reply("POST", path, 200, {"success": True})
    url = "https://desk.example/webhooks/messenger/abc/"
    check = adapter_for(make_channel("messenger")).connect(url)
    assert check.ok and url in check.message
    fields = fake.sent("POST", path)[0].query["subscribed_fields"].split(",")
    assert {"messages", "messaging_postbacks", "message_reads", "feed"} <= set(fields)


def test_connect_subscribes_the_instagram_account(fake, settings):
    fake.reply("GET", f"/{version(settings)}/me", 200, {"user_id": IG_ID, "username": "acme"})
    path = f"/{version(settings)}/{IG_ID}/subscribed_apps"
    fake.reply("POST", path, 200, {"success": True})
    check = adapter_for(make_channel("instagram")).connect("https://desk.example/wh/")
    assert check.ok
    fields = fake.sent("POST", path)[0].query["subscribed_fields"].split(",")
    assert {"messages", "comments", "messaging_seen"} <= set(fields)


def test_connect_reports_a_refused_subscription(fake, settings):
    fake.reply("GET", f"/{version(settings)}/{PAGE_ID}", 200, {"name": "Acme Store"})
    error = {"message": "(#200) Permissions error", "type": "OAuthException", "code": 200}
    fake.reply("POST", f"/{version(settings)}/{PAGE_ID}/subscribed_apps", 403, {"error": error})
    check = adapter_for(make_channel("messenger")).connect("https://desk.example/wh/")
    assert not check.ok and "Permissions error" in check.message
