"""Polling a mailbox over IMAP, against a local IMAP4rev1 server (tests/.../fake_imap.py)."""

import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from channels_app.adapters import adapter_for
from channels_app.adapters.email import imap as imap_module
from channels_app.adapters.email import mime
from channels_app.adapters.email.imap import (
    MailboxLoginFailed,
    MailboxUnavailable,
    mailbox_name,
    mailbox_poll,
)
from channels_app.models import InboundEvent
from tests.factories.channels import ChannelFactory

from .fake_imap import FakeImap

NOW = datetime.now(UTC)


def mail(number: int, *, msgid: bool = True) -> bytes:
    header = f"Message-ID: <poll-{number}@example.com>\r\n" if msgid else ""
    return (
        f"From: Customer {number} <customer{number}@example.com>\r\n"
        f"To: support@shop.example\r\nSubject: Question {number}\r\n{header}"
        f"Date: Mon, 13 May 2024 10:00:00 +0000\r\n\r\nHello number {number}\r\n"
    ).encode()


class Recorder:
    """Plays events_store: keeps events by dedupe key, answers the new ones."""

    def __init__(self):
        self.calls: list[list] = []
        self.keys: dict[str, dict] = {}

    def __call__(self, *, channel, events):
        self.calls.append(list(events))
        new = [event for event in events if event.dedupe_key not in self.keys]
        for event in new:
            self.keys[event.dedupe_key] = event.payload
        return [object() for _ in new]


@pytest.fixture
def server():
    with FakeImap(user="support@shop.example", password="imap-pass") as fake:
        yield fake


@pytest.fixture
def channel(db, server):
    return ChannelFactory(
        kind="email",
        settings={"address": "support@shop.example", **server.settings()},
    )


def test_first_poll_stores_everything_recent_and_saves_the_position(channel, server):
    raws = [mail(n) for n in (1, 2, 3)]
    for raw in raws:
        server.append(raw)
    store = Recorder()

    assert mailbox_poll(channel, store=store) == 3

    (events,) = store.calls
    assert [event.dedupe_key for event in events] == [f"poll-{n}@example.com" for n in (1, 2, 3)]
    assert [mime.payload_decode(event.payload) for event in events] == raws
    channel.refresh_from_db()
    assert channel.poll_state == {"uidvalidity": server.uidvalidity, "last_uid": 3}
    # Read-only and never marking anything read.
    assert any(" EXAMINE " in command for command in server.commands)
    assert not any(" SELECT " in command or " STORE " in command for command in server.commands)
    fetches = [command for command in server.commands if " FETCH " in command]
    assert all("BODY[]" not in command.replace("BODY.PEEK[]", "") for command in fetches)
    assert not any(message.flags for message in server.messages)
    assert server.logins == 1


def test_second_poll_stores_nothing_new_and_a_new_message_only_that_one(channel, server):
    server.append(mail(1))
    server.append(mail(2))
    store = Recorder()
    assert mailbox_poll(channel, store=store) == 2

    # "UID 3:*" names the highest message (UID 2) when nothing is newer: it is skipped.
    assert mailbox_poll(channel, store=store) == 0
    assert len(store.calls) == 1

    server.append(mail(3))
    assert mailbox_poll(channel, store=store) == 1
    assert [event.dedupe_key for event in store.calls[-1]] == ["poll-3@example.com"]
    channel.refresh_from_db()
    assert channel.poll_state["last_uid"] == 3


def test_first_poll_skips_old_history(channel, server):
    server.append(mail(1), internal_date=NOW - timedelta(days=40))
    server.append(mail(2), internal_date=NOW - timedelta(days=10))
    server.append(mail(3), internal_date=NOW - timedelta(hours=5))
    store = Recorder()

    assert mailbox_poll(channel, store=store) == 1
    assert [event.dedupe_key for event in store.calls[0]] == ["poll-3@example.com"]
    channel.refresh_from_db()
    assert channel.poll_state["last_uid"] == 3


def test_first_poll_of_a_mailbox_with_only_old_mail_starts_after_it(channel, server):
    server.append(mail(1), internal_date=NOW - timedelta(days=40))
    server.append(mail(2), internal_date=NOW - timedelta(days=30))
    store = Recorder()

    assert mailbox_poll(channel, store=store) == 0
    channel.refresh_from_db()
    assert channel.poll_state == {"uidvalidity": server.uidvalidity, "last_uid": 2}
    server.append(mail(3), internal_date=NOW - timedelta(days=50))  # old date, new arrival
    assert mailbox_poll(channel, store=store) == 1
    assert [event.dedupe_key for event in store.calls[-1]] == ["poll-3@example.com"]


