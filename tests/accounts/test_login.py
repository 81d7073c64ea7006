import base64
import hashlib
import hmac
import struct
import time

import pytest
from allauth.mfa.models import Authenticator

from compliance.models import AuditLogEntry
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def test_staff_sign_in_with_email_and_password_and_land_in_the_console(client, agent):
    response = client.post(LOGIN, {"login": agent.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/console/"
    assert client.get("/console/").status_code == 200
    assert AuditLogEntry.objects.filter(action="login", actor=agent).exists()


def test_admin_login_goes_through_the_same_sign_in(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


def test_open_sign_up_is_closed(client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "stranger@example.com",
            "password1": "x-Very-long-pw-123",
            "password2": "x-Very-long-pw-123",
        },
    )
    from accounts.models import User

    assert not User.objects.filter(email="stranger@example.com").exists()
    assert response.status_code in (200, 403)


def test_failed_logins_are_rate_limited_per_account(client, agent):
    for _ in range(5):
        response = client.post(LOGIN, {"login": agent.email, "password": "wrong"})
        assert response.status_code == 200
        assert "Too many failed login attempts" not in response.content.decode()
    # Even the right password is refused while the account is throttled.
    response = client.post(LOGIN, {"login": agent.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get("/console/").status_code == 302
    assert AuditLogEntry.objects.filter(action="login_failed", data__email=agent.email).count() == 5


def test_login_attempts_are_rate_limited_per_ip(client, agent):
    statuses = [
        client.post(LOGIN, {"login": f"user{n}@example.com", "password": "wrong"}).status_code
        for n in range(31)
    ]
    assert statuses[:10] == [200] * 10
    assert statuses[-1] == 429


def _totp(secret: str, at: float | None = None) -> str:
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def test_totp_is_asked_after_the_password_when_enabled(client, supervisor):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(supervisor, secret)
    assert Authenticator.objects.filter(user=supervisor, type=Authenticator.Type.TOTP).exists()

    response = client.post(LOGIN, {"login": supervisor.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/accounts/2fa/authenticate/"
    assert client.get("/console/").status_code == 302  # not signed in yet

    response = client.post(
        "/accounts/2fa/authenticate/", {"code": "000000" if _totp(secret) != "000000" else "111111"}
    )
    assert response.status_code == 200  # wrong code: asked again
    response = client.post("/accounts/2fa/authenticate/", {"code": _totp(secret)})
    assert response.status_code == 302
    assert client.get("/console/").status_code == 200
