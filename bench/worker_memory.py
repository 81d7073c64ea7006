"""Memory of a Celery worker over many outbound deliveries: does it grow?

Replies are written through the outbox as agents write them (`inbox.services.message_send`
→ `OutboundDelivery` → task `outbound_deliver` → `channels_app.services.outbound` → the
WhatsApp adapter) while the product's worker (`celery -A config worker`, 2 processes,
outbound queue) sends them to a small fast stand-in for Meta's Graph API in a process of
its own (bench/_probes.py graph), which counts the texts it is given. The replies go to
conversations spread over several WhatsApp numbers, so that the per-number send rate
(80/s) does not pace the run.

The RSS of the worker (main process + pool children) is sampled every SAMPLE deliveries
(as the fake provider counts them). Baseline: the RSS after the first sample (1,000
deliveries at full size: imports, caches and connections warmed up); then the slope per
1,000 deliveries after it, by least squares. Target: no growth (slope <= 1 MB per 1,000).
Every reply must reach the provider exactly once (missing 0, doubled 0).

    python bench/worker_memory.py                    (10,000 deliveries; ~1.5 minutes)
    python bench/worker_memory.py --quick            (2,000)
    python bench/worker_memory.py --deliveries 50 --conversations 10      (the test's size)

DATABASE_URL: a migrated database (its rows are tagged and deleted at the end);
BENCH_REDIS_URL: the Redis database of the worker. Writes bench/results/worker_memory.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import (  # noqa: E402
    Stack,
    django_setup,
    markdown_table,
    results_write,
    rss_mb,
    server_env,
)

# The replies' tasks must reach the benchmarked worker's broker.
django_setup(on_bench_redis=True)

from django.db import connection  # noqa: E402

from accounts.enums import Role  # noqa: E402
from accounts.models import User  # noqa: E402
from accounts.services import user_set_role  # noqa: E402
from channels_app.models import ChannelAccount, OutboundDelivery  # noqa: E402
from customers.enums import IdentityKind, Verification  # noqa: E402
from customers.models import Customer  # noqa: E402
from customers.services import IdentityClaim, customer_resolve  # noqa: E402
from inbox.models import Conversation, Inbox  # noqa: E402
from inbox.services import conversation_for_inbound, message_receive, message_send  # noqa: E402

NAME = "worker_memory"
MARK = "bench:worker_memory"  # the name of its inboxes and channels: how leftovers are found
CHANNELS = 8
SENDER_PREFIX = "5511971"
TARGET_SLOPE_MB_PER_1000 = 1.0
PROBES = ROOT / "bench" / "_probes.py"


# --- Fixture ------------------------------------------------------------------------------
def cleanup() -> None:
    inboxes = list(Inbox.objects.filter(name__startswith=MARK))
    customer_ids = set(
        Conversation.objects.filter(inbox__in=inboxes).values_list("customer_id", flat=True)
    )
    Conversation.objects.filter(inbox__in=inboxes).delete()
    ChannelAccount.objects.filter(inbox__in=inboxes).delete()
    Inbox.objects.filter(pk__in=[i.pk for i in inboxes]).delete()
    Customer.objects.filter(pk__in=customer_ids, conversations__isnull=True).delete()
    User.objects.filter(email__startswith="bench-worker-memory-").delete()


def fixture(run_id: str, conversations: int) -> tuple[User, list[Conversation]]:
    """WhatsApp numbers, and conversations on them whose customer wrote a moment ago (the
    24-hour window is open, so replies are plain text)."""
    channels = []
    for i in range(CHANNELS):
        inbox = Inbox.objects.create(name=f"{MARK} {run_id} {i}")
        channels.append(
            ChannelAccount.objects.create(
                kind="whatsapp",
                name=f"{MARK} {run_id} {i}",
                inbox=inbox,
                credentials={"access_token": "bench-token", "app_secret": "bench-secret"},
                settings={
                    "phone_number_id": f"1090000001{i:05d}",
                    "business_account_id": "109000000000002",
                },
            )
        )
    agent = User.objects.create_user(
        email=f"bench-worker-memory-{run_id}@bench.invalid",
        password=uuid.uuid4().hex,
        display_name="Bench agent",
    )
    user_set_role(user=agent, role=Role.SUPERVISOR)
    result = []
    for i in range(conversations):
        channel = channels[i % CHANNELS]
        wa_id = f"{SENDER_PREFIX}{i:06d}"
        claim = IdentityClaim(
            IdentityKind.WHATSAPP, wa_id, verified=True, verification=Verification.CHANNEL
        )
        resolution = customer_resolve([claim], channel=channel, profile={"display_name": wa_id})
        conversation = conversation_for_inbound(
            inbox=channel.inbox,
            customer=resolution.customer,
            identity=resolution.identity,
            source={"channel": "whatsapp"},
        )
        message_receive(conversation=conversation, body="Hello?", external_id=f"wamid.{wa_id}")
        result.append(conversation)
    return agent, result


# --- The provider stand-in ---------------------------------------------------------------
class Graph:
    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, str(PROBES), "graph"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = f"http://127.0.0.1:{self.process.stdout.readline().split()[1]}"

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def counts(self) -> dict:
        return self._get("/_counts")

    def sent(self) -> int:
        return self._get("/_sent")["sent"]

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- Measuring ------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def produce(agent: User, conversations: list, count: int, run_id: str, state: dict) -> None:
    """The agents' replies, as fast as message_send takes them (a thread of its own)."""
    try:
        for k in range(count):
            message_send(
                conversation=conversations[k % len(conversations)],
                author=agent,
                body=f"bench-reply {run_id} {k}",
            )
            state["written"] = k + 1
    except Exception as exc:  # reported by the main thread
        state["error"] = repr(exc)
    finally:
        connection.close()


