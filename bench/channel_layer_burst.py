"""Channel layers under a burst: how many group messages reach one subscriber, and how
fast, for the layer we use (`RedisPubSubChannelLayer`) against the baseline measured in
the same run: channels-redis' list-based `RedisChannelLayer` with its default capacity
(100 messages per channel), which drops group messages silently once a channel is full.

Each run sends BURST group messages of about 1 KB while a reader receives concurrently,
then waits until nothing more arrives.

    python bench/channel_layer_burst.py --burst 2000 --runs 3      (REDIS_URL, default local)

Writes bench/results/channel_layer_burst.{json,md}."""

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
QUIET_SECONDS = 1.0


async def one_run(layer, burst: int, group: str) -> dict:
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    await asyncio.sleep(0.2)  # let a pub/sub subscription settle
    received = 0
    last_arrival = time.perf_counter()

    async def read():
        nonlocal received, last_arrival
        while True:
            try:
                await asyncio.wait_for(layer.receive(channel), QUIET_SECONDS)
            except TimeoutError:
                return
            received += 1
            last_arrival = time.perf_counter()

    reader = asyncio.create_task(read())
    body = "x" * 1000
    start = time.perf_counter()
    for n in range(burst):
        await layer.group_send(group, {"type": "push", "n": n, "body": body})
    await reader
    await layer.group_discard(group, channel)
    elapsed = max(last_arrival - start, 1e-9)
    return {
        "received": received,
        "lost": burst - received,
        "lost_pct": round(100 * (burst - received) / burst, 1),
        "delivered_per_s": round(received / elapsed, 1),
    }


async def measure(make_layer, burst: int, runs: int, name: str) -> dict:
    results = []
    for run in range(runs):
        layer = make_layer()
        results.append(await one_run(layer, burst, f"bench.{name}.{os.getpid()}.{run}"))
    return {
        "runs": results,
        "median_lost_pct": statistics.median(r["lost_pct"] for r in results),
        "median_delivered_per_s": statistics.median(r["delivered_per_s"] for r in results),
    }


async def main(burst: int, runs: int) -> None:
    baseline = await measure(
        lambda: RedisChannelLayer(hosts=[REDIS_URL], prefix="bench:list", capacity=100),
        burst,
        runs,
        "list",
    )
    ours = await measure(
        lambda: RedisPubSubChannelLayer(hosts=[REDIS_URL], prefix="bench:pubsub"),
        burst,
        runs,
        "pubsub",
    )
    report = {
        "burst": burst,
        "runs": runs,
        "baseline_list_layer_capacity_100": baseline,
        "pubsub_layer": ours,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "channel_layer_burst.json").write_text(json.dumps(report, indent=2))
    speed = (
        f"{ours['median_delivered_per_s'] / baseline['median_delivered_per_s']:.2f}x"
        if baseline["median_delivered_per_s"]
        else "the baseline delivered nothing"
    )
    text = "\n".join(
        [
            f"Burst of {burst} group messages (~1 KB), {runs} runs, medians:",
            "| layer | lost | delivered/s |",
            "|---|---|---|",
            f"| RedisChannelLayer, capacity 100 (baseline) | {baseline['median_lost_pct']}% | "
            f"{baseline['median_delivered_per_s']} |",
            f"| RedisPubSubChannelLayer (ours) | {ours['median_lost_pct']}% | "
            f"{ours['median_delivered_per_s']} |",
            f"\nDelivery rate ratio (ours / baseline): {speed}",
        ]
    )
    (RESULTS / "channel_layer_burst.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a burst of 1000, once")
    args = parser.parse_args()
    if args.quick:
        args.burst, args.runs = 1000, 1
    asyncio.run(main(args.burst, args.runs))
