"""Settings from the environment (12-factor). Every knob an operator may turn is listed in README.md."""

import hashlib
import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.localservices import VAR_DIR, read_state
from firmware.ftprecord import ftp_record_read

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# Private services started by `make run` are found through var/services.json, so manage.py
# commands need no configuration while it runs.
_local = read_state() or {}
DATABASE_URL = os.environ.get("DATABASE_URL") or _local.get("database_url") or ""
REDIS_URL = os.environ.get("REDIS_URL") or _local.get("redis_url") or "redis://127.0.0.1:6379/0"
# The MQTT broker the Kotodian edge speaks through: mqtt://[user:password@]host:port.
MQTT_URL = os.environ.get("MQTT_URL") or _local.get("mqtt_url") or "mqtt://127.0.0.1:1883"
if not DATABASE_URL and not {"makemigrations", "help", "--help", "check"} & set(sys.argv[1:2]):
    print(
        "evchong: no DATABASE_URL and no private services running; start `make run` "
        "in another terminal or set DATABASE_URL",
        file=sys.stderr,
    )

DEVELOPMENT_SECRET_KEY = "dev-only-insecure-key-change-me-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
# Keys being rotated out (comma-separated): sessions and remembered box credentials made with them
# still verify (chargers.credentials).
SECRET_KEY_FALLBACKS = [key for key in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if key]
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "*").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "security",
    "chargers",
    "transactions",
    "tariffs",
    "smartcharging",
    "firmware",
    "evchong_api",
    "commands",
    "ocpp16",
    "kotodian",
    "webhooks",
    "operations",
    "status",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who is making a change, for the audit trail (security.audit).
    "security.audit.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "evchong.urls"
ASGI_APPLICATION = "evchong.asgi.application"
# Net allocations between two young garbage collections in a server process (CPython: 700; 0
# keeps CPython's defaults). See core.gctuning.
GC_YOUNG_THRESHOLD = env_int("GC_YOUNG_THRESHOLD", 10000)

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

DATABASES = {"default": dj_database_url.parse(DATABASE_URL or "postgres://localhost/evchong")}
# A pool instead of persistent connections: ASGI runs sync code in several threads, and each
# request borrows a connection for its duration only.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": env_int("DB_POOL_MIN", 1),
    "max_size": env_int("DB_POOL_MAX", 40),  # more than ASGI_THREADS (32): no thread waits for one
    "timeout": env_float("DB_POOL_TIMEOUT", 10),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = []
# Django's backend behind brute-force counters per source and account (security.logins).
AUTHENTICATION_BACKENDS = ["security.logins.GuardedModelBackend"]
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
# The domain stores UTC; TIME_ZONE is what operators read in the admin and what the reverse
# API's "yyyy-MM-dd HH:mm:ss" retrieveDate means (EVCHONG 3.3).
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

CHANNEL_LAYERS = {
    "default": {
        # channels_redis's pub/sub layer: Redis pushes each message to the process that subscribed
        # to the box's group, and one reader task per process hands it to the consumer. The list
        # layer (channels_redis.core) fetched messages one at a time, three Redis round trips each,
        # under one lock that every idle consumer of the process queued for: a process took in ~32
        # messages a second, and a burst of 100 reverse calls waited seconds for delivery
        # (docs/adr/0012). A message for a box nobody holds is dropped; the command's row is the
        # truth and it ends as timed out, as it did when a list message expired unread.
        # core.channel_layer: that layer, whose subscriptions one task per connection changes, many
        # channels per command, so that a consumer cancelled while leaving cannot leave one behind.
        "BACKEND": "core.channel_layer.ChannelLayer",
        # redis-py 8 cuts every socket read at 5 s by default (channels_redis#422).
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
    }
}

