"""A local OpenAI-compatible server, for tests and `manage.py ai_eval`: the real openai client
talks HTTP to it, so nothing of ours is patched and no provider is ever called.

    with FakeOpenAI() as fake:
        fake.script(FakeReply(status=429, headers={"retry-after": "0"}), FakeReply(text="Hi"))
        chat(ProviderSettings(base_url=fake.url, api_key="k", model="m"), messages)
        fake.chat_requests()[0]["json"]["messages"]

Chat completions are answered by the scripted replies in order, then by `responder(request
json)`, else with "OK"; plain or streamed (SSE, as OpenAI streams: text in several deltas,
tool calls in fragments, a usage chunk when asked). Embeddings are hashed features of the
text, deterministic and similar for texts that share words (or, in Chinese and Japanese,
characters and character pairs)."""

import array
import base64
import contextlib
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"
MODELS_PATH = "/v1/models"
TEXT_PIECE = 4  # characters a delta, about a token: a short answer still takes several
ARGUMENT_PIECE = 8
TRICKLE_PIECES = 8  # a plain body with chunk_delay is written in this many pieces
STOP_POLL = 0.05  # seconds: how soon stop() returns

_WORD = re.compile(r"[a-z0-9\u00c0-\u024f]+")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}


@dataclass
class FakeReply:
    text: str = ""
    # [{"name": "order_status", "arguments": {...}}]; "raw_arguments" (a str) is sent as is,
    # to send invalid JSON; "id" is optional.
    tool_calls: list[dict] = field(default_factory=list)
    status: int = 200  # not 200: an OpenAI-style error body
    headers: dict = field(default_factory=dict)  # e.g. {"retry-after": "0"}
    delay: float = 0.0  # seconds before the answer starts
    chunk_delay: float = 0.0  # between stream chunks; a plain body trickles in pieces
    malformed: bool = False  # a body that is not JSON, or a stream that breaks after one delta
    empty: bool = False  # "choices": []
    prompt_tokens: int | None = None  # None: estimated from the request
    completion_tokens: int | None = None  # None: estimated from the reply


