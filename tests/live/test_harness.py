"""The live harness itself: real servers on the test database, real websocket clients,
the real browser; and that a server which cannot start fails the test with its log."""

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.factories.accounts import PASSWORD, AgentFactory
from tests.live.browser import SCREENSHOTS, add_session_cookie, screenshot
from tests.live.clients import http_login, session_cookies, ws_connect
from tests.live.servers import ServerDidNotStart

PROBE_APP = "tests.live.probe_asgi:application"


def _me(base_url: str, cookies: dict) -> httpx.Response:
    return httpx.get(f"{base_url}/api/v1/me/", cookies=cookies, timeout=10, trust_env=False)


def test_two_servers_serve_the_test_database_and_see_a_user_created_by_the_test(start_servers):
    first, second = start_servers(count=2)
    assert first != second
    for base in (first, second):
        ready = httpx.get(f"{base}/readyz", timeout=10, trust_env=False)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["redis"] == "ok"

    agent = AgentFactory()
    # A session written to the database by the test is honoured by both servers.
    cookies = session_cookies(agent)
    for base in (first, second):
        response = _me(base, cookies)
        assert response.status_code == 200, response.text
        assert response.json()["email"] == agent.email
    # Signing in through one server's login page works on the other: one database.
    cookies = http_login(first, agent.email, PASSWORD)
    assert _me(second, cookies).json()["email"] == agent.email
    # And nobody is signed in without a cookie.
    assert _me(second, {}).status_code in (401, 403)


def test_websocket_clients_carry_the_session_and_the_origin(start_servers):
    (base,) = start_servers(app=PROBE_APP)
    agent = AgentFactory()

    with ws_connect(base, "/ws/_probe/", cookies=session_cookies(agent)) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["email"] == agent.email
        ws.send("ping")
        assert ws.recv(timeout=10) == "ping"
    with ws_connect(base, "/ws/_probe/") as ws:
        assert json.loads(ws.recv(timeout=10))["email"] is None

    # The product's origin check refuses other sites' pages.
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(base, "/ws/_probe/", origin="http://evil.example")
    assert refused.value.response.status_code == 403


def test_a_server_that_cannot_start_fails_with_its_log(start_servers):
    with pytest.raises(ServerDidNotStart, match=r"(?s)exited with status.*no_such_settings"):
        start_servers(env={"DJANGO_SETTINGS_MODULE": "config.settings.no_such_settings"})


def test_the_browser_signs_in_on_a_live_server_and_lands_in_the_console(live_url, page):
    agent = AgentFactory(display_name="Ada Live")

    page.goto(f"{live_url}/accounts/login/")
    page.fill("input[name=login]", agent.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"{live_url}/console/")

    # The browser's own session (not the page's markup, which changes) says who it is.
    me = page.request.get(f"{live_url}/api/v1/me/")
    assert me.status == 200
    assert me.json()["email"] == agent.email
    path = screenshot(page, "live-harness-console")
    assert path.parent == SCREENSHOTS
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_orm_keeps_the_tests_connection_while_the_browser_runs(db, page):
    # Playwright's loop makes Django think this thread is async; it must neither refuse
    # the ORM nor hand it a second connection outside the test's transaction.
    from django.db import connection

    AgentFactory()
    assert connection.in_atomic_block


def test_a_browser_context_can_be_signed_in_with_a_database_session(live_url, page):
    agent = AgentFactory()
    add_session_cookie(page.context, live_url, session_cookies(agent))

    page.goto(f"{live_url}/console/")

    assert page.url == f"{live_url}/console/"  # not sent to the login page
    assert page.request.get(f"{live_url}/api/v1/me/").json()["email"] == agent.email
