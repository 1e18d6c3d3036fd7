"""Start a real Celery worker process against the test database and the configured broker."""

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def purge_broker():
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        for path in (settings.BROKER_DIR / "queue").glob("*"):
            path.unlink(missing_ok=True)
    else:
        with celery_app.connection_for_write() as conn:
            for queue in ("light", "heavy"):
                conn.default_channel.queue_purge(queue)


@contextmanager
def running_worker(*, queues="light,heavy", concurrency=1, extra_env=None, ready_timeout=60, extra_args=(),
                   purge=True):
    if purge:
        purge_broker()
    env = {**os.environ, "BULWARK_ENV": "test", "DATABASE_URL": test_database_url(), **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues, "--concurrency", str(concurrency),
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--hostname", f"test-{os.getpid()}@%h",
         *extra_args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump():
        for line in proc.stdout:
            lines.append(line)
            if " ready." in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(ready_timeout):
            raise RuntimeError("worker did not become ready:\n" + "".join(lines[-40:]))
        proc.log_lines = lines
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(predicate, timeout=30, interval=0.2, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    log = "".join(getattr(proc, "log_lines", [])[-40:]) if proc else ""
    raise AssertionError(f"condition not met within {timeout}s\n{log}")
