"""Fixtures for tests against real running servers, real websocket clients and a real
browser (Debian's Chromium through Playwright).

Committed data only: a live server is another process with its own database
connection, so it never sees what a test wrote inside pytest-django's per-test
transaction. `start_servers` (and `live_url`) therefore pull in `transactional_db`:
what the test creates is committed, and the tables are flushed after the test. The
servers are stopped before that flush (they are torn down first), so no server
connection holds a lock or sees a half-flushed database.

One server per test, never one per module or session: the flush after each test
re-creates content types, permissions and role groups under new ids, and a server kept
across tests would go on using the ids it cached. A server starts in about a second;
several start in parallel.

    def test_something(start_servers, page):
        first, second = start_servers(count=2, env={"LOG_LEVEL": "DEBUG"})
        user = AgentFactory()
        add_session_cookie(page.context, first, session_cookies(user))
        page.goto(f"{first}/console/")

Artifacts (var/test-artifacts/): servers/<test>-<n>.log holds each server's output
(its tail is added to the failure report), screenshots/ the PNGs of `screenshot(page,
name)` and, automatically, of every open page of a test that fails.

Browser: without Chromium the browser tests are skipped, saying how to install it,
unless SWITCHBOARD_REQUIRE_BROWSER=1 (CI sets it), which makes that a failure."""

from __future__ import annotations

import pytest

from tests.helpers import database_url_for
from tests.live import browser as browser_helpers
from tests.live import servers as live_servers

SERVERS = pytest.StashKey[list]()
PAGES = pytest.StashKey[list]()


@pytest.fixture
def start_servers(transactional_db, request):
    """Factory: start_servers(count=1, env=None, app="config.asgi:application") ->
    [base_url, ...]. Starts `count` uvicorn processes on free ports against the test
    database (DJANGO_SETTINGS_MODULE=config.settings.test, DEBUG=false), waits until
    each answers /healthz, stops them all after the test. `env` overrides the
    environment (None removes a variable). May be called more than once per test."""
    from django.db import connection

    database_name = connection.settings_dict["NAME"]
    assert database_name.startswith("test_"), f"not a test database: {database_name}"
    database_url = database_url_for(database_name)
    started: list[live_servers.LiveServer] = request.node.stash.setdefault(SERVERS, [])
    log_stem = live_servers.safe_name(request.node.nodeid)

    def start(
        count: int = 1,
        env: dict[str, str | None] | None = None,
        app: str = live_servers.PRODUCT_APP,
    ) -> list[str]:
        servers = live_servers.start(
            count=count,
            env=live_servers.server_env(database_url, env),
            log_stem=log_stem,
            app=app,
            started=started,
        )
        return [server.base_url for server in servers]

    yield start
    problems = []
    for server in started:  # every one, even when stopping another went wrong
        try:
            server.stop()
        except Exception as exc:
            problems.append(f"{server.base_url} (pid {server.process.pid}): {exc!r}")
    assert not problems, "live servers that did not stop: " + "; ".join(problems)


@pytest.fixture
def live_worker(transactional_db, request, monkeypatch):
    """A real Celery worker on every queue, against the test database and Redis, for the
    work the product does in tasks (routing, CSAT requests, deliveries). The servers this
    test starts send their tasks to it (a Redis broker under a prefix of this test's own).
    Stopped before the tables are flushed, like the servers; its log goes with a failure
    report."""
    import uuid

    from django.db import connection

    monkeypatch.setenv("LIVE_CELERY_BROKER_PREFIX", f"sb-test-broker-{uuid.uuid4().hex}:")
    env = live_servers.server_env(database_url_for(connection.settings_dict["NAME"]))
    log_path = (
        live_servers.SERVER_LOGS / f"{live_servers.safe_name(request.node.nodeid)}-worker.log"
    )
    worker = live_servers.start_worker(env=env, log_path=log_path)
    request.node.stash.setdefault(SERVERS, []).append(worker)
    yield worker
    worker.stop()


@pytest.fixture
def live_url(start_servers) -> str:
    """The base URL (http://127.0.0.1:<port>) of one live server for this test."""
    return start_servers()[0]


def _require_chromium() -> None:
    """Skips the test (or fails it, when SWITCHBOARD_REQUIRE_BROWSER=1) without Chromium."""
    if browser_helpers.find_chromium() is not None:
        return
    reason = (
        "BROWSER TESTS NOT RUN: no Chromium at /usr/bin/chromium or on PATH. "
        f"Install Debian's: {browser_helpers.INSTALL_HINT}"
    )
    if browser_helpers.browser_required():
        pytest.fail(f"{reason} ({browser_helpers.REQUIRE_BROWSER_VARIABLE}=1)")
    pytest.skip(reason)


def pytest_runtest_setup(item):
    # Before any fixture, so that a test skipped for want of a browser starts no server.
    if "playwright" in getattr(item, "fixturenames", ()):
        _require_chromium()


@pytest.fixture
def playwright(monkeypatch):
    """Playwright's sync API, for this test only (see the comment below for why)."""
    _require_chromium()
    # Playwright's sync API drives its own asyncio loop from this thread (in a greenlet),
    # so while it is started asyncio.get_running_loop() succeeds in the test's code too,
    # and Django takes the thread for an async one:
    # 1. It refuses every ORM call ("You cannot call this from an async context"). Nothing
    #    runs concurrently (the test and the loop take turns on one thread), so the check
    #    is a false alarm: lifted only while Playwright runs (monkeypatch restores it).
    # 2. Its connection handler keeps connections per async context instead of per thread,
    #    so the test would get a second connection: outside the test's transaction, and
    #    still open when pytest-django drops the test database. Handing it the same
    #    connection objects keeps one connection (and one transaction) for the test.
    from django.db import connections
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    thread_connections = {alias: connections[alias] for alias in connections}
    instance = sync_playwright().start()
    for alias, connection in thread_connections.items():
        connections[alias] = connection
    yield instance
    instance.stop()


@pytest.fixture
def browser(playwright):
    """Headless Debian Chromium (a new one per test)."""
    browser = playwright.chromium.launch(
        executable_path=browser_helpers.find_chromium(),
        headless=True,
        args=browser_helpers.LAUNCH_ARGS,
    )
    yield browser
    browser.close()


@pytest.fixture
def browser_context(browser):
    """A fresh browser profile (no cookies), English, 1280x800, 10 s default timeouts."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(browser_context, request):
    """A page in `browser_context`; screenshotted automatically when the test fails."""
    page = browser_context.new_page()
    request.node.stash.setdefault(PAGES, []).append(page)
    return page


@pytest.fixture
def no_dialogs(page):
    """`page`, failing the test if it opens an alert (a script from customer data ran)."""
    opened = []
    page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
    yield page
    assert opened == [], f"the page ran injected script: {opened}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and report.when in ("setup", "call"):
        _attach_failure_artifacts(item, report)
    return report


def _attach_failure_artifacts(item, report) -> None:
    # Runs before fixture teardown: the pages and the servers are still alive.
    for index, page in enumerate(item.stash.get(PAGES, [])):
        name = f"FAILED-{live_servers.safe_name(item.nodeid)}-{index}"
        try:
            path = browser_helpers.screenshot(page, name)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            report.sections.append(("screenshot", f"could not take {name}: {exc!r}"))
        else:
            report.sections.append(("screenshot", str(path)))
    for server in item.stash.get(SERVERS, []):
        title = f"live server {server.base_url} log {server.log_path} (tail)"
        report.sections.append((title, live_servers.log_tail(server.log_path)))
