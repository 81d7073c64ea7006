"""What the benchmarks share: percentiles, the results files, and the product's own
processes (uvicorn, a Celery worker) started on a free port with settings fit for
measuring (no DEBUG, widget limits out of the way, a channel-layer prefix of their own).

Not a benchmark itself (the leading underscore keeps `make bench` from running it)."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from scripts.stack import Processes, wait_until_serving  # noqa: E402

# A Redis database of their own: benchmarked workers must not take a `make run`'s tasks.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
QUEUES = "inbound,outbound,housekeeping,default"
# uvicorn processes serving a benchmark under load: one per core, as docs/operations.md
# advises for production.
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", os.cpu_count() or 1))


def django_setup(*, on_bench_redis: bool = False) -> None:
    """Sets Django up in this process. With `on_bench_redis`, what the script itself writes
    (pushes, Celery tasks) goes to the benchmarked processes' Redis."""
    if on_bench_redis:
        os.environ["REDIS_URL"] = REDIS_URL
        os.environ["USE_REDIS"] = "true"
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.development"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    import django

    django.setup()


def percentiles(samples_ms: list[float]) -> dict:
    """p50/p95/p99/max of latencies in ms (nearest rank), rounded for reading."""
    if not samples_ms:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(samples_ms)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 2)

    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": rank(0.95),
        "p99_ms": rank(0.99),
        "max_ms": round(ordered[-1], 2),
    }


def results_write(name: str, report: dict, markdown: str) -> None:
    """Prints the summary and writes bench/results/<name>.json and <name>.md."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")
    print(markdown, flush=True)


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(**overrides: str) -> dict[str, str]:
    """The environment of a benchmarked process: the product's settings as deployed
    (DEBUG off), with per-IP widget limits lifted because every client is 127.0.0.1."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get(
            "DJANGO_SETTINGS_MODULE", "config.settings.development"
        ),
        "DEBUG": "false",
        "USE_REDIS": "true",
        "REDIS_URL": REDIS_URL,
        "CHANNEL_LAYER_PREFIX": f"bench{os.getpid()}:layer",
        "WIDGET_RATE_PER_IP": "1000000/min",
        "WIDGET_RATE_PER_VISITOR": "1000000/min",
        "WIDGET_SEND_RATE_PER_VISITOR": "1000000/min",
        "WIDGET_NEW_VISITORS_PER_IP": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(overrides)
    return env


class Stack:
    """The product's processes for one benchmark; stops them all on exit.

    `web()` starts uvicorn on a free port and waits for /healthz; `worker()` a Celery
    worker on the product's queues. Both return the process so a fault can be injected."""

    def __init__(self, env: dict[str, str] | None = None):
        self.env = env or server_env()
        self.processes = Processes(self.env)
        self.port: int | None = None

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.processes.stop_all()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def web(
        self,
        port: int | None = None,
        *extra: str,
        app: str = "config.asgi:application",
        workers: int = 1,
    ) -> subprocess.Popen:
        """With workers > 1 the process returned is uvicorn's supervisor; its children serve."""
        self.port = port or self.port or free_port()
        argv = [sys.executable, "-m", "uvicorn", app]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off"]
        argv += ["--no-access-log", "--log-level", "warning", *extra]
        if workers > 1:
            argv += ["--workers", str(workers)]
        self.processes.start("web", argv)
        if not wait_until_serving(f"{self.base_url}/healthz", self.processes):
            raise RuntimeError(f"the web server ({app}) did not come up")
        return self.processes.running[-1][1]

    def worker(
        self, concurrency: int = 2, queues: str = QUEUES, pool: str = "prefork"
    ) -> subprocess.Popen:
        argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues]
        argv += ["--pool", pool, "--concurrency", str(concurrency), "--loglevel", "WARNING"]
        argv += ["-n", f"bench{os.getpid()}-{time.monotonic_ns()}@%h", "--without-gossip"]
        argv += ["--without-mingle", "--without-heartbeat"]
        self.processes.start("worker", argv)
        return self.processes.running[-1][1]

    def forget(self, process: subprocess.Popen) -> None:
        """After a process was killed on purpose: stop tracking it."""
        self.processes.running = [(n, p) for n, p in self.processes.running if p is not process]


def _pids(pid: int, with_children: bool) -> list[int]:
    pids = [pid]
    if with_children:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
    return pids


def rss_mb(pid: int, *, with_children: bool = False) -> float:
    """Resident memory of a process (and its children: a Celery pool) in MB."""
    total_kb = 0
    for p in _pids(pid, with_children):
        status = Path(f"/proc/{p}/status")
        if not status.exists():
            continue
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return round(total_kb / 1024, 1)


def cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """User + system CPU time a process (and its living children) has used so far."""
    total = 0
    for p in _pids(pid, with_children):
        stat = Path(f"/proc/{p}/stat")
        if not stat.exists():
            continue
        fields = stat.read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def http_json(method: str, url: str, body: dict | None = None, headers: dict | None = None):
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")
