"""Liveness of what Bulwark depends on: the database, the broker, artifact storage, and workers that run work.

A worker that answers `inspect ping` may still run nothing (a pool process that never became ready, a lock
held by a dead process). So worker liveness is read from task progress: work that has waited longer than
`WORKER_STALL_SECONDS` while no work has started, progressed or finished for as long means the workers are
stuck. Each kind of background work registers a progress provider (`register_progress`); the explain app
registers its analysis jobs from its AppConfig.ready().
"""

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Max, Min
from django.utils import timezone

# name -> callable(waiting_since=) returning (when the oldest queued work was enqueued, or None; the latest
# start/heartbeat/finish, or None — a provider may skip that lookup when nothing waited past waiting_since)
_PROGRESS_PROVIDERS: dict = {}


def register_progress(name: str, provider) -> None:
    _PROGRESS_PROVIDERS[name] = provider


def _compatibility_checks_progress(*, waiting_since):
    """Progress is looked up only when something has waited past the threshold (a table scan otherwise)."""
    from .choices import CheckStatus
    from .models import ModelVersion

    waiting = ModelVersion.objects.filter(compat_status=CheckStatus.PENDING).aggregate(at=Min("created_at"))["at"]
    stale = waiting is not None and waiting < waiting_since
    latest = ModelVersion.objects.aggregate(at=Max("compat_checked_at"))["at"] if stale else None
    return waiting, latest


register_progress("compatibility checks", _compatibility_checks_progress)


def check_workers() -> dict:
    stall = int(getattr(settings, "WORKER_STALL_SECONDS", 300))
    now = timezone.now()
    detail = {"stall_after_s": stall}
    for name, provider in _PROGRESS_PROVIDERS.items():
        waiting, latest = provider(waiting_since=now - timedelta(seconds=stall))
        waited = (now - waiting).total_seconds() if waiting else 0.0
        idle = (now - latest).total_seconds() if latest else None
        detail[name] = {"oldest_waiting_s": round(waited, 1)}
        if waited > stall and (idle is None or idle > stall):
            raise RuntimeError(
                f"workers run no work: queued {name} have waited {waited:.0f} s and none has started, progressed "
                f"or finished for {'ever' if idle is None else f'{idle:.0f} s'} (WORKER_STALL_SECONDS={stall})"
            )
    return detail


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def check_broker() -> dict:
    from kombu import Connection

    url = settings.CELERY_BROKER_URL
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}
    if url.startswith("filesystem"):
        for key in ("data_folder_in", "data_folder_out"):
            folder = Path(options[key])
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                raise OSError(f"broker folder {folder} is missing or not writable")
    with Connection(url, transport_options=options, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        _ = conn.default_channel  # opening a channel proves the broker answers, not just the socket
        transport = conn.transport.driver_type
    from .outbox import pending_count

    return {"transport": str(transport), "outbox_pending": pending_count()}


def check_storage() -> dict:
    root = settings.ARTIFACT_STORAGE_DIR
    root.mkdir(parents=True, exist_ok=True)
    probe = root / f".healthz-{uuid.uuid4().hex}"
    probe.write_bytes(b"ok")
    try:
        if probe.read_bytes() != b"ok":
            raise OSError("storage returned different bytes")
    finally:
        probe.unlink(missing_ok=True)
    return {"backend": "filesystem"}


CHECKS = {"database": check_database, "broker": check_broker, "storage": check_storage, "workers": check_workers}


def run_checks() -> tuple[bool, dict]:
    results = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail = check()
            results[name] = {"ok": True, **detail}
        except Exception as exc:  # a health check reports every failure, whatever its type
            healthy = False
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return healthy, results
