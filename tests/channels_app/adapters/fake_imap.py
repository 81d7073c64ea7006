"""A small local IMAP4rev1 server for tests: enough of RFC 3501 for imaplib and our poller.

    with FakeImap(user="support@shop.example", password="imap-pass") as imap:
        uid = imap.append(raw_bytes)                       # a message arrives
        imap.renumber(uidvalidity=99)                      # the server renumbers the folder
        ... channel.settings |= imap.settings() ...
        imap.commands                                      # what the client sent

Speaks plaintext (imap_security "none"): greeting, CAPABILITY, LOGIN, AUTHENTICATE PLAIN,
ID (only advertised, and then required before SELECT, with `require_id=True`),
SELECT/EXAMINE (EXISTS, UIDVALIDITY, UIDNEXT), SEARCH/UID SEARCH (ALL, UID <set>,
SINCE <date>), FETCH/UID FETCH (UID, RFC822.SIZE, BODY.PEEK[], BODY.PEEK[HEADER], BODY[]
which sets \\Seen), NOOP, LOGOUT. Sequence sets follow RFC 3501, including that "n:*"
with n above the highest UID still names the highest one.
"""

from __future__ import annotations

import base64
import re
import socketserver
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass
class StoredMessage:
    uid: int
    data: bytes
    internal_date: datetime
    flags: set[str] = field(default_factory=set)


def _atoms(text: str) -> list[str]:
    """Split command arguments: atoms, "quoted strings" and (parenthesised lists)."""
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char == " ":
            index += 1
        elif char == '"':
            end, value = index + 1, []
            while end < len(text) and text[end] != '"':
                if text[end] == "\\":
                    end += 1
                value.append(text[end])
                end += 1
            out.append("".join(value))
            index = end + 1
        elif char == "(":
            depth, end = 0, index
            while end < len(text):
                depth += text[end] == "("
                depth -= text[end] == ")"
                end += 1
                if depth == 0:
                    break
            out.append(text[index:end])
            index = end
        else:
            end = text.find(" ", index)
            end = len(text) if end < 0 else end
            out.append(text[index:end])
            index = end
    return out


