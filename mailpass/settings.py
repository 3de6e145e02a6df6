"""MailPass settings. Everything comes from the environment, with production-safe defaults.

Development: DEBUG=1 (set by `make run`). Production: DEBUG unset, a strong SECRET_KEY,
ALLOWED_HOSTS and DATABASE_URL (PostgreSQL) required; `check --deploy` asks for the keys
that keep SECRET_KEY from being the root of every other secret.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from mailpass.env import (
    env_bool,
    env_int,
    env_json_object,
    env_list,
    env_map,
    env_networks,
    env_ports,
    env_str,
    is_fernet_key,
    weak_secret,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "django-insecure-mailpass-development-only"
# Keys SECRET_KEY had before a rotation: what they signed (sessions, password reset links,
# tracking and webhook URLs) stays valid while they are listed. New signatures use SECRET_KEY.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
if not DEBUG:
    for _name, _key in [("SECRET_KEY", SECRET_KEY)] + [
        ("SECRET_KEY_FALLBACKS", key) for key in SECRET_KEY_FALLBACKS
    ]:
        if weak_secret(_key, minimum_length=50):
            raise ImproperlyConfigured(
                f"{_name} is too weak: use at least 50 random characters, e.g. the output of "
                "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
            )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "mailpass",  # the project itself: its deployment checks (mailpass/checks.py)
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "providers",
    "api",
    "dashboard",
    # After api: an app listed earlier wins a command name, and api's `crontab` command
    # (api/management/commands/crontab.py) extends this one.
    "django_crontab",
]

MIDDLEWARE = [
    # First: every line logged for the request, and its answer, carry the request's id.
    "mailpass.logs.request_id",
    "api.metrics.http_metrics",
    "django.middleware.security.SecurityMiddleware",
    # First after it, so every answer gets the policy: static files, CSRF refusals, errors.
    "mailpass.middleware.content_security_policy",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The dashboard speaks the visitor's language (cookie, then Accept-Language); the API,
    # tracking and webhook routes stay English: their codes and messages are the contract.
    "django.middleware.locale.LocaleMiddleware",
    "mailpass.middleware.english_outside_dashboard",
    "api.middleware.chunked_body_limit",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mailpass.urls"
WSGI_APPLICATION = "mailpass.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "dashboard.context_processors.signup",
                "dashboard.context_processors.release",
            ],
        },
    },
]

# Production runs PostgreSQL through DATABASE_URL. SQLite (var/ is git-ignored) is the
# development default; with DEBUG off it is used only when DATABASE_URL asks for it
# (sqlite:////path/to/db.sqlite3), never because a variable was forgotten.
VAR_DIR = BASE_DIR / "var"
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DATABASE_URL is required when DEBUG is off: postgres://user:password@host:5432/db "
            "(or sqlite:////absolute/path/db.sqlite3 to use SQLite on purpose)."
        )
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        # A kept connection is checked before each request reuses it: after a database
        # restart the first request reconnects instead of failing with a 500.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Only SQLite (development, tests) writes to the checkout: a production service user
    # may run with the checkout read-only.
    VAR_DIR.mkdir(exist_ok=True)
    # IMMEDIATE transactions take the write lock up front, so two workers never
    # deadlock upgrading a read lock; WAL lets readers run beside the writer.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not Django's in-memory default: concurrency tests need connections that wait
    # for each other's locks, which an in-memory shared-cache database does not do. One
    # per test run, so two runs in one checkout do not trample each other.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The languages of the product page (shared/seeds). Catalogues live in locale/ and are
# compiled by `make setup` (bin/compile-messages).
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("ja", "日本語"),
    ("ko", "한국어"),
    ("sw", "Kiswahili"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` puts the files (each deploy runs it; until then WhiteNoise serves
# them from the apps, see WHITENOISE_USE_FINDERS).
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]

# Attachments are stored once per account and content (api.attachments) in the
# "attachments" storage: by default files under MAILPASS_ATTACHMENT_DIR (relative paths are
# from BASE_DIR). MAILPASS_ATTACHMENT_STORAGE replaces it with any storage as a JSON STORAGES
# entry, e.g. S3 through django-storages:
# {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": "mail-files"}}
MAILPASS_ATTACHMENT_DIR = BASE_DIR / (env_str("MAILPASS_ATTACHMENT_DIR") or "var/attachments")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": env_json_object("MAILPASS_ATTACHMENT_STORAGE")
    or {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(MAILPASS_ATTACHMENT_DIR),
            "directory_permissions_mode": 0o700,
            "file_permissions_mode": 0o600,
        },
    },
}
# WhiteNoise serves static files (admin, the API docs' Swagger UI) without a CDN or a
# separate web server; straight from the apps unless `collectstatic` was run.
WHITENOISE_USE_FINDERS = True
# Look files up per request instead of indexing them all at start-up: WhiteNoise's own
# default in DEBUG. The tests turn it on (pytest.ini): each test client starts the
# middleware anew, and indexing every static file cost ~95 ms a client.
WHITENOISE_AUTOREFRESH = env_bool("WHITENOISE_AUTOREFRESH", DEBUG)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HTTPS: an instance whose public URL is https:// (MAILPASS_PUBLIC_URL, below) redirects
# plain http to it and asks browsers to use nothing else (HSTS, a year, this host's
# subdomains too). An http:// public URL (the default, a run on loopback) does neither.
_SERVED_OVER_HTTPS = not DEBUG and env_str("MAILPASS_PUBLIC_URL").lower().startswith("https://")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _SERVED_OVER_HTTPS)
# Load balancers probe over plain HTTP and count a redirect as a failure.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS", 365 * 24 * 3600 if _SERVED_OVER_HTTPS else 0, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading commits a whole registrable domain (hstspreload.org), a choice only its owner
# can make: off unless asked, and then check --deploy has nothing to say about it.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Behind a proxy that terminates TLS: the header it sets to "https" on secure requests
# (e.g. X-Forwarded-Proto). Only a proxy that overwrites the client's own header may be
# named here, so it is never on by default.
_PROXY_SSL_HEADER = env_str("SECURE_PROXY_SSL_HEADER")
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https")

# A message's attachments, decoded, in all (refused with 400 above it).
MAILPASS_MAX_ATTACHMENT_BYTES = env_int(
    "MAILPASS_MAX_ATTACHMENT_BYTES", 20 * 1024 * 1024, minimum=1024
)
# Whole request bodies above this are refused with 413 before they are parsed. Default:
# 10 MiB for the rest of a request plus the attachments in base64 (4 characters per 3 bytes).
MAILPASS_MAX_REQUEST_BYTES = env_int(
    "MAILPASS_MAX_REQUEST_BYTES",
    10 * 1024 * 1024 + -(-MAILPASS_MAX_ATTACHMENT_BYTES // 3) * 4,
    minimum=1024,
)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAILPASS_MAX_REQUEST_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.authentication.HasMailPermission"],
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.ApiKeyRateThrottle",
        "api.throttling.AccountRateThrottle",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.LimitedJSONParser"],
    # JSON whatever Accept says. OPTIONS is a 405 like any undocumented method: DRF's metadata
    # answer made the docs page look for a template that is not there (a 500).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.JsonOnlyNegotiation",
    "DEFAULT_METADATA_CLASS": None,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "MailPass API",
    "DESCRIPTION": "Send transactional email and follow what happened to it.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.subject_or_template",
    ],
    # What MailPass posts to customers' endpoints (OpenAPI 3.1's webhooks section).
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": ["api.schema.MESSAGE_EVENT_WEBHOOK"],
    # A sender domain's status and its records' share one set of values.
    "ENUM_NAME_OVERRIDES": {"DomainStatusEnum": ["pending", "verified", "failed"]},
}

# What the limits are counted in (mailpass/cache.py): MAILPASS_CACHE_URL names a Redis
# server every process and host shares (redis://[:password@]host:6379/0, rediss:// for
# TLS); unset, each process counts in its own memory, fine for one process (make run)
# but N web processes then allow N times every limit. A Redis outage lets requests
# through (logged) rather than failing them.
MAILPASS_CACHE_URL = env_str("MAILPASS_CACHE_URL")
if MAILPASS_CACHE_URL and urlsplit(MAILPASS_CACHE_URL).scheme not in ("redis", "rediss", "unix"):
    raise ImproperlyConfigured(
        "MAILPASS_CACHE_URL must be a redis://, rediss:// or unix:// URL, e.g. "
        "redis://127.0.0.1:6379/0."
    )
CACHES = {
    "default": (
        {
            "BACKEND": "mailpass.cache.FailOpenRedisCache",
            "LOCATION": MAILPASS_CACHE_URL,
            "KEY_PREFIX": "mailpass",
            # An unreachable Redis costs a quarter of a second, once a second per process.
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
        }
        if MAILPASS_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Cron drains the queue every minute: `MAILPASS_ENV_FILE=… manage.py crontab add` installs
# the lines (api/cron.py). --quiet: an idle minute prints nothing. Once a day, at 03:17,
# purge_messages deletes what is past MAILPASS_RETENTION_DAYS and unused attachments; every
# hour check_domains checks the sender domains that are due.
CRONJOBS = [
    ("* * * * *", "django.core.management.call_command", ["process_mail_queue", "--quiet"]),
    ("* * * * *", "django.core.management.call_command", ["process_webhooks", "--quiet"]),
    ("17 3 * * *", "django.core.management.call_command", ["purge_messages", "--quiet"]),
    ("7 * * * *", "django.core.management.call_command", ["check_domains", "--quiet"]),
]
# The crontab program that `crontab add/show/remove` run (looked up on PATH).
CRONTAB_EXECUTABLE = env_str("CRONTAB_EXECUTABLE", "crontab")
CRONTAB_DJANGO_MANAGE_PATH = str(BASE_DIR / "manage.py")
# What each cron run did and why it failed, appended; relative paths are from BASE_DIR.
MAILPASS_CRON_LOG = BASE_DIR / (env_str("MAILPASS_CRON_LOG") or "var/cron.log")

# Log lines go to stderr: text (default), or one JSON object per line with
# MAILPASS_LOG_FORMAT=json, carrying the request, account and message ids of the line
# (mailpass/logs.py). The workers' --loop progress lines go to stdout, in the same format.
MAILPASS_LOG_FORMAT = env_str("MAILPASS_LOG_FORMAT", "text").lower()
if MAILPASS_LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("MAILPASS_LOG_FORMAT must be text or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "mailpass.logs.JsonFormatter"},
    },
    "filters": {
        "ids": {"()": "mailpass.logs.ContextFilter"},
        "one_line": {"()": "mailpass.logs.WithoutTraceback"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": MAILPASS_LOG_FORMAT,
            "filters": ["ids"],
        },
        "progress": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": MAILPASS_LOG_FORMAT,
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Every 4xx is a normal answer to a client's mistake, not something to log per request;
    # 5xx are still logged with their traceback.
    # botocore logs each SES request at DEBUG, Authorization header (an access key) included.
    "loggers": {
        "django.request": {"level": "ERROR"},
        # A Host outside ALLOWED_HOSTS is the client's error: one warning line, no traceback.
        "django.security.DisallowedHost": {"filters": ["one_line"]},
        "botocore": {"level": "INFO"},
        "boto3": {"level": "INFO"},
        # The workers' progress lines: whatever LOG_LEVEL is, like the command's output.
        "mailpass.progress": {"handlers": ["progress"], "level": "INFO", "propagate": False},
    },
}

# --- MailPass ---------------------------------------------------------------

# Messages older than this many days are deleted by `manage.py purge_messages` (cron,
# daily), with their events and the attachments no other message carries; webhook events
# as old too. 0: kept for ever. MAILPASS_MESSAGE_RETENTION_DAYS, its name before 1.0.0,
# is still read when it is unset. Below 14 days the overview's chart has fewer days.
MAILPASS_RETENTION_DAYS = env_int(
    "MAILPASS_RETENTION_DAYS",
    env_int("MAILPASS_MESSAGE_RETENTION_DAYS", 30, minimum=0),
    minimum=0,
)
# The per-day counts (an account's accepted mail against its daily quota, a provider's
# hourly usage) are small and kept longer: 0, for ever.
MAILPASS_USAGE_RETENTION_DAYS = env_int("MAILPASS_USAGE_RETENTION_DAYS", 400, minimum=0)

# Where the instance is reachable from the outside (tracking links, dashboard URLs).
MAILPASS_PUBLIC_URL = env_str("MAILPASS_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Behind a reverse proxy, every request comes from the proxy's address: the log-in, sign-up
# and tracking limits and the recorded client addresses need the client's own. Name the
# header the proxy sets (e.g. X-Forwarded-For) and the proxies' addresses or networks; the
# header is read only on requests from those, from the right, skipping trusted proxies.
MAILPASS_TRUSTED_PROXY_HEADER = env_str("MAILPASS_TRUSTED_PROXY_HEADER", "")
MAILPASS_TRUSTED_PROXIES = env_networks("MAILPASS_TRUSTED_PROXIES")
# Right-hand side of generated Message-IDs: <random.unixtime@DOMAIN>. Default: the host
# of MAILPASS_PUBLIC_URL, a name the operator controls.
MAILPASS_MESSAGE_ID_DOMAIN = env_str(
    "MAILPASS_MESSAGE_ID_DOMAIN", urlsplit(MAILPASS_PUBLIC_URL).hostname or "localhost"
)
# Fernet keys for provider credentials, newest first; older keys still decrypt.
# Empty: one key derived from SECRET_KEY (check --deploy refuses that in production).
MAILPASS_ENCRYPTION_KEYS = env_list("MAILPASS_ENCRYPTION_KEYS")
for _key in MAILPASS_ENCRYPTION_KEYS:
    if not is_fernet_key(_key):
        raise ImproperlyConfigured(
            "MAILPASS_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes), e.g. the "
            "output of python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'."
        )
# Keyed hash for API key digests. Empty: SECRET_KEY (check --deploy refuses that in
# production: rotating SECRET_KEY would then invalidate every API key).
MAILPASS_API_KEY_HMAC_KEY = env_str("MAILPASS_API_KEY_HMAC_KEY")
# Rotating it: the new key here, the old one in the fallbacks until every key was used once
# (a key that matches an old digest gets a new one).
MAILPASS_API_KEY_HMAC_KEY_FALLBACKS = env_list("MAILPASS_API_KEY_HMAC_KEY_FALLBACKS")
for _key in [MAILPASS_API_KEY_HMAC_KEY, *MAILPASS_API_KEY_HMAC_KEY_FALLBACKS]:
    if _key and weak_secret(_key, minimum_length=32):
        raise ImproperlyConfigured(
            "MAILPASS_API_KEY_HMAC_KEY is too weak: use at least 32 random characters."
        )
# SMTP hosts resolving to loopback/private addresses are refused unless this is on.
MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = env_bool("MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS", False)
# Sender domains (providers.domains). The DNS servers asked when domains are checked,
# "host:port" (IPv6 "[::1]:53"), comma-separated; empty: the system's (/etc/resolv.conf).
MAILPASS_DNS_RESOLVERS = env_list("MAILPASS_DNS_RESOLVERS")
# The SPF mechanism that covers this instance's relay, asked of every sender domain
# (e.g. "include:amazonses.com"); empty: no SPF record is asked for.
MAILPASS_SPF_INCLUDE = env_str("MAILPASS_SPF_INCLUDE")
# Where DMARC aggregate reports should go, put in the DMARC record suggested to senders.
MAILPASS_DMARC_RUA = env_str("MAILPASS_DMARC_RUA")
# Every account may send only from its verified domains (else: the account's own setting).
MAILPASS_REQUIRE_VERIFIED_DOMAIN = env_bool("MAILPASS_REQUIRE_VERIFIED_DOMAIN", False)
# Strangers may create accounts (each confirming its email address first). Off unless
# asked: new users then come from an account owner's invitation, `createsuperuser` or the
# admin. Sign-up also needs the relay (EMAIL_HOST) to send the confirmation links.
MAILPASS_SIGNUP_OPEN = env_bool("MAILPASS_SIGNUP_OPEN", False)
# Password guessing. A client (an IPv6 client by its /64) gets this many failed log-ins
# per username per window; then that username is refused to it until the window that began
# with its first failure ends. Past the ceiling of failures for one username (from all
# clients together) or from one client (all usernames together), attempts slow down to
# one per MAILPASS_LOGIN_SLOW_SECONDS, except from a browser the user logged in with
# before: the real owner is never locked out. The admin's log-in counts too.
MAILPASS_LOGIN_FAILURE_LIMIT = env_int("MAILPASS_LOGIN_FAILURE_LIMIT", 10, minimum=1)
MAILPASS_LOGIN_FAILURE_CEILING = env_int("MAILPASS_LOGIN_FAILURE_CEILING", 50, minimum=1)
MAILPASS_LOGIN_SLOW_SECONDS = env_int("MAILPASS_LOGIN_SLOW_SECONDS", 10, minimum=1)
MAILPASS_LOGIN_FAILURE_WINDOW_SECONDS = env_int(
    "MAILPASS_LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1
)
# Sign-ups, tried or done, from one client address per window; and mails (sign-up links,
# password resets) to one email address per window.
MAILPASS_SIGNUP_LIMIT = env_int("MAILPASS_SIGNUP_LIMIT", 10, minimum=1)
MAILPASS_SIGNUP_WINDOW_SECONDS = env_int("MAILPASS_SIGNUP_WINDOW_SECONDS", 3600, minimum=1)
MAILPASS_ADDRESS_MAIL_LIMIT = env_int("MAILPASS_ADDRESS_MAIL_LIMIT", 3, minimum=1)
# Password reset requests from one client address per sign-up window.
MAILPASS_PASSWORD_RESET_LIMIT = env_int("MAILPASS_PASSWORD_RESET_LIMIT", 10, minimum=1)
# API request throttles, DRF rate syntax ("600/min"): per key, and per account over all of
# its keys.
MAILPASS_API_RATE_LIMIT = env_str("MAILPASS_API_RATE_LIMIT", "1200/min")
MAILPASS_ACCOUNT_RATE_LIMIT = env_str("MAILPASS_ACCOUNT_RATE_LIMIT", "3000/min")
# What one account may send per UTC day, counted when mail is accepted: recipients (To, Cc
# and Bcc of each message) and bytes (each message's subject and bodies, once per
# recipient). 0: no limit. The admin can set another figure per account.
MAILPASS_ACCOUNT_DAILY_RECIPIENTS = env_int("MAILPASS_ACCOUNT_DAILY_RECIPIENTS", 10_000, minimum=0)
MAILPASS_ACCOUNT_DAILY_BYTES = env_int(
    "MAILPASS_ACCOUNT_DAILY_BYTES", 1024 * 1024 * 1024, minimum=0
)
# Open and click tracking: links and pixels stop working this many days after the message
# was accepted; requests per client address to /t/ (DRF rate syntax).
MAILPASS_TRACKING_LINK_DAYS = env_int("MAILPASS_TRACKING_LINK_DAYS", 90, minimum=1)
MAILPASS_TRACKING_RATE_LIMIT = env_str("MAILPASS_TRACKING_RATE_LIMIT", "600/min")
# The dashboard's "Test connection" and "Send test email", per account per hour.
MAILPASS_PROVIDER_TEST_LIMIT = env_int("MAILPASS_PROVIDER_TEST_LIMIT", 20, minimum=1)
# Ports a tenant's SMTP provider may use: the mail ports unless the operator widens it
# ("*": any).
MAILPASS_SMTP_PORTS = env_ports("MAILPASS_SMTP_PORTS", "25,465,587,2525")
# /api/v1/health answers ok or 503 to anyone; the queue's figures only to a request with
# "Authorization: Bearer <this token>". Empty: to nobody.
MAILPASS_HEALTH_TOKEN = env_str("MAILPASS_HEALTH_TOKEN")
# /metrics (Prometheus) answers a request with "Authorization: Bearer <this token>", or
# from one of these addresses or networks (the client address as the limits see it, so
# behind a proxy MAILPASS_TRUSTED_PROXY_HEADER applies). Neither set: /metrics is a 404.
MAILPASS_METRICS_TOKEN = env_str("MAILPASS_METRICS_TOKEN")
MAILPASS_METRICS_ALLOWED_IPS = env_networks("MAILPASS_METRICS_ALLOWED_IPS")
# "host:port" where `process_mail_queue --loop` serves its own metrics (deliveries,
# latency, provider errors; with --workers N, the Nth process on port + N). Empty: none.
MAILPASS_WORKER_METRICS_ADDRESS = env_str("MAILPASS_WORKER_METRICS_ADDRESS")

# Queue: chunk size, how long a claim lasts, and the retry schedule for temporary failures.
MAILPASS_QUEUE_BATCH_SIZE = env_int("MAILPASS_QUEUE_BATCH_SIZE", 100, minimum=1)
# Messages a worker has in flight to each provider at most: connections (SMTP) or requests
# (API), each sending from its own thread; what hides a provider's distance. Within the
# provider's own cap for all workers together (Provider.max_in_flight).
MAILPASS_QUEUE_CONNECTIONS = env_int("MAILPASS_QUEUE_CONNECTIONS", 64, minimum=1)
# Providers a worker sends to side by side, each on its own connections (api.drain.Senders):
# a slow provider holds up only its own messages. Bounds a worker's sending threads at
# MAILPASS_QUEUE_PROVIDERS_AT_ONCE x MAILPASS_QUEUE_CONNECTIONS; its database connections
# stay at api.drain.DB_THREADS + 1 whatever these are.
MAILPASS_QUEUE_PROVIDERS_AT_ONCE = env_int("MAILPASS_QUEUE_PROVIDERS_AT_ONCE", 4, minimum=1)
MAILPASS_QUEUE_LEASE_SECONDS = env_int("MAILPASS_QUEUE_LEASE_SECONDS", 600, minimum=1)
# How long a provider's connection slots (providers.courtesy) stay a worker's without renewal:
# a worker that dies (SIGKILL, a lost machine) holds them back from the others this long.
MAILPASS_PROVIDER_SLOT_LEASE_SECONDS = env_int(
    "MAILPASS_PROVIDER_SLOT_LEASE_SECONDS", 15, minimum=2
)
MAILPASS_RETRY_BASE_SECONDS = env_int("MAILPASS_RETRY_BASE_SECONDS", 60, minimum=0)
MAILPASS_RETRY_CAP_SECONDS = env_int("MAILPASS_RETRY_CAP_SECONDS", 3600, minimum=0)
# A message still failing temporarily this long after it was queued expires.
MAILPASS_RETRY_MAX_AGE_SECONDS = env_int("MAILPASS_RETRY_MAX_AGE_SECONDS", 48 * 3600, minimum=0)
MAILPASS_RETRY_MAX_ATTEMPTS = env_int("MAILPASS_RETRY_MAX_ATTEMPTS", 100, minimum=1)
# Idle pause between polls of `process_mail_queue --loop`.
MAILPASS_QUEUE_POLL_SECONDS = env_int("MAILPASS_QUEUE_POLL_SECONDS", 2, minimum=0)
# Default SMTP timeout, seconds, for providers that do not set one.
MAILPASS_SMTP_TIMEOUT = env_int("MAILPASS_SMTP_TIMEOUT", 10, minimum=1)
# How long a web request (/send, the dashboard's test buttons) may spend on providers in
# all, failovers included, before it answers in JSON. Keep it a few seconds below the web
# server's own worker timeout (gunicorn --timeout, 30 by default), which would otherwise
# answer first, without JSON. No provider's timeout is longer than this, anywhere.
MAILPASS_REQUEST_TIMEOUT_SECONDS = env_int("MAILPASS_REQUEST_TIMEOUT_SECONDS", 25, minimum=1)
# ESP API base URLs by provider kind ("sendgrid=https://proxy.internal/v3/,…"), replacing
# each ESP's public URL for every provider of that kind (an SES URL is boto3's
# endpoint_url). For a proxy, or a loopback fake in tests. Never per provider: a user
# must not be able to point MailPass at an internal host.
MAILPASS_ESP_API_URLS = env_map("MAILPASS_ESP_API_URLS")

# The instance's own relay: it sends MailPass's own mail (sign-up links, invitations,
# password resets) and, for accounts the operator allows (`manage.py relay_access`), the
# "mailpass" provider kind. Unset EMAIL_HOST: no relay, none of those.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not env_bool("EMAIL_USE_SSL", False))
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
# The sender of MailPass's own mail; required with a relay (Django's webmaster@localhost
# would go out from a domain nobody owns).
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL")
if EMAIL_HOST and not DEFAULT_FROM_EMAIL:
    raise ImproperlyConfigured("DEFAULT_FROM_EMAIL is required when EMAIL_HOST is set.")
SERVER_EMAIL = DEFAULT_FROM_EMAIL or "root@localhost"
# The envelope sender (Return-Path) of tenants' mail through the relay: bounces come back
# to the operator, never to whatever address a tenant put in From.
MAILPASS_RELAY_RETURN_PATH = env_str("MAILPASS_RELAY_RETURN_PATH", DEFAULT_FROM_EMAIL)
