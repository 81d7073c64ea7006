"""Polling a mailbox over IMAP: every message that arrived since the last poll becomes a
RawEvent, stored exactly like a webhook's.

Where a poll left off is `channel.poll_state = {"uidvalidity": V, "last_uid": N}`. A poll
reads the folder's UIDVALIDITY; while it is unchanged, it fetches the messages with a UID
above N. On the first poll, or when the server has renumbered the folder (UIDVALIDITY
changed, so the old UIDs mean nothing), it starts from the messages that arrived in the
last BACKFILL_DAYS days instead of importing years of history, and from then on follows
the UIDs again. Messages are fetched with BODY.PEEK[], which leaves them unread; the folder
is opened read-only (EXAMINE), so polling never changes the mailbox. The position is saved
after each batch is stored, never before: a crash fetches a batch again and the store
recognises it by Message-ID.

Each call opens its own connection and touches only its own channel's row, so mailboxes
are polled in parallel safely (one task per mailbox).
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import re
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.utils.translation import gettext

from ..base import RawEvent
from . import mime
from .config import TIMEOUT, MailSettings, MailSettingsInvalid, mail_settings

BATCH_SIZE = 50  # messages per FETCH
BATCH_BYTES = 50 * 1024 * 1024  # and at most this much mail per FETCH
MAX_PER_POLL = 500  # the rest waits for the next poll, so one run stays short
BACKFILL_DAYS = 3
# Bigger messages are stored by their headers only, with a note (see inbound.email_parse).
MAX_MESSAGE_BYTES = 40 * 1024 * 1024
# RFC 2971 ID: NetEase (163/126/yeah.net) refuses SELECT ("Unsafe Login") from a client
# that has not introduced itself, so we send it wherever the server offers it.
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))
CLIENT_ID = '("name" "Switchboard" "vendor" "Switchboard" "version" "1.0")'
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class MailboxUnavailable(Exception):
    """The mailbox could not be read: the server is unreachable, refused the login, or has
    no such folder. `reason` says which, in words an admin can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class MailboxLoginFailed(MailboxUnavailable):
    """The server refused the user name and password."""


# --- Connecting ---------------------------------------------------------------------------


