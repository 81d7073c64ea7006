"""`make run` end to end: the launcher migrates a fresh database, loads demo data, serves
the product and stops every process it started on Ctrl-C, with and without Redis."""

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest

from tests.helpers import ROOT, closed_port

pytestmark = pytest.mark.timeout(240)


def _start(database_url: str, port: int, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "scripts/stack.py", "run"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "PORT": str(port), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_banner(process: subprocess.Popen, timeout: float = 120) -> str:
    output, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output.append(line)
        if line.startswith("Press Ctrl-C to stop."):
            # Keep reading: a full pipe would block the launcher and its children on a log
            # write, and they could never stop.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return "".join(output)
    process.kill()
    raise AssertionError("no banner:\n" + "".join(output))


def _stop(process: subprocess.Popen) -> tuple[int, list[psutil.Process]]:
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=60)
    _gone, alive = psutil.wait_procs(children, timeout=15)
    return code, alive


def _check_pages(base: str) -> dict:
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/accounts/login/").status_code == 200
        assert http.get("/admin/", follow_redirects=True).url.path == "/accounts/login/"
        assert http.get("/api/docs/").status_code == 200
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        return ready.json()


def test_run_without_redis_falls_back_to_memory_and_stops_cleanly(empty_database):
    port = closed_port()
    process = _start(empty_database, port, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    try:
        banner = _wait_for_banner(process)
        assert "WARNING: no Redis answers" in banner
        assert "Demo logins" in banner and "switchboard-demo" in banner
        ready = _check_pages(f"http://127.0.0.1:{port}")
        assert ready["channel_layer"] == "memory" and ready["tasks"] == "eager"
        assert ready["checks"]["redis"] == "not used: in-memory fallback"
        names = " ".join(
            " ".join(p.cmdline()) for p in psutil.Process(process.pid).children(recursive=True)
        )
        assert "uvicorn" in names and "celery" not in names
    finally:
        code, alive = _stop(process)
    assert code == 0
    assert alive == []


def test_run_with_redis_starts_web_worker_and_beat_and_stops_them_all(empty_database):
    port = closed_port()
    process = _start(empty_database, port)
    try:
        banner = _wait_for_banner(process)
        assert "WARNING" not in banner
        ready = _check_pages(f"http://127.0.0.1:{port}")
        assert ready["channel_layer"] == "redis" and ready["tasks"] == "celery"
        names = " ".join(
            " ".join(p.cmdline()) for p in psutil.Process(process.pid).children(recursive=True)
        )
        assert "uvicorn" in names and " worker " in names and " beat" in names
        assert "-Q ai --pool threads" in names  # the AI's own worker
    finally:
        code, alive = _stop(process)
    assert code == 0
    assert alive == []