def test_uidvalidity_change_restarts_from_the_last_days(channel, server):
    server.append(mail(1), internal_date=NOW - timedelta(days=20))
    server.append(mail(2), internal_date=NOW - timedelta(days=1))
    channel.poll_state = {"uidvalidity": server.uidvalidity, "last_uid": 2}
    channel.save()
    server.append(mail(3))
    server.append(mail(4))
    # The folder is rebuilt: message 1 is gone, the rest renumbered 1..3 under a new UIDVALIDITY.
    del server.messages[0]
    server.renumber(uidvalidity=424242)
    store = Recorder()
    store.keys["poll-2@example.com"] = {}  # stored before the change

    assert mailbox_poll(channel, store=store) == 2
    (events,) = store.calls
    # The last days are fetched again; the one already stored is recognised by Message-ID.
    assert [event.dedupe_key for event in events] == [
        "poll-2@example.com",
        "poll-3@example.com",
        "poll-4@example.com",
    ]
    channel.refresh_from_db()
    assert channel.poll_state == {"uidvalidity": 424242, "last_uid": 3}


def test_large_mailboxes_are_fetched_in_batches_of_50_and_progress_is_kept(channel, server):
    for n in range(1, 121):
        server.append(mail(n))
    calls = []

    def failing_store(*, channel, events):
        calls.append(len(events))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return list(events)

    with pytest.raises(RuntimeError):
        mailbox_poll(channel, store=failing_store)
    channel.refresh_from_db()
    # The first batch was stored, so the position moved past it and no further.
    assert channel.poll_state["last_uid"] == 50

    store = Recorder()
    assert mailbox_poll(channel, store=store) == 70
    assert [len(events) for events in store.calls] == [50, 20]
    body_fetches = [c for c in server.commands if "BODY.PEEK[]" in c]
    assert all(len(c.split(" FETCH ")[1].split(" ")[0].split(",")) <= 50 for c in body_fetches)
    channel.refresh_from_db()
    assert channel.poll_state["last_uid"] == 120


def test_one_poll_takes_at_most_max_per_poll(channel, server, monkeypatch):
    monkeypatch.setattr(imap_module, "MAX_PER_POLL", 3)
    for n in range(1, 6):
        server.append(mail(n))
    store = Recorder()
    assert mailbox_poll(channel, store=store) == 3
    assert mailbox_poll(channel, store=store) == 2
    assert len(store.keys) == 5


def test_oversized_messages_are_stored_by_their_headers(channel, server, monkeypatch):
    monkeypatch.setattr(imap_module, "MAX_MESSAGE_BYTES", 300)
    big = mail(1).replace(b"Hello number 1", b"x" * 1000)
    server.append(big)
    server.append(mail(2))
    store = Recorder()

    assert mailbox_poll(channel, store=store) == 2
    events = {event.dedupe_key: event for call in store.calls for event in call}
    large = events["poll-1@example.com"]
    assert large.payload["truncated"] == len(big)
    assert mime.payload_decode(large.payload).endswith(b"\r\n\r\n")
    assert b"xxxx" not in mime.payload_decode(large.payload)
    (message,) = adapter_for(channel).parse(large.payload)
    assert message.subject == "Question 1" and "MB" in message.text
    assert "truncated" not in events["poll-2@example.com"].payload


def test_messages_without_message_id_get_a_digest_key(channel, server):
    raw = mail(7, msgid=False)
    server.append(raw)
    store = Recorder()
    assert mailbox_poll(channel, store=store) == 1
    assert store.calls[0][0].dedupe_key.startswith("sha256:")


def test_servers_that_want_the_client_id_get_it(db):
    with FakeImap(require_id=True) as server:
        channel = ChannelFactory(
            kind="email", settings={"address": "support@shop.example", **server.settings()}
        )
        server.append(mail(1))
        assert mailbox_poll(channel, store=Recorder()) == 1
    assert any(' ID ("name" "Switchboard"' in command for command in server.commands)


def test_no_id_is_sent_where_the_server_does_not_offer_it(channel, server):
    mailbox_poll(channel, store=Recorder())
    assert not any(" ID " in command for command in server.commands)