def slope_per_1000(samples: list[dict]) -> float | None:
    """Least-squares slope of RSS (MB) over deliveries, per 1,000 deliveries."""
    if len(samples) < 2:
        return None
    xs = [s["deliveries"] / 1000 for s in samples]
    ys = [s["rss_mb"] for s in samples]
    return round(statistics.linear_regression(xs, ys).slope, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 deliveries")
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=0, help="deliveries between samples")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--pool", choices=["prefork", "solo"], default="prefork", help="solo: no recycling"
    )
    args = parser.parse_args()
    if args.quick:
        args.deliveries = 2_000
    every = args.sample or max(1, min(1000, args.deliveries // 10))
    run_id = uuid.uuid4().hex[:8]

    cleanup()
    graph = Graph()
    try:
        agent, conversations = fixture(run_id, min(args.conversations, args.deliveries))
        env = server_env(
            DJANGO_SETTINGS_MODULE="config.settings.development", META_GRAPH_URL=graph.url
        )
        samples: list[dict] = []
        state: dict = {"written": 0}
        with Stack(env) as stack:
            # solo: one process that is never replaced (the prefork pool replaces a child
            # after CELERY_WORKER_MAX_TASKS_PER_CHILD tasks, which would hide a leak).
            worker = stack.worker(concurrency=args.concurrency, queues="outbound", pool=args.pool)
            if args.pool == "prefork":
                deadline = time.monotonic() + 60
                while len(children(worker.pid)) < args.concurrency and time.monotonic() < deadline:
                    time.sleep(0.2)
            time.sleep(1.0)  # the pool's children finish importing
            idle = rss_mb(worker.pid, with_children=True)
            pools = [set(children(worker.pid))]
            start = time.monotonic()
            producer = threading.Thread(
                target=produce, args=(agent, conversations, args.deliveries, run_id, state)
            )
            producer.start()
            next_at = every
            stalled_since, last_sent = time.monotonic(), -1
            while next_at <= args.deliveries:
                sent = graph.sent()
                if sent >= next_at:
                    rss = rss_mb(worker.pid, with_children=True)
                    pool = set(children(worker.pid))
                    if pool != pools[-1]:
                        pools.append(pool)
                    samples.append(
                        {
                            "deliveries": sent,
                            "rss_mb": rss,
                            "seconds": round(time.monotonic() - start, 2),
                            "written": state["written"],
                        }
                    )
                    next_at = (sent // every + 1) * every
                    continue
                if sent != last_sent:
                    stalled_since, last_sent = time.monotonic(), sent
                elif time.monotonic() - stalled_since > 60 or "error" in state:
                    break  # nothing moves: reported below as missing deliveries
                time.sleep(0.02)
            producer.join()
            elapsed = time.monotonic() - start
            time.sleep(0.5)  # a duplicate would come right behind
        counts = graph.counts()
        connection.close()
        deliveries = Counter(
            OutboundDelivery.objects.filter(channel__name__startswith=MARK).values_list(
                "state", flat=True
            )
        )
    finally:
        graph.stop()
        connection.close()
        cleanup()

    prefix = f"bench-reply {run_id} "
    texts = {t[len(prefix) :]: n for t, n in counts["texts"].items() if t.startswith(prefix)}
    expected = {str(k) for k in range(args.deliveries)}
    check = {
        "replies_written": state["written"],
        "provider_requests": counts["sent"],
        "sent_once": sum(1 for k in expected if texts.get(k) == 1),
        "missing": sum(1 for k in expected if k not in texts),
        "doubled": sum(n - 1 for k, n in texts.items() if n > 1),
        "unexpected": sum(1 for k in texts if k not in expected),
        "delivery_states": dict(deliveries),
        "producer_error": state.get("error"),
    }
    baseline = samples[0]["rss_mb"] if samples else None
    after = samples  # the first sample is the baseline; the slope is taken from it on
    slope = slope_per_1000(after)
    report = {
        "deliveries": args.deliveries,
        "sample_every": every,
        "conversations": len(conversations),
        "channels": CHANNELS,
        "worker_pool": args.pool,
        "worker_concurrency": args.concurrency if args.pool == "prefork" else 1,
        "seconds": round(elapsed, 1),
        "deliveries_per_s": round(counts["sent"] / max(elapsed, 1e-9), 1),
        "idle_rss_mb": idle,
        "baseline_rss_mb": baseline,
        "final_rss_mb": samples[-1]["rss_mb"] if samples else None,
        "max_rss_mb": max((s["rss_mb"] for s in samples), default=None),
        "slope_mb_per_1000": slope,
        "ratio_final_to_baseline": (
            round(samples[-1]["rss_mb"] / baseline, 3) if baseline else None
        ),
        "pool_children_seen": len(set().union(*pools)),
        "samples": samples,
        "check": check,
        "target": {
            "slope_mb_per_1000": TARGET_SLOPE_MB_PER_1000,
            "met": slope is not None and slope <= TARGET_SLOPE_MB_PER_1000,
        },
    }
    results_write(NAME, report, markdown(report))
    return 0


def markdown(report: dict) -> str:
    rows = [
        [s["deliveries"], s["rss_mb"], round(s["rss_mb"] - report["baseline_rss_mb"], 1)]
        for s in report["samples"]
    ]
    c = report["check"]
    verdict = "met" if report["target"]["met"] else "missed"
    return "\n".join(
        [
            f"## Worker memory over {report['deliveries']} WhatsApp deliveries "
            f"({report['worker_pool']} pool, {report['worker_concurrency']} processes, "
            f"{report['deliveries_per_s']} "
            f"deliveries/s)",
            "",
            markdown_table(["deliveries", "RSS MB (main + pool)", "vs baseline MB"], rows),
            "",
            f"- idle RSS {report['idle_rss_mb']} MB; baseline (after the first "
            f"{report['sample_every']}) {report['baseline_rss_mb']} MB; final "
            f"{report['final_rss_mb']} MB ({report['ratio_final_to_baseline']}x); max "
            f"{report['max_rss_mb']} MB; pool processes seen {report['pool_children_seen']}",
            f"- slope {report['slope_mb_per_1000']} MB per 1,000 deliveries; target <= "
            f"{TARGET_SLOPE_MB_PER_1000} MB: {verdict}",
            f"- provider: {c['provider_requests']} requests for {c['replies_written']} replies; "
            f"sent once {c['sent_once']}, missing {c['missing']}, doubled {c['doubled']}, "
            f"unexpected {c['unexpected']}; deliveries {c['delivery_states']}",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
