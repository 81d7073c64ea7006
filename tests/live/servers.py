"""Real uvicorn servers for live tests: started as subprocesses on free ports, awaited
until `/healthz` answers, stopped (SIGTERM, then SIGKILL) when the test ends. Each
server's stdout and stderr go to a log file under var/test-artifacts/servers/."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import ROOT, closed_port

ARTIFACTS = ROOT / "var" / "test-artifacts"
SERVER_LOGS = ARTIFACTS / "servers"
PRODUCT_APP = "config.asgi:application"
START_TIMEOUT = 30.0
STOP_GRACE = 5.0
LOG_TAIL_LINES = 60


class ServerDidNotStart(AssertionError):
    """A server exited or did not answer /healthz in time; the message has its log tail."""


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _die_with_parent() -> None:
    """Runs in the child before exec: its own process group, and SIGTERM if pytest dies
    without stopping it (Linux), so no server outlives the test run."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class LiveServer:
    port: int
    log_path: Path
    process: subprocess.Popen
    _log_file: object = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def exited(self) -> bool:
        return self.process.poll() is not None

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                # The whole group: uvicorn has no children today, but nothing may survive.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_GRACE)
        self._log_file.close()


def _spawn(*, app: str, env: dict[str, str], log_path: Path) -> LiveServer:
    port = closed_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("w")
    argv = [
        sys.executable,  # .venv's python under `make test`
        "-m",
        "uvicorn",
        app,
        "--lifespan",
        "off",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log_file.write(f"$ {' '.join(argv)}\n")
    log_file.flush()
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    return LiveServer(port=port, log_path=log_path, process=process, _log_file=log_file)


def start_worker(*, env: dict[str, str], log_path: Path, timeout: float = START_TIMEOUT):
    """A real Celery worker (one process, every queue) against the test database and
    Redis; returns once it says it is ready. Stopped like a server (`LiveServer.stop`)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("w")
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        "solo",
        "--queues",
        "inbound,outbound,housekeeping,default,ai",
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "INFO",
    ]
    log_file.write(f"$ {' '.join(argv)}\n")
    log_file.flush()
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    worker = LiveServer(port=0, log_path=log_path, process=process, _log_file=log_file)
    deadline = time.monotonic() + timeout
    while " ready." not in log_path.read_text(errors="replace"):
        if worker.exited() or time.monotonic() > deadline:
            worker.stop()
            raise ServerDidNotStart(
                f"the Celery worker did not start; log {log_path}:\n{log_tail(log_path)}"
            )
        time.sleep(0.1)
    return worker


def _healthy(port: int) -> bool:
    # http.client: no proxy from the environment, and no log line per poll.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _port_taken(server: LiveServer) -> bool:
    return "address already in use" in log_tail(server.log_path).lower()


def start(
    *,
    count: int,
    env: dict[str, str],
    log_stem: str,
    app: str = PRODUCT_APP,
    timeout: float = START_TIMEOUT,
    started: list[LiveServer],
) -> list[LiveServer]:
    """Starts `count` servers in parallel and waits until each answers /healthz. Every
    server started is appended to `started` at once, so the caller stops them even when
    this raises. A server whose free port was taken meanwhile is retried on another."""
    offset = len(started)
    servers = []
    for index in range(count):
        log_path = SERVER_LOGS / f"{log_stem}-{offset + index}.log"
        servers.append(_spawn(app=app, env=env, log_path=log_path))
        started.append(servers[-1])

    deadline = time.monotonic() + timeout
    retries = 3
    pending = list(range(count))
    while pending:
        for index in list(pending):
            server = servers[index]
            if server.exited():
                if _port_taken(server) and retries > 0:
                    retries -= 1
                    server.stop()
                    servers[index] = _spawn(app=app, env=env, log_path=server.log_path)
                    started.append(servers[index])
                    continue
                raise ServerDidNotStart(
                    f"live server {server.base_url} exited with status "
                    f"{server.process.returncode} before answering /healthz; "
                    f"log {server.log_path}:\n{log_tail(server.log_path)}"
                )
            if _healthy(server.port):
                pending.remove(index)
        if pending and time.monotonic() > deadline:
            server = servers[pending[0]]
            raise ServerDidNotStart(
                f"live server {server.base_url} did not answer /healthz within {timeout:.0f} s; "
                f"log {server.log_path}:\n{log_tail(server.log_path)}"
            )
        if pending:
            time.sleep(0.1)
    return servers


def server_env(database_url: str, overrides: dict[str, str | None] | None = None) -> dict:
    """os.environ with the test settings, the test database and no debug; `overrides`
    win, and a value of None removes the variable."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "PYTHONUNBUFFERED": "1",
    }
    # pytest's own variables mean nothing to the server.
    env.pop("PYTEST_CURRENT_TEST", None)
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def safe_name(nodeid: str) -> str:
    """A file-name-safe, still recognisable form of a test id."""
    name = nodeid.split("::", 1)[-1] if "::" in nodeid else nodeid
    module = Path(nodeid.split("::", 1)[0]).stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{module}-{name}")[:150]
