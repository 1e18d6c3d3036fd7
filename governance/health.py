"""Liveness of what Bulwark depends on: the database, the broker, artifact storage."""

import os
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection


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
    return {"transport": str(transport)}


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


CHECKS = {"database": check_database, "broker": check_broker, "storage": check_storage}


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
