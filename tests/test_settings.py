import secrets

from cryptography.fernet import Fernet

from tests.helpers import run_python

SETUP = "import django; django.setup(); print('started')"
PRODUCTION = "config.settings.production"


def test_production_refuses_the_default_secret_key():
    result = run_python(SETUP, DJANGO_SETTINGS_MODULE=PRODUCTION, SECRET_KEY="")
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is the built-in development key" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = run_python(
        SETUP,
        DJANGO_SETTINGS_MODULE=PRODUCTION,
        SECRET_KEY="short-key",
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
    )
    assert result.returncode != 0
    assert "too short" in result.stderr


def test_production_requires_a_field_encryption_key():
    result = run_python(
        SETUP,
        DJANGO_SETTINGS_MODULE=PRODUCTION,
        SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEY="",
    )
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY is not set" in result.stderr


def test_production_starts_with_proper_secrets_and_debug_off():
    code = SETUP + (
        "; from django.conf import settings; print('DEBUG', settings.DEBUG);"
        "print('LOG', settings.LOGGING['formatters']['default'].get('()', 'text'))"
    )
    result = run_python(
        code,
        DJANGO_SETTINGS_MODULE=PRODUCTION,
        SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        DEBUG="",
    )
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout
    assert "DEBUG False" in result.stdout
    assert "LOG pythonjsonlogger.json.JsonFormatter" in result.stdout
