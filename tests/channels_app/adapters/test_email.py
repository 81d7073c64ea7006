"""The email adapter's inbound side: the inbound-parse webhook (verify, split) and parse of
every stored payload, plus media_fetch from the stored message."""

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import RequestFactory

from channels_app.adapters import adapter_class, adapter_for
from channels_app.adapters.base import (
    Ignored,
    InboundMessage,
    PayloadMalformed,
    PermanentError,
    RawEvent,
    SignatureInvalid,
    StatusUpdate,
    body_digest,
)
from channels_app.adapters.email import EmailAdapter, mime
from channels_app.adapters.email.quotes import quote_split
from channels_app.models import InboundEvent
from tests.factories.channels import ChannelFactory

from .sign_email import webhook_request

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "email"
OURS = "171717171717.4242.8807345577172638821@shop.example"


def load(name: str) -> bytes:
    return (PAYLOADS / f"{name}.eml").read_bytes()


@pytest.fixture
def channel():
    return ChannelFactory.build(kind="email")


@pytest.fixture
def adapter(channel) -> EmailAdapter:
    return adapter_for(channel)


def post(body: bytes, **kwargs):
    return RequestFactory().generic("POST", "/webhooks/email/x/", data=body, **kwargs)


def parsed(adapter, raw: bytes) -> list:
    (event,) = adapter.split(raw, post(raw, content_type="message/rfc822"))
    return adapter.parse(event.payload)


def message_of(adapter, name: str) -> InboundMessage:
    items = parsed(adapter, load(name))
    assert isinstance(items[0], InboundMessage), items
    return items[0]


def test_registry_and_declarations():
    assert adapter_class("email") is EmailAdapter
    assert EmailAdapter.identity_kind == "email"
    assert EmailAdapter.threads_by_refs is True
    assert EmailAdapter.rules.max_text_length == 100_000
    assert EmailAdapter.rules.reply_window_hours is None
    for content_type in ("image/png", "application/pdf", "text/plain", "application/zip"):
        assert EmailAdapter.rules.media_limits[content_type] == 25 * 1024 * 1024
    fields = {field.name: field for field in EmailAdapter.fields}
    assert fields["imap_password"].secret and fields["smtp_password"].secret
    assert not fields["imap_host"].secret
    assert fields["imap_port"].default == "993"
    assert fields["smtp_port"].default == "587"
    assert fields["imap_folder"].default == "INBOX"


# --- verify -------------------------------------------------------------------------------


def test_verify_accepts_the_bearer_token(adapter, channel):
    body = load("text")
    adapter.verify(post(body, **webhook_request(channel, body)))


def test_verify_accepts_basic_auth_with_the_secret_as_password(adapter, channel):
    token = base64.b64encode(f"inbound:{channel.webhook_secret}".encode()).decode()
    adapter.verify(post(b"x", headers={"Authorization": f"Basic {token}"}))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-secret",
        "Token {secret}",
        "Bearer {secret}x",
        "Basic " + base64.b64encode(b"{secret}:").decode(),
        "Basic not-base64!!",
    ],
)
def test_verify_refuses_a_wrong_or_missing_token(adapter, channel, header):
    headers = (
        {} if header is None else {"Authorization": header.format(secret=channel.webhook_secret)}
    )
    with pytest.raises(SignatureInvalid):
        adapter.verify(post(b"x", headers=headers))


def test_verify_refuses_everything_when_the_channel_has_no_secret():
    adapter = adapter_for(ChannelFactory.build(kind="email", webhook_secret=""))
    with pytest.raises(SignatureInvalid):
        adapter.verify(post(b"x", headers={"Authorization": "Bearer "}))


# --- split --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["message/rfc822", "text/plain", "application/octet-stream"]
)
def test_split_takes_a_raw_message(adapter, content_type):
    raw = load("chinese_gbk")
    (event,) = adapter.split(raw, post(raw, content_type=content_type))
    assert event.dedupe_key == "tencent_5F1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D07@qq.example"
    # The stored payload gives back the very bytes, 8-bit GBK included.
    assert mime.payload_decode(event.payload) == raw
    assert set(event.payload) == {"mime"}


def test_split_strips_an_mbox_from_line(adapter):
    raw = load("text")
    body = b"From ann.lee@example.com Tue May 14 09:21:37 2024\r\n" + raw
    (event,) = adapter.split(body, post(body, content_type="message/rfc822"))
    assert mime.payload_decode(event.payload) == raw


