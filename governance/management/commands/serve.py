import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server and a real Celery worker (with beat) together; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, addr, concurrency, **options):
        python = sys.executable
        env = os.environ.copy()
        worker = subprocess.Popen(
            [python, "-m", "celery", "-A", "config", "worker", "-B", "-Q", "light,heavy",
             "--concurrency", str(concurrency), "--loglevel", "INFO",
             "--schedule", str(settings.DATA_DIR / "celerybeat-schedule"),
             "--hostname", "bulwark-dev@%h"],
            env=env,
        )
        web = subprocess.Popen([python, "manage.py", "runserver", "--noreload", addr], env=env)
        self.stdout.write(self.style.SUCCESS(
            f"Bulwark is running on http://{addr}/  (worker pid {worker.pid}, web pid {web.pid}). Ctrl-C stops both."
        ))
        children = [web, worker]
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(p.poll() is None for p in children):
                time.sleep(0.5)
        finally:
            for p in children:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 20
            for p in children:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
        failed = [p for p in children if p.returncode not in (0, -signal.SIGTERM, -signal.SIGINT)]
        self.stdout.write("Stopped web server and worker.")
        if failed and not stopping:
            sys.exit(1)
