"""Processes that the channel benchmarks run beside the product, each on its own core's time
so that it does not skew what it measures:

- `console`: an agent's console socket (/ws/console/ with a session cookie) that notes when
  each `message.created` arrives, by the message's provider id;
- `graph`: a small fast stand-in for Meta's Graph API (the provider, outside the machine in
  production) that answers every send with a new id and counts the texts it was given.

    python bench/_probes.py console --url ws://127.0.0.1:PORT/ws/console/ --cookie sessionid=KEY
    python bench/_probes.py graph

Each prints one line when ready (`ready` or `port N`) and, for `console`, a JSON report on
stdout when it reads `stop` on stdin. Times are `time.monotonic()`: one clock for every
process of the machine (CLOCK_MONOTONIC)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter


# --- Console socket ---------------------------------------------------------------------
async def console(url: str, cookie: str, origin: str) -> None:
    import websockets

    arrivals: dict[str, float] = {}
    pushes: Counter[str] = Counter()
    other = 0
    async with websockets.connect(
        url,
        origin=origin,
        additional_headers={"Cookie": cookie},
        max_size=None,
        proxy=None,
        open_timeout=20,
    ) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if first.get("type") != "ready":
            print(json.dumps({"error": f"not ready: {first}"}), flush=True)
            return
        print("ready", flush=True)
        stop = asyncio.ensure_future(
            asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        )
        while True:
            receive = asyncio.ensure_future(ws.recv())
            done, _pending = await asyncio.wait({receive, stop}, return_when="FIRST_COMPLETED")
            if receive in done:
                now = time.monotonic()
                event = json.loads(receive.result())
                if event.get("type") == "message.created":
                    external_id = (event.get("message") or {}).get("external_id") or ""
                    pushes[external_id] += 1
                    arrivals.setdefault(external_id, now)
                else:
                    other += 1
            if stop in done:
                receive.cancel()
                break
    report = {"arrivals": arrivals, "pushes": dict(pushes), "other_events": other}
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


# --- Graph API stand-in --------------------------------------------------------------------
class GraphProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, enough for httpx: a request line, headers, a body of
    Content-Length bytes. POST …/messages → a new id; GET /_sent → how many so far;
    GET /_counts → every text with the number of times it was sent."""

    sent = 0
    texts: Counter[str] = Counter()

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            lines = head.split("\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            method, path = lines[0].split(" ")[:2]
            self.respond(method, path, body)

    def respond(self, method: str, path: str, body: bytes) -> None:
        cls = GraphProtocol
        if method == "POST" and path.endswith("/messages"):
            cls.sent += 1
            try:
                text = json.loads(body)["text"]["body"]
            except (ValueError, KeyError, TypeError):
                text = ""
            cls.texts[text] += 1
            status, answer = 200, {"messages": [{"id": f"wamid.benchgraph.{cls.sent}"}]}
        elif method == "GET" and path == "/_sent":
            status, answer = 200, {"sent": cls.sent}
        elif method == "GET" and path == "/_counts":
            status, answer = 200, {"sent": cls.sent, "texts": dict(cls.texts)}
        else:
            status, answer = 404, {"error": {"message": "not here", "code": 100}}
        payload = json.dumps(answer).encode()
        reason = "OK" if status == 200 else "Not Found"
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )


async def graph() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(GraphProtocol, "127.0.0.1", 0, backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    # Runs until the benchmark closes our stdin (or kills us).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listen = commands.add_parser("console")
    listen.add_argument("--url", required=True)
    listen.add_argument("--cookie", required=True)
    listen.add_argument("--origin", required=True)
    commands.add_parser("graph")
    args = parser.parse_args()
    if args.command == "console":
        asyncio.run(console(args.url, args.cookie, args.origin))
    else:
        asyncio.run(graph())


if __name__ == "__main__":
    main()
