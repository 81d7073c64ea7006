"""A chat client that speaks the live-chat protocol the way the widget and the console
do (docs/live-chat.md): writes over REST with a client id, pushes over a real websocket,
and the `seq` rule: keep the highest contiguous seq held, fetch `?after=` it on a gap."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.typing import Origin
from websockets.uri import parse_uri

from tests.live.clients import ws_connect, ws_url


@dataclass
class SeqLog:
    """Messages held by seq, and how each arrived."""

    messages: dict[int, dict] = field(default_factory=dict)
    pushed: int = 0
    fetched: int = 0
    gaps: int = 0

    @property
    def last_seq(self) -> int:
        seq = 0
        while seq + 1 in self.messages:
            seq += 1
        return seq

    def on_push(self, message: dict, fetch_after) -> None:
        seq = message["seq"]
        if seq in self.messages:
            return
        if seq > self.last_seq + 1:
            self.gaps += 1
            self.catch_up(fetch_after)
        if seq not in self.messages:
            self.messages[seq] = message
            self.pushed += 1

    def catch_up(self, fetch_after) -> None:
        while True:
            page = fetch_after(self.last_seq)
            for message in page["results"]:
                if message["seq"] not in self.messages:
                    self.messages[message["seq"]] = message
                    self.fetched += 1
            if not page["has_more"]:
                return


class Visitor:
    def __init__(self, base_url: str, key: str):
        self.base_url, self.key = base_url, key
        self.http = httpx.Client(base_url=base_url, timeout=10, trust_env=False)
        session = self.http.post(
            f"/widget/v1/{key}/session/", json={"context": {"page_url": "https://x.test/"}}
        )
        session.raise_for_status()
        self.token = session.json()["token"]
        self.http.headers["Authorization"] = f"Visitor {self.token}"
        self.log = SeqLog()

    def send(self, body: str, client_id: str | None = None) -> dict:
        response = self.http.post(
            f"/widget/v1/{self.key}/messages/",
            json={"client_id": client_id or uuid.uuid4().hex, "body": body},
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    def fetch_after(self, seq: int) -> dict:
        response = self.http.get(f"/widget/v1/{self.key}/messages/", params={"after": seq})
        response.raise_for_status()
        return response.json()

    @contextlib.contextmanager
    def socket(self, stalling: bool = False):
        path = f"/ws/widget/{self.key}/"
        with open_socket(self.base_url, path, None, stalling) as ws:
            ws.send(json.dumps({"type": "auth", "token": self.token}))
            assert json.loads(ws.recv(timeout=5))["type"] == "ready"
            yield ws


class Agent:
    def __init__(self, base_url: str, token_key: str, cookies: dict):
        self.base_url, self.cookies = base_url, cookies
        self.http = httpx.Client(
            base_url=base_url,
            timeout=10,
            trust_env=False,
            headers={"Authorization": f"Token {token_key}"},
        )
        self.log = SeqLog()

    def reply(self, conversation: str, body: str, client_id: str | None = None) -> dict:
        response = self.http.post(
            f"/api/v1/conversations/{conversation}/messages/",
            json={"client_id": client_id or uuid.uuid4().hex, "body": body},
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    def fetch_after(self, conversation: str, seq: int) -> dict:
        response = self.http.get(
            f"/api/v1/conversations/{conversation}/messages/", params={"after": seq}
        )
        response.raise_for_status()
        return response.json()

    @contextlib.contextmanager
    def socket(self, stalling: bool = False):
        with open_socket(self.base_url, "/ws/console/", self.cookies, stalling) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "ready"
            yield ws


class StallingClient:
    """A real websocket client (websockets' sans-I/O protocol over a plain TCP socket with
    a small, fixed receive buffer) that reads only when asked: while it is not asked, the
    server's sends back up after a few MB, as for a slow phone. Same `send`/`recv` as the
    sync client."""

    def __init__(self, base_url: str, path: str, cookies: dict | None = None):
        parts = urlsplit(base_url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        self.sock.connect((parts.hostname, parts.port))
        self.protocol = ClientProtocol(
            parse_uri(ws_url(base_url, path)), origin=Origin(base_url), max_size=None
        )
        request = self.protocol.connect()
        if cookies:
            request.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.protocol.send_request(request)
        self._flush()
        self.messages: deque[str] = deque()
        self.fragments: list[bytes] = []
        while self.protocol.state is State.CONNECTING:
            self._read(timeout=10)
        if self.protocol.handshake_exc is not None:
            raise self.protocol.handshake_exc

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)

    def _read(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(256 * 1024)
        except TimeoutError:
            raise
        if not data:
            self.protocol.receive_eof()
            raise ConnectionClosedError(self.protocol.close_rcvd, self.protocol.close_sent)
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.CONT):
                self.fragments.append(event.data)
                if event.fin:
                    self.messages.append(b"".join(self.fragments).decode())
                    self.fragments = []
        self._flush()  # answers the server's pings

    def send(self, text: str) -> None:
        if self.protocol.state is not State.OPEN:  # the server is closing it: reconnect
            raise ConnectionClosedError(self.protocol.close_rcvd, self.protocol.close_sent)
        self.protocol.send_text(text.encode())
        self._flush()

    def recv(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while not self.messages:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._read(remaining)
        return self.messages.popleft()

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def open_socket(base_url: str, path: str, cookies: dict | None, stalling: bool):
    if not stalling:
        with ws_connect(base_url, path, cookies=cookies) as ws:
            yield ws
        return
    ws = StallingClient(base_url, path, cookies)
    try:
        yield ws
    finally:
        ws.close()


def next_event(ws, event_type: str, timeout: float = 5.0) -> dict:
    """The next event of `event_type`, skipping others; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {event_type} event within {timeout} s"
        event = json.loads(ws.recv(timeout=remaining))
        if event["type"] == event_type:
            return event


def drain_messages(ws, on_message, quiet_seconds: float = 1.5) -> None:
    """Hands every pushed message to `on_message` until the socket is quiet."""
    while True:
        try:
            event = json.loads(ws.recv(timeout=quiet_seconds))
        except TimeoutError:
            return
        except ConnectionClosed:
            return
        if event["type"] == "message.created":
            on_message(event)