# Celery: the broker is Redis. Tasks are acked after they ran (a worker killed mid-task gets
# its task redelivered; every task is guarded by row state so a re-run is harmless).
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis away: the worker waits for it however long it takes (make run's supervisor starts it again
# if kombu gives up all the same: kombu#582's AttributeError on a lost connection).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "journal-trim": {"task": "chargers.tasks.journal_trim", "schedule": 60.0},
    "command-sweep": {"task": "commands.tasks.sweep_commands", "schedule": 30.0},
    "reservation-expiry": {"task": "chargers.tasks.reservations_sweep", "schedule": 60.0},
    # Alarms with a time to live (Kotodian's WarningReq.ttl) clear within this many seconds of it.
    "alarm-expiry": {"task": "chargers.tasks.alarms_sweep", "schedule": env_float("ALARM_SWEEP_SECONDS", 10)},
    "dead-process-boxes": {"task": "chargers.tasks.boxes_of_dead_processes_sweep", "schedule": 60.0},
    "firmware-update-confirm": {"task": "firmware.tasks.updates_confirm", "schedule": 60.0},
    "webhook-log-trim": {"task": "webhooks.tasks.deliveries_trim", "schedule": 3600.0},
    # How often campaigns start boxes and follow them (commands.campaigns): at most max_concurrent
    # boxes start per run, so a campaign's time to done is at least (boxes / max_concurrent) runs.
    "firmware-campaigns": {"task": "commands.tasks.campaigns_drive",
                           "schedule": env_float("FIRMWARE_CAMPAIGN_SECONDS", 10.0)},
    "diagnostics-expiry": {"task": "firmware.tasks.diagnostics_sweep", "schedule": 3600.0},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Hashed tokens with scopes and expiry, rate-limited per token (security.authentication).
        "security.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "EVCHONG central system API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request components of their own: a field that may not be blank gets minLength 1 there.
    "COMPONENT_SPLIT_REQUEST": True,
    # The APIs are documented in JSON, the form their callers use; forms are read where DRF reads
    # them, but a tariff's periods or a command's payload cannot be written as one. (And CSV where
    # an import takes it.)
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser", "operations.api.idtags.CsvText"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "operations.openapi.error_responses"],
    # One name for each choice set that several serializers use.
    "ENUM_NAME_OVERRIDES": {
        "ConnectorStatusEnum": "chargers.choices.ChargePointStatus",
        "IdTagStatusEnum": "operations.idtag_import.STORED_STATUSES",
    },
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "evchong@localhost")
# Who gets fault e-mails (EVCHONG 2.7): comma-separated addresses.
OPERATIONS_EMAILS = [a for a in os.environ.get("OPERATIONS_EMAILS", "operations@localhost").split(",") if a]

# Webhooks (docs/webhooks.md).
# Hosts that endpoints may reach over plain http:// (comma-separated; tests: 127.0.0.1). Else https:// only.
WEBHOOK_INSECURE_HOSTS = [h for h in os.environ.get("WEBHOOK_INSECURE_HOSTS", "").split(",") if h]
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 5)  # per attempt
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 5)  # then 10, 20, 40 ... seconds
# Days the delivery log keeps a finished delivery.
WEBHOOK_LOG_DAYS = env_int("WEBHOOK_LOG_DAYS", 30)
# How long a process trusts its list of the event types that some endpoint wants.
WEBHOOK_SUBSCRIPTIONS_TTL = env_float("WEBHOOK_SUBSCRIPTIONS_TTL", 2)

# Charge-box behaviour.
HEARTBEAT_INTERVAL = env_int("HEARTBEAT_INTERVAL", 60)  # seconds, told to boxes at boot
JOURNAL_MAX_PER_BOX = env_int("JOURNAL_MAX_PER_BOX", 1000)  # frames kept per box
# A box that holds no connection (the EVCHONG forward API) counts as offline after this many heartbeat
# intervals without a message; a WebSocket box is online while connected (chargers.presence).
MISSED_HEARTBEATS_OFFLINE = env_int("MISSED_HEARTBEATS_OFFLINE", 2)
# Seconds within which a further message does not rewrite a box's last_seen (chargers.services.box_touch).
LAST_SEEN_RESOLUTION = env_float("LAST_SEEN_RESOLUTION", 5)

