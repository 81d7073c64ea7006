"""Memory of idle widget sockets: the resident memory (RSS) of one ASGI process (uvicorn,
`config.asgi:application`, as deployed) holding N idle, authenticated widget connections,
against the baseline measured in the same run: the same process, warmed up by one
connection and its request, holding none. Reports MB, KB per connection, and checks that
every socket is still open (each answers the widget's heartbeat) after the hold.

    python bench/widget_sockets_memory.py                  (1,000 sockets, 10 s hold)
    python bench/widget_sockets_memory.py --quick          (300 sockets, 3 s hold)
    python bench/widget_sockets_memory.py --sockets 20 --hold 0.5    (the test's)
                     (DATABASE_URL: a migrated database; BENCH_REDIS_URL: a Redis database)

Each socket is opened as the widget's frame opens it (/ws/widget/<key>/, the page's Origin,
permessage-deflate offered as browsers do), authenticated by its own visitor's token (the
first message), and then left idle: the server holds its consumer, its group on the
channel layer and its subscription. The clients run in this script, a process of its own.

Target: <= 200 MB for 1,000 connections.

Writes bench/results/widget_sockets_memory.{json,md}."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import (  # noqa: E402
    Stack,
    django_setup,
    markdown_table,
    results_write,
    rss_mb,
)
from bench._live_clients import (  # noqa: E402
    gather_limited,
    run,
    widget_socket,
    world_create,
    world_delete,
    worlds_leftover_delete,
)

NAME = "widget_sockets_memory"
TARGET_MB = 200.0
TARGET_AT = 1000
CONNECT_CONCURRENCY = 50
SETTLE_SECONDS = 1.0


async def heartbeat(socket) -> bool:
    """The widget's ping; True when its pong comes back."""
    try:
        await socket.send(json.dumps({"type": "ping"}))
        while True:
            event = json.loads(await asyncio.wait_for(socket.recv(), 30))
            if event.get("type") == "pong":
                return True
    except Exception:
        return False


async def measure(base_url: str, pid: int, world, sockets: int, hold: float) -> dict:
    # Warm-up: one socket and its heartbeat load what the first connection loads lazily
    # (the channel layer, the consumers' code), so the baseline is a process ready to serve.
    first = await widget_socket(base_url, world.public_key, world.visitor_tokens[0])
    await heartbeat(first)
    await first.close()
    await asyncio.sleep(SETTLE_SECONDS)
    baseline = rss_mb(pid)

    start = time.perf_counter()
    opened = await gather_limited(
        [widget_socket(base_url, world.public_key, token) for token in world.visitor_tokens],
        CONNECT_CONCURRENCY,
    )
    connect_s = time.perf_counter() - start
    await asyncio.sleep(hold)
    held = rss_mb(pid)
    open_at_end = sum(1 for socket in opened if socket.state.name == "OPEN")
    answering = sum(await gather_limited([heartbeat(s) for s in opened], CONNECT_CONCURRENCY))
    after_heartbeats = rss_mb(pid)
    for socket in opened:
        await socket.close()
    growth = held - baseline
    return {
        "sockets": sockets,
        "hold_s": hold,
        "connect_s": round(connect_s, 2),
        "baseline_no_connections_mb": baseline,
        "with_connections_mb": held,
        "after_heartbeats_mb": after_heartbeats,
        "growth_mb": round(growth, 1),
        "per_connection_kb": round(growth * 1024 / sockets, 1),
        "open_at_end": open_at_end,
        "answering_heartbeat": answering,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=10.0, help="seconds the sockets stay idle")
    parser.add_argument("--quick", action="store_true", help="300 sockets, 3 s hold")
    args = parser.parse_args()
    if args.quick:
        args.sockets, args.hold = 300, 3.0

    django_setup()
    worlds_leftover_delete(NAME)
    world = world_create(NAME, agents=0, visitors=args.sockets, assign=False)
    gc.freeze()
    try:
        with Stack() as stack:
            pid = stack.web().pid
            figures = run(measure(stack.base_url, pid, world, args.sockets, args.hold))
    finally:
        world_delete(world)

    # The target is for 1,000 connections; a smaller run is judged on its per-connection
    # cost scaled to 1,000.
    projected = figures["baseline_no_connections_mb"] + (
        figures["per_connection_kb"] * TARGET_AT / 1024
    )
    met = projected <= TARGET_MB
    report = {
        "benchmark": NAME,
        **figures,
        "projected_at_1000_mb": round(projected, 1),
        "target": {
            "what": f"RSS <= {TARGET_MB:.0f} MB with {TARGET_AT} idle widget connections",
            "value_mb": round(projected, 1),
            "verdict": "met" if met else "missed",
        },
        "all_open": figures["open_at_end"] == figures["answering_heartbeat"] == args.sockets,
    }
    table = markdown_table(
        ["", "RSS MB"],
        [
            ["baseline: no connections (warmed up)", figures["baseline_no_connections_mb"]],
            [f"{args.sockets} idle widget connections", figures["with_connections_mb"]],
            ["after one heartbeat on each", figures["after_heartbeats_mb"]],
        ],
    )
    scaled = "" if args.sockets == TARGET_AT else f" (projected from {args.sockets})"
    markdown = "\n".join(
        [
            f"# {NAME}",
            "",
            table,
            "",
            f"Per connection: {figures['per_connection_kb']} KB "
            f"({figures['growth_mb']} MB over the baseline); ratio to the baseline "
            f"{figures['with_connections_mb'] / figures['baseline_no_connections_mb']:.2f}x.",
            f"Open after {args.hold} s idle: {figures['open_at_end']}/{args.sockets}; answering "
            f"the heartbeat: {figures['answering_heartbeat']}/{args.sockets}.",
            f"Target: RSS <= {TARGET_MB:.0f} MB at {TARGET_AT} connections: "
            f"{projected:.1f} MB{scaled} -> {report['target']['verdict']}",
        ]
    )
    results_write(NAME, report, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
