"""A chat client that speaks the live-chat protocol the way the widget and the console
do (docs/live-chat.md): writes over REST with a client id, pushes over a real websocket,
and the `seq` rule: keep the highest contiguous seq held, fetch `?after=` it on a gap."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field

import httpx
from websockets.exceptions import ConnectionClosed

from tests.live.clients import ws_connect


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
    def socket(self):
        with ws_connect(self.base_url, f"/ws/widget/{self.key}/") as ws:
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
    def socket(self):
        with ws_connect(self.base_url, "/ws/console/", cookies=self.cookies) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "ready"
            yield ws


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
