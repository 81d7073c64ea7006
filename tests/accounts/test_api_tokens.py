from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


def _me(api_client, key):
    return api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")


def test_a_token_from_the_command_authenticates_its_user(api_client, agent):
    out = StringIO()
    call_command("create_api_token", user=agent.email, name="CRM sync", stdout=out)
    key = out.getvalue().strip()
    response = _me(api_client, key)
    assert response.status_code == 200
    assert response.json()["email"] == agent.email
    assert response.json()["role"] == "agent"
    token = ApiToken.objects.get(user=agent)
    assert token.last_used_at is not None
    # Only the digest is stored: the key itself is nowhere in the row.
    assert key not in (token.key_digest, token.key_prefix) and token.key_digest == ApiToken.digest(
        key
    )


def test_the_command_explains_an_unknown_user():
    with pytest.raises(CommandError, match="No active user"):
        call_command("create_api_token", user="nobody@example.com", name="x")


def test_revoked_expired_and_wrong_tokens_are_refused(api_client, agent):
    revoked, revoked_key = api_token_create(user=agent, name="old")
    api_token_revoke(token=revoked)
    _, expired_key = api_token_create(
        user=agent, name="temp", expires_at=timezone.now() - timedelta(minutes=1)
    )
    for key in (revoked_key, expired_key, "sb_not-a-real-key"):
        response = _me(api_client, key)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "authentication_failed"


def test_a_deactivated_users_token_stops_working(api_client, agent):
    _, key = api_token_create(user=agent, name="bot")
    agent.is_active = False
    agent.save()
    assert _me(api_client, key).status_code == 401


def test_admin_creates_a_token_and_sees_the_key_once(client, admin_user, agent):
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/apitoken/add/", {"user": agent.pk, "name": "Zapier"}, follow=True
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="Zapier")
    shown = [str(m) for m in response.context["messages"]]
    assert any(token.key_prefix in message for message in shown)
    key = next(word for message in shown for word in message.split() if word.startswith("sb_"))
    assert ApiToken.digest(key) == token.key_digest
