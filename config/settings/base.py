"""Settings shared by every environment; every value that differs between machines
comes from the environment (see `.env.example`)."""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from common.logging import build_logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Used only when SECRET_KEY is not set; production settings refuse to start with it.
INSECURE_DEFAULT_SECRET_KEY = "django-insecure-switchboard-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env("SECRET_KEY", default="") or INSECURE_DEFAULT_SECRET_KEY
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The address websites and providers reach this server at (embed code, webhook URLs).
PUBLIC_URL = env("PUBLIC_URL", default="").rstrip("/")
# Where a phone number written without a country code is read (ISO 3166 code, e.g. "CN"),
# unless its channel sets its own default region.
PHONE_DEFAULT_REGION = env("PHONE_DEFAULT_REGION", default="").upper()

# Fernet keys (comma-separated; the first encrypts, all decrypt, so keys can be rotated).
FIELD_ENCRYPTION_KEY = [key for key in env.list("FIELD_ENCRYPTION_KEY", default=[]) if key]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "common",
    "accounts",
    "customers",
    "inbox",
    "channels_app",
    "ai_agent",
    "analytics",
    "marketing",
    "compliance",
    "demo",
]

MIDDLEWARE = [
    "common.middleware.RequestIdMiddleware",
    "common.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "common.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
# DATABASE_URL is required: `make run` and `make test` set it to the embedded PostgreSQL
# when the environment does not.
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default="postgresql://postgres@127.0.0.1:5432/switchboard"
    )
}
# Under ASGI every request runs on a thread of its own, so persistent connections
# (CONN_MAX_AGE) would pile up per thread; a pool hands each request a ready connection
# instead of a new one (bench/live_chat_latency.py). Celery workers, one task at a time per
# process, keep no pool (config/celery.py).
DATABASE_POOL = env.bool("DATABASE_POOL", default=True)
if DATABASE_POOL:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=20),
        # Waiting longer than this for a free connection answers 503, not a hang.
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery broker --------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# `make run` sets USE_REDIS=false when no Redis answers: in-memory channel layer,
# local-memory cache and tasks run eagerly inside the web process (one process only).
USE_REDIS = env.bool("USE_REDIS", default=True)

if USE_REDIS:
    # Pub/sub delivers without the per-channel capacity that makes the list-based layer
    # drop bursts (bench/channel_layer_burst.py); pushes are hints either way, clients
    # resume by `seq`. "list" (channels_redis.core, with CHANNEL_LAYER_CAPACITY) exists to
    # measure that and to prove the clients recover from its drops.
    CHANNEL_LAYER = env("CHANNEL_LAYER", default="pubsub")
    # Pub/sub channels are global to a Redis server: installations sharing one differ here.
    CHANNEL_LAYER_PREFIX = env("CHANNEL_LAYER_PREFIX", default="sb:layer")
    if CHANNEL_LAYER == "list":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [REDIS_URL],
                    "prefix": CHANNEL_LAYER_PREFIX,
                    "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=100),
                },
            }
        }
    else:
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_LAYER_PREFIX},
            }
        }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sb",
            "OPTIONS": {"pool_class": "common.cache.SharedConnectionPool"},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task unacknowledged for longer than this is handed to another worker; keep it well
# above the hard time limit, and never schedule ETAs (timers are database rows scanned by beat).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
CELERY_WORKER_MAX_TASKS_PER_CHILD = 1000
# A worker process keeps its database connection from task to task (config/celery.py);
# Celery's Django fixup would otherwise close it around every task.
CELERY_DB_REUSE_MAX = 1000
WORKER_DATABASE_CONN_MAX_AGE = env.int("WORKER_DATABASE_CONN_MAX_AGE", default=600)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = "default"
# Separate queues so that a backlog of one kind of work never delays another.
TASK_QUEUES = ["inbound", "outbound", "housekeeping", "default"]
CELERY_TASK_ROUTES = {
    "channels_app.tasks.inbound_*": {"queue": "inbound"},
    "channels_app.tasks.outbound_*": {"queue": "outbound"},
    "*.tasks.housekeeping_*": {"queue": "housekeeping"},
    # Model calls take seconds: their own queue and thread-pool worker (docs/operations.md).
    "ai_agent.tasks.ai_*": {"queue": "ai"},
    "ai_agent.tasks.knowledge_*": {"queue": "ai"},
}
CELERY_TASK_ALWAYS_EAGER = not USE_REDIS
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "common.tasks.housekeeping_clear_expired_sessions",
        "schedule": 6 * 60 * 60,
    },
    # The sweepers finish what a crashed worker or a lost task left behind.
    "inbound-sweep": {"task": "channels_app.tasks.inbound_sweep", "schedule": 30},
    "outbound-sweep": {"task": "channels_app.tasks.outbound_sweep", "schedule": 15},
    # Every mailbox, each in its own task (EMAIL_POLL_SECONDS apart).
    # The inbox's clocks: SLA breaches, snoozes that end, idle conversations to resolve,
    # the queue (in case a freed seat was missed) and consoles that vanished.
    "sla-breaches": {"task": "inbox.tasks.sla.housekeeping_sla_breaches", "schedule": 60},
    "conversations-wake": {"task": "inbox.tasks.workflow.conversations_wake", "schedule": 60},
    "conversations-auto-resolve": {
        "task": "inbox.tasks.workflow.conversations_auto_resolve",
        "schedule": 60,
    },
    "routing-queue-drain": {"task": "inbox.tasks.routing.routing_queue_drain", "schedule": 30},
    "availability-lapsed-sweep": {
        "task": "inbox.tasks.routing.availability_lapsed_sweep",
        "schedule": 60,
    },
    "knowledge-refresh": {
        "task": "ai_agent.tasks.housekeeping_knowledge_refresh",
        "schedule": 24 * 60 * 60,
    },
    "email-poll": {
        "task": "channels_app.tasks.inbound_email_poll_all",
        "schedule": env.int("EMAIL_POLL_SECONDS", default=60),
    },
}
# The furthest ahead a task may be scheduled (countdown/eta); longer waits are rows in
# the database that a beat task scans, because the Redis broker would run them twice.
TASK_MAX_ETA_SECONDS = 600

