"""The one door to a language model: any OpenAI-compatible endpoint (OpenAI, DeepSeek, Qwen,
Ollama, vLLM) through the official `openai` client's Chat Completions and Embeddings APIs.

The client's own retries and timeouts are used as they are: it retries 408, 409, 429, 5xx,
timeouts and refused connections `max_retries` times, waiting 0.5 s, 1 s, 2 s … (at most
8 s, less up to a quarter of jitter) or what Retry-After asks. Two bounds are added so that
a call's total time is bounded whatever the provider does:
- httpx's timeout applies to each socket read, so a server trickling bytes would never trip
  it: a body must be complete within `timeout` of its headers (a streamed answer, which
  arrives token by token, within STREAM_TIMEOUT_FACTOR times `timeout`);
- the client would wait up to two minutes when Retry-After says so: a provider asking for
  more than MAX_RETRY_WAIT seconds gets no retry (a customer is waiting for the answer).

Every failure comes out as a ProviderError whose text is safe to log: it never quotes the
provider's message, which may echo the API key or the prompt, only the status and code."""

import email.utils
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from urllib.parse import urlsplit

import httpx2
import openai
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

MAX_RETRY_WAIT = 10.0
STREAM_TIMEOUT_FACTOR = 6
EMBED_BATCH_SIZE = 64
# The openai client refuses an empty key; keyless local servers (Ollama, vLLM) accept any.
KEYLESS_PLACEHOLDER = "none"
_COST_QUANTUM = Decimal("0.000001")
# Characters that cost about one token each (Han, kana, hangul); other text about four a token.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# A provider's error code or type is quoted only when it looks like an identifier.
_SAFE_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,40}")
# Tokens the chat format adds around each message.
_MESSAGE_OVERHEAD_TOKENS = 4


