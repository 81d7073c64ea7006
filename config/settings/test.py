"""The test suite: the real PostgreSQL and Redis, fast password hashing."""

from .base import *  # noqa: F403
from .base import CACHES, CELERY_BROKER_TRANSPORT_OPTIONS, CHANNEL_LAYERS, DATABASES, REDIS_URL, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each test run gets its own cache key space so counters (rate limits) never leak between runs.
CACHES["default"]["KEY_PREFIX"] = "sb-test"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None  # whitenoise serves from the apps' folders
# Lets several suites run side by side on one server (each with its own test database).
if _test_database_name := env("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": _test_database_name}
# Test servers and the suite push through their own layer namespace, never a `make run`'s.
for _layer in CHANNEL_LAYERS.values():
    if "CONFIG" in _layer:
        # Pub/sub ignores Redis's database number: suites running side by side on one
        # Redis keep apart by their test database's name.
        _layer["CONFIG"]["prefix"] = f"sb-test:{_test_database_name or 'default'}:layer"
# Tasks queued by the suite stay in this process (no worker takes them): a test that wants
# one run calls it, and nothing reaches a development worker on the same Redis. A live test
# with a real worker (tests/live/conftest.py `live_worker`) gives its servers and worker
# a Redis broker under a key prefix of their own instead.
if _live_broker_prefix := env("LIVE_CELERY_BROKER_PREFIX", default=""):
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "global_keyprefix": _live_broker_prefix,
    }
else:
    CELERY_BROKER_URL = "memory://"
