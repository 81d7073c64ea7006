"""Sending replies over SMTP, against a local aiosmtpd server; and test_connection."""

import socket
import threading
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from channels_app.adapters import adapter_for
from channels_app.adapters.base import (
    OutboundFile,
    OutboundMessage,
    PermanentError,
    TransientError,
)
from channels_app.adapters.email import smtp as smtp_module
from channels_app.adapters.email.smtp import references_for, subject_for
from tests.factories.channels import ChannelFactory

from .fake_imap import FakeImap

CUSTOMER = "ann.lee@example.com"
FIRST = "CAJ7q8mS1x0pZ3b9QhY2f5kR0WnL6t4Vd=qeXw1@mail.gmail.com"
OURS = "171717171717.4242.8807345577172638821@shop.example"
LATEST = "CAJ7q8mT0aB4c7XyQ2p9Lw3nV5s1k8Rz6YdU@mail.gmail.com"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Handler:
    def __init__(self):
        self.envelopes = []
        self.rcpt_reply = ""
        self.data_reply = ""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 2.0.0 Ok: queued as 4VfG1x2Yz"

    def message(self, index: int = -1):
        return message_from_bytes(self.envelopes[index].content, policy=policy.default)


class FakeSmtp:
    def __init__(self, user="support@shop.example", password="smtp-pass"):  # noqa: S107
        self.handler = Handler()
        self.port = free_port()

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == user and auth_data.password.decode() == password
            # handled=False makes aiosmtpd answer 535 itself on a failure.
            return AuthResult(success=ok, handled=False)

        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticate,
            auth_require_tls=False,
        )

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def settings(self) -> dict:
        return {"smtp_host": "127.0.0.1", "smtp_port": str(self.port), "smtp_security": "none"}


@pytest.fixture
def smtp():
    with FakeSmtp() as fake:
        yield fake


@pytest.fixture
def channel(smtp):
    return ChannelFactory.build(
        kind="email",
        settings={
            "address": "support@shop.example",
            "display_name": "Shop Support",
            **smtp.settings(),
        },
    )


def reply(**kwargs) -> OutboundMessage:
    fields = {
        "recipient": CUSTOMER,
        "text": "Hi Ann,\n\nyour parcel left our warehouse this morning.\n\nShop",
        "subject": "Where is my order #10482?",
        "thread_refs": (FIRST, OURS, LATEST),
    }
    return OutboundMessage(**(fields | kwargs))


def test_a_reply_carries_the_threading_headers(channel, smtp):
    result = adapter_for(channel).send(reply())

    (envelope,) = smtp.handler.envelopes
    assert envelope.mail_from == "support@shop.example"
    assert envelope.rcpt_tos == [CUSTOMER]
    sent = smtp.handler.message()
    assert sent["Message-ID"] == f"<{result.external_id}>"
    assert result.external_id.endswith("@shop.example") and "<" not in result.external_id
    assert result.status == "sent"
    assert sent["In-Reply-To"] == f"<{LATEST}>"
    assert sent["References"].split() == [f"<{FIRST}>", f"<{OURS}>", f"<{LATEST}>"]
    assert sent["Subject"] == "Re: Where is my order #10482?"
    assert sent["From"] == "Shop Support <support@shop.example>"
    assert sent["To"] == CUSTOMER
    assert sent.get_content_type() == "text/plain"
    assert sent.get_content().replace("\r\n", "\n").strip() == reply().text
    assert sent["Date"]


def test_re_is_added_once(channel, smtp):
    adapter = adapter_for(channel)
    adapter.send(reply(subject="Re: Where is my order #10482?"))
    adapter.send(reply(subject="RE: Re: 回复：Where is my order #10482?"))
    assert [smtp.handler.message(i)["Subject"] for i in (0, 1)] == [
        "Re: Where is my order #10482?",
        "Re: Where is my order #10482?",
    ]


def test_a_first_message_has_no_reply_headers(channel, smtp):
    adapter_for(channel).send(reply(thread_refs=(), subject="Your order has shipped"))
    sent = smtp.handler.message()
    assert sent["Subject"] == "Your order has shipped"
    assert sent["In-Reply-To"] is None and sent["References"] is None