def _multipart(fields: list[tuple[str, bytes, str]], boundary: str = "xYzZY") -> tuple[bytes, str]:
    """A multipart/form-data body like SendGrid's Inbound Parse in raw mode."""
    chunks = []
    for name, value, extra in fields:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n{extra}\r\n'.encode()
            + value
            + b"\r\n"
        )
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_split_takes_the_email_field_of_a_sendgrid_raw_post(adapter):
    raw = load("chinese_gbk")  # 8-bit GBK: must come through byte for byte
    body, content_type = _multipart(
        [
            ("dkim", b"{@qq.example : pass}", ""),
            ("email", raw, ""),
            ("to", b"support@shop.example", ""),
            ("charsets", b'{"to":"UTF-8","subject":"UTF-8","from":"UTF-8"}', ""),
            ("spam_score", b"0.1", ""),
        ]
    )
    (event,) = adapter.split(body, post(body, content_type=content_type))
    assert mime.payload_decode(event.payload) == raw
    assert event.dedupe_key == "tencent_5F1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D07@qq.example"


def test_split_takes_the_email_field_sent_as_a_file(adapter):
    raw = load("attachment")
    body, content_type = _multipart(
        [("email", raw, "Content-Type: message/rfc822\r\n")], boundary="----curl4f1e"
    )
    body = body.replace(b'name="email"', b'name="email"; filename="message.eml"')
    (event,) = adapter.split(body, post(body, content_type=content_type))
    assert mime.payload_decode(event.payload) == raw


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "message/rfc822"),
        (b"\r\n\r\n  ", "message/rfc822"),
        (b'{"from": "a@b.example"}', "application/json"),
        (b"<html>not a message</html>", "text/plain"),
    ],
)
def test_split_refuses_what_is_not_an_email(adapter, body, content_type):
    with pytest.raises(PayloadMalformed):
        adapter.split(body, post(body, content_type=content_type))


def test_split_refuses_a_form_without_the_email_field(adapter):
    body, content_type = _multipart([("text", b"hello", ""), ("from", b"a@b.example", "")])
    with pytest.raises(PayloadMalformed):
        adapter.split(body, post(body, content_type=content_type))


# --- parse: payloads ------------------------------------------------------------------------


def test_plain_text(adapter):
    message = message_of(adapter, "text")
    assert message.external_id == "CAJ7q8mS1x0pZ3b9QhY2f5kR0WnL6t4Vd=qeXw1@mail.gmail.com"
    assert message.sender.kind == "email"
    assert message.sender.value == "ann.lee@example.com"
    assert message.sender.name == "Ann Lee"
    assert message.sender.emails == ("Ann.Lee@example.com",)
    assert message.subject == "Where is my order #10482?"
    assert "“label created”" in message.text  # quoted-printable UTF-8 decoded
    assert message.text.startswith("Hi,\n\nI ordered") and message.text.endswith("Ann")
    assert message.sent_at == datetime(2024, 5, 14, 9, 21, 24, tzinfo=UTC)
    assert message.thread_refs == ()
    assert message.html == ""
    assert message.automated is False
    assert message.media == ()


def test_html_only_is_sanitised_and_rendered_as_text(adapter):
    message = message_of(adapter, "html_only")
    html = message.html
    forbidden_bits = "<script document.cookie onclick onload onmouseover javascript: <style"
    for forbidden in [*forbidden_bits.split(), "style=", "track.example.net", "<iframe"]:
        assert forbidden not in html, forbidden
    assert '<a href="https://www.example.it/orders/10311"' in html
    assert 'rel="noopener noreferrer"' in html
    assert "<b>invoice</b>" in html
    # Text is a rendering of the HTML, without the script's or the style's content.
    assert message.text.startswith("Hello,\n\ncould you send me the invoice for order 10311?")
    assert "Grazie mille,\nMarco" in message.text
    assert "document" not in message.text and "color" not in message.text
    assert message.sender.name == "Rossi, Marco"


def test_gmail_reply_cuts_the_quoted_history(adapter):
    message = message_of(adapter, "reply_gmail")
    assert message.text == "Thank you, the parcel just arrived!"
    assert message.extra["quoted"].startswith("On Tue, 14 May 2024 at 18:02, Shop Support")
    assert "left our warehouse" in message.extra["quoted"]
    assert "gmail_quote" not in message.html and "warehouse" not in message.html
    assert "Thank you, the parcel just arrived!" in message.html
    assert message.thread_refs == (OURS, "CAJ7q8mS1x0pZ3b9QhY2f5kR0WnL6t4Vd=qeXw1@mail.gmail.com")
    assert message.reply_to_external_id == OURS
    assert message.subject == "Re: Where is my order #10482?"