@dataclass(frozen=True)
class ProviderSettings:
    base_url: str
    api_key: str
    model: str
    embedding_model: str = ""  # "" = this provider gives no embeddings
    timeout: float = 20.0  # seconds per attempt
    max_retries: int = 2
    max_output_tokens: int = 600
    temperature: float = 0.3
    input_price_per_million: Decimal = Decimal(0)  # currency units per 1M prompt tokens
    output_price_per_million: Decimal = Decimal(0)


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: "Usage") -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    def cost(self, settings: ProviderSettings) -> Decimal:
        """In the currency of the settings' prices, to the millionth."""
        prompt_price = Decimal(str(settings.input_price_per_million))
        completion_price = Decimal(str(settings.output_price_per_million))
        total = self.prompt_tokens * prompt_price + self.completion_tokens * completion_price
        return (total / 1_000_000).quantize(_COST_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict


@dataclass
class ChatResult:
    text: str
    tool_calls: list[ToolCall]
    usage: Usage
    finish_reason: str  # "stop" | "length" | "tool_calls" | "cancelled" | ...
    model: str
    latency_ms: int
    attempts: int  # requests made, retries included


class ProviderError(Exception):
    """A call that failed. `kind` is one of "timeout", "rate_limited", "server_error",
    "connection", "auth", "bad_request", "bad_output"; str() is short and safe to log."""

    def __init__(self, kind: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.status = status


def estimate_tokens(text: str) -> int:
    """A rough token count, for when the provider reports none (a cancelled stream)."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def chat(
    settings: ProviderSettings,
    messages: list[dict],
    *,
    tools: list[dict] | None = None,
    json_mode: bool = False,
    on_delta: Callable[[str], bool] | None = None,
) -> ChatResult:
    """Asks the chat model. With `on_delta` the answer is streamed: each text delta is passed
    to it, and when it returns False the stream is closed at once and what was received is
    returned with finish_reason "cancelled" (usage: what the server reported, else estimated
    from the messages and the text received)."""
    started = time.monotonic()
    completions = _client(settings).chat.completions.with_raw_response
    params = _chat_params(settings, messages, tools=tools, json_mode=json_mode)
    try:
        if on_delta is None:
            raw = completions.create(**params)
            result = _completion_result(raw.parse)
        else:
            raw = completions.create(**params, stream=True, stream_options={"include_usage": True})
            result = _stream_result(raw.parse(), on_delta)
    except openai.OpenAIError as error:
        # `from None`: the client's message may quote the key or the prompt, and a traceback
        # logged upstream would show it.
        raise _provider_error(error, settings) from None
    if result.finish_reason != "cancelled" and not result.text.strip() and not result.tool_calls:
        raise ProviderError("bad_output", "the answer was empty")
    if result.usage is None:
        prompt = _messages_tokens(messages)
        result.usage = Usage(prompt_tokens=prompt, completion_tokens=estimate_tokens(result.text))
    return ChatResult(
        text=result.text,
        tool_calls=result.tool_calls,
        usage=result.usage,
        finish_reason=result.finish_reason,
        model=result.model or settings.model,
        latency_ms=round((time.monotonic() - started) * 1000),
        attempts=raw.retries_taken + 1,
    )


def embed(settings: ProviderSettings, texts: Sequence[str]) -> tuple[list[list[float]], Usage]:
    """One vector per text, in order, asked EMBED_BATCH_SIZE texts per request."""
    if not settings.embedding_model:
        raise ProviderError("bad_request", "this provider has no embedding model")
    client = _client(settings)
    vectors: list[list[float]] = []
    usage = Usage()
    for start in range(0, len(texts), EMBED_BATCH_SIZE):
        batch = list(texts[start : start + EMBED_BATCH_SIZE])
        try:
            # Floats, not the client's default base64, which some compatible servers lack.
            response = client.embeddings.create(
                model=settings.embedding_model, input=batch, encoding_format="float"
            )
        except (openai.OpenAIError, ValueError) as error:
            raise _provider_error(error, settings) from None
        vectors.extend(_embedding_vectors(response, len(batch)))
        reported = getattr(response.usage, "prompt_tokens", None)
        tokens = reported if isinstance(reported, int) else sum(map(estimate_tokens, batch))
        usage.add(Usage(prompt_tokens=tokens))
    return vectors, usage


def provider_check(settings: ProviderSettings) -> str:
    """Why the provider does not answer a minimal request, or "" when it does (the admin's
    "test connection"). One attempt each: the chat model, asked for a one-token answer unless
    it is the embedding model itself (an embeddings-only provider), and the embedding model."""
    client = _client(settings).with_options(max_retries=0)
    try:
        if settings.model and settings.model != settings.embedding_model:
            client.chat.completions.create(
                model=settings.model,
                messages=[{"role": "user", "content": "ping"}],
                **{_output_limit_name(settings): 1},
            )
        if settings.embedding_model:
            client.embeddings.create(
                model=settings.embedding_model, input=["ping"], encoding_format="float"
            )
    except (openai.OpenAIError, ValueError) as error:
        return str(_provider_error(error, settings))
    return ""


def _client(settings: ProviderSettings) -> openai.OpenAI:
    return _cached_client(
        settings.base_url,
        settings.api_key,
        float(settings.timeout),
        int(settings.max_retries),
    )


@lru_cache(maxsize=32)
def _cached_client(base_url: str, api_key: str, timeout: float, max_retries: int) -> openai.OpenAI:
    # One client, and so one connection pool, per endpoint: httpx clients are thread-safe.
    http_client = openai.DefaultHttpxClient(event_hooks={"response": [_bound_response(timeout)]})
    return openai.OpenAI(
        base_url=base_url,
        api_key=api_key or KEYLESS_PLACEHOLDER,
        timeout=timeout,
        max_retries=max_retries,
        http_client=http_client,
    )


def _bound_response(timeout: float) -> Callable[[httpx2.Response], None]:
    """An httpx response hook that puts the two bounds of the module docstring on every
    response, before the openai client decides on a retry or reads the body."""

    def hook(response: httpx2.Response) -> None:
        if response.status_code >= 400 and _retry_after(response.headers) > MAX_RETRY_WAIT:
            response.headers["x-should-retry"] = "false"  # the openai client obeys it
        streamed = response.headers.get("content-type", "").startswith("text/event-stream")
        limit = timeout * STREAM_TIMEOUT_FACTOR if streamed else timeout
        response.stream = _DeadlineStream(response.stream, time.monotonic() + limit, response)

    return hook


class _DeadlineStream(httpx2.SyncByteStream):
    """A response body that must be complete by `deadline`. It is checked as each piece
    arrives, and pieces are never more than a read timeout apart."""

    def __init__(self, stream: httpx2.SyncByteStream, deadline: float, response: httpx2.Response):
        self._stream = stream
        self._deadline = deadline
        self._request = response.request

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._stream:
            if time.monotonic() > self._deadline:
                raise httpx2.ReadTimeout("the response took too long", request=self._request)
            yield piece

    def close(self) -> None:
        self._stream.close()


def _retry_after(headers: httpx2.Headers) -> float:
    """The seconds a provider asks us to wait, read as the openai client reads them."""
    for name, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            return float(headers[name]) / divisor
        except (KeyError, ValueError):
            continue
    try:
        return email.utils.parsedate_to_datetime(headers["retry-after"]).timestamp() - time.time()
    except (KeyError, TypeError, ValueError):
        return 0.0


def _output_limit_name(settings: ProviderSettings) -> str:
    # OpenAI's newer models refuse max_tokens; most compatible servers know nothing else.
    host = urlsplit(settings.base_url).hostname or ""
    openai_host = host == "openai.com" or host.endswith(".openai.com")
    return "max_completion_tokens" if openai_host else "max_tokens"


def _chat_params(
    settings: ProviderSettings, messages: list[dict], *, tools: list[dict] | None, json_mode: bool
) -> dict:
    params = {
        "model": settings.model,
        "messages": messages,
        "temperature": float(settings.temperature),
        _output_limit_name(settings): int(settings.max_output_tokens),
    }
    if tools:
        params["tools"] = tools
    if json_mode:
        params["response_format"] = {"type": "json_object"}
    return params


@dataclass
class _Answer:
    text: str
    tool_calls: list[ToolCall]
    usage: Usage | None  # None: the provider reported none
    finish_reason: str
    model: str


def _completion_result(parse: Callable[[], object]) -> _Answer:
    try:
        completion = parse()
    except ValueError:
        raise ProviderError("bad_output", "the answer was not valid JSON") from None
    # The client does not validate: a body of another content type comes back as a str,
    # a JSON body of the wrong shape as lists and Nones.
    if not isinstance(completion, ChatCompletion) or not completion.choices:
        raise ProviderError("bad_output", "the answer had no choices")
    try:
        choice = completion.choices[0]
        message = choice.message
        text = (message.content if message else None) or ""
        calls = [
            _tool_call(call.id, call.function.name, call.function.arguments)
            for call in (message.tool_calls if message else None) or []
        ]
        return _Answer(
            text=text if isinstance(text, str) else "",
            tool_calls=calls,
            usage=_usage(completion.usage),
            finish_reason=choice.finish_reason or "",
            model=completion.model or "",
        )
    except (AttributeError, TypeError) as error:  # fields of the wrong type
        raise ProviderError("bad_output", "the answer had an unexpected shape") from error


def _stream_result(
    stream: openai.Stream[ChatCompletionChunk], on_delta: Callable[[str], bool]
) -> _Answer:
    """Reads a stream of chunks; `with stream` closes the connection on every way out, so a
    cancelled answer stops the provider's generation as soon as it notices. Exceptions of
    `on_delta` pass through unchanged."""
    texts: list[str] = []
    calls: dict[int, dict] = {}  # index -> {"id", "name", "arguments": [fragments]}
    answer = _Answer(text="", tool_calls=[], usage=None, finish_reason="", model="")
    with stream:
        chunks = iter(stream)
        while True:
            try:
                chunk = next(chunks, None)
            except ValueError:
                raise ProviderError("bad_output", "a streamed chunk was not valid JSON") from None
            if chunk is None:
                break
            text = _read_chunk(chunk, calls, answer)
            if text:
                texts.append(text)
                if on_delta(text) is False:
                    answer.finish_reason = "cancelled"
                    break
    answer.text = "".join(texts)
    if (texts or calls) and not answer.finish_reason:
        # Cut off without [DONE]: half an answer must not reach a customer.
        raise ProviderError("connection", "the stream ended before the answer was finished")
    if answer.finish_reason != "cancelled":
        answer.tool_calls = [
            _tool_call(call["id"], call["name"], "".join(call["arguments"]))
            for _index, call in sorted(calls.items())
        ]
    return answer


def _read_chunk(chunk: ChatCompletionChunk, calls: dict[int, dict], answer: _Answer) -> str:
    """Folds one chunk into `calls` and `answer`; returns its text delta."""
    try:
        answer.model = chunk.model or answer.model
        answer.usage = _usage(chunk.usage) or answer.usage
        if not chunk.choices:
            return ""
        choice = chunk.choices[0]
        answer.finish_reason = choice.finish_reason or answer.finish_reason
        delta = choice.delta
        if delta is None:
            return ""
        for fragment in delta.tool_calls or []:
            call = calls.setdefault(fragment.index or 0, {"id": "", "name": "", "arguments": []})
            call["id"] = call["id"] or fragment.id or ""
            if fragment.function:
                call["name"] = call["name"] or fragment.function.name or ""
                call["arguments"].append(fragment.function.arguments or "")
        return delta.content if isinstance(delta.content, str) else ""
    except (AttributeError, TypeError) as error:
        raise ProviderError("bad_output", "a streamed chunk had an unexpected shape") from error


def _tool_call(call_id: str | None, name: str | None, arguments: str | None) -> ToolCall:
    try:
        parsed = json.loads(arguments or "{}")  # a tool without parameters may get ""
    except ValueError:
        raise ProviderError("bad_output", f"tool call {name!r} had invalid JSON") from None
    if not isinstance(parsed, dict) or not name:
        raise ProviderError("bad_output", "a tool call had no name or no argument object")
    return ToolCall(id=call_id or "", name=name, arguments=parsed)


def _usage(reported: object) -> Usage | None:
    prompt = getattr(reported, "prompt_tokens", None)
    completion = getattr(reported, "completion_tokens", None)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def _messages_tokens(messages: list[dict]) -> int:
    total = 0
    for message in messages:
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"text": content or ""}]
        texts = [part.get("text") or "" for part in parts if isinstance(part, dict)]
        texts += [json.dumps(call.get("function", {})) for call in message.get("tool_calls", [])]
        total += _MESSAGE_OVERHEAD_TOKENS + sum(map(estimate_tokens, texts))
    return total


def _embedding_vectors(response: object, expected: int) -> list[list[float]]:
    data = response.data if isinstance(response, CreateEmbeddingResponse) else None
    if not isinstance(data, list) or len(data) != expected:
        raise ProviderError("bad_output", "the embeddings did not match the texts sent")
    try:
        vectors = [item.embedding for item in sorted(data, key=lambda item: item.index or 0)]
    except (AttributeError, TypeError) as error:
        raise ProviderError("bad_output", "the embeddings had an unexpected shape") from error
    if not all(isinstance(vector, list) and vector for vector in vectors):
        raise ProviderError("bad_output", "an embedding was not a list of numbers")
    return vectors


def _provider_error(error: Exception, settings: ProviderSettings) -> ProviderError:
    """Our error for the openai client's (or a parsing) error, without its message."""
    if isinstance(error, ProviderError):
        return error
    if isinstance(error, openai.APITimeoutError):
        return ProviderError("timeout", f"no complete answer within {settings.timeout:g} s")
    if isinstance(error, openai.APIConnectionError):
        return ProviderError("connection", "the provider could not be reached")
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        if status == 429:
            kind = "rate_limited"
        elif status in (401, 403):
            kind = "auth"
        elif status == 408:
            kind = "timeout"
        elif status >= 500:
            kind = "server_error"
        else:
            kind = "bad_request"
        reason = f"HTTP {status}"
        code = error.code or error.type
        if isinstance(code, str) and _SAFE_CODE.fullmatch(code) and code not in settings.api_key:
            reason += f" ({code})"
        return ProviderError(kind, reason, status=status)
    if isinstance(error, openai.APIResponseValidationError):
        return ProviderError("bad_output", "the answer did not match the API's schema")
    if isinstance(error, openai.APIError):  # an error event in the middle of a stream
        return ProviderError("server_error", "the provider stopped with an error mid-answer")
    if isinstance(error, ValueError):
        return ProviderError("bad_output", "the answer was not valid JSON")
    return ProviderError("bad_request", f"the openai client refused ({type(error).__name__})")
