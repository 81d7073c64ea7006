"""The model-provider client: the real openai client against the local fake server (no
database, no real provider). What is checked: answers, streams and their cancellation, tool
calls, usage and cost, the mapping of every failure to one ProviderError kind, that the
library's retries and timeouts stay bounded, embeddings, and that the API key never leaks."""

import dataclasses
import logging
import math
import socket
import threading
import time
from decimal import Decimal

import httpx
import pytest

from ai_agent.fake_provider import FakeOpenAI, FakeReply, hashed_embedding
from ai_agent.llm import (
    EMBED_BATCH_SIZE,
    MAX_RETRY_WAIT,
    STREAM_TIMEOUT_FACTOR,
    ProviderError,
    ProviderSettings,
    Usage,
    chat,
    embed,
    estimate_tokens,
    provider_check,
)

MESSAGES = [
    {"role": "system", "content": "You are the support assistant of a shoe shop."},
    {"role": "user", "content": "Where is my order A-1001?"},
]
LONG_TEXT = "Your order left our warehouse this morning and should arrive on Friday. " * 4
TOOL_CALLS = [
    {"name": "order_status", "arguments": {"order_id": "A-1001", "lang": "中文"}},
    {"name": "handoff", "arguments": {}},
]
SECRET_KEY = "sk-live-9f8e7d6c5b4a3f2e1d0c"


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def settings_for(fake: FakeOpenAI, **overrides) -> ProviderSettings:
    values = {
        "base_url": fake.url,
        "api_key": "test-key",
        "model": "fake-chat",
        "embedding_model": "fake-embedding",
        "timeout": 2.0,
        "max_retries": 2,
    }
    return ProviderSettings(**{**values, **overrides})


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def stream_modes():
    # The same expectations hold for a plain answer and a streamed one.
    return pytest.mark.parametrize("on_delta", [None, lambda delta: True], ids=["plain", "stream"])


# Pure functions


def test_usage_add_and_cost_rounded_to_the_millionth():
    usage = Usage(prompt_tokens=1000, completion_tokens=500)
    usage.add(Usage(prompt_tokens=3, completion_tokens=2))
    assert usage == Usage(prompt_tokens=1003, completion_tokens=502)
    settings = ProviderSettings(
        base_url="http://x/v1",
        api_key="",
        model="m",
        input_price_per_million=Decimal("0.15"),
        output_price_per_million=Decimal("0.60"),
    )
    # (1003 * 0.15 + 502 * 0.60) / 1M = 0.00015045 + 0.0003012 = 0.00045165
    assert usage.cost(settings) == Decimal("0.000452")
    assert Usage(prompt_tokens=1).cost(settings) == Decimal("0.000000")
    assert Usage(prompt_tokens=10**6).cost(ProviderSettings("http://x/v1", "", "m")) == 0


def test_estimate_tokens_counts_cjk_characters_one_each():
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcdefgh") == 2
    assert estimate_tokens("请问运费多少") == 6
    assert estimate_tokens("运费 cost") == 2 + 2


def test_hashed_embedding_is_unit_length_and_deterministic():
    vector = hashed_embedding("Refund policy for shoes", 32)
    assert len(vector) == 32
    assert math.isclose(sum(x * x for x in vector), 1.0)
    assert vector == hashed_embedding("refund POLICY for shoes!", 32)
    assert vector != hashed_embedding("Shipping to Canada", 32)
    assert math.isclose(sum(x * x for x in hashed_embedding("", 32)), 1.0)


# Chat


def test_plain_answer_with_usage_cost_and_the_request_sent(fake):
    fake.script(FakeReply(text="It arrives on Friday.", prompt_tokens=1000, completion_tokens=500))
    settings = settings_for(
        fake,
        max_output_tokens=123,
        temperature=0.2,
        input_price_per_million=Decimal("0.15"),
        output_price_per_million=Decimal("0.60"),
    )

    result = chat(settings, MESSAGES, json_mode=True)

    assert result.text == "It arrives on Friday."
    assert result.tool_calls == []
    assert result.finish_reason == "stop"
    assert result.model == "fake-chat"
    assert result.usage == Usage(prompt_tokens=1000, completion_tokens=500)
    assert result.usage.cost(settings) == Decimal("0.000450")
    assert result.attempts == 1
    assert 0 <= result.latency_ms < 2000
    [request] = fake.chat_requests()
    assert request["headers"]["authorization"] == "Bearer test-key"
    sent = request["json"]
    assert sent["model"] == "fake-chat"
    assert sent["messages"] == MESSAGES
    assert sent["max_tokens"] == 123
    assert sent["temperature"] == 0.2
    assert sent["response_format"] == {"type": "json_object"}
    assert "stream" not in sent
    assert "tools" not in sent