def test_without_a_display_name_the_from_is_the_address(smtp):
    channel = ChannelFactory.build(
        kind="email", settings={"address": "support@shop.example", **smtp.settings()}
    )
    adapter_for(channel).send(reply())
    assert smtp.handler.message()["From"] == "support@shop.example"


def test_attachments_are_sent(channel, smtp):
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n"
    files = (
        OutboundFile(
            name="Rechnung Müller.pdf", content_type="application/pdf", size=len(pdf), data=pdf
        ),
        OutboundFile(name="label.png", content_type="image/png", size=4, data=b"\x89PNG"),
    )
    adapter_for(channel).send(reply(files=files))
    sent = smtp.handler.message()
    assert sent.get_content_type() == "multipart/mixed"
    attachments = list(sent.iter_attachments())
    assert [(part.get_filename(), part.get_content_type()) for part in attachments] == [
        ("Rechnung Müller.pdf", "application/pdf"),
        ("label.png", "image/png"),
    ]
    assert attachments[0].get_content() == pdf
    assert sent.get_body(("plain",)).get_content().startswith("Hi Ann,")


def test_long_threads_keep_the_first_and_the_latest_references(channel, smtp):
    refs = tuple(f"m{n}@example.com" for n in range(1, 31))
    adapter_for(channel).send(reply(thread_refs=refs))
    sent = smtp.handler.message()
    ids = [value.strip("<>") for value in sent["References"].split()]
    assert len(ids) == 20
    assert ids[0] == "m1@example.com" and ids[-1] == "m30@example.com"
    assert ids[1:] == [f"m{n}@example.com" for n in range(12, 31)]
    assert sent["In-Reply-To"] == "<m30@example.com>"


def test_unsafe_refs_never_reach_the_headers(channel, smtp):
    refs = ("ok@example.com", "evil@example.com>\r\nBcc: victim@example.com", "<bad id@x>")
    adapter_for(channel).send(reply(thread_refs=refs))
    sent = smtp.handler.message()
    assert sent["Bcc"] is None
    assert sent["References"] == "<ok@example.com>"


def test_4xx_is_transient(channel, smtp):
    smtp.handler.rcpt_reply = "450 4.2.1 Mailbox busy, try again later"
    with pytest.raises(TransientError) as caught:
        adapter_for(channel).send(reply())
    assert caught.value.code == "450" and "Mailbox busy" in caught.value.reason

    smtp.handler.rcpt_reply = ""
    smtp.handler.data_reply = "451 4.3.0 Temporary local problem"
    with pytest.raises(TransientError) as caught:
        adapter_for(channel).send(reply())
    assert caught.value.code == "451"


def test_5xx_is_permanent_with_the_servers_words(channel, smtp):
    smtp.handler.rcpt_reply = "550 5.1.1 <ann.lee@example.com>: Recipient address rejected"
    with pytest.raises(PermanentError) as caught:
        adapter_for(channel).send(reply())
    assert caught.value.code == "550"
    assert "Recipient address rejected" in caught.value.reason

    smtp.handler.rcpt_reply = ""
    smtp.handler.data_reply = "552 5.3.4 Message size exceeds fixed limit"
    with pytest.raises(PermanentError) as caught:
        adapter_for(channel).send(reply())
    assert caught.value.code == "552" and "size exceeds" in caught.value.reason


def test_wrong_smtp_password_is_permanent(channel, smtp):
    channel.credentials = {"smtp_password": "wrong"}
    with pytest.raises(PermanentError) as caught:
        adapter_for(channel).send(reply())
    assert caught.value.code == "535"
    assert not smtp.handler.envelopes


def test_connection_refused_is_transient():
    channel = ChannelFactory.build(
        kind="email",
        settings={
            "address": "support@shop.example",
            "smtp_host": "127.0.0.1",
            "smtp_port": str(free_port()),
            "smtp_security": "none",
        },
    )
    with pytest.raises(TransientError) as caught:
        adapter_for(channel).send(reply())
    assert caught.value.code == "network"