def test_bad_password_is_a_clear_error(channel, server):
    channel.credentials = {"imap_password": "wrong"}
    with pytest.raises(MailboxLoginFailed) as caught:
        mailbox_poll(channel, store=Recorder())
    assert "refused the login of support@shop.example" in caught.value.reason
    assert "Invalid credentials" in caught.value.reason
    assert channel.poll_state == {}


def test_non_ascii_password_signs_in_with_authenticate_plain(channel, server):
    server.password = "pässwörd-密码"
    channel.credentials = {"imap_password": "pässwörd-密码"}
    server.append(mail(1))
    assert mailbox_poll(channel, store=Recorder()) == 1
    assert any(" AUTHENTICATE PLAIN" in command for command in server.commands)


def test_connection_refused_is_a_clear_error(channel):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel.settings = {**channel.settings, "imap_port": str(port)}
    with pytest.raises(MailboxUnavailable) as caught:
        mailbox_poll(channel, store=Recorder())
    assert f"127.0.0.1:{port}" in caught.value.reason


def test_missing_folder_is_a_clear_error(channel, server):
    channel.settings = {**channel.settings, "imap_folder": "Support Mail"}
    with pytest.raises(MailboxUnavailable) as caught:
        mailbox_poll(channel, store=Recorder())
    assert "Support Mail" in caught.value.reason
    assert any('EXAMINE "Support Mail"' in command for command in server.commands)


def test_unknown_security_setting_is_a_clear_error(channel):
    channel.settings = {**channel.settings, "imap_security": "tls1.3-please"}
    with pytest.raises(MailboxUnavailable) as caught:
        mailbox_poll(channel, store=Recorder())
    assert "ssl, starttls or none" in caught.value.reason


def test_other_sign_in_methods_are_refused_until_implemented(channel, server):
    channel.settings = {**channel.settings, "imap_auth": "xoauth2"}
    with pytest.raises(MailboxUnavailable) as caught:
        mailbox_poll(channel, store=Recorder())
    assert "xoauth2" in caught.value.reason
    assert server.logins == 0


def test_a_channel_without_imap_is_not_polled(db):
    channel = ChannelFactory(kind="email")  # webhook-only: no imap_host

    def store(**kwargs):
        raise AssertionError("nothing to store")

    assert mailbox_poll(channel, store=store) == 0


def test_mailbox_names_are_modified_utf7_and_quoted():
    assert mailbox_name("INBOX") == '"INBOX"'
    assert mailbox_name("~peter/mail/台北/日本語") == '"~peter/mail/&U,BTFw-/&ZeVnLIqe-"'
    assert mailbox_name('A&B "x"') == '"A&-B \\"x\\""'


def test_poll_with_the_real_store_is_idempotent(channel, server):
    server.append(mail(1))
    server.append(mail(2))
    assert mailbox_poll(channel) == 2
    assert set(
        InboundEvent.objects.filter(channel=channel).values_list("dedupe_key", flat=True)
    ) == {
        "poll-1@example.com",
        "poll-2@example.com",
    }
    # Forget the position (a lost save): the same messages are fetched and stored once.
    channel.poll_state = {}
    channel.save()
    assert mailbox_poll(channel) == 0
    assert InboundEvent.objects.filter(channel=channel).count() == 2
    event = InboundEvent.objects.get(channel=channel, dedupe_key="poll-2@example.com")
    (message,) = adapter_for(channel).parse(event.payload)
    assert message.text == "Hello number 2" and message.sender.value == "customer2@example.com"


@pytest.mark.django_db(transaction=True)
def test_mailboxes_poll_in_parallel():
    with FakeImap() as first, FakeImap(user="sales@shop.example", password="other") as second:
        for n in range(1, 31):
            first.append(mail(n))
            second.append(mail(100 + n))
        channels = [
            ChannelFactory(
                kind="email", settings={"address": "support@shop.example", **first.settings()}
            ),
            ChannelFactory(
                kind="email",
                settings={"address": "sales@shop.example", **second.settings()},
                credentials={"imap_password": "other"},
            ),
        ]
        results: dict[int, int] = {}

        def poll(channel):
            try:
                results[channel.pk] = mailbox_poll(channel, store=Recorder())
            finally:
                connection.close()

        threads = [threading.Thread(target=poll, args=(channel,)) for channel in channels]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == {channels[0].pk: 30, channels[1].pk: 30}
    for channel in channels:
        channel.refresh_from_db()
        assert channel.poll_state["last_uid"] == 30
