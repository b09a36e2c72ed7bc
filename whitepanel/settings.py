"""White Panel settings: every knob is an environment variable (SPEC §4)."""

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime state of the embedded setup: SQLite file, secret key, beat schedule, static files.
# The key and the database files are this account's alone (0600), and so is the folder's
# listing (0711: others may only pass through it, to the static files nginx serves from
# its static/): on a shared host another account could otherwise copy every conversation
# (issue 21, docs/security.md).
VAR_DIR = Path(os.environ.get("WP_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(mode=0o711, parents=True, exist_ok=True)
if VAR_DIR.stat().st_uid == os.getuid():
    VAR_DIR.chmod(0o711)  # an install made before this rule


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _local_secret_key() -> str:
    # A fresh install gets its own key, kept across restarts; production sets SECRET_KEY.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        # Created 0600, never readable by others even for a moment.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as key:
            key.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def _private_file(path: Path) -> None:
    """`path` exists and is readable by this account alone: an empty file is an empty SQLite
    database, and SQLite gives its -wal and -shm files the database file's mode."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.stat().st_uid == os.getuid():
        path.chmod(0o600)


SECRET_KEY = os.environ.get("SECRET_KEY") or _local_secret_key()
DEBUG = os.environ.get("DEBUG", "") == "1"
PORT = _env_int("PORT", 8000)
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "daphne",
    # Django's admin on the two-factor site (operators/admin.py): accounts with a device need their code.
    "whitepanel.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "knox",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "visitors",
    "operators",
    "integrations",
    "chat",
    "demo",
]

MIDDLEWARE = [
    "whitepanel.security.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of the page (issue 24): the language cookie, else the browser's Accept-Language;
    # OperatorLanguageMiddleware below puts a signed-in operator's own choice over both.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.otp_device: the device this session passed its code with, if any.
    "django_otp.middleware.OTPMiddleware",
    # A session without its code is nobody's; staff who must enroll go to enrollment (operators/two_factor.py).
    "operators.middleware.TwoFactorMiddleware",
    "operators.middleware.OperatorLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Security headers (whitepanel/security.py, docs/security.md). No inline script anywhere:
# the panel, login, admin and the API docs load their scripts from files.
WP_CONTENT_SECURITY_POLICY = os.environ.get(
    "WP_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
)
X_FRAME_OPTIONS = "DENY"
# Strict-Transport-Security on HTTPS answers: 0 (off) until the owner knows every host name
# of the install is served over HTTPS (browsers then refuse plain HTTP for that long).
SECURE_HSTS_SECONDS = _env_int("WP_HSTS_SECONDS", 0)
SESSION_COOKIE_HTTPONLY = True

ROOT_URLCONF = "whitepanel.urls"
ASGI_APPLICATION = "whitepanel.asgi.application"

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
            ],
        },
    },
]

# Database: PostgreSQL through DATABASE_URL, else an SQLite file. SQLite is shared
# by daphne and Celery, so it runs in WAL mode with immediate write transactions
# and a busy timeout, or concurrent writers fail with "database is locked".
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'whitepanel.sqlite3'}",
        # A daphne process runs all its database work in one thread: a PostgreSQL connection
        # kept open there (checked before reuse, so a restarted database is noticed) makes
        # each call ~40x cheaper than connecting anew, and lets a process absorb the reconnect
        # storm of a crashed neighbour's clients (tests/faults/test_soak.py).
        conn_max_age=600,
        conn_health_checks=True,
    )
}
# Redis: every key, pub/sub channel and Celery queue carries this prefix, so several installs
# (or test runs) can share one Redis without seeing each other. `make test` splits its run over
# pytest-xdist's worker processes: each is a run of its own (its keys, queues and database),
# and the daphne and Celery processes it starts inherit both variables, so they agree with it.
WP_REDIS_PREFIX = os.environ.get("WP_REDIS_PREFIX", "wp") + (
    f"-{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else ""
)
# Each test run (its own WP_REDIS_PREFIX) gets its own test database.
_test_db = "test_whitepanel_" + "".join(c if c.isalnum() else "_" for c in WP_REDIS_PREFIX)
DATABASES["default"]["TEST"] = {"NAME": _test_db}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests share the database with daphne and Celery processes: a file, not memory.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"{_test_db}.sqlite3")}
    # Opening an SQLite file costs next to nothing: a fresh connection per call.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if DATABASES["default"]["NAME"] != ":memory:" and not str(DATABASES["default"]["NAME"]).startswith("file:"):
        _private_file(Path(DATABASES["default"]["NAME"]))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses accounts and addresses with too many failed logins (infra/ratelimit.py).
    "infra.ratelimit.LoginRateLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/operators/login/"

# Two-factor login (TOTP, django-otp; operators/two_factor.py, docs/security.md). An account with a
# confirmed device logs in with its code everywhere (login form, admin, API token, panel socket).
# WP_REQUIRE_2FA_STAFF=1: staff users (site owners) and superusers without a device are sent to
# enrollment and may use neither admin, the panel nor the API until they have one.
WP_REQUIRE_2FA_STAFF = os.environ.get("WP_REQUIRE_2FA_STAFF", "0").strip().lower() in ("1", "true", "yes", "on")
OTP_TOTP_ISSUER = "White Panel"
LOGIN_REDIRECT_URL = "/panel/"

# The panel, the login and password pages and admin in the operator's language (issue 24,
# docs/architecture.md, Languages): the catalogs in locale/, compiled by the build (`make run`,
# `make test`), the same languages as the snippet's (static/widget/texts.json).
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ar", "العربية"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# The panel's web app manifest (issue 24): WhiteNoise's own list has no type for it.
WHITENOISE_MIMETYPES = {".webmanifest": "application/manifest+json"}

# Redis: one server carries the channel layer, Celery's broker and presence.
# Unset REDIS_URL means the run command started an embedded Redis and set it.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# The sockets' Redis client: "pipelined" (infra/pipelined_redis.py: one connection per
# process, every command of an event loop's turn in one write) or "redis-py" (redis-py's
# asyncio client and connection pool, channels-redis's own for publishes). The benchmark
# compares the two (docs/benchmarks.md, scenario p).
WP_REDIS_CLIENT = os.environ.get("WP_REDIS_CLIENT", "pipelined")
if WP_REDIS_CLIENT not in ("pipelined", "redis-py"):
    raise ValueError(f"WP_REDIS_CLIENT must be 'pipelined' or 'redis-py', not {WP_REDIS_CLIENT!r}")
# "0": none of the patches of other projects' internals is installed (whitepanel/patches/),
# each library keeps its own behaviour; what they buy is measured with and without them.
WP_PATCHES = os.environ.get("WP_PATCHES", "1") != "0"

CHANNEL_LAYERS = {
    "default": {
        # Pub/sub delivers group events to every process at once with no per-channel
        # queue polling: measured p95 68 ms against 301 ms for RedisChannelLayer.
        # chat.layers adds a resync signal for sockets after the layer reconnects to Redis.
        "BACKEND": "chat.layers.ResyncingPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{WP_REDIS_PREFIX}:layer:"},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = f"{WP_REDIS_PREFIX}.tasks"
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / f"celerybeat-{WP_REDIS_PREFIX}")

# Product timings (seconds), SPEC §4.
WP_VISITOR_TIMEOUT = _env_float("WP_VISITOR_TIMEOUT", 60)
WP_ROOM_EXPIRY = _env_float("WP_ROOM_EXPIRY", 60)
WP_OPERATOR_TIMEOUT = _env_float("WP_OPERATOR_TIMEOUT", 60)
WP_SWEEP_INTERVAL = _env_float("WP_SWEEP_INTERVAL", 5)
# A pool request with a question that nobody has accepted this long is an offline request
# (R16), as is one made while no operator of the site is online: the visitor is offered to
# leave their name and email, the site's owners are emailed (chat/offline.py).
WP_POOL_TIMEOUT = _env_float("WP_POOL_TIMEOUT", 120)
# Between sweeps, Celery beat checks this often whether a closed room's expiry is due
# (one indexed query), and sweeps at once if so: rooms expire on time (R9). Not less
# than WP_SWEEP_INTERVAL: no check.
WP_EXPIRY_CHECK_INTERVAL = _env_float("WP_EXPIRY_CHECK_INTERVAL", 0.5)
# A socket must say hello this soon after connecting, or it is closed.
WP_HELLO_TIMEOUT = _env_float("WP_HELLO_TIMEOUT", 10)
# How long a page change may take. A visitor whose last socket closed, or whose tab with the
# chat window open closed, and who has not come back this long after, is shown to operators
# as "connection lost" / out of the chat window (chat/departures.py).
WP_RECONNECT_GRACE = _env_float("WP_RECONNECT_GRACE", 5)
# Each daphne process renews the presence leases of its sockets every
# WP_PRESENCE_LEASE / 3 seconds; a process that dies stops renewing, and its
# sockets count as gone once their lease runs out.
WP_PRESENCE_LEASE = _env_float("WP_PRESENCE_LEASE", 30)
# Page views wait in a Redis stream and reach the database in batches this often (Celery
# beat; the sweep drains it too): a visit's pages cost the database nothing one by one
# (visitors/visits.py). At most WP_PAGE_VIEW_BACKLOG wait while the worker is down; older
# ones are dropped first (docs/reliability.md).
WP_PAGE_VIEW_FLUSH_INTERVAL = _env_float("WP_PAGE_VIEW_FLUSH_INTERVAL", 1)
WP_PAGE_VIEW_BACKLOG = _env_int("WP_PAGE_VIEW_BACKLOG", 1_000_000)

# Issue 25: what each site's retention settings let go (Site.keep_*_days) is deleted by Celery
# beat this often (seconds), WP_RETENTION_BATCH rows a statement and at most
# WP_RETENTION_BATCHES statements of each kind a run, so no run holds locks long; what is
# left goes at the next run (chat/retention.py, docs/privacy.md).
WP_RETENTION_INTERVAL = _env_float("WP_RETENTION_INTERVAL", 24 * 3600)
WP_RETENTION_BATCH = _env_int("WP_RETENTION_BATCH", 1000)
WP_RETENTION_BATCHES = _env_int("WP_RETENTION_BATCHES", 100)

# Issue 25: how often (seconds) Celery beat counts each site's visitors and operators online, for
# the reports' "visitors online" (visitors/online_history.py): one grouped query and one INSERT
# a run. A report's daily average divides by the samples a day holds at this interval.
WP_ONLINE_SAMPLE_INTERVAL = _env_float("WP_ONLINE_SAMPLE_INTERVAL", 300)
# The owners' reports (chat/reports.py) keep a site's days once they are settled: ended at least
# WP_REPORT_SETTLE seconds ago (a later change to one of their conversations, rare, drops them).
# Celery beat rolls up the newly settled days this often (seconds), WP_REPORT_ROLLUP_DAYS days
# of each site a run at most (a year's backlog goes in a few runs).
WP_REPORT_SETTLE = _env_int("WP_REPORT_SETTLE", 2 * 24 * 3600)
WP_REPORT_ROLLUP_INTERVAL = _env_float("WP_REPORT_ROLLUP_INTERVAL", 3600)
WP_REPORT_ROLLUP_DAYS = _env_int("WP_REPORT_ROLLUP_DAYS", 92)

# Input limits (characters).
WP_MAX_MESSAGE_LENGTH = _env_int("WP_MAX_MESSAGE_LENGTH", 4000)
WP_MAX_RATING_COMMENT_LENGTH = _env_int("WP_MAX_RATING_COMMENT_LENGTH", 1000)
WP_MAX_VISITOR_NOTE_LENGTH = _env_int("WP_MAX_VISITOR_NOTE_LENGTH", 2000)
# Issue 25: what a site may tell of a visitor (`attributes`, `track`): keys kept, events kept.
WP_MAX_VISITOR_ATTRIBUTES = _env_int("WP_MAX_VISITOR_ATTRIBUTES", 20)
WP_VISITOR_EVENTS_KEPT = _env_int("WP_VISITOR_EVENTS_KEPT", 20)
WP_MAX_URL_LENGTH = _env_int("WP_MAX_URL_LENGTH", 2048)
WP_MAX_TITLE_LENGTH = _env_int("WP_MAX_TITLE_LENGTH", 500)
WP_MAX_CLIENT_ID_LENGTH = 64
# The largest websocket message either way (daphne is given it by whitepanel/launch.py): a
# client's larger one is refused; the server pages what would be larger (chat/sockets.py).
WP_MAX_FRAME_BYTES = _env_int("WP_MAX_FRAME_BYTES", 64 * 1024)
# Threads per daphne process running the sockets' database calls (infra/db.py): so
# many round trips at once, and so many database connections per process at most.
WP_DB_THREADS = _env_int("WP_DB_THREADS", 4)
# A daphne process keeps the sites it has read (visitors/sites.py): a change to a site
# applies from the next handshake, and at the latest this long after it even if Redis
# missed the change.
WP_SITE_CACHE_SECONDS = _env_float("WP_SITE_CACHE_SECONDS", 60)

# Webhooks (issue 25, integrations/): each attempt's connect and each read wait this long at
# most (seconds); a failed delivery is tried again after WP_WEBHOOK_BACKOFF, then twice as
# long each time, WP_WEBHOOK_MAX_ATTEMPTS times in all, then marked failed. Receivers on
# private, loopback or link-local addresses are refused unless WP_WEBHOOK_ALLOW_PRIVATE=1.
# A process reads which sites have webhooks at most every WP_WEBHOOK_CACHE_SECONDS.
WP_WEBHOOK_TIMEOUT = _env_float("WP_WEBHOOK_TIMEOUT", 5)
WP_WEBHOOK_MAX_ATTEMPTS = _env_int("WP_WEBHOOK_MAX_ATTEMPTS", 8)
WP_WEBHOOK_BACKOFF = _env_float("WP_WEBHOOK_BACKOFF", 10)
WP_WEBHOOK_ALLOW_PRIVATE = os.environ.get("WP_WEBHOOK_ALLOW_PRIVATE", "") == "1"
WP_WEBHOOK_CACHE_SECONDS = _env_float("WP_WEBHOOK_CACHE_SECONDS", 2)

WP_DEMO_PASSWORD = os.environ.get("WP_DEMO_PASSWORD", "")

# Files and images in messages (issue 23, chat/files.py, docs/features.md). Stored through
# Django's storage API: files in WP_MEDIA_ROOT by default (this account's alone, like the
# database: served by White Panel through signed links, never by a web server from the
# folder), or any django-storages backend: WP_FILE_STORAGE names its class and
# WP_FILE_STORAGE_OPTIONS (JSON) its options, e.g. storages.backends.s3.S3Storage with
# {"bucket_name": "..."}.
MEDIA_ROOT = Path(os.environ.get("WP_MEDIA_ROOT", VAR_DIR / "media"))
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES = {
    "default": {
        "BACKEND": os.environ.get("WP_FILE_STORAGE", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": json.loads(os.environ.get("WP_FILE_STORAGE_OPTIONS") or "{}"),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The file name extensions a message may carry, comma-separated; empty: no files at all.
# png, jpg/jpeg, gif and webp are images (decoded to be sure, shown inline with a thumbnail);
# every other type is a download, whatever it holds.
WP_UPLOAD_TYPES = os.environ.get("WP_UPLOAD_TYPES", "png,jpg,jpeg,gif,webp,pdf,txt,csv,doc,docx,xls,xlsx,odt,ods,zip")
# The largest file (bytes), and the most pixels an image may decode to (Pillow's own
# decompression-bomb limit by default: 89,478,485).
WP_UPLOAD_MAX_BYTES = _env_int("WP_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
WP_UPLOAD_MAX_PIXELS = _env_int("WP_UPLOAD_MAX_PIXELS", 89_478_485)
# How long a file's link works (seconds): every payload that carries it makes a new one.
WP_FILE_URL_TTL = _env_int("WP_FILE_URL_TTL", 24 * 3600)
# One file a request (a message carries one); the other fields of a form stay few and small.
DATA_UPLOAD_MAX_NUMBER_FILES = 1

# Rate limits, "count/seconds" (infra/ratelimit.py, docs/security.md). Per visitor
# they stop one visitor's flood; per IP address, many visitors made up by one client.
# A visitor socket over a limit gets error code rate_limited for that frame.
WP_RATE_VISITOR_MESSAGES = os.environ.get("WP_RATE_VISITOR_MESSAGES", "30/60")
WP_RATE_IP_MESSAGES = os.environ.get("WP_RATE_IP_MESSAGES", "300/60")
WP_RATE_VISITOR_OPENS = os.environ.get("WP_RATE_VISITOR_OPENS", "10/60")
WP_RATE_IP_OPENS = os.environ.get("WP_RATE_IP_OPENS", "100/60")
WP_RATE_VISITOR_PAGES = os.environ.get("WP_RATE_VISITOR_PAGES", "60/60")
WP_RATE_IP_PAGES = os.environ.get("WP_RATE_IP_PAGES", "600/60")
WP_RATE_IP_HELLOS = os.environ.get("WP_RATE_IP_HELLOS", "600/60")
# Files sent in messages (issue 23): each stores up to WP_UPLOAD_MAX_BYTES.
WP_RATE_VISITOR_UPLOADS = os.environ.get("WP_RATE_VISITOR_UPLOADS", "10/60")
WP_RATE_IP_UPLOADS = os.environ.get("WP_RATE_IP_UPLOADS", "60/60")
WP_RATE_OPERATOR_UPLOADS = os.environ.get("WP_RATE_OPERATOR_UPLOADS", "60/60")
# Frames of every kind on one socket, either socket: `count` at once, then `count` per
# `seconds` (kept in the consumer, chat/sockets.py). Over it a frame gets rate_limited.
WP_RATE_SOCKET_FRAMES = os.environ.get("WP_RATE_SOCKET_FRAMES", "60/30")
# The same for an operator's panel socket: a reconnecting panel asks for every room's history.
WP_RATE_PANEL_FRAMES = os.environ.get("WP_RATE_PANEL_FRAMES", "600/60")
# Visitor sockets open at once per IP address (an IPv6 /64 as one), refused at the
# handshake past it, and per visitor (token), refused at the hello (infra/socket_caps.py).
# 0: no cap. A load test from one machine lifts the first.
WP_MAX_SOCKETS_PER_IP = _env_int("WP_MAX_SOCKETS_PER_IP", 200)
WP_MAX_SOCKETS_PER_VISITOR = _env_int("WP_MAX_SOCKETS_PER_VISITOR", 20)
# Failed logins (login form, admin, API token). Over the limit per IP address, or per user
# name from one address, attempts are refused for the window; over the limit per user name
# (from anywhere), attempts for it are let through once per WP_LOGIN_SLOWDOWN seconds, so
# nobody elsewhere can lock an operator out (issue 21).
WP_RATE_ACCOUNT_IP_LOGINS = os.environ.get("WP_RATE_ACCOUNT_IP_LOGINS", "10/300")
WP_RATE_IP_LOGINS = os.environ.get("WP_RATE_IP_LOGINS", "50/300")
WP_RATE_ACCOUNT_LOGINS = os.environ.get("WP_RATE_ACCOUNT_LOGINS", "10/300")
WP_LOGIN_SLOWDOWN = _env_float("WP_LOGIN_SLOWDOWN", 5)
# "Forgot your password?" requests per IP address and per email address asked for: each
# may send a mail, so neither a client nor many can fill someone's mailbox.
WP_RATE_IP_PASSWORD_RESETS = os.environ.get("WP_RATE_IP_PASSWORD_RESETS", "10/3600")
WP_RATE_EMAIL_PASSWORD_RESETS = os.environ.get("WP_RATE_EMAIL_PASSWORD_RESETS", "3/3600")

# Invitations and password resets: a set-password link (Django's PasswordResetTokenGenerator)
# works once, for WP_INVITE_TTL seconds (3 days) (operators/invitations.py).
PASSWORD_RESET_TIMEOUT = _env_int("WP_INVITE_TTL", 3 * 24 * 3600)

# Email (invitations, password resets, offline requests). Without WP_EMAIL_HOST mails are printed on the
# console (`make run` shows them); with it, sent over SMTP: port 587 with STARTTLS by
# default, WP_EMAIL_SSL=1 for implicit TLS (port 465).
WP_EMAIL_HOST = os.environ.get("WP_EMAIL_HOST", "")
if WP_EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = WP_EMAIL_HOST
    EMAIL_USE_SSL = os.environ.get("WP_EMAIL_SSL", "") == "1"
    EMAIL_USE_TLS = not EMAIL_USE_SSL and os.environ.get("WP_EMAIL_TLS", "1") == "1"
    EMAIL_PORT = _env_int("WP_EMAIL_PORT", 465 if EMAIL_USE_SSL else 587)
    EMAIL_HOST_USER = os.environ.get("WP_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("WP_EMAIL_PASSWORD", "")
    EMAIL_TIMEOUT = 10
elif os.environ.get("WP_EMAIL_FILE_PATH"):
    # Each mail written as a file in this folder instead (a staging box; the tests read them).
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["WP_EMAIL_FILE_PATH"]
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "White Panel <white-panel@localhost>")
# Where people reach this server: the panel's address in the mails sent without a request
# to take it from (the owners' mail about an offline request, R16).
WP_PUBLIC_URL = os.environ.get("WP_PUBLIC_URL", f"http://localhost:{PORT}").rstrip("/")

# API tokens (`POST /api/token/`, issue 21): stored as SHA-512 digests, each valid for
# WP_API_TOKEN_TTL seconds (30 days) from when it was issued; a password change or a
# deactivation revokes every token of the account (operators/tokens.py).
WP_API_TOKEN_TTL = _env_float("WP_API_TOKEN_TTL", 30 * 24 * 3600)
REST_KNOX = {
    "TOKEN_TTL": timedelta(seconds=WP_API_TOKEN_TTL),
    "AUTH_HEADER_PREFIX": "Token",
}

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes a missing login a 401, not a 403.
    # Session requests need CSRF (DRF's SessionAuthentication enforces it).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "operators.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON in and out; the browsable docs page is Swagger UI at /api/docs/.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "infra.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every 4xx/5xx body is {"error": {"code", "detail"}} (docs/api.md).
    "EXCEPTION_HANDLER": "infra.api.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "White Panel API",
    "DESCRIPTION": "Sites, operators, online visitors, rooms and their messages. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    # A room's status is in two components (a room, and a conversation in a visitor's export).
    "ENUM_NAME_OVERRIDES": {"RoomStatusEnum": "chat.models.Room.Status"},
    # Swagger UI's files come from the sidecar package, served as our own static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # A sweep every few seconds would bury everything else; the sweep logs what it expired.
        "celery.beat": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
    },
}
