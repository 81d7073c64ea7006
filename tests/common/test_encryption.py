import json

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from channels_app.enums import ChannelKind
from channels_app.models import ChannelAccount
from common import fields
from tests.factories.inbox import InboxFactory

pytestmark = pytest.mark.django_db


def _raw(column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM channels_app_channelaccount WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _channel(**kwargs) -> ChannelAccount:
    return ChannelAccount.objects.create(
        kind=ChannelKind.TELEGRAM, name="Bot", inbox=InboxFactory(), **kwargs
    )


def test_credentials_and_secrets_are_encrypted_at_rest():
    channel = _channel(
        credentials={"bot_token": "123456:SECRET-TOKEN"}, webhook_secret="hook-secret-value"
    )
    assert "SECRET-TOKEN" not in _raw("credentials", channel.pk)
    assert "hook-secret-value" not in _raw("webhook_secret", channel.pk)
    stored = ChannelAccount.objects.get(pk=channel.pk)
    assert stored.credentials == {"bot_token": "123456:SECRET-TOKEN"}
    assert stored.webhook_secret == "hook-secret-value"


def test_keys_can_be_rotated_without_losing_stored_secrets(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [old_key]
    channel = _channel(credentials={"token": "abc"})
    settings.FIELD_ENCRYPTION_KEY = [
        new_key,
        old_key,
    ]  # new key first: encrypts; old still decrypts
    assert ChannelAccount.objects.get(pk=channel.pk).credentials == {"token": "abc"}
    channel.save()
    token = _raw("credentials", channel.pk)
    assert json.loads(Fernet(new_key.encode()).decrypt(token.encode())) == {"token": "abc"}


def test_a_missing_key_is_explained(settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    channel = _channel(credentials={"token": "abc"})
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    with pytest.raises(fields.ImproperlyConfigured, match="cannot be decrypted"):
        ChannelAccount.objects.get(pk=channel.pk)