# OCPP 1.6J edge
LISTEN_BACKLOG = env_int("LISTEN_BACKLOG", 4096)  # pending TCP connections daphne's socket queues
# Unknown boxes that connect are registered as Pending (approved in the admin) instead of refused.
OCPP_AUTO_REGISTER = env_bool("OCPP_AUTO_REGISTER", False)
OCPP_CALL_TIMEOUT = env_float("OCPP_CALL_TIMEOUT", 20)  # seconds a box has to answer our CALL
# The OCPP edge's inbound writers (inbound.writers): threads (each one database connection) and the most frames one commit takes.
# One: more writers made smaller batches (more commits) and more threads taking the interpreter from
# the event loop; the ingest p99 was about three times one writer's with four (docs/adr/0011).
OCPP_WRITERS = env_int("OCPP_WRITERS", 1)
OCPP_BATCH = env_int("OCPP_BATCH", 200)
# The forward API's inbound writers (inbound.writers): threads (each one database connection) and the
# most requests one commit takes. One, as for OCPP: meterValues p99 54-60 ms against 71-72 with four
# (docs/adr/0013).
EVCHONG_WRITERS = env_int("EVCHONG_WRITERS", 1)
EVCHONG_BATCH = env_int("EVCHONG_BATCH", 100)
# The Kotodian edge's inbound writers (inbound.writers), in its MQTT bridge (kotodian.bridge): threads
# and the most messages one commit takes.
KOTODIAN_WRITERS = env_int("KOTODIAN_WRITERS", 1)
KOTODIAN_BATCH = env_int("KOTODIAN_BATCH", 200)
# Several bridges share the uplink topics through an MQTT 5 shared subscription ($share/GROUP/...)
# when this names the group (the broker must support it); empty: one bridge takes every message.
KOTODIAN_SHARED_GROUP = os.environ.get("KOTODIAN_SHARED_GROUP", "")
# The key every MQTT password derives from (kotodian.mqttaccess, docs/adr/0021): the system's, the
# registration account's and each box's. Comma-separated while one is rotated out, newest first. The
# private broker of `make run` makes one and keeps it under var/mqtt/; otherwise one derived from
# SECRET_KEY (so set it explicitly when the broker or another deployment must share it).
KOTODIAN_MQTT_SECRETS = [secret for secret in (
    os.environ.get("KOTODIAN_MQTT_SECRET") or _local.get("mqtt_secret")
    or hashlib.sha256(f"evchong.kotodian.mqtt\0{SECRET_KEY}".encode()).hexdigest()).split(",") if secret]
# Put before every Kotodian topic ("/U/R/+" becomes PREFIX + "/U/R/+"), for a broker shared with others.
KOTODIAN_TOPIC_PREFIX = os.environ.get("KOTODIAN_TOPIC_PREFIX", "")
# A Kotodian box keeps connected_node (commands go to it) while seen within this many heartbeat intervals.
KOTODIAN_SILENT_HEARTBEATS = env_int("KOTODIAN_SILENT_HEARTBEATS", 3)
# Seconds the bridge waits before connecting again to a broker that went away (doubling up to 30 s).
KOTODIAN_RECONNECT_DELAY = env_float("KOTODIAN_RECONNECT_DELAY", 1)
# Seconds a connection trusts its copy of an accepted box before reading it again.
OCPP_BOX_REFRESH = env_float("OCPP_BOX_REFRESH", 30)
# Larger incoming frames close the connection with 1009 (message too big).
OCPP_MAX_FRAME_BYTES = env_int("OCPP_MAX_FRAME_BYTES", 65536)
OCPP_PING_INTERVAL = env_int("OCPP_PING_INTERVAL", 30)  # seconds of silence before the server pings
OCPP_PING_TIMEOUT = env_int("OCPP_PING_TIMEOUT", 60)  # seconds without a pong before the socket is closed
# Seconds a server process's lease as holder of box connections lasts unless renewed (every third of
# it): how long the boxes of a process that died still show online (chargers.presence).
PRESENCE_LEASE_SECONDS = env_float("PRESENCE_LEASE_SECONDS", 45)
# Admission control (ocpp16.wsserver): OCPP boxes connecting at once to one process (upgrade request
# to the first answer, usually their BootNotification's). More wait for a place, at most
# OCPP_WAITING_MAX of them for at most OCPP_ADMISSION_WAIT seconds (0: none waits); the rest are
# answered HTTP 503 with Retry-After (seconds) before the upgrade, and come back later. The wait
# stays under the ten seconds or more that WebSocket clients commonly allow a handshake. A
# refused box comes back several seconds later and is refused again while the storm lasts: with
# 1,000 waiting for 5 s, 10,000 boxes at once were refused 29,500 times and all in only after 85 s;
# with 5,000 for 9 s, about 10,700 times and all in after 54-66 s (docs/performance.md).
OCPP_CONNECTING_MAX = env_int("OCPP_CONNECTING_MAX", 64)
OCPP_ADMISSION_WAIT = env_float("OCPP_ADMISSION_WAIT", 9)
OCPP_WAITING_MAX = env_int("OCPP_WAITING_MAX", 5000)
OCPP_BUSY_RETRY_AFTER = env_int("OCPP_BUSY_RETRY_AFTER", 5)
# Seconds a box's WebSocket handshake may take before daphne gives up on it (daphne's default: 5).
OCPP_HANDSHAKE_TIMEOUT = env_int("OCPP_HANDSHAKE_TIMEOUT", 20)