def test_a_silent_server_times_out_as_transient(monkeypatch):
    monkeypatch.setattr(smtp_module, "TIMEOUT", 0.5)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    channel = ChannelFactory.build(
        kind="email",
        settings={
            "address": "support@shop.example",
            "smtp_host": "127.0.0.1",
            "smtp_port": str(listener.getsockname()[1]),
            "smtp_security": "none",
        },
    )
    try:
        with pytest.raises(TransientError) as caught:
            adapter_for(channel).send(reply())
        assert caught.value.code in ("timeout", "disconnected")
    finally:
        for conn, _ in accepted:
            conn.close()
        listener.close()


def test_files_over_25_mb_are_refused_before_connecting(channel, smtp):
    big = b"\0" * (13 * 1024 * 1024)
    files = tuple(
        OutboundFile(name=f"part{n}.zip", content_type="application/zip", size=len(big), data=big)
        for n in (1, 2)
    )
    with pytest.raises(PermanentError):
        adapter_for(channel).send(reply(files=files))
    assert not smtp.handler.envelopes


def test_a_recipient_that_is_no_address_is_permanent(channel, smtp):
    with pytest.raises(PermanentError):
        adapter_for(channel).send(reply(recipient="not-an-address"))
    with pytest.raises(PermanentError):
        adapter_for(channel).send(reply(recipient="a@b.example\r\nBcc: c@d.example"))
    assert not smtp.handler.envelopes


@pytest.mark.parametrize(
    ("subject", "replying", "expected"),
    [
        ("Order", True, "Re: Order"),
        ("Re: Order", True, "Re: Order"),
        ("RE: re:Order", True, "Re: Order"),
        ("Re[2]: Order", True, "Re: Order"),
        ("AW: Order", True, "Re: Order"),
        ("回复：订单", True, "Re: 订单"),
        ("Order", False, "Order"),
        ("Re: Order", False, "Re: Order"),
        ("", True, "Re:"),
        ("Reorder  of\n shoes", True, "Re: Reorder of shoes"),
    ],
)
def test_subject_for(subject, replying, expected):
    assert subject_for(subject, replying) == expected


def test_references_for_short_lists_are_kept_whole():
    assert references_for(["a@x", "b@x"]) == ["a@x", "b@x"]


# --- test_connection ------------------------------------------------------------------------


def test_connection_signs_in_to_both(smtp):
    with FakeImap() as imap:
        imap.append(b"From: a@b.example\r\nSubject: x\r\n\r\nhi\r\n")
        channel = ChannelFactory.build(
            kind="email",
            settings={"address": "support@shop.example", **imap.settings(), **smtp.settings()},
        )
        check = adapter_for(channel).test_connection()
    assert check.ok, check.message
    assert "IMAP: signed in; 1 messages in INBOX." in check.message
    assert "SMTP: signed in to 127.0.0.1." in check.message


def test_connection_reports_which_side_fails(smtp):
    with FakeImap() as imap:
        channel = ChannelFactory.build(
            kind="email",
            settings={"address": "support@shop.example", **imap.settings(), **smtp.settings()},
            credentials={"imap_password": "imap-pass", "smtp_password": "wrong"},
        )
        check = adapter_for(channel).test_connection()
    assert not check.ok
    assert "IMAP: signed in" in check.message
    assert "SMTP:" in check.message and "535" in check.message

    channel.credentials = {"imap_password": "wrong", "smtp_password": "smtp-pass"}
    with FakeImap() as imap:
        channel.settings = {**channel.settings, **imap.settings()}
        check = adapter_for(channel).test_connection()
    assert not check.ok
    assert "refused the login" in check.message and "SMTP: signed in" in check.message


def test_connection_of_a_webhook_only_channel_checks_smtp(smtp):
    channel = ChannelFactory.build(
        kind="email", settings={"address": "support@shop.example", **smtp.settings()}
    )
    check = adapter_for(channel).test_connection()
    assert check.ok and "inbound webhook" in check.message


def test_connection_with_bad_settings_says_so():
    channel = ChannelFactory.build(
        kind="email", settings={"address": "support@shop.example", "smtp_port": "smtp"}
    )
    check = adapter_for(channel).test_connection()
    assert not check.ok and "port" in check.message