def test_outlook_reply_cuts_at_the_original_message_headers(adapter):
    message = message_of(adapter, "reply_outlook")
    assert message.text.endswith("Kind regards\nJohn")
    assert "1Z999AA10123456784." in message.text
    assert "Dear John" not in message.text
    assert message.extra["quoted"].startswith("________________________________\nFrom: Shop")
    assert "Dear John" not in message.html and "divRplyFwdMsg" not in message.html


def test_chinese_gbk_subject_name_and_body(adapter):
    message = message_of(adapter, "chinese_gbk")
    # The subject's encoded words split a character in two; 镕 exists only in GBK, not in
    # the GB2312 the part is labelled with.
    assert message.subject == "关于订单10482的退款问题（朱镕基路店）"
    assert message.sender.name == "王小明"
    assert message.sender.value == "xiaoming.wang@qq.example"
    assert message.text == (
        "您好：\n\n我上周在朱镕基路店买的鞋子尺码不对，想申请退款，请问需要寄回吗？\n\n谢谢！\n王小明"
    )
    assert message.extra["quoted"].startswith("------------------ 原始邮件")
    assert message.thread_refs == (OURS,)


def test_chinese_big5(adapter):
    message = message_of(adapter, "chinese_big5")
    assert message.subject == "詢問尺碼"
    assert message.sender.name == "陳大文"
    assert message.text == "您好，\n\n請問這雙鞋有沒有二十六號半的尺碼？\n\n陳大文"
    assert message.extra["quoted"].startswith("於 2024年5月12日")


def test_attachments_are_listed_and_fetched_from_the_stored_message(db):
    channel = ChannelFactory(kind="email")
    adapter = adapter_for(channel)
    raw = load("attachment")
    (event,) = adapter.split(raw, post(raw, content_type="message/rfc822"))
    InboundEvent.objects.create(channel=channel, dedupe_key=event.dedupe_key, payload=event.payload)
    (message,) = adapter.parse(event.payload)
    assert message.text == "The box arrived crushed, see the photo and the delivery note attached."
    image, pdf = message.media
    assert (image.content_type, image.name, image.kind, image.size) == (
        "image/png",
        "box.png",
        "image",
        70,
    )
    assert (pdf.content_type, pdf.name, pdf.kind) == (
        "application/pdf",
        "Lieferschein Müller.pdf",
        "file",
    )
    assert pdf.ref.startswith("6b1d2f00-8c3a-4e55-9b1e-2f4a5c6d7e8f@example.com#")

    fetched = adapter.media_fetch(pdf)
    assert fetched.data.startswith(b"%PDF-1.4") and len(fetched.data) == pdf.size
    assert (fetched.content_type, fetched.name) == ("application/pdf", "Lieferschein Müller.pdf")
    assert adapter.media_fetch(image).data.startswith(b"\x89PNG\r\n\x1a\n")


def test_media_fetch_of_a_message_no_longer_stored_is_permanent(db):
    channel = ChannelFactory(kind="email")
    adapter = adapter_for(channel)
    (message,) = parsed(adapter, load("attachment"))
    with pytest.raises(PermanentError):
        adapter.media_fetch(message.media[0])
    # Another channel's event is not this channel's.
    other = ChannelFactory(kind="email")
    raw = load("attachment")
    InboundEvent.objects.create(
        channel=other, dedupe_key=mime.dedupe_key(raw), payload=mime.payload_encode(raw)
    )
    with pytest.raises(PermanentError):
        adapter_for(channel).media_fetch(message.media[0])


def test_inline_cid_image_is_a_file_and_not_loaded_in_the_html(adapter):
    message = message_of(adapter, "html_inline_image")
    (image,) = message.media
    assert (image.name, image.content_type, image.kind) == ("shoe.png", "image/png", "image")
    assert "cid:" not in message.html
    assert '<img alt="shoe.jpg">' in message.html
    assert message.text == "I ordered blue but got green:\n\n[image: shoe.jpg]\n\nLena"


def test_auto_reply_is_automated(adapter):
    message = message_of(adapter, "auto_reply")
    assert message.automated is True
    assert message.extra["automated_reason"].startswith("Auto-Submitted")
    assert message.thread_refs == (OURS,)


def test_bounce_of_our_message_is_automated_and_fails_it(adapter):
    items = parsed(adapter, load("bounce"))
    message, status = items
    assert isinstance(message, InboundMessage) and message.automated is True
    assert message.sender.value == "mailer-daemon@googlemail.com"
    assert isinstance(status, StatusUpdate)
    assert status.external_id == OURS
    assert status.status == "failed"
    assert status.error_code == "5.1.1"
    assert "does not exist" in status.error


