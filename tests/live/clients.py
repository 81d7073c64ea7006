"""Clients of live servers: signing a user in (through the database, or over HTTP like a
person) and real websocket connections."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.sync.client import ClientConnection, connect

LOGIN_PATH = "/accounts/login/"


def session_cookies(user, backend: str = "django.contrib.auth.backends.ModelBackend") -> dict:
    """Signs `user` in without a request: a session row in the (shared) test database,
    exactly what django.contrib.auth.login stores. Returns {cookie name: value}, usable
    with httpx, ws_connect and add_session_cookie. Skips allauth's login flow (MFA stage,
    rate limits, audit entry); test those through http_login or the browser."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        raise NotImplementedError(
            f"session_cookies writes database sessions, not {settings.SESSION_ENGINE}"
        )
    session = SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = backend
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()  # saved and committed: the servers read it from the same database
    return {settings.SESSION_COOKIE_NAME: session.session_key}


_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def http_login(base_url: str, email: str, password: str) -> dict:
    """Signs in through the real login page of a live server (GET the form, POST the
    credentials with its CSRF token). Returns the cookies (session and csrftoken).
    Fails loudly when the server does not redirect away from the login page."""
    with httpx.Client(base_url=base_url, timeout=10, trust_env=False) as http:
        form = http.get(LOGIN_PATH)
        assert form.status_code == 200, f"GET {LOGIN_PATH}: {form.status_code}"
        match = _CSRF_INPUT.search(form.text)
        assert match, f"no CSRF token in {LOGIN_PATH}"
        response = http.post(
            LOGIN_PATH,
            data={"login": email, "password": password, "csrfmiddlewaretoken": match[1]},
        )
        assert response.status_code == 302, (
            f"login of {email} was not accepted ({response.status_code}):\n{response.text[:2000]}"
        )
        return dict(http.cookies.items())


def ws_url(base_url: str, path: str) -> str:
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}[parts.scheme]
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def ws_connect(
    base_url: str,
    path: str,
    cookies: Mapping[str, str] | None = None,
    origin: str | Literal[False] | None = None,
    **kwargs,
) -> ClientConnection:
    """A real websocket client (websockets' sync API) to `path` on a live server.

    `cookies` are sent in a Cookie header (e.g. session_cookies(user)). `origin` is the
    Origin header: None sends the server's own origin, as a browser on its page does;
    a string sends that origin; False sends none. Use it as a context manager; `recv`
    takes a timeout. Raises websockets.exceptions.InvalidStatus when the handshake is
    refused (e.g. 403 for a foreign origin)."""
    headers = {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    if origin is None:
        origin = base_url.rstrip("/")
    kwargs.setdefault("open_timeout", 10)
    kwargs.setdefault("close_timeout", 5)
    return connect(
        ws_url(base_url, path),
        origin=origin or None,
        additional_headers=headers,
        proxy=None,  # never a proxy from the environment for 127.0.0.1
        **kwargs,
    )
