"""Live chat latency: how long a website visitor's message takes to reach the agent's
console, with N visitors and N agents connected at once, against a baseline measured in
the same run: a bare Channels echo (bench/_echo_asgi.py: an HTTP handler that group_sends
to the agent's group, a websocket consumer for the agent; no database) over the same Redis
pub/sub layer, served by the same uvicorn in the same way and driven by the same clients.

    python bench/live_chat_latency.py                 (N = 50, 200, 1000; 12 s each)
    python bench/live_chat_latency.py --quick         (N = 50, 200; 5 s each)
    python bench/live_chat_latency.py --sizes 5 --duration 2 --warmup 0     (the test's)
                     (DATABASE_URL: a migrated database; BENCH_REDIS_URL: a Redis database)

The product runs as deployed: uvicorn (`config.asgi:application`, DEBUG off) with one worker
process per core (BENCH_WEB_WORKERS), the echo the same way; the clients run in this
script's event loop. Each visitor holds its
widget socket (/ws/widget/<key>/, authenticated by its token) and a keep-alive HTTP
connection; each agent holds a console socket (/ws/console/, signed in by a database
session). Agents are in no inbox and each visitor's conversation is assigned to its own
agent, so a push reaches exactly one console (`user.<id>`; the `staff` and `inbox.<id>`
groups it also goes to have no members).

A message is timed from the moment the visitor sends it (POST /widget/v1/<key>/messages/,
as the widget does) until the agent's socket receives its `message.created` push. Each
visitor sends in a closed loop: it sends, waits for its agent to hear the message (or for
--timeout), then thinks for a uniformly random 2.5-7.5 s (a person reading and typing a
short line), so the offered load grows with N: about N/5 messages per second. Visitors start
at random moments within one think time; messages sent in the first --warmup seconds are
checked but not timed. A message the agent never hears is lost (must be 0), one heard twice
doubled, one heard by another agent misrouted.

Targets (2 cores): p99 <= 50 ms at N = 200; p50 <= 3x the baseline's p50 at every N.

Writes bench/results/live_chat_latency.{json,md}."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import (  # noqa: E402
    WEB_WORKERS,
    Stack,
    cpu_seconds,
    django_setup,
    markdown_table,
    percentiles,
    results_write,
    server_env,
)
from bench._live_clients import (  # noqa: E402
    HttpConnection,
    console_socket,
    gather_limited,
    run,
    widget_socket,
    world_create,
    world_delete,
    worlds_leftover_delete,
)

NAME = "live_chat_latency"
TARGET_P99_MS = 50.0
TARGET_P99_AT = 200
TARGET_P50_RATIO = 3.0
THINK_SECONDS = (2.5, 7.5)
CONNECT_CONCURRENCY = 50


class Target:
    """Where the clients go: the product, or the echo baseline (served by process `pid`)."""

    def __init__(self, kind: str, base_url: str, world, pid: int):
        self.kind, self.base_url, self.world, self.pid = kind, base_url, world, pid
        self.port = int(base_url.rsplit(":", 1)[1])

    def console(self, agent: int) -> tuple[str, str]:
        """The agent's socket path and Cookie header."""
        if self.kind == "echo":
            return f"/ws/console/{self.world.agent_ids[agent]}/", ""
        return "/ws/console/", self.world.agent_cookies[agent]

    def post(self, visitor: int) -> tuple[str, dict]:
        """Where visitor `visitor` posts a message, and its headers."""
        if self.kind == "echo":
            agent_id = self.world.agent_ids[visitor]
            return "/echo/messages/", {"Authorization": f"Visitor {agent_id}"}
        token = self.world.visitor_tokens[visitor]
        path = f"/widget/v1/{self.world.public_key}/messages/"
        return path, {"Authorization": f"Visitor {token}"}