class FakeImap:
    def __init__(
        self,
        *,
        user: str = "support@shop.example",
        password: str = "imap-pass",  # noqa: S107 - the factory's fake credential
        folder: str = "INBOX",
        uidvalidity: int = 1_700_000_001,
        require_id: bool = False,
    ):
        self.user = user
        self.password = password
        self.folder = folder
        self.uidvalidity = uidvalidity
        # Like NetEase's servers: advertise ID and refuse SELECT until the client sent it.
        self.require_id = require_id
        self.messages: list[StoredMessage] = []
        self.next_uid = 1
        self.commands: list[str] = []
        self.logins = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                fake._session(self.rfile, self.wfile)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # Test controls ------------------------------------------------------------------------
    def __enter__(self) -> FakeImap:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def settings(self) -> dict:
        return {
            "imap_host": "127.0.0.1",
            "imap_port": str(self.port),
            "imap_security": "none",
            "imap_user": self.user,
            "imap_folder": self.folder,
        }

    def append(self, data: bytes, *, internal_date: datetime | None = None) -> int:
        with self._lock:
            uid = self.next_uid
            self.next_uid += 1
            self.messages.append(StoredMessage(uid, data, internal_date or datetime.now(UTC)))
            return uid

    def renumber(self, *, uidvalidity: int) -> None:
        """What a server does after rebuilding the folder: new UIDVALIDITY, new UIDs."""
        with self._lock:
            self.uidvalidity = uidvalidity
            for index, message in enumerate(self.messages, start=1):
                message.uid = index
            self.next_uid = len(self.messages) + 1

    # Protocol -----------------------------------------------------------------------------
    def _session(self, rfile, wfile) -> None:
        state = {"auth": False, "selected": False, "identified": False}
        capabilities = "IMAP4rev1 AUTH=PLAIN" + (" ID" if self.require_id else "")

        def send(line: str | bytes) -> None:
            wfile.write((line.encode() if isinstance(line, str) else line) + b"\r\n")

        send(f"* OK [CAPABILITY {capabilities}] Fake IMAP ready")
        while True:
            line = rfile.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            self.commands.append(text)
            tag, _, rest = text.partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            try:
                if command == "CAPABILITY":
                    send(f"* CAPABILITY {capabilities}")
                    send(f"{tag} OK CAPABILITY completed")
                elif command == "ID" and self.require_id:
                    state["identified"] = True
                    send('* ID ("name" "Fake IMAP")')
                    send(f"{tag} OK ID completed")
                elif command == "NOOP":
                    send(f"{tag} OK NOOP completed")
                elif command == "LOGOUT":
                    send("* BYE Fake IMAP closing")
                    send(f"{tag} OK LOGOUT completed")
                    wfile.flush()
                    return
                elif command == "LOGIN":
                    user, password = _atoms(args)[:2]
                    self._login(tag, user, password, state, send)
                elif command == "AUTHENTICATE" and args.upper() == "PLAIN":
                    send("+ ")
                    wfile.flush()
                    answer = base64.b64decode(rfile.readline().strip()).decode("utf-8")
                    _, user, password = answer.split("\0")
                    self._login(tag, user, password, state, send)
                elif command in ("SELECT", "EXAMINE"):
                    self._select(tag, command, args, state, send)
                elif command == "UID":
                    sub, _, sub_args = args.partition(" ")
                    self._dispatch(tag, sub.upper(), sub_args, state, send, by_uid=True)
                elif command in ("SEARCH", "FETCH"):
                    self._dispatch(tag, command, args, state, send, by_uid=False)
                else:
                    send(f"{tag} BAD Unknown command")
            except (ValueError, IndexError) as exc:
                send(f"{tag} BAD {exc}")
            wfile.flush()

    def _login(self, tag, user, password, state, send) -> None:
        if user == self.user and password == self.password:
            state["auth"] = True
            self.logins += 1
            send(f"{tag} OK LOGIN completed")
        else:
            send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)")

    def _select(self, tag, command, args, state, send) -> None:
        if not state["auth"]:
            send(f"{tag} NO Not authenticated")
            return
        if self.require_id and not state["identified"]:
            send(f"{tag} NO {command} Unsafe Login. Please contact kefu@188.com for help")
            return
        if _atoms(args)[0] != self.folder:
            send(f"{tag} NO [NONEXISTENT] No such mailbox")
            return
        state["selected"] = True
        with self._lock:
            send(r"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)")
            send(f"* {len(self.messages)} EXISTS")
            send("* 0 RECENT")
            send(f"* OK [UIDVALIDITY {self.uidvalidity}] UIDs valid")
            send(f"* OK [UIDNEXT {self.next_uid}] Predicted next UID")
        mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
        send(f"{tag} OK [{mode}] {command} completed")

    def _dispatch(self, tag, command, args, state, send, *, by_uid: bool) -> None:
        if not state["selected"]:
            send(f"{tag} BAD No mailbox selected")
            return
        with self._lock:
            numbered = list(enumerate(self.messages, start=1))
            if command == "SEARCH":
                found = self._search(_atoms(args), numbered, by_uid)
                send("* SEARCH" + "".join(f" {number}" for number in found))
            elif command == "FETCH":
                sequence, _, items = args.partition(" ")
                for seq, message in numbered:
                    key = message.uid if by_uid else seq
                    highest = numbered[-1][1].uid if by_uid else len(numbered)
                    if numbered and _in_set(key, sequence, highest):
                        send(self._fetch_response(seq, message, items.upper(), by_uid))
            else:
                send(f"{tag} BAD Unknown UID command")
                return
        prefix = "UID " if by_uid else ""
        send(f"{tag} OK {prefix}{command} completed")

    def _search(self, criteria: list[str], numbered, by_uid: bool) -> list[int]:
        matches = []
        highest_uid = numbered[-1][1].uid if numbered else 0
        for seq, message in numbered:
            ok, index = True, 0
            while index < len(criteria):
                key = criteria[index].upper()
                if key == "ALL":
                    index += 1
                elif key == "UID":
                    ok &= _in_set(message.uid, criteria[index + 1], highest_uid)
                    index += 2
                elif key == "SINCE":
                    day, month, year = criteria[index + 1].split("-")
                    since = date(int(year), MONTHS.index(month.title()) + 1, int(day))
                    ok &= message.internal_date.date() >= since
                    index += 2
                else:
                    raise ValueError(f"unsupported search key {key}")
            if ok:
                matches.append(message.uid if by_uid else seq)
        return matches

    def _fetch_response(self, seq: int, message: StoredMessage, items: str, by_uid: bool) -> bytes:
        parts: list[bytes] = []
        if by_uid or "UID" in items:
            parts.append(f"UID {message.uid}".encode())
        if "RFC822.SIZE" in items:
            parts.append(f"RFC822.SIZE {len(message.data)}".encode())
        literal = None
        if "BODY.PEEK[HEADER]" in items:
            head = message.data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            literal = (b"BODY[HEADER]", head)
        elif "BODY.PEEK[]" in items:
            literal = (b"BODY[]", message.data)
        elif "BODY[]" in items or "RFC822" in re.sub(r"RFC822\.SIZE", "", items):
            message.flags.add(r"\Seen")
            literal = (b"BODY[]", message.data)
        if literal:
            name, data = literal
            parts.append(name + b" {" + str(len(data)).encode() + b"}\r\n" + data)
        return f"* {seq} FETCH (".encode() + b" ".join(parts) + b")"


def _in_set(number: int, sequence: str, highest: int) -> bool:
    """Whether `number` is in an IMAP sequence set like "1,4:7,9:*"."""
    for piece in sequence.split(","):
        if ":" in piece:
            low, high = piece.split(":")
            low_n = highest if low == "*" else int(low)
            high_n = highest if high == "*" else int(high)
            if min(low_n, high_n) <= number <= max(low_n, high_n):
                return True
        elif (highest if piece == "*" else int(piece)) == number:
            return True
    return False
