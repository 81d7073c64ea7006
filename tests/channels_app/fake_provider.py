"""A local HTTP server that plays a provider's API: tests script its answers per path and
read back exactly what our adapters sent (method, path, headers, body).

    with FakeProvider() as fake:
        fake.reply("POST", "/v21.0/123/messages", 200, {"messages": [{"id": "wamid.X"}]})
        fake.reply("POST", "/v21.0/123/messages", 429, {}, headers={"Retry-After": "7"})
        ... channel.settings["api_base"] = fake.url ...
        request = fake.requests[0]; request.json()

Answers queued for a path are used in order; the last one repeats. `delay` makes an
answer late (for timeouts)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


class FakeProvider:
    def __init__(self):
        self.requests: list[Recorded] = []
        self._answers: dict[tuple[str, str], list[Answer]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    method=self.command,
                    path=split.path,
                    query={k: v[0] for k, v in parse_qs(split.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                answer = fake._answer_for(recorded)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reply(
        self,
        method: str,
        path: str,
        status: int = 200,
        body: dict | list | bytes | str = b"",
        *,
        headers: dict | None = None,
        delay: float = 0.0,
    ) -> None:
        if isinstance(body, dict | list):
            payload = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = body
        with self._lock:
            self._answers.setdefault((method.upper(), path), []).append(
                Answer(status, payload, headers or {}, delay)
            )

    def _answer_for(self, recorded: Recorded) -> Answer:
        with self._lock:
            self.requests.append(recorded)
            queue = self._answers.get((recorded.method, recorded.path))
            if not queue:
                return Answer(404, b'{"error": "no answer scripted for this path"}')
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def sent(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        ]

    def __enter__(self) -> FakeProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