async def run_load(target: Target, n: int, args) -> dict:
    """N visitors and N agents for `args.duration` seconds; the figures of one run."""
    world = target.world
    connect_start = time.perf_counter()
    agents = await gather_limited(
        [console_socket(target.base_url, *target.console(a)) for a in range(n)],
        CONNECT_CONCURRENCY,
    )
    widgets = await gather_limited(
        [
            widget_socket(target.base_url, world.public_key, world.visitor_tokens[v])
            for v in range(n)
        ],
        CONNECT_CONCURRENCY,
    )
    connect_s = time.perf_counter() - connect_start

    run = uuid.uuid4().hex[:6]
    sent_at: dict[str, float] = {}  # body -> when the visitor started sending it
    heard: dict[str, float] = {}  # body -> when its agent's socket received it
    waiting: dict[str, asyncio.Future] = {}
    counts = {"doubled": 0, "misrouted": 0, "unexpected": 0, "http_errors": 0, "widget_pushes": 0}
    loop = asyncio.get_running_loop()

    async def listen(agent: int, socket) -> None:
        async for raw in socket:
            arrived = time.perf_counter()
            event = json.loads(raw)
            if event.get("type") != "message.created":
                continue
            body = event["message"]["body"]
            if body not in sent_at:
                counts["unexpected"] += 1
                continue
            if int(body.split(":")[1]) != agent:
                counts["misrouted"] += 1
                continue
            if body in heard:
                counts["doubled"] += 1
                continue
            heard[body] = arrived
            future = waiting.pop(body, None)
            if future is not None and not future.done():
                future.set_result(None)

    async def drain(socket) -> None:
        # The visitor's own message comes back on its widget socket; read it as a browser does.
        async for _raw in socket:
            counts["widget_pushes"] += 1

    listeners = [asyncio.create_task(listen(a, s)) for a, s in enumerate(agents)]
    listeners += [asyncio.create_task(drain(s)) for s in widgets]

    cpu_start = cpu_seconds(target.pid, with_children=True)
    start = time.perf_counter()
    end = start + args.duration
    rng = random.Random(n)
    think = args.think

    async def visitor(v: int) -> None:
        http = HttpConnection("127.0.0.1", target.port)
        path, headers = target.post(v)
        await asyncio.sleep(rng.uniform(0, min(think[1], args.duration / 2)))
        k = 0
        try:
            while time.perf_counter() < end:
                k += 1
                body = f"{run}:{v}:{k}"
                future = loop.create_future()
                waiting[body] = future
                sent_at[body] = time.perf_counter()
                status, _data = await http.request(
                    "POST", path, {"client_id": body.replace(":", "-"), "body": body}, headers
                )
                if status not in (200, 201):
                    counts["http_errors"] += 1
                    waiting.pop(body, None)
                    del sent_at[body]
                else:
                    try:
                        await asyncio.wait_for(future, args.timeout)
                    except TimeoutError:
                        waiting.pop(body, None)
                # Thinking past the end would only stretch the run.
                await asyncio.sleep(min(rng.uniform(*think), max(0.0, end - time.perf_counter())))
        finally:
            await http.close()

    await asyncio.gather(*(visitor(v) for v in range(n)))
    # Late pushes still count as heard (not lost); give them the timeout to arrive.
    grace_end = time.perf_counter() + args.timeout
    while len(heard) < len(sent_at) and time.perf_counter() < grace_end:
        await asyncio.sleep(0.05)
    server_cpu = cpu_seconds(target.pid, with_children=True) - cpu_start
    still_open = sum(1 for s in [*agents, *widgets] if s.state.name == "OPEN")
    for socket in [*agents, *widgets]:
        await socket.close()
    await asyncio.gather(*listeners, return_exceptions=True)

    timed_from = start + args.warmup
    window = max(args.duration - args.warmup, 1e-9)
    samples = [
        (heard[body] - t0) * 1000
        for body, t0 in sent_at.items()
        if t0 >= timed_from and body in heard
    ]
    return {
        "n": n,
        "connect_s": round(connect_s, 2),
        "sent": len(sent_at),
        "heard": len(heard),
        "lost": len(sent_at) - len(heard),
        **counts,
        "sockets_open_at_end": still_open,
        "sockets": 2 * n,
        "latency": percentiles(samples),
        "messages_per_s": round(len(samples) / window, 1),
        # What one message costs the server, whatever else the machine runs meanwhile.
        "server_cpu_ms_per_message": round(1000 * server_cpu / max(len(heard), 1), 2),
    }


def verdict(met: bool) -> str:
    return "met" if met else "missed"