# --- Accounts -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/console/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_ADAPTER = "accounts.adapters.StaffAccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
# Staff accounts are created by admins, never by open sign-up; failed logins are
# throttled per IP and per account (allauth keeps the counters in the cache).
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "login": "30/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Switchboard"

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "common.api.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "common.api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Widget limits: per IP generous enough for a whole office behind one address, per
    # visitor far above what a person types. A 429 tells the widget how long to wait.
    "DEFAULT_THROTTLE_RATES": {
        "widget_ip": env("WIDGET_RATE_PER_IP", default="1200/min"),
        "widget_visitor": env("WIDGET_RATE_PER_VISITOR", default="120/min"),
        "widget_send": env("WIDGET_SEND_RATE_PER_VISITOR", default="30/min"),
        "widget_new_visitor": env("WIDGET_NEW_VISITORS_PER_IP", default="60/min"),
    },
    # Proxies in front of the app (0: REMOTE_ADDR is the client); rate limits key on it.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": (
        "REST API of Switchboard. Authenticate integrations with `Authorization: Token <key>` "
        "(tokens are created in the admin or with `manage.py create_api_token`); the console "
        "uses its session. Every error has the same shape: see `ErrorResponse`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env("TIME_ZONE", default="UTC")

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Email ------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Switchboard <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Channels ---------------------------------------------------------------------------
# The providers' API addresses. Staging and the tests point them at a local fake server.
META_GRAPH_URL = env("META_GRAPH_URL", default="https://graph.facebook.com").rstrip("/")
META_GRAPH_VERSION = env("META_GRAPH_VERSION", default="v23.0")
INSTAGRAM_GRAPH_URL = env("INSTAGRAM_GRAPH_URL", default="https://graph.instagram.com").rstrip("/")
TELEGRAM_API_URL = env("TELEGRAM_API_URL", default="https://api.telegram.org").rstrip("/")
LINE_API_URL = env("LINE_API_URL", default="https://api.line.me").rstrip("/")
LINE_DATA_API_URL = env("LINE_DATA_API_URL", default="https://api-data.line.me").rstrip("/")
# The largest file taken from a provider into our storage; bigger ones are refused.
CHANNEL_MEDIA_MAX_MB = env.int("CHANNEL_MEDIA_MAX_MB", default=25)

# --- AI ---------------------------------------------------------------------------------
AI_BASE_URL = env("AI_BASE_URL", default="")
AI_API_KEY = env("AI_API_KEY", default="")
AI_MODEL = env("AI_MODEL", default="")
# Embeddings for knowledge-base retrieval, one vector space for every profile: empty model
# means full-text retrieval only. The address and key default to the chat model's.
AI_EMBEDDING_MODEL = env("AI_EMBEDDING_MODEL", default="")
AI_EMBEDDING_BASE_URL = env("AI_EMBEDDING_BASE_URL", default="") or AI_BASE_URL
AI_EMBEDDING_API_KEY = env("AI_EMBEDDING_API_KEY", default="") or AI_API_KEY
# Web pages for the knowledge base are fetched by the server: addresses on private
# networks are refused unless this is on (an intranet wiki, or the tests' local server).
AI_FETCH_ALLOW_PRIVATE = env.bool("AI_FETCH_ALLOW_PRIVATE", default=False)

# --- Security ---------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Logging ----------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="text")  # "text" (readable) or "json"; production: json
# Values that must never reach a log line, masked by common.logging.RedactSecretsFilter.
SECRET_SETTINGS_FOR_REDACTION = [
    "SECRET_KEY",
    "AI_API_KEY",
    "AI_EMBEDDING_API_KEY",
    "EMAIL_HOST_PASSWORD",
    "FIELD_ENCRYPTION_KEY",
]

LOGGING = build_logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