def test_stream_deltas_reassemble_the_answer_with_reported_usage(fake):
    fake.script(FakeReply(text=LONG_TEXT, prompt_tokens=40, completion_tokens=60))
    deltas: list[str] = []

    result = chat(settings_for(fake), MESSAGES, on_delta=lambda delta: deltas.append(delta) or True)

    assert len(deltas) > 3
    assert "".join(deltas) == LONG_TEXT == result.text
    assert result.finish_reason == "stop"
    assert result.usage == Usage(prompt_tokens=40, completion_tokens=60)
    sent = fake.chat_requests()[0]["json"]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


def test_cancelling_a_stream_stops_reading_and_closes_the_connection(fake):
    # 80 deltas 50 ms apart: reading the whole stream would take about 4 s.
    fake.script(FakeReply(text="x" * 320, chunk_delay=0.05))
    deltas: list[str] = []

    def take_one(delta: str) -> bool:
        deltas.append(delta)
        return False

    started = time.monotonic()
    result = chat(settings_for(fake), MESSAGES, on_delta=take_one)

    assert time.monotonic() - started < 1.0
    assert deltas == ["xxxx"]
    assert result.text == "xxxx"
    assert result.finish_reason == "cancelled"
    # No usage chunk was read: both counts are estimated.
    assert result.usage.completion_tokens == estimate_tokens("xxxx")
    assert result.usage.prompt_tokens > estimate_tokens(MESSAGES[1]["content"])
    deadline = time.monotonic() + 3
    while not fake.disconnects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.disconnects == 1  # the server's next write found the connection closed


def test_exceptions_of_on_delta_pass_through_unchanged(fake):
    def broken(delta: str) -> bool:
        raise ValueError("the caller's own bug")

    with pytest.raises(ValueError, match="the caller's own bug"):
        chat(settings_for(fake), MESSAGES, on_delta=broken)


@stream_modes()
def test_tool_calls_are_parsed(fake, on_delta):
    fake.script(FakeReply(tool_calls=TOOL_CALLS))
    tools = [{"type": "function", "function": {"name": "order_status", "parameters": {}}}]

    result = chat(settings_for(fake), MESSAGES, tools=tools, on_delta=on_delta)

    assert result.finish_reason == "tool_calls"
    assert [(call.id, call.name, call.arguments) for call in result.tool_calls] == [
        ("call_0", "order_status", {"order_id": "A-1001", "lang": "中文"}),
        ("call_1", "handoff", {}),
    ]
    assert fake.chat_requests()[0]["json"]["tools"] == tools


@stream_modes()
@pytest.mark.parametrize(
    "reply",
    [
        FakeReply(tool_calls=[{"name": "order_status", "raw_arguments": '{"order_id": "A-10'}]),
        FakeReply(tool_calls=[{"name": "order_status", "raw_arguments": '["A-1001"]'}]),
        FakeReply(text="never seen", malformed=True),
        FakeReply(empty=True),
        FakeReply(text=""),
        FakeReply(text="  \n "),
    ],
    ids=["invalid-tool-json", "tool-args-not-object", "malformed", "no-choices", "none", "blank"],
)
def test_unusable_answers_are_bad_output(fake, reply, on_delta):
    fake.script(reply)

    with pytest.raises(ProviderError) as raised:
        chat(settings_for(fake), MESSAGES, on_delta=on_delta)

    assert raised.value.kind == "bad_output"
    assert len(fake.chat_requests()) == 1  # a bad answer is not retried


def test_rate_limit_with_retry_after_0_is_retried_by_the_client(fake):
    fake.script(FakeReply(status=429, headers={"retry-after": "0"}), FakeReply(text="Hello!"))

    result = chat(settings_for(fake), MESSAGES)

    assert result.text == "Hello!"
    assert result.attempts == 2
    assert len(fake.chat_requests()) == 2
    assert [r["headers"]["x-stainless-retry-count"] for r in fake.chat_requests()] == ["0", "1"]