def test_bounce_of_someone_elses_message_fails_nothing(adapter):
    raw = (
        load("bounce")
        .replace(OURS.encode(), b"abc.123@elsewhere.example")
        .replace(
            b"From: Shop Support <support@shop.example>",
            b"From: Someone <someone@elsewhere.example>",
        )
    )
    items = parsed(adapter, raw)
    assert [type(item) for item in items] == [InboundMessage]
    assert items[0].automated is True


def test_read_receipt_of_our_message_marks_it_read(adapter):
    message, status = parsed(adapter, load("read_receipt"))
    assert message.automated is True
    assert (status.external_id, status.status) == (OURS, "read")


def test_missing_message_id_uses_a_digest_of_the_bytes(adapter):
    raw = load("no_message_id")
    (event,) = adapter.split(raw, post(raw, content_type="message/rfc822"))
    assert event.dedupe_key == body_digest(raw)
    (message,) = adapter.parse(event.payload)
    assert message.external_id == event.dedupe_key
    assert (
        message.text == "Bonjour, voici le bon de commande signé. Merci de confirmer la réception."
    )
    assert message.sender.name == ""


def test_forwarded_message_is_not_cut(adapter):
    message = message_of(adapter, "forward_gmail")
    assert message.text.startswith("I was charged twice, see below.")
    assert "Payment captured twice." in message.text
    assert "Payment captured twice." in message.html
    assert "quoted" not in message.extra


# --- parse: degrading gracefully --------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\xff\xfe garbage \x80\x81\r\n\r\n\xde\xad\xbe\xef",
        b"From: \xff\xfe\x00\r\nSubject: =?x-unknown?Q?=FF?=\r\n\r\n\x00\x01",
        b"From: a@b.example\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all",
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
        b"Content-Type: text/plain; charset=no-such-charset\r\nContent-Transfer-Encoding: base64"
        b"\r\n\r\n!!!not base64!!!\r\n",
        b"From: a@b.example\r\nDate: not a date\r\nMessage-ID: <" + b"x" * 400 + b"@y>\r\n\r\nhi",
        b"From: a@b.example\r\nContent-Type: text/html\r\n\r\n" + b"<div>" * 5000 + b"deep",
        b"",
    ],
)
def test_malformed_mail_never_raises(adapter, raw):
    items = adapter.parse(mime.payload_encode(raw))
    assert items and all(isinstance(item, InboundMessage | Ignored) for item in items)
    for item in items:
        if isinstance(item, InboundMessage):
            assert len(item.external_id) <= 255
            assert all(len(ref) <= 255 for ref in item.thread_refs)


def test_garbage_without_a_sender_is_ignored(adapter):
    (item,) = adapter.parse(mime.payload_encode(b"\x00\xff\xfe garbage \x80\x81"))
    assert isinstance(item, Ignored)
    (item,) = adapter.parse({"mime": "not base64 !"})
    assert isinstance(item, Ignored)
    (item,) = adapter.parse({})
    assert isinstance(item, Ignored)


def test_a_sender_is_found_in_sender_or_reply_to_when_from_is_broken(adapter):
    raw = b"From: undisclosed\r\nReply-To: Bo <bo@example.net>\r\nSubject: hi\r\n\r\nhello"
    (message,) = adapter.parse(mime.payload_encode(raw))
    assert message.sender.value == "bo@example.net" and message.text == "hello"


def test_undeclared_utf8_and_raw_8bit_headers_decode(adapter):
    raw = "From: 李雷 <li.lei@example.cn>\r\nSubject: 你好\r\n\r\n请帮忙".encode()
    (message,) = adapter.parse(mime.payload_encode(raw))
    assert (message.sender.name, message.subject, message.text) == ("李雷", "你好", "请帮忙")


def test_mail_from_our_own_address_is_ignored(adapter):
    raw = load("text").replace(
        b"From: Ann Lee <Ann.Lee@example.com>", b"From: support@shop.example"
    )
    (item,) = adapter.parse(mime.payload_encode(raw))
    assert isinstance(item, Ignored)


def test_future_date_falls_back_to_now(adapter):
    raw = b"From: a@b.example\r\nDate: Fri, 1 Jan 2100 00:00:00 +0000\r\n\r\nhi"
    (message,) = adapter.parse(mime.payload_encode(raw))
    assert message.sent_at.year < 2100


def test_a_truncated_message_says_so(adapter):
    head = load("text").split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    payload = mime.payload_encode(head) | {"truncated": 52_000_000}
    (message,) = adapter.parse(payload)
    assert "52.0 MB" in message.text
    assert message.extra["not_downloaded_bytes"] == 52_000_000