# Commands (reverse API, operations API). The box's answer timeout is OCPP_CALL_TIMEOUT.
REVERSE_API_TIMEOUT = env_float("REVERSE_API_TIMEOUT", 25)  # seconds the reverse API blocks at most
REMOTE_START_CLAIM_SECONDS = env_int("REMOTE_START_CLAIM_SECONDS", 60)  # until Start/StopTransaction arrives
# Seconds the operations API's RemoteStartTransaction with waitForTransaction waits, once the box has
# accepted, for the box's StartTransaction (OCPP_CALL_TIMEOUT plus this stays within the claim).
REMOTE_START_SESSION_WAIT = env_float("REMOTE_START_SESSION_WAIT", 30)
COMMAND_REPLY_TTL_SECONDS = env_int("COMMAND_REPLY_TTL_SECONDS", 120)
# The protocol whose calls a command to a box that has not yet connected is checked against.
COMMAND_DEFAULT_PROTOCOL = os.environ.get("COMMAND_DEFAULT_PROTOCOL") or "ocpp1.6"
COMMAND_STALE_SECONDS = env_int("COMMAND_STALE_SECONDS", 120)  # open this long: the server died mid-call
# Issue steps (token, checks, row lock, Command row) of the reverse API run at once per server
# process; more callers wait their turn (at most REVERSE_API_TIMEOUT - OCPP_CALL_TIMEOUT - 2 s,
# then HTTP 503 with Retry-After). 16, not 8, since the OCPP writers are one per process: fewer
# callers turned away under a burst of 1,000; 24 was slower again (docs/performance.md, "The round
# of 16:16-19:16"). Each running step holds a pooled connection (DB_POOL_MAX) beside the writers'
# and the ASGI threads': under that burst two processes held 69 in all, at most 8 busy in 0.2 s samples.
COMMAND_ISSUE_CONCURRENCY = env_int("COMMAND_ISSUE_CONCURRENCY", 16)
# Limits on guessing credentials (security.bruteforce, docs/adr/0026): failures of one source address
# for one account (an admin user, a charge box's Basic username) and of one source in all, counted in
# windows of BRUTE_FORCE_WINDOW seconds; at the limit, that source is refused (for that account, or
# for all) until its window ends. Nothing counts per account alone, so nobody can lock a box out.
BRUTE_FORCE_ACCOUNT_FAILURES = env_int("BRUTE_FORCE_ACCOUNT_FAILURES", 5)
BRUTE_FORCE_SOURCE_FAILURES = env_int("BRUTE_FORCE_SOURCE_FAILURES", 50)
BRUTE_FORCE_WINDOW = env_int("BRUTE_FORCE_WINDOW", 300)
# Behind a proxy: the header it appends the client's address to (deploy/nginx.conf: X-Forwarded-For);
# the last address in it is the client's. Empty: the address of the connection. Set it only behind a
# proxy that sets the header, or a client could name any address it likes.
CLIENT_ADDRESS_HEADER = os.environ.get("CLIENT_ADDRESS_HEADER", "")
# Rate limits, kept in each server process (security.buckets): per API token, HTTP 429 with
# Retry-After beyond them. The burst covers a backend's burst of a thousand reverse calls.
API_RATE_PER_SECOND = env_float("API_RATE_PER_SECOND", 100)
API_RATE_BURST = env_float("API_RATE_BURST", 2000)
# Per OCPP connection, the CALLs a box may send: beyond them it is answered CALLERROR (and nothing is
# stored), not disconnected. A box sends one CALL at a time (OCPP-J 1.6 §4.1.1); a box emptying
# its queue after an outage sends as fast as it gets answers, so the burst is large.
OCPP_RATE_PER_SECOND = env_float("OCPP_RATE_PER_SECOND", 20)
OCPP_RATE_BURST = env_float("OCPP_RATE_BURST", 500)
# Per forward-API client (its Basic username, or its address without one): HTTP 429 with Retry-After.
FORWARD_RATE_PER_SECOND = env_float("FORWARD_RATE_PER_SECOND", 50)
FORWARD_RATE_BURST = env_float("FORWARD_RATE_BURST", 1000)
# How long a reverse API token's user (and permissions) is remembered per process: a revoked
# token or a withdrawn permission takes effect within this long.
API_TOKEN_CACHE_SECONDS = env_float("API_TOKEN_CACHE_SECONDS", 5)