def test_a_long_retry_after_is_not_waited_for(fake):
    wait = str(int(MAX_RETRY_WAIT * 6))
    fake.script(FakeReply(status=429, headers={"retry-after": wait}), FakeReply(text="late"))

    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        chat(settings_for(fake), MESSAGES)

    assert time.monotonic() - started < 2
    assert (raised.value.kind, raised.value.status) == ("rate_limited", 429)
    assert str(raised.value) == "rate_limited: HTTP 429 (rate_limit_exceeded)"
    assert len(fake.chat_requests()) == 1


def test_persistent_server_error_after_all_retries():
    with FakeOpenAI(responder=lambda request: FakeReply(status=500)) as fake:
        with pytest.raises(ProviderError) as raised:
            chat(settings_for(fake, max_retries=2), MESSAGES)

        assert (raised.value.kind, raised.value.status) == ("server_error", 500)
        assert len(fake.chat_requests()) == 1 + 2


def test_a_bad_request_is_not_retried(fake):
    fake.script(FakeReply(status=400))

    with pytest.raises(ProviderError) as raised:
        chat(settings_for(fake), MESSAGES)

    assert (raised.value.kind, raised.value.status) == ("bad_request", 400)
    assert len(fake.chat_requests()) == 1


@stream_modes()
def test_no_answer_within_the_timeout_is_a_timeout_in_bounded_time(on_delta):
    timeout, max_retries = 0.5, 2
    with FakeOpenAI(responder=lambda request: FakeReply(text="late", delay=5)) as fake:
        started = time.monotonic()
        with pytest.raises(ProviderError) as raised:
            settings = settings_for(fake, timeout=timeout, max_retries=max_retries)
            chat(settings, MESSAGES, on_delta=on_delta)
        elapsed = time.monotonic() - started

        assert raised.value.kind == "timeout"
        assert len(fake.chat_requests()) == 1 + max_retries
        assert elapsed < (1 + max_retries) * timeout + 5


def test_a_body_trickling_in_is_cut_at_the_timeout(fake):
    # Every piece comes within the read timeout, the whole body (about 2.4 s) does not.
    fake.script(FakeReply(text=LONG_TEXT, chunk_delay=0.3))

    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        chat(settings_for(fake, timeout=0.5, max_retries=0), MESSAGES)

    assert raised.value.kind == "timeout"
    assert time.monotonic() - started < 1.5


def test_a_stream_is_cut_after_its_total_allowance(fake):
    timeout = 0.5
    # 80 deltas 0.3 s apart (24 s): each within the read timeout, together far too slow.
    fake.script(FakeReply(text="y" * 320, chunk_delay=0.3))
    deltas: list[str] = []

    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        chat(
            settings_for(fake, timeout=timeout, max_retries=0),
            MESSAGES,
            on_delta=lambda delta: deltas.append(delta) or True,
        )

    assert raised.value.kind == "timeout"
    assert deltas  # it did stream until then
    assert time.monotonic() - started < STREAM_TIMEOUT_FACTOR * timeout + 2 * timeout + 0.5


def test_connection_refused_is_a_connection_error():
    settings = ProviderSettings(base_url=closed_port_url(), api_key="k", model="m", max_retries=1)

    with pytest.raises(ProviderError) as raised:
        chat(settings, MESSAGES)

    assert raised.value.kind == "connection"
    assert raised.value.status is None


def test_a_wrong_api_key_is_an_auth_error_that_never_shows_the_key(caplog):
    caplog.set_level(logging.DEBUG)  # the openai and httpx loggers included
    with FakeOpenAI(api_key="the-right-key") as fake:
        # The fake, like some providers, quotes the key it was given in its error message.
        answer = httpx.post(
            f"{fake.url}/chat/completions", headers={"Authorization": f"Bearer {SECRET_KEY}"}
        )
        assert answer.status_code == 401
        assert SECRET_KEY in answer.text

        settings = settings_for(fake, api_key=SECRET_KEY)
        with pytest.raises(ProviderError) as raised:
            chat(settings, MESSAGES)
        try:
            chat(settings, MESSAGES, on_delta=lambda delta: True)
        except ProviderError:
            # What a caller would log, traceback included.
            logging.getLogger("tests.ai_agent").exception("the AI answer failed")
        check = provider_check(settings)

    assert (raised.value.kind, raised.value.status) == ("auth", 401)
    assert check.startswith("auth: HTTP 401")
    assert "the AI answer failed" in caplog.text
    assert "Traceback" in caplog.text
    assert SECRET_KEY not in str(raised.value)
    assert SECRET_KEY not in check
    assert SECRET_KEY not in caplog.text
    assert all(SECRET_KEY not in record.getMessage() for record in caplog.records)