@pytest.mark.parametrize(
    ("headers", "automated"),
    [
        ("Auto-Submitted: auto-replied", True),
        ("Auto-Submitted: no", False),
        ("X-Autoreply: yes", True),
        ("X-Autorespond: Out of office", True),
        ("Precedence: bulk", True),
        ("Precedence: junk", True),
        ("Precedence: auto_reply", True),
        ("Precedence: list", True),
        ("X-Auto-Response-Suppress: All", True),
        ("X-Auto-Response-Suppress: DR, OOF, AutoReply", True),
        ("X-Auto-Response-Suppress: RN, NRN", False),
        ("List-Id: Runners <runners.lists.example.org>", True),
        # Our own support address run as a group: customers' mail is not bulk.
        (
            "List-Id: <support.shop.example>\r\nList-Post: <mailto:support@shop.example>\r\n"
            "Precedence: list",
            False,
        ),
        ("Return-Path: <>", True),
        ("Content-Type: multipart/report; report-type=delivery-status; boundary=q", True),
        ("Importance: high", False),
    ],
)
def test_automated_detection(adapter, headers, automated):
    raw = f"From: Ann <ann@example.com>\r\n{headers}\r\nSubject: x\r\n\r\nhello\r\n".encode()
    (message, *_) = adapter.parse(mime.payload_encode(raw))
    assert message.automated is automated


def test_postmaster_sender_is_automated(adapter):
    raw = b"From: postmaster@mx.example.org\r\nSubject: Undeliverable\r\n\r\nsorry"
    (message,) = adapter.parse(mime.payload_encode(raw))
    assert message.automated is True


def test_plain_text_bounce_of_our_message_fails_it(adapter):
    raw = (
        "From: MAILER-DAEMON@mx.example.org\r\nSubject: failure notice\r\n\r\n"
        "Hi. This is the qmail-send program at mx.example.org.\r\n"
        "<gone@example.org>:\r\n550 5.1.1 mailbox unavailable\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n\r\n"
        f"From: support@shop.example\r\nMessage-ID: <{OURS}>\r\nSubject: Re: hi\r\n"
    ).encode()
    message, status = adapter.parse(mime.payload_encode(raw))
    assert message.automated is True
    assert (status.external_id, status.status, status.error_code) == (OURS, "failed", "5.1.1")
    assert "mailbox unavailable" in status.error


# --- quote rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Yes.\n\nOn Mon, 1 Jan 2024, Bo <b@x.example> wrote:\n> Will you?", "Yes."),
        ("Ja.\n\nAm 01.01.2024 um 10:00 schrieb Bo <b@x.example>:\n> Kommst du?", "Ja."),
        ("好的\n\n在 2024年1月1日 10:00，Bo <b@x.example> 写道：\n> 可以吗", "好的"),
        ("好的\n\nBo <b@x.example> 于2024年1月1日周一 10:00写道：\n> 可以吗", "好的"),
        ("OK\n\n-----Original Message-----\nFrom: Shop\nSent: Monday\nHi", "OK"),
        ("OK\n\nFrom: Shop <s@x.example>\nSent: Monday\nTo: me\n\nHi", "OK"),
        ("好\n\n发件人: Shop <s@x.example>\n发送时间: 2024年1月1日\n\n你好", "好"),
        ("Thanks\n\n> quoted line\n> another", "Thanks"),
        # Inline answers between quotes are the customer's words: nothing is cut.
        ("> Size?\n42\n> Colour?\nBlue", "> Size?\n42\n> Colour?\nBlue"),
        # A quote with nothing above it (bottom-posting) is kept whole.
        (
            "On Mon, Bo wrote:\n> Will you?\n\nYes I will.",
            "On Mon, Bo wrote:\n> Will you?\n\nYes I will.",
        ),
        (
            "See below\n\n---------- Forwarded message ---------\nFrom: x\nSent: y\n\nbody",
            "See below\n\n---------- Forwarded message ---------\nFrom: x\nSent: y\n\nbody",
        ),
    ],
)
def test_quote_split(text, new):
    assert quote_split(text)[0] == new


def test_raw_event_is_self_contained(adapter):
    raw = load("reply_gmail")
    (event,) = adapter.split(raw, post(raw, content_type="message/rfc822"))
    assert isinstance(event, RawEvent)
    # parse needs nothing but the payload (and the channel's own address).
    assert adapter.parse(dict(event.payload))[0].text == "Thank you, the parcel just arrived!"
