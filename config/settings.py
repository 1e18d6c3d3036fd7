"""Bulwark settings: every knob is an environment variable with a safe development default.

``BULWARK_ENV=production`` turns on the production profile (secrets required, secure cookies,
HSTS, SSL redirect); ``python manage.py check --deploy`` is clean there.
"""

import base64
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    check_keyring,
    check_secret_key,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    random_secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
BULWARK_ENV = os.environ.get("BULWARK_ENV", "development").strip().lower()
if BULWARK_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"BULWARK_ENV must be development, production or test, not {BULWARK_ENV!r}"
    )
PRODUCTION = BULWARK_ENV == "production"

DATA_DIR = Path(
    os.environ.get("BULWARK_DATA_DIR") or (BASE_DIR / "var" / "test" if BULWARK_ENV == "test" else BASE_DIR / "var")
).resolve()
KEYS_DIR = DATA_DIR / "keys"

SECRET_KEY = env_secret(
    "SECRET_KEY",
    production=PRODUCTION,
    dev_file=KEYS_DIR / "secret_key",
    generate=random_secret_key,
)
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG=true is refused when BULWARK_ENV=production: it leaks settings and data.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when BULWARK_ENV=production.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "core",
    "governance",
    "explain",
    "incidents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "governance.middleware.NoStoreMiddleware",
    "governance.middleware.UploadSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "governance.middleware.RequestContextMiddleware",
    "governance.middleware.LoginRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "csp.context_processors.nonce",
                "governance.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'bulwark.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions serialise writers, so the audit chain tail is never read stale;
    # WAL lets the web server read while the worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so that a real worker process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if BULWARK_ENV == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Failed-login throttling: 5 failures per username+IP lock that pair out for 15 minutes.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "governance.auth.lockout_response"
AXES_IPWARE_PROXY_COUNT = env_int("PROXY_COUNT", 0)

