"""Model fields whose values are encrypted at rest with FIELD_ENCRYPTION_KEY."""

import base64
import hashlib
import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        # Development and tests only (production settings require a key): a key derived
        # from SECRET_KEY, so that local data stays readable across restarts.
        derived = hashlib.sha256(f"field-encryption:{secret_key}".encode()).digest()
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be one or more comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes)."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEY), settings.SECRET_KEY)


def encrypt_str(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt_str(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY: was the key "
            "changed without keeping the old one after it?"
        ) from exc


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token. Not searchable or orderable: it is a secret."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_str(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt_str(value)


class EncryptedJSONField(models.TextField):
    """A JSON object (credentials, tokens) stored as one Fernet token."""

    def get_prep_value(self, value):
        if value is None:
            return None
        return encrypt_str(json.dumps(value, sort_keys=True))

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return {} if value == "" else None
        return json.loads(decrypt_str(value))

    def to_python(self, value):
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj))

    def formfield(self, **kwargs):
        return models.Field.formfield(self, **{"form_class": forms.JSONField, **kwargs})
