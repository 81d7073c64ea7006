"""Production: refuses to start on an insecure configuration and says why."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    FIELD_ENCRYPTION_KEY,
    INSECURE_DEFAULT_SECRET_KEY,
    LOG_LEVEL,
    SECRET_KEY,
    STORAGES,
    build_logging_config,
    env,
)

if SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured(
        "SECRET_KEY is the built-in development key. Production needs a long random secret of "
        "its own, e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        "SECRET_KEY is too short or too simple for production: use at least 50 random characters."
    )
if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY is not set. Production encrypts channel credentials and API keys "
        "at rest with it; create one with: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'"
    )

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)

# One JSON object a line for log collectors, unless LOG_FORMAT says otherwise.
LOGGING = build_logging_config(fmt=env("LOG_FORMAT", default="json"), level=LOG_LEVEL)