API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90)  # a token created without an expiry
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)  # no token lives longer

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", DATA_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Encrypted model and dataset blobs; swap for an S3-style backend (django-storages) in production.
    "artifacts": {
        "BACKEND": os.environ.get("ARTIFACT_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": {"location": str(Path(os.environ.get("ARTIFACT_STORAGE_DIR", DATA_DIR / "artifacts")))},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION  # serve straight from static/ without collectstatic in dev
MEDIA_ROOT = DATA_DIR / "media"

# --- Artifact storage (used by the registry) ------------------------------------------------
ARTIFACT_STORAGE_DIR = Path(os.environ.get("ARTIFACT_STORAGE_DIR", DATA_DIR / "artifacts"))
ARTIFACT_ENCRYPTION_KEYS = env_secret(
    "ARTIFACT_ENCRYPTION_KEYS",
    production=PRODUCTION,
    dev_file=KEYS_DIR / "artifact_keys",
    generate=lambda: "k1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
)
# The audit chain is an HMAC-SHA256 chain keyed with this secret, which never enters the database: someone who
# can write to the database but lacks the key cannot recompute a valid chain after tampering.
AUDIT_HMAC_KEY = env_secret(
    "AUDIT_HMAC_KEY",
    production=PRODUCTION,
    dev_file=KEYS_DIR / "audit_hmac_key",
    generate=lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
)
# Signed checkpoints of the chain head (seq + hash), appended to this file (put it on append-only or external
# storage) and logged to the `bulwark.audit.checkpoint` logger; verify_audit detects truncation against them.
AUDIT_CHECKPOINT_FILE = Path(os.environ.get("AUDIT_CHECKPOINT_FILE", DATA_DIR / "audit-checkpoints.jsonl"))
AUDIT_CHECKPOINT_SECONDS = env_int("AUDIT_CHECKPOINT_SECONDS", 600)
# Malformed keys fail at start, naming the variable, not at the first upload or audited write.
check_keyring("ARTIFACT_ENCRYPTION_KEYS", ARTIFACT_ENCRYPTION_KEYS)
check_secret_key("AUDIT_HMAC_KEY", AUDIT_HMAC_KEY)
if PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters when BULWARK_ENV=production.")
ATTESTATION_KEY_FILE = Path(os.environ.get("ATTESTATION_KEY_FILE", KEYS_DIR / "attestation_ed25519.pem"))
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_MB", 500) * 1024 * 1024
MAX_DATASET_ROWS = env_int("MAX_DATASET_ROWS", 2_000_000)
# Numbers beyond this magnitude (or infinite) in a dataset are refused at upload: an export error, not data.
DATASET_MAX_ABS_VALUE = env_float("DATASET_MAX_ABS_VALUE", 1e15)
# Model files are untrusted input. Admins may trust extra skops types / pickle globals by name,
# e.g. SKOPS_TRUSTED_TYPES="mypkg.MyTransformer" or PICKLE_EXTRA_ALLOWED_GLOBALS="mypkg.module.Class".
# skops never trusts tree internals by default (their node arrays are not bounds-checked, so a crafted
# file could crash a worker; no code runs). Tree ensembles are the field's bread and butter, so Bulwark
# trusts these two unless SKOPS_TRUSTED_TYPES says otherwise ("none" trusts nothing extra).
SKOPS_TRUSTED_TYPES = [
    t for t in env_list("SKOPS_TRUSTED_TYPES", [
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    ]) if t.lower() != "none"
]
PICKLE_EXTRA_ALLOWED_GLOBALS = env_list("PICKLE_EXTRA_ALLOWED_GLOBALS", [])
# Model file limits (governance/loading/limits.py): what a small file may make Bulwark inflate, allocate
# or store. A file may inflate to MODEL_MAX_COMPRESSION_RATIO x its size (at least MODEL_INFLATION_FLOOR_MB),
# never past MAX_DECOMPRESSED_MB; a refusal names the limit it hit.
MAX_DECOMPRESSED_BYTES = env_int("MAX_DECOMPRESSED_MB", 4 * MAX_UPLOAD_BYTES // (1024 * 1024)) * 1024 * 1024
MODEL_MAX_COMPRESSION_RATIO = env_int("MODEL_MAX_COMPRESSION_RATIO", 100)
MODEL_INFLATION_FLOOR_BYTES = env_int("MODEL_INFLATION_FLOOR_MB", 16) * 1024 * 1024
MODEL_MAX_ARRAY_ELEMENTS = env_int("MODEL_MAX_ARRAY_ELEMENTS", 100_000_000)
MODEL_MAX_ARRAY_DIMS = env_int("MODEL_MAX_ARRAY_DIMS", 32)
MODEL_MAX_CLASSES = env_int("MODEL_MAX_CLASSES", 10_000)
MODEL_MAX_FEATURES = env_int("MODEL_MAX_FEATURES", 50_000)
MODEL_MAX_NAME_LENGTH = env_int("MODEL_MAX_NAME_LENGTH", 256)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Celery -----------------------------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # kombu's virtual transports sleep this long when the queue is empty (default 1 s): that sleep was most
        # of a job's queue wait (bench/README.md); a listdir of an almost empty folder costs next to nothing.
        "polling_interval": env_int("CELERY_POLLING_INTERVAL_MS", 200) / 1000,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 4 * 3600)}
)
CELERY_TASK_IGNORE_RESULT = True  # the database row is the source of truth, not a result backend
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_POOL = "config.worker_pool:TaskPool"  # prefork, safe against an idle pool process being killed
CELERY_TASK_DEFAULT_QUEUE = "light"
CELERY_TASK_DEFAULT_EXCHANGE = "light"
CELERY_TASK_DEFAULT_ROUTING_KEY = "light"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "verify-audit-chain": {"task": "governance.verify_audit_chain", "schedule": 6 * 3600.0},
    "audit-checkpoint": {"task": "governance.audit_checkpoint", "schedule": float(AUDIT_CHECKPOINT_SECONDS)},
    "reap-stale-jobs": {"task": "explain.reap_stale_jobs", "schedule": 60.0},
    "outbox-sweep": {"task": "governance.outbox_sweep", "schedule": float(env_int("OUTBOX_SWEEP_SECONDS", 10))},
    "overdue-action-items": {"task": "incidents.notify_overdue_action_items", "schedule": 24 * 3600.0},
}