def summarise(report: dict) -> str:
    rows = []
    for size in report["sizes"]:
        base, ours = size["baseline_echo"], size["ours"]
        bl, ol = base["latency"], ours["latency"]
        for label, figures, lat in (("echo (baseline)", base, bl), ("ours", ours, ol)):
            rows.append(
                [
                    size["n"],
                    label,
                    lat["p50_ms"],
                    lat["p95_ms"],
                    lat["p99_ms"],
                    lat["max_ms"],
                    figures["messages_per_s"],
                    figures["sent"],
                    figures["lost"],
                    figures["doubled"] + figures["misrouted"],
                ]
            )
        rows.append(
            [
                size["n"],
                "ours / baseline",
                f"{size['p50_ratio']}x",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
    table = markdown_table(
        [
            "N",
            "server",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "msg/s",
            "sent",
            "lost",
            "doubled or misrouted",
        ],
        rows,
    )
    lines = [
        f"# {NAME}",
        "",
        f"Visitor sends -> agent's console hears `message.created`; {report['duration_s']} s per "
        f"N ({report['warmup_s']} s warm-up not timed), think time "
        f"{report['think_s'][0]}-{report['think_s'][1]} s.",
        "",
        table,
        "",
        "Targets:",
    ]
    for target in report["targets"]:
        lines.append(f"- {target['what']}: {target['value']} -> {target['verdict']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,200,1000", help="numbers of visitor/agent pairs")
    parser.add_argument("--duration", type=float, default=12.0, help="seconds of load per N")
    parser.add_argument("--warmup", type=float, default=2.0, help="first seconds not timed")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a push is late")
    parser.add_argument(
        "--think", default=f"{THINK_SECONDS[0]},{THINK_SECONDS[1]}", help="min,max seconds"
    )
    parser.add_argument("--quick", action="store_true", help="N = 50 and 200, 5 s each")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.duration, args.warmup = "50,200", 5.0, 1.0
    sizes = [int(s) for s in args.sizes.split(",")]
    args.think = tuple(float(s) for s in args.think.split(","))

    django_setup()
    worlds_leftover_delete(NAME)
    setup_start = time.perf_counter()
    world = world_create(NAME, agents=max(sizes), visitors=max(sizes), assign=True)
    setup_s = round(time.perf_counter() - setup_start, 1)
    gc.freeze()  # the world's objects: nothing for the collector to walk during the runs
    results = []
    try:
        ours_env = server_env()
        echo_env = server_env(CHANNEL_LAYER_PREFIX=f"{ours_env['CHANNEL_LAYER_PREFIX']}:echo")
        with Stack(ours_env) as ours_stack, Stack(echo_env) as echo_stack:
            ours_pid = ours_stack.web(workers=WEB_WORKERS).pid
            # The same uvicorn command line as ours, serving the echo app.
            echo_pid = echo_stack.web(app="bench._echo_asgi:application", workers=WEB_WORKERS).pid
            echo_url = echo_stack.base_url
            for n in sizes:
                echo = Target("echo", echo_url, world, echo_pid)
                base = run(run_load(echo, n, args))
                ours = Target("ours", ours_stack.base_url, world, ours_pid)
                ours = run(run_load(ours, n, args))
                ratio = round(ours["latency"]["p50_ms"] / base["latency"]["p50_ms"], 2)
                results.append({"n": n, "baseline_echo": base, "ours": ours, "p50_ratio": ratio})
                print(
                    f"N={n}: ours p50 {ours['latency']['p50_ms']} ms, "
                    f"p99 {ours['latency']['p99_ms']} ms; echo p50 {base['latency']['p50_ms']} ms",
                    flush=True,
                )
    finally:
        world_delete(world)

    targets = []
    for size in results:
        if size["n"] == TARGET_P99_AT:
            p99 = size["ours"]["latency"]["p99_ms"]
            targets.append(
                {
                    "what": f"p99 <= {TARGET_P99_MS} ms at N={TARGET_P99_AT}",
                    "value": f"{p99} ms",
                    "verdict": verdict(p99 <= TARGET_P99_MS),
                }
            )
        targets.append(
            {
                "what": f"p50 <= {TARGET_P50_RATIO}x baseline at N={size['n']}",
                "value": f"{size['p50_ratio']}x",
                "verdict": verdict(size["p50_ratio"] <= TARGET_P50_RATIO),
            }
        )
        lost = size["ours"]["lost"] + size["baseline_echo"]["lost"]
        targets.append(
            {
                "what": f"no message lost at N={size['n']}",
                "value": lost,
                "verdict": verdict(lost == 0),
            }
        )
    report = {
        "benchmark": NAME,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "timeout_s": args.timeout,
        "think_s": list(args.think),
        "setup_s": setup_s,
        "sizes": results,
        "targets": targets,
    }
    results_write(NAME, report, summarise(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