# Firmware images and diagnostics files: stored through Django's storage API under MEDIA_ROOT and
# served over FTP, with explicit TLS available (EVCHONG rule 1 h; firmware/ftpserver.py, docs/adr/0015).
# The FTP server reads the files where the storage put them, so the storage is the file system's.
# Unset here, they are what `make run`'s FTP server runs with (it records them while it runs).
_ftp = ftp_record_read(VAR_DIR / "ftpserver.json")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or _ftp.get("media_root") or VAR_DIR / "media")
FTP_HOST = os.environ.get("FTP_HOST") or _ftp.get("host") or "127.0.0.1"  # where the FTP server listens
FTP_PORT = env_int("FTP_PORT", _ftp.get("port", 2121))
FTP_PASSIVE_PORTS = os.environ.get("FTP_PASSIVE_PORTS", "30000-30099")  # "FIRST-LAST"; empty: any port
# The address told to clients in PASV answers when the server sits behind NAT.
FTP_MASQUERADE_ADDRESS = os.environ.get("FTP_MASQUERADE_ADDRESS", "")
# The host named in the URLs given to boxes (addfirmware, diagnostics uploads).
FTP_PUBLIC_HOST = os.environ.get("FTP_PUBLIC_HOST") or _ftp.get("public_host") or FTP_MASQUERADE_ADDRESS or FTP_HOST
FTP_TLS_CERT = os.environ.get("FTP_TLS_CERT", "")
FTP_TLS_KEY = os.environ.get("FTP_TLS_KEY", "")
# Without FTP_TLS_CERT/FTP_TLS_KEY, a self-signed certificate is made here on the first start.
FTP_TLS_DIR = Path(os.environ.get("FTP_TLS_DIR") or VAR_DIR / "ftp")
# A diagnostics upload (GetDiagnostics' location) takes at most this many bytes, for this long.
DIAGNOSTICS_MAX_BYTES = env_int("DIAGNOSTICS_MAX_BYTES", 50 * 1024 * 1024)
DIAGNOSTICS_UPLOAD_HOURS = env_float("DIAGNOSTICS_UPLOAD_HOURS", 24)
# Diagnostics uploads, their files with them, are deleted this long after they were opened.
DIAGNOSTICS_KEEP_DAYS = env_float("DIAGNOSTICS_KEEP_DAYS", 30)
# A firmware update with no news (status, boot) for this long is stalled; a campaign counts it failed.
FIRMWARE_UPDATE_STALL_MINUTES = env_float("FIRMWARE_UPDATE_STALL_MINUTES", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Production (DJANGO_ENV=production): refuses to start with what is only fit for a developer's machine,
# and turns on what `manage.py check --deploy` asks for (tests/security/test_production_settings.py).
DJANGO_ENV = os.environ.get("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development or production, not {DJANGO_ENV!r}")
if DJANGO_ENV == "production":
    # A known key signs sessions (an admin login) and keys the boxes' remembered credentials
    # (chargers.credentials) and apitoken's tokens (security.tokens): anyone could forge them.
    if SECRET_KEY == DEVELOPMENT_SECRET_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("DJANGO_ENV=production needs SECRET_KEY: 50 or more random characters, "
                                   "not the development key")
    if "ALLOWED_HOSTS" not in os.environ or not [h for h in ALLOWED_HOSTS if h] or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ENV=production needs ALLOWED_HOSTS: the host names served, "
                                   "comma-separated, not *")
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_ENV=production runs with DEBUG off")
    # Cookies only over TLS; the admin's session cookie out of reach of scripts.
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    # Redirect plain HTTP to HTTPS, except what charge boxes use: a box whose firmware speaks plain
    # HTTP or ws:// cannot follow a redirect (nginx may still refuse plain HTTP for them).
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^evchong-api/cperent/", r"^ocpp/", r"^healthz$", r"^metrics$"]
    # HSTS: sent on answers over TLS only (SecurityMiddleware), so a plain-HTTP box never sees it.
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# Behind a proxy that terminates TLS: the header that says the client's scheme, e.g.
# "X-Forwarded-Proto" (deploy/nginx.conf sets it); set it only behind a proxy that sets it.
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + os.environ["SECURE_PROXY_SSL_HEADER"].upper().replace("-", "_"), "https")