# The transactional outbox (governance/outbox.py): pending messages older than this are re-sent by the sweep.
OUTBOX_MIN_AGE_SECONDS = env_int("OUTBOX_MIN_AGE_SECONDS", 5)
OUTBOX_KEEP_SENT_DAYS = env_int("OUTBOX_KEEP_SENT_DAYS", 7)

# --- Incidents --------------------------------------------------------------------------------
# The provider named in serious-incident reports (EU AI Act Art. 73) and release attestations.
DEFAULT_ORGANISATION = "the organisation running Bulwark"
BULWARK_ORGANISATION = os.environ.get("BULWARK_ORGANISATION", DEFAULT_ORGANISATION)
EVIDENCE_MAX_BYTES = env_int("EVIDENCE_MAX_MB", 20) * 1024 * 1024
EVIDENCE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".pdf", ".txt", ".log", ".csv", ".json", ".md"}

# --- Analysis jobs ------------------------------------------------------------------------------
JOB_SOFT_TIME_LIMIT = env_int("JOB_SOFT_TIME_LIMIT", 30 * 60)
JOB_HARD_TIME_LIMIT = env_int("JOB_HARD_TIME_LIMIT", 32 * 60)
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10)
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 120)  # no heartbeat for this long: the worker died
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 2)  # a job whose worker died is re-queued once, then failed
JOB_WARM_UP = env_bool("JOB_WARM_UP", True)
# /healthz fails when queued work has waited this long and no work started, progressed or finished meanwhile.
WORKER_STALL_SECONDS = env_int("WORKER_STALL_SECONDS", 300)
# Quick analyses go to the light queue, the rest to heavy, so long jobs never starve quick ones.
JOB_QUEUES = {"permutation_importance": "light", "rule_extraction": "light"}
# Per-kind (soft, hard) time limits in seconds; kinds not listed use the two defaults above.
JOB_TIME_LIMITS = {"permutation_importance": (10 * 60, 11 * 60), "rule_extraction": (10 * 60, 11 * 60)}
# Kinds whose results are release evidence: a new result re-checks approvals.
RELEASE_EVIDENCE_KINDS = {"shap_global", "permutation_importance", "cross_validation", "stress_test",
                          "adversarial_evasion", "model_extraction", "membership_inference"}
JOB_QUEUES.update({"cross_validation": "heavy", "fingerprint": "light"})

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.auth.TokenAuthentication",
        "governance.auth.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["governance.permissions.ApiPermission"],
    "DEFAULT_PAGINATION_CLASS": "governance.api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "governance.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if not PRODUCTION else []),
    "DEFAULT_THROTTLE_RATES": {"token_create": "10/minute"},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Bulwark API",
    "DESCRIPTION": "Govern the machine-learning models you ship: registry, releases, analyses, incidents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["governance.permissions.ApiPermission"],
    "ENUM_NAME_OVERRIDES": {
        "VersionStatusEnum": "governance.choices.VersionStatus",
        "CheckStatusEnum": "governance.choices.CheckStatus",
        "JobStatusEnum": "explain.choices.JobStatus",
        "IncidentStatusEnum": "incidents.choices.IncidentStatus",
        "ActionItemStatusEnum": "incidents.choices.ActionItemStatus",
        "SeverityEnum": "incidents.choices.Severity",
        "RiskTierEnum": "governance.choices.RiskTier",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "governance.api.error_responses.add_error_responses"],
    "SWAGGER_UI_DIST": "SIDECAR",  # served locally by drf-spectacular-sidecar, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security headers -------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
CSRF_COOKIE_HTTPONLY = True
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # plotly.js (via d3) sets a few fixed style attributes with setAttribute; only those exact values
        # are allowed, by hash: the empty string, and the pixelated image-rendering of heatmaps.
        "style-src-attr": [
            "'unsafe-hashes'",
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
            "'sha256-AR/cKIZjWPcPmBUPDA6oti9XBiTbJvz0Cro2J1VzzS8='",
        ],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- E-mail -------------------------------------------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "bulwark@localhost")
# The public address of the app, for links in e-mails (e.g. https://bulwark.example.org); blank: no links.
SITE_URL = os.environ.get("SITE_URL", "")

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"refusals_without_traceback": {"()": "config.log_filters.RefusalsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                             "filters": ["refusals_without_traceback"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
