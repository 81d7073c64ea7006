"""WhatsApp webhooks under load, from the provider's POST to the agent's screen.

Signed WhatsApp Cloud API webhooks (one text message each, X-Hub-Signature-256 with the
channel's app secret) are POSTed open-loop by an asyncio load generator (httpx) at rising
rates to the product's uvicorn (/webhooks/whatsapp/<uuid>/), with a Celery worker on the
inbound queue. 10% of the messages are posted again 0.2-1 s later (a provider's replay)
and 2% twice at the same moment (concurrent duplicates). A supervisor's console socket
(/ws/console/, in a process of its own) notes when each `message.created` arrives.

Per rate: accepted/s (HTTP 200s per second achieved), p50/p99 of the POST (timed from the
moment it was due, so a generator or server that falls behind shows), and end-to-end
latency from the POST to the console's `message.created`. Then every provider id is
checked in the inbox: stored messages = unique messages sent (lost 0, doubled 0).

Baseline in the same run: the floor of the work, a raw psycopg INSERT (autocommit, unique
key, ON CONFLICT DO NOTHING) plus one Redis PUBLISH per message in a loop, as messages/s.
Targets: >= 500 messages/s accepted; end-to-end p99 <= 200 ms at 200 msg/s.

    python bench/webhook_ingest.py                  (rates 100,200,500,1000; ~2 minutes)
    python bench/webhook_ingest.py --quick
    python bench/webhook_ingest.py --rates 30 --seconds 1 --floor 30     (the test's size)

DATABASE_URL: a migrated database (its rows are tagged and deleted at the end);
BENCH_REDIS_URL: the Redis database of the benchmarked processes. The database pool
setting (DATABASE_CONN_MAX_AGE) is passed through to the server and the worker.
Writes bench/results/webhook_ingest.{json,md}."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import (  # noqa: E402
    REDIS_URL,
    WEB_WORKERS,
    Stack,
    django_setup,
    markdown_table,
    percentiles,
    results_write,
    server_env,
)

# The benchmark's own writes (message_send's pushes, Celery tasks) go where its stack is.
django_setup(on_bench_redis=True)

import httpx  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402

from accounts.enums import Role  # noqa: E402
from accounts.models import User  # noqa: E402
from accounts.services import user_set_role  # noqa: E402
from channels_app.models import ChannelAccount, InboundEvent  # noqa: E402
from customers.models import Customer  # noqa: E402
from inbox.models import Conversation, Inbox, Message  # noqa: E402

NAME = "webhook_ingest"
MARK = "bench:webhook_ingest"  # the name of its inbox and channel: how leftovers are found
APP_SECRET = "bench-webhook-app-secret"
PHONE_NUMBER_ID = "109000000000001"
WABA_ID = "109000000000002"
# São Paulo mobile numbers (valid, so the sender's phone identity is stored too).
SENDER_PREFIX = "5511970"
REPLAY_SHARE = 0.10
DUPLICATE_SHARE = 0.02
TARGET_ACCEPTED_PER_S = 500.0
TARGET_E2E_P99_MS = 200.0
TARGET_E2E_RATE = 200
# Waits for the worker: after each rate (so that one rate's backlog does not time the
# next; a backlog left shows as processed/s below the rate), and before counting.
PHASE_DRAIN = 15.0
FINAL_DRAIN = 90.0
WARMUP = 20  # messages posted (1 s) before the timed phases


# --- Fixture ------------------------------------------------------------------------------
def cleanup() -> None:
    """Deletes what any run of this benchmark left: its inboxes with their conversations,
    messages, customers, channel and stored events, and its supervisor."""
    inboxes = list(Inbox.objects.filter(name__startswith=MARK))
    customer_ids = set(
        Conversation.objects.filter(inbox__in=inboxes).values_list("customer_id", flat=True)
    )
    Conversation.objects.filter(inbox__in=inboxes).delete()
    ChannelAccount.objects.filter(inbox__in=inboxes).delete()
    Inbox.objects.filter(pk__in=[i.pk for i in inboxes]).delete()
    # Only customers no other conversation uses (a shared number would be someone's).
    Customer.objects.filter(pk__in=customer_ids, conversations__isnull=True).delete()
    User.objects.filter(email__startswith="bench-webhook-ingest-").delete()


def fixture(run_id: str) -> tuple[ChannelAccount, User, str]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    inbox = Inbox.objects.create(name=f"{MARK} {run_id}")
    channel = ChannelAccount.objects.create(
        kind="whatsapp",
        name=f"{MARK} {run_id}",
        inbox=inbox,
        credentials={"access_token": "bench-token", "app_secret": APP_SECRET},
        settings={"phone_number_id": PHONE_NUMBER_ID, "business_account_id": WABA_ID},
    )
    user = User.objects.create_user(
        email=f"bench-webhook-ingest-{run_id}@bench.invalid",
        password=uuid.uuid4().hex,
        display_name="Bench supervisor",
    )
    user_set_role(user=user, role=Role.SUPERVISOR)
    # Signed in as django.contrib.auth.login would: a session row the server reads.
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return channel, user, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


# --- Payloads -----------------------------------------------------------------------------
def webhook_body(run_id: str, n: int, senders: int) -> tuple[str, bytes]:
    """One message as the Cloud API posts it; returns (provider id, body)."""
    wa_id = f"{SENDER_PREFIX}{n % senders:06d}"
    wamid = f"wamid.bench.{run_id}.{n}"
    data = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550000000",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [
                                {"profile": {"name": f"Bench sender {n % senders}"}, "wa_id": wa_id}
                            ],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": wamid,
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": f"Is order {n} on its way?"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return wamid, json.dumps(data, separators=(",", ":")).encode()


def signed_headers(body: bytes) -> dict[str, str]:
    signature = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"}


def signed_body(run_id: str, n: int, senders: int) -> tuple[str, bytes, dict]:
    wamid, body = webhook_body(run_id, n, senders)
    return wamid, body, signed_headers(body)


def schedule(rate: int, seconds: float, first_n: int, rng: random.Random) -> list[tuple]:
    """(seconds after the start, message number, kind) of every POST of one phase."""
    unique = max(1, round(rate * seconds))
    posts = []
    for i in range(unique):
        n, at = first_n + i, i / rate
        posts.append((at, n, "first"))
        if rng.random() < DUPLICATE_SHARE:
            posts.append((at, n, "duplicate"))
        if rng.random() < REPLAY_SHARE:
            posts.append((at + rng.uniform(0.2, 1.0), n, "replay"))
    posts.sort(key=lambda post: post[0])
    return posts


# --- Load ---------------------------------------------------------------------------------
class Generator:
    """Open-loop POSTs: each is queued at its due time and taken by the first free sender;
    a slow answer never delays the next POST, it only waits in line. Each sender has a
    client of its own with one connection (httpx's shared pool grows slow with many
    waiting requests: its assignment loop is quadratic)."""

    def __init__(self, url: str, senders: int):
        self.url, self.senders = url, senders

    async def run(self, posts: list[tuple], bodies: dict[int, tuple]) -> list[tuple]:
        """Returns (n, kind, due, answered, status) per POST, times in time.monotonic()."""
        results: list[tuple] = []
        queue: asyncio.Queue = asyncio.Queue()

        async def sender(client: httpx.AsyncClient) -> None:
            while (item := await queue.get()) is not None:
                n, kind, due = item
                _wamid, body, headers = bodies[n]
                try:
                    response = await client.post(self.url, content=body, headers=headers)
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                results.append((n, kind, due, time.monotonic(), status))

        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        clients = [
            httpx.AsyncClient(limits=limits, timeout=60, trust_env=False, verify=False)
            for _ in range(self.senders)
        ]
        tasks = [asyncio.create_task(sender(client)) for client in clients]
        start = time.monotonic() + 0.05
        for at, n, kind in posts:
            due = start + at
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((n, kind, due))
        for _ in tasks:
            queue.put_nowait(None)
        await asyncio.gather(*tasks)
        for client in clients:
            await client.aclose()
        return results


def processed_count(channel: ChannelAccount) -> int:
    count = InboundEvent.objects.filter(channel=channel, processed_at__isnull=False).count()
    connection.close()
    return count


def drain(channel: ChannelAccount, expected: int, timeout: float) -> tuple[int, float]:
    """Waits until the worker has processed `expected` events of the channel; returns the
    number processed and when the last one was seen to be."""
    deadline = time.monotonic() + timeout
    while True:
        done = InboundEvent.objects.filter(channel=channel, processed_at__isnull=False).count()
        if done >= expected or time.monotonic() > deadline:
            connection.close()
            return done, time.monotonic()
        time.sleep(0.1)


class Console:
    """The supervisor's console socket, in its own process (bench/_probes.py)."""

    def __init__(self, base_url: str, cookie: str):
        ws_url = base_url.replace("http://", "ws://") + "/ws/console/"
        argv = [sys.executable, str(ROOT / "bench" / "_probes.py"), "console", "--url", ws_url]
        self.process = subprocess.Popen(
            [*argv, "--cookie", cookie, "--origin", base_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline().strip()
        if line != "ready":
            self.process.kill()
            raise RuntimeError(f"the console socket did not open: {line}")

    def stop(self) -> dict:
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        out, _ = self.process.communicate(timeout=30)
        return json.loads(out)


# --- Baseline -----------------------------------------------------------------------------
def floor(count: int, run_id: str) -> dict:
    """The least work a webhook needs: one committed row and one PUBLISH, in a loop."""
    table = "bench_webhook_ingest_floor"
    bodies = [webhook_body(run_id, n, 100) for n in range(count)]
    client = redis.Redis.from_url(REDIS_URL)
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            f"CREATE TABLE {table} (id bigserial PRIMARY KEY, dedupe_key text UNIQUE NOT NULL,"
            " payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())"
        )
        try:
            start = time.perf_counter()
            for wamid, body in bodies:
                conn.execute(
                    f"INSERT INTO {table} (dedupe_key, payload) VALUES (%s, %s::jsonb) "
                    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                    [wamid, body.decode()],
                ).fetchone()
                client.publish(f"bench:{NAME}:{run_id}", body)
            elapsed = time.perf_counter() - start
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    client.close()
    return {"messages": count, "messages_per_s": round(count / elapsed, 1)}


# --- Report -------------------------------------------------------------------------------
def phase_figures(rate, seconds, results, first_post, arrivals, processed, ended, backlog):
    """One rate's figures; `processed` is the events the worker finished from this rate's
    start to the end of the wait after it, `backlog` what was still queued then."""
    ok = [r for r in results if r[4] == 200]
    start = min(r[2] for r in results)
    last_answer = max(r[3] for r in results)
    unique = sorted({r[0] for r in results})
    e2e = [(arrivals[n] - first_post[n]) * 1000 for n in unique if n in arrivals]
    return {
        "rate": rate,
        "seconds": seconds,
        "unique_messages": len(unique),
        "posts": len(results),
        "posts_per_kind": dict(Counter(r[1] for r in results)),
        "statuses": {str(k): v for k, v in Counter(r[4] for r in results).items()},
        "accepted_per_s": round(len(ok) / max(last_answer - start, 1e-9), 1),
        "post_ms": percentiles([(r[3] - r[2]) * 1000 for r in results]),
        "e2e_ms": percentiles(e2e),
        "pushed": len(e2e),
        "processed_per_s": round(processed / max(ended - start, 1e-9), 1),
        "left_queued": backlog,
    }


def check(channel: ChannelAccount, wamids: list[str]) -> dict:
    """Each provider id sent must be one message in the inbox: none lost, none doubled."""
    rows = dict(
        Message.objects.filter(conversation__inbox_id=channel.inbox_id, external_id__in=wamids)
        .values_list("external_id")
        .annotate(n=Count("pk"))
        .values_list("external_id", "n")
    )
    events = InboundEvent.objects.filter(channel=channel)
    queued = set(events.filter(processed_at__isnull=True).values_list("dedupe_key", flat=True))
    stored_keys = set(events.values_list("dedupe_key", flat=True))
    return {
        "unique_sent": len(wamids),
        "stored": sum(rows.values()),
        # Accepted but neither stored as an event nor, once processed, as a message.
        "lost": sum(
            1 for w in wamids if w not in stored_keys or (w not in rows and w not in queued)
        ),
        "still_queued": len(queued),
        "doubled": sum(n - 1 for n in rows.values() if n > 1),
        "events_stored": events.count(),
        "events_with_error": events.exclude(error="").count(),
    }


async def load(url, channel, rates, args, run_id, wamids) -> list[tuple]:
    """The warm-up, then each rate in turn, each followed by waiting for the worker."""
    generator = Generator(url, args.connections)
    rng = random.Random(6)
    # Warm up (and wait for the worker to be consuming): counted, not timed.
    posts = schedule(WARMUP, 1.0, 0, random.Random(0))
    bodies = {n: signed_body(run_id, n, args.senders) for _at, n, _kind in posts}
    await generator.run(posts, bodies)
    wamids += [bodies[n][0] for n in sorted(bodies)]
    first_n = len(bodies)
    await asyncio.to_thread(drain, channel, len(wamids), 60)
    raw = []
    for rate in rates:
        before = await asyncio.to_thread(processed_count, channel)
        posts = schedule(rate, args.seconds, first_n, rng)
        numbers = sorted({n for _at, n, _kind in posts})
        bodies = {n: signed_body(run_id, n, args.senders) for n in numbers}
        results = await generator.run(posts, bodies)
        first_n += len(numbers)
        wamids += [bodies[n][0] for n in numbers]
        processed, ended = await asyncio.to_thread(drain, channel, len(wamids), PHASE_DRAIN)
        raw.append((rate, results, len(wamids) - processed, processed - before, ended, bodies))
    # Whatever is still queued is finished before counting: late is not lost.
    await asyncio.to_thread(drain, channel, len(wamids), FINAL_DRAIN)
    return raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="rates 100,300 for 2 s each")
    parser.add_argument("--rates", default="100,200,500,1000", help="messages/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=3.0, help="each rate's duration")
    parser.add_argument("--senders", type=int, default=200, help="distinct customers")
    parser.add_argument("--floor", type=int, default=3000, help="messages of the baseline")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--connections", type=int, default=200, help="the generator's")
    args = parser.parse_args()
    if args.quick:
        args.rates, args.seconds, args.floor = "100,300", 2.0, 1000
    rates = [int(r) for r in args.rates.split(",")]
    run_id = uuid.uuid4().hex[:8]

    cleanup()
    baseline = floor(args.floor, run_id)
    channel, _user, cookie = fixture(run_id)
    connection.close()  # the stack's processes will be the database's busy clients
    url_path = f"/webhooks/whatsapp/{channel.uuid}/"
    env = server_env(DJANGO_SETTINGS_MODULE="config.settings.development")
    phases, all_results, wamids = [], [], []
    try:
        with Stack(env) as stack:
            stack.web(workers=WEB_WORKERS)
            stack.worker(concurrency=args.concurrency, queues="inbound")
            console = Console(stack.base_url, cookie)
            try:
                raw = asyncio.run(
                    load(stack.base_url + url_path, channel, rates, args, run_id, wamids)
                )
            finally:
                pushes = console.stop()
        arrivals = pushes["arrivals"]
        for rate, results, backlog, processed, ended, bodies in raw:
            first_post: dict[int, float] = {}
            for n, _kind, due, _answered, _status in results:
                first_post[n] = min(due, first_post.get(n, due))
            phase_arrivals = {
                n: arrivals[bodies[n][0]] for n in first_post if bodies[n][0] in arrivals
            }
            phases.append(
                phase_figures(
                    rate,
                    args.seconds,
                    results,
                    first_post,
                    phase_arrivals,
                    processed,
                    ended,
                    backlog,
                )
            )
            all_results += results
        counts = check(channel, wamids)
        counts["pushed_twice"] = sum(1 for w in wamids if pushes["pushes"].get(w, 0) > 1)
        counts["not_pushed"] = sum(1 for w in wamids if w not in arrivals)
    finally:
        connection.close()
        cleanup()

    best = max(p["accepted_per_s"] for p in phases)
    at_target = next((p for p in phases if p["rate"] == TARGET_E2E_RATE), None)
    e2e_p99 = at_target["e2e_ms"]["p99_ms"] if at_target else None
    report = {
        "rates": rates,
        "seconds_per_rate": args.seconds,
        "senders": args.senders,
        "replay_share": REPLAY_SHARE,
        "duplicate_share": DUPLICATE_SHARE,
        "worker_concurrency": args.concurrency,
        "conn_max_age": os.environ.get("DATABASE_CONN_MAX_AGE", "0 (default)"),
        "baseline_insert_publish": baseline,
        "phases": phases,
        "best_accepted_per_s": best,
        "ratio_to_baseline": round(best / baseline["messages_per_s"], 3),
        "counts": counts,
        "targets": {
            "accepted_per_s": {
                "target": TARGET_ACCEPTED_PER_S,
                "value": best,
                "met": best >= TARGET_ACCEPTED_PER_S,
            },
            "e2e_p99_ms_at_200": {
                "target": TARGET_E2E_P99_MS,
                "value": e2e_p99,
                "met": e2e_p99 is not None and e2e_p99 <= TARGET_E2E_P99_MS,
            },
        },
    }
    results_write(NAME, report, markdown(report))
    return 0


def markdown(report: dict) -> str:
    base = report["baseline_insert_publish"]["messages_per_s"]
    rows = []
    for p in report["phases"]:
        rows.append(
            [
                p["rate"],
                p["posts"],
                p["accepted_per_s"],
                f"{p['accepted_per_s'] / base:.2f}x",
                p["post_ms"]["p50_ms"],
                p["post_ms"]["p99_ms"],
                p["e2e_ms"]["p50_ms"],
                p["e2e_ms"]["p99_ms"],
                p["processed_per_s"],
                p["left_queued"],
            ]
        )
    table = markdown_table(
        [
            "offered msg/s",
            "POSTs",
            "accepted/s",
            "/ baseline",
            "POST p50 ms",
            "POST p99 ms",
            "e2e p50 ms",
            "e2e p99 ms",
            "processed/s",
            "left queued",
        ],
        rows,
    )
    c = report["counts"]
    t = report["targets"]

    def verdict(target: dict) -> str:
        return "met" if target["met"] else "missed"

    return "\n".join(
        [
            f"## Webhook ingest (WhatsApp), {report['seconds_per_rate']} s per rate, "
            f"{int(report['replay_share'] * 100)}% replays, "
            f"{int(report['duplicate_share'] * 100)}% concurrent duplicates",
            "",
            f"Baseline (psycopg INSERT + Redis PUBLISH per message): {base} messages/s",
            "",
            table,
            "",
            f"- accepted/s, best: {report['best_accepted_per_s']} "
            f"({report['ratio_to_baseline']}x the baseline); target >= "
            f"{t['accepted_per_s']['target']:.0f}: {verdict(t['accepted_per_s'])}",
            f"- end-to-end p99 at {TARGET_E2E_RATE} msg/s: {t['e2e_p99_ms_at_200']['value']} ms; "
            f"target <= {TARGET_E2E_P99_MS:.0f} ms: {verdict(t['e2e_p99_ms_at_200'])}",
            f"- messages: {c['unique_sent']} unique sent, {c['stored']} stored, lost "
            f"{c['lost']}, doubled {c['doubled']}, still queued when counted "
            f"{c['still_queued']}; events stored {c['events_stored']}, "
            f"with an error {c['events_with_error']}; "
            f"console pushes missing {c['not_pushed']}, twice {c['pushed_twice']}",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