def test_parallel_calls_from_threads_share_the_client_safely(fake):
    settings = settings_for(fake)
    results: list[str] = []

    def ask(number: int) -> None:
        results.append(chat(settings, [{"role": "user", "content": f"question {number}"}]).text)

    threads = [threading.Thread(target=ask, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert results == ["OK"] * 8
    asked = sorted(r["json"]["messages"][0]["content"] for r in fake.chat_requests())
    assert asked == sorted(f"question {number}" for number in range(8))


# Embeddings


def test_embeddings_are_deterministic_with_the_servers_dimension():
    texts = ["How do I return shoes?", "退货流程是什么"]
    with FakeOpenAI(embedding_dim=64) as fake:
        settings = settings_for(fake)
        first, usage = embed(settings, texts)
        again, _ = embed(settings, texts)

        assert first == again == [hashed_embedding(text, 64) for text in texts]
        assert [len(vector) for vector in first] == [64, 64]
        assert usage.prompt_tokens > 0
        assert usage.completion_tokens == 0
        [request] = fake.requests[:1]
        assert request["path"] == "/v1/embeddings"
        assert request["json"]["model"] == "fake-embedding"


@pytest.mark.parametrize(
    ("query", "related", "unrelated"),
    [
        ("How do I reset my password?", "Password reset steps", "Shipping costs to Canada"),
        ("如何重置密码", "重置密码的步骤", "运费是多少钱"),
    ],
    ids=["english", "chinese"],
)
def test_similar_texts_are_closer_than_unrelated_ones(fake, query, related, unrelated):
    (query_vector, related_vector, unrelated_vector), _ = embed(
        settings_for(fake), [query, related, unrelated]
    )

    assert cosine(query_vector, related_vector) > cosine(query_vector, unrelated_vector) + 0.2


def test_embeddings_are_asked_in_batches_of_64(fake):
    texts = [f"knowledge chunk number {number}" for number in range(EMBED_BATCH_SIZE + 1)]

    vectors, usage = embed(settings_for(fake), texts)

    batches = [len(r["json"]["input"]) for r in fake.requests if r["path"] == "/v1/embeddings"]
    assert batches == [64, 1]
    assert len(vectors) == 65
    assert vectors[64] == hashed_embedding(texts[64], fake.embedding_dim)
    assert vectors[0] == hashed_embedding(texts[0], fake.embedding_dim)
    assert usage.prompt_tokens == sum(max(1, len(text) // 4) for text in texts)


def test_embed_without_an_embedding_model_is_a_bad_request(fake):
    with pytest.raises(ProviderError) as raised:
        embed(settings_for(fake, embedding_model=""), ["hello"])

    assert raised.value.kind == "bad_request"
    assert fake.requests == []


def test_embed_errors_are_provider_errors():
    with FakeOpenAI(api_key="right") as fake, pytest.raises(ProviderError) as raised:
        embed(settings_for(fake, api_key="wrong"), ["hello"])

    assert (raised.value.kind, raised.value.status) == ("auth", 401)


# Connection check


def test_provider_check_ok_asks_one_token_and_one_embedding(fake):
    assert provider_check(settings_for(fake)) == ""

    paths = [request["path"] for request in fake.requests]
    assert paths == ["/v1/chat/completions", "/v1/embeddings"]
    assert fake.requests[0]["json"]["max_tokens"] == 1


def test_provider_check_of_an_embeddings_only_provider_asks_no_chat(fake):
    settings = settings_for(fake, model="fake-embedding", embedding_model="fake-embedding")

    assert provider_check(settings) == ""
    assert [request["path"] for request in fake.requests] == ["/v1/embeddings"]


def test_provider_check_failing_gives_the_reason_after_one_attempt():
    with FakeOpenAI(responder=lambda request: FakeReply(status=503)) as fake:
        assert provider_check(settings_for(fake)) == "server_error: HTTP 503 (server_error)"
        assert len(fake.chat_requests()) == 1

    unreachable = dataclasses.replace(settings_for(fake), base_url=closed_port_url())
    assert provider_check(unreachable) == "connection: the provider could not be reached"