def _text(value) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_text(item) for item in value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _error_text(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    match = re.fullmatch(r"b'(.*)'", text) or re.fullmatch(r'b"(.*)"', text)
    return match.group(1) if match else text


def imap_connect(settings: MailSettings) -> imaplib.IMAP4:
    host, port = settings.imap_host, settings.imap_port
    try:
        if settings.imap_security == "ssl":
            return imaplib.IMAP4_SSL(
                host, port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT
            )
        conn = imaplib.IMAP4(host, port, timeout=TIMEOUT)
        if settings.imap_security == "starttls":
            conn.starttls(ssl_context=ssl.create_default_context())
        return conn
    except ssl.SSLError as exc:
        raise MailboxUnavailable(
            gettext(
                "TLS with %(host)s:%(port)s failed (%(error)s). Check the IMAP security "
                "setting and port."
            )
            % {"host": host, "port": port, "error": exc}
        ) from exc
    except TimeoutError as exc:
        raise MailboxUnavailable(
            gettext("%(host)s:%(port)s did not answer in time.") % {"host": host, "port": port}
        ) from exc
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxUnavailable(
            gettext("Could not connect to the IMAP server %(host)s:%(port)s: %(error)s")
            % {"host": host, "port": port, "error": _error_text(exc)}
        ) from exc


def imap_authenticate(conn: imaplib.IMAP4, settings: MailSettings, channel) -> None:
    """Sign in to the mailbox. The method is `channel.settings["imap_auth"]`; "password"
    (the default, and the only one implemented) sends LOGIN, or AUTHENTICATE PLAIN in
    UTF-8 for a non-ASCII password. OAuth2 ("xoauth2") would be added here alone: read an
    access token from `channel.token_cache` and send
    `conn.authenticate("XOAUTH2", lambda _: f"user={user}\\x01auth=Bearer {token}\\x01\\x01")`;
    nothing else in the poller changes."""
    method = str((channel.settings or {}).get("imap_auth", "password") or "password").lower()
    if method != "password":
        raise MailboxUnavailable(
            gettext("Signing in with “%(method)s” is not supported yet; use a password.")
            % {"method": method}
        )
    user, password = settings.imap_user, settings.imap_password
    if not password:
        raise MailboxLoginFailed(gettext("No IMAP password is set for this channel."))
    try:
        if user.isascii() and password.isascii():
            conn.login(user, password)
        else:
            conn.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
    except imaplib.IMAP4.abort as exc:
        raise MailboxUnavailable(
            gettext("The IMAP server closed the connection while signing in: %(error)s")
            % {"error": _error_text(exc)}
        ) from exc
    except imaplib.IMAP4.error as exc:
        raise MailboxLoginFailed(
            gettext("The IMAP server refused the login of %(user)s: %(error)s")
            % {"user": user, "error": _error_text(exc)}
        ) from exc
    except OSError as exc:
        raise MailboxUnavailable(
            gettext("The connection to the IMAP server failed: %(error)s") % {"error": exc}
        ) from exc


def client_identify(conn: imaplib.IMAP4) -> None:
    """Send the ID command when the server supports it; a server refusing it is fine."""
    if "ID" not in conn.capabilities:
        return
    with contextlib.suppress(imaplib.IMAP4.error):
        conn._simple_command("ID", CLIENT_ID)  # imaplib has no public method for ID


@contextmanager
def imap_session(settings: MailSettings, channel) -> Iterator[imaplib.IMAP4]:
    conn = imap_connect(settings)
    try:
        imap_authenticate(conn, settings, channel)
        client_identify(conn)
        yield conn
    finally:
        with contextlib.suppress(Exception):  # a dead connection needs no goodbye
            conn.logout()


def mailbox_name(name: str) -> str:
    """A folder name as IMAP wants it on the wire: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out: list[str] = []
    pending: list[str] = []

    def flush():
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    encoded = "".join(out).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{encoded}"'


def _check(typ: str, data, what: str) -> None:
    if typ != "OK":
        raise MailboxUnavailable(
            gettext("The IMAP server refused %(what)s: %(error)s")
            % {"what": what, "error": _text(data)}
        )


def folder_open(conn: imaplib.IMAP4, folder: str) -> tuple[int, int]:
    """Open the folder read-only; its (message count, UIDVALIDITY)."""
    typ, data = conn.select(mailbox_name(folder), readonly=True)
    if typ != "OK":
        raise MailboxUnavailable(
            gettext("The folder “%(folder)s” cannot be opened: %(error)s")
            % {"folder": folder, "error": _text(data)}
        )
    try:
        exists = int(data[0])
    except (TypeError, ValueError, IndexError):
        exists = 0
    _, validity = conn.response("UIDVALIDITY")
    try:
        uidvalidity = int(validity[-1])
    except (TypeError, ValueError, IndexError):
        uidvalidity = 0  # servers must send it; one that does not is followed by UID alone
    return exists, uidvalidity


# --- Reading messages ---------------------------------------------------------------------

FETCH_START = re.compile(rb"^\d+ \(")
UID_ITEM = re.compile(rb"\bUID (\d+)")
SIZE_ITEM = re.compile(rb"\bRFC822\.SIZE (\d+)")


def _responses(data) -> list[tuple[bytes, bytes | None]]:
    """The FETCH responses of one command: (their text, their literal). A server may put
    items after the literal (`BODY[] {n} … UID 7)`), which imaplib hands over separately."""
    items: list[list] = []
    for entry in data or []:
        if isinstance(entry, tuple) and len(entry) == 2:
            items.append([entry[0], entry[1]])
        elif isinstance(entry, bytes):
            if items and not FETCH_START.match(entry):
                items[-1][0] += b" " + entry
            else:
                items.append([entry, None])
    return [(text, literal) for text, literal in items]


def uids_search(conn: imaplib.IMAP4, *criteria: str) -> list[int]:
    typ, data = conn.uid("SEARCH", *criteria)
    _check(typ, data, "SEARCH")
    found = []
    for line in data or []:
        if isinstance(line, bytes):
            found.extend(int(token) for token in line.split() if token.isdigit())
    return found


def _last_uid(conn: imaplib.IMAP4, exists: int) -> int:
    """The UID of the newest message (0 for an empty folder)."""
    if exists <= 0:
        return 0
    typ, data = conn.fetch(str(exists), "(UID)")
    _check(typ, data, "FETCH")
    for text, _ in _responses(data):
        match = UID_ITEM.search(text)
        if match:
            return int(match.group(1))
    return 0


def _sizes(conn: imaplib.IMAP4, uids: list[int]) -> dict[int, int]:
    typ, data = conn.uid("FETCH", _uid_set(uids), "(UID RFC822.SIZE)")
    _check(typ, data, "FETCH")
    sizes = {}
    for text, _ in _responses(data):
        uid, size = UID_ITEM.search(text), SIZE_ITEM.search(text)
        if uid and size:
            sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _bodies(conn: imaplib.IMAP4, uids: list[int], item: str) -> dict[int, bytes]:
    typ, data = conn.uid("FETCH", _uid_set(uids), f"(UID {item})")
    _check(typ, data, "FETCH")
    found = {}
    for text, literal in _responses(data):
        match = UID_ITEM.search(text)
        if match and literal is not None and int(match.group(1)) in uids:
            found[int(match.group(1))] = literal
    return found


def _batches(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = min(sizes.get(uid, 0), MAX_MESSAGE_BYTES)
        if batch and (len(batch) >= BATCH_SIZE or total + size > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def raw_event(raw: bytes, *, truncated_size: int | None = None) -> RawEvent:
    payload = mime.payload_encode(raw)
    if truncated_size is not None:
        payload["truncated"] = truncated_size
    return RawEvent(dedupe_key=mime.dedupe_key(raw), payload=payload)


def _imap_date(when: datetime) -> str:
    return f"{when.day:02d}-{MONTHS[when.month - 1]}-{when.year}"


def _stored_count(result, events: list[RawEvent]) -> int:
    """How many of `events` the store kept as new: it returns a count or the new rows."""
    if isinstance(result, bool) or result is None:
        return len(events)
    if isinstance(result, int):
        return result
    try:
        return len(result)
    except TypeError:
        return len(events)


def mailbox_poll(
    channel,
    *,
    store: Callable | None = None,
    now: datetime | None = None,
) -> int:
    """Fetch the mailbox's new messages and store them as inbound events; the number of
    events stored. Raises MailboxUnavailable (MailboxLoginFailed for a refused login) with
    a readable reason. A channel without an IMAP server (inbound through the webhook only)
    is not polled."""
    try:
        settings = mail_settings(channel)
    except MailSettingsInvalid as exc:
        raise MailboxUnavailable(exc.reason) from exc
    if not settings.imap_host:
        return 0
    if store is None:
        from channels_app.services.inbound import events_store as store
    now = now or datetime.now(UTC)
    stored = 0
    try:
        with imap_session(settings, channel) as conn:
            exists, uidvalidity = folder_open(conn, settings.imap_folder)
            state = channel.poll_state or {}
            last_uid = state.get("last_uid")
            following = state.get("uidvalidity") == uidvalidity and isinstance(last_uid, int)
            if following:
                baseline = last_uid
                uids = [
                    uid for uid in uids_search(conn, "UID", f"{last_uid + 1}:*") if uid > last_uid
                ]
            else:
                # First poll, or the folder was renumbered: the last few days only.
                baseline = _last_uid(conn, exists)
                since = _imap_date(now - timedelta(days=BACKFILL_DAYS))
                uids = uids_search(conn, "SINCE", since)
                last_uid = 0
            uids = sorted(set(uids))
            complete = len(uids) <= MAX_PER_POLL
            uids = uids[:MAX_PER_POLL]
            sizes = _sizes(conn, uids) if uids else {}
            for batch in _batches(uids, sizes):
                small = [uid for uid in batch if sizes.get(uid, 0) <= MAX_MESSAGE_BYTES]
                large = [uid for uid in batch if uid not in small]
                raws = _bodies(conn, small, "BODY.PEEK[]") if small else {}
                heads = _bodies(conn, large, "BODY.PEEK[HEADER]") if large else {}
                events = [raw_event(raws[uid]) for uid in small if uid in raws]
                events += [
                    raw_event(heads[uid], truncated_size=sizes[uid])
                    for uid in large
                    if uid in heads
                ]
                if events:
                    stored += _stored_count(store(channel=channel, events=events), events)
                last_uid = max(last_uid, *batch)
                _state_save(channel, uidvalidity, last_uid)
            if complete:
                _state_save(channel, uidvalidity, max(last_uid, baseline))
    except MailboxUnavailable:
        raise
    except imaplib.IMAP4.abort as exc:
        raise MailboxUnavailable(
            gettext("The IMAP server dropped the connection: %(error)s")
            % {"error": _error_text(exc)}
        ) from exc
    except imaplib.IMAP4.error as exc:
        raise MailboxUnavailable(
            gettext("The IMAP server answered with an error: %(error)s")
            % {"error": _error_text(exc)}
        ) from exc
    except TimeoutError as exc:
        raise MailboxUnavailable(gettext("The IMAP server stopped answering.")) from exc
    except OSError as exc:
        raise MailboxUnavailable(
            gettext("The connection to the IMAP server failed: %(error)s") % {"error": exc}
        ) from exc
    return stored


def _state_save(channel, uidvalidity: int, last_uid: int) -> None:
    state = {"uidvalidity": uidvalidity, "last_uid": last_uid}
    if channel.poll_state == state:
        return
    channel.poll_state = state
    channel.save(update_fields=["poll_state"])


def imap_check(settings: MailSettings, channel) -> tuple[bool, str]:
    """Sign in and open the folder: can we read the mailbox?"""
    if not settings.imap_host:
        return True, gettext("IMAP: not set; mail arrives through the inbound webhook.")
    try:
        with imap_session(settings, channel) as conn:
            exists, _ = folder_open(conn, settings.imap_folder)
    except MailboxUnavailable as exc:
        return False, gettext("IMAP: %(error)s") % {"error": exc.reason}
    except (imaplib.IMAP4.error, OSError) as exc:
        return False, gettext("IMAP: %(error)s") % {"error": _error_text(exc)}
    return True, gettext("IMAP: signed in; %(count)s messages in %(folder)s.") % {
        "count": exists,
        "folder": settings.imap_folder,
    }
