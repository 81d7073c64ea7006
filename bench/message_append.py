"""Message write latency: `inbox.services.message_append` (idempotency check, row lock,
next `seq`, conversation update) against a baseline measured in the same run: a bare
INSERT of the same row into the same table, with no lock and no checks.

    python bench/message_append.py --messages 2000      (DATABASE_URL: a migrated database)

Prints medians and p95 and writes bench/results/message_append.{json,md}."""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from customers.models import Customer  # noqa: E402
from inbox.enums import MessageDirection, SenderType  # noqa: E402
from inbox.models import Inbox  # noqa: E402
from inbox.services import conversation_create, message_append  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def summary(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "ops_per_s": round(len(ordered) / (sum(ordered) / 1000), 1),
    }


def baseline(conversation_id: int, count: int) -> list[float]:
    samples = []
    sql = (
        "INSERT INTO inbox_message (conversation_id, seq, direction, sender_type, body, "
        "created_at) VALUES (%s, %s, 'in', 'customer', %s, %s)"
    )
    with connection.cursor() as cursor:
        for seq in range(1, count + 1):
            start = time.perf_counter()
            cursor.execute(sql, [conversation_id, seq, f"baseline {seq}", timezone.now()])
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def ours(conversation, count: int) -> list[float]:
    samples = []
    for n in range(count):
        start = time.perf_counter()
        message_append(
            conversation=conversation,
            direction=MessageDirection.INBOUND,
            sender_type=SenderType.CUSTOMER,
            body=f"message {n}",
            client_id=f"bench-{n}",
        )
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="500 messages")
    args = parser.parse_args()
    if args.quick:
        args.messages = 500

    tag = uuid.uuid4().hex[:8]
    inbox = Inbox.objects.create(name=f"bench-{tag}")
    customer = Customer.objects.create(display_name=f"bench-{tag}")
    try:
        base_conversation = conversation_create(inbox=inbox, customer=customer)
        our_conversation = conversation_create(inbox=inbox, customer=customer)
        base = summary(baseline(base_conversation.pk, args.messages))
        mine = summary(ours(our_conversation, args.messages))
    finally:
        inbox.conversations.all().delete()
        inbox.delete()
        customer.delete()

    result = {
        "benchmark": "message_append",
        "messages": args.messages,
        "baseline_bare_insert": base,
        "message_append": mine,
        "median_ratio": round(mine["median_ms"] / base["median_ms"], 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "message_append.json").write_text(json.dumps(result, indent=2))
    table = (
        f"# message_append ({args.messages} messages)\n\n"
        "| | median ms | p95 ms | ops/s |\n|---|---|---|---|\n"
        f"| baseline: bare INSERT | {base['median_ms']} | {base['p95_ms']} "
        f"| {base['ops_per_s']} |\n"
        f"| message_append | {mine['median_ms']} | {mine['p95_ms']} | {mine['ops_per_s']} |\n\n"
        f"Median ratio (ours / baseline): {result['median_ratio']}\n"
    )
    (RESULTS / "message_append.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