def hashed_embedding(text: str, dim: int = 256) -> list[float]:
    """Lower-cased Latin words, CJK characters and CJK character pairs, hashed with a sign into
    `dim` buckets and L2-normalised (a text with none of them is hashed whole)."""
    lowered = text.lower()
    features = _WORD.findall(lowered)
    for run in _CJK_RUN.findall(lowered):
        features += list(run) + [run[i : i + 2] for i in range(len(run) - 1)]
    vector = [0.0] * dim
    for feature in features or [lowered]:
        digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
        vector[digest % dim] += 1.0 if digest >> 63 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector] if norm else vector


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class FakeOpenAI:
    """A local OpenAI-compatible server in a thread: /v1/chat/completions, /v1/embeddings,
    /v1/models. `with FakeOpenAI() as fake:` -> fake.url == "http://127.0.0.1:<port>/v1".
    With `api_key`, requests without "Authorization: Bearer <api_key>" get a 401 that, like
    some real providers, quotes the key it was given."""

    def __init__(
        self,
        *,
        responder: Callable[[dict], FakeReply] | None = None,
        embedding_dim: int = 256,
        api_key: str | None = None,
    ) -> None:
        self.responder = responder
        self.embedding_dim = embedding_dim
        self.api_key = api_key
        self.requests: list[dict] = []  # {"path", "headers", "json"}, in order
        self.disconnects = 0  # answers the client stopped reading before their end
        self._replies: list[FakeReply] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": STOP_POLL}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: FakeReply) -> None:
        """Queues replies for the next chat completions, used in order before the responder."""
        with self._lock:
            self._replies.extend(replies)

    def chat_requests(self) -> list[dict]:
        with self._lock:
            return [request for request in self.requests if request["path"] == CHAT_PATH]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping out a delay
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeOpenAI":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, path: str, headers: dict, payload: object) -> None:
        with self._lock:
            self.requests.append({"path": path, "headers": headers, "json": payload})

    def _next_reply(self, payload: dict) -> FakeReply:
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
        return self.responder(payload) if self.responder else FakeReply(text="OK")

    def _count_disconnect(self) -> None:
        with self._lock:
            self.disconnects += 1

    def _pause(self, seconds: float) -> None:
        if seconds:
            self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler sleeping out a delay
    fake: FakeOpenAI


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as real providers
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle(self) -> None:
        # A client may drop a kept-alive connection, e.g. after a stream's [DONE].
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            super().handle()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = None
        path = urlsplit(self.path).path
        fake._record(path, {k.lower(): v for k, v in self.headers.items()}, payload)
        try:
            self._answer(fake, path, payload)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            fake._count_disconnect()
            self.close_connection = True

    def _answer(self, fake: FakeOpenAI, path: str, payload: object) -> None:
        authorization = self.headers.get("Authorization", "")
        if fake.api_key is not None and authorization != f"Bearer {fake.api_key}":
            given = authorization.removeprefix("Bearer ")
            self._send_error(401, f"Incorrect API key provided: {given}.")
        elif not isinstance(payload, dict):
            self._send_error(400, "We could not parse the JSON body of your request.")
        elif path == CHAT_PATH and self.command == "POST":
            self._chat(fake, payload)
        elif path == EMBEDDINGS_PATH and self.command == "POST":
            self._embeddings(fake, payload)
        elif path == MODELS_PATH and self.command == "GET":
            models = [
                {"id": name, "object": "model", "created": 0, "owned_by": "fake"}
                for name in ("fake-chat", "fake-embedding")
            ]
            self._send_json(200, {"object": "list", "data": models})
        else:
            self._send_error(404, f"Unknown path {path}.")

    def _chat(self, fake: FakeOpenAI, payload: dict) -> None:
        reply = fake._next_reply(payload)
        fake._pause(reply.delay)
        if reply.status != 200:
            self._send_error(reply.status, HTTPStatus(reply.status).phrase, reply.headers)
            return
        calls = [
            {
                "id": call.get("id") or f"call_{index}",
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": call.get("raw_arguments") or json.dumps(call.get("arguments", {})),
                },
            }
            for index, call in enumerate(reply.tool_calls)
        ]
        arguments = "".join(call["function"]["arguments"] for call in calls)
        usage = {
            "prompt_tokens": reply.prompt_tokens
            if reply.prompt_tokens is not None
            else _estimate_tokens(json.dumps(payload.get("messages", []), ensure_ascii=False)),
            "completion_tokens": reply.completion_tokens
            if reply.completion_tokens is not None
            else _estimate_tokens(reply.text + arguments),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        head = {
            "id": f"chatcmpl-fake{len(fake.requests)}",
            "created": int(time.time()),
            "model": payload.get("model") or "fake-chat",
        }
        finish = "tool_calls" if calls else "stop"
        if payload.get("stream"):
            self._stream(fake, reply, payload, head, calls, usage, finish)
            return
        if reply.malformed:
            broken = b'{"id": "chatcmpl-broken", "choices": [{"message": '
            self._send_body(200, broken, "application/json", reply.headers, reply.chunk_delay)
            return
        message = {"role": "assistant", "content": reply.text or None}
        if calls:
            message["tool_calls"] = calls
        choices = (
            []
            if reply.empty
            else [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}]
        )
        completion = {**head, "object": "chat.completion", "choices": choices, "usage": usage}
        self._send_json(200, completion, reply.headers, reply.chunk_delay)

    def _stream(
        self,
        fake: FakeOpenAI,
        reply: FakeReply,
        payload: dict,
        head: dict,
        calls: list[dict],
        usage: dict,
        finish: str,
    ) -> None:
        def chunk(choices: list[dict], **extra: object) -> bytes:
            event = {**head, "object": "chat.completion.chunk", "choices": choices, **extra}
            return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()

        def delta(content: dict, finish_reason: str | None = None) -> bytes:
            return chunk([{"index": 0, "delta": content, "finish_reason": finish_reason}])

        events: list[bytes] = []
        if not reply.empty:
            events.append(delta({"role": "assistant", "content": ""}))
            events += [delta({"content": piece}) for piece in _pieces(reply.text, TEXT_PIECE)]
            for index, call in enumerate(calls):
                function = call["function"]
                opening = {"name": function["name"], "arguments": ""}
                events.append(
                    delta(
                        {
                            "tool_calls": [
                                {
                                    "index": index,
                                    "id": call["id"],
                                    "type": "function",
                                    "function": opening,
                                }
                            ]
                        }
                    )
                )
                events += [
                    delta({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                    for piece in _pieces(function["arguments"], ARGUMENT_PIECE)
                ]
            events.append(delta({}, finish))
        if (payload.get("stream_options") or {}).get("include_usage"):
            events.append(chunk([], usage=usage))
        events.append(b"data: [DONE]\n\n")
        if reply.malformed:  # one good delta, then a chunk cut in the middle, then nothing
            events = [*events[:2], b'data: {"id": "chatcmpl-broken", "choices": [\n\n']

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for index, event in enumerate(events):
            if index:
                fake._pause(reply.chunk_delay)
            self.wfile.write(f"{len(event):X}\r\n".encode() + event + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def _embeddings(self, fake: FakeOpenAI, payload: dict) -> None:
        given = payload.get("input", [])
        texts = [given] if isinstance(given, str) else [str(item) for item in given]
        encode_base64 = payload.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = hashed_embedding(text, fake.embedding_dim)
            packed = base64.b64encode(array.array("f", vector).tobytes()).decode()
            data.append(
                {
                    "object": "embedding",
                    "index": index,
                    "embedding": packed if encode_base64 else vector,
                }
            )
        tokens = sum(_estimate_tokens(text) for text in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": payload.get("model") or "fake-embedding",
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _send_error(self, status: int, message: str, headers: dict | None = None) -> None:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        error = {
            "message": message,
            "type": kind,
            "param": None,
            "code": _ERROR_CODES.get(status, kind),
        }
        self._send_json(status, {"error": error}, headers)

    def _send_json(
        self, status: int, body: dict, headers: dict | None = None, piece_delay: float = 0.0
    ) -> None:
        encoded = json.dumps(body, ensure_ascii=False).encode()
        self._send_body(status, encoded, "application/json", headers or {}, piece_delay)

    def _send_body(
        self, status: int, body: bytes, content_type: str, headers: dict, piece_delay: float
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not piece_delay:
            self.wfile.write(body)
            return
        for index, piece in enumerate(_pieces(body, math.ceil(len(body) / TRICKLE_PIECES))):
            if index:
                self.server.fake._pause(piece_delay)
            self.wfile.write(piece)


def _pieces(data, size: int) -> list:
    return [data[i : i + size] for i in range(0, len(data), size)]
