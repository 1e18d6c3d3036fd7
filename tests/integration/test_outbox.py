"""A broker outage delays work but never loses it: the transactional outbox, against a real private Redis.

The fault: enqueuing a job or uploading a version while the broker was unreachable answered 500 with an HTML
page and left the job `queued` (the check `pending`) for ever.
"""

import io
import shutil
import socket
import subprocess
import time

import pytest

from config.celery import app as celery_app
from explain.models import AnalysisJob
from governance import outbox, services
from governance.models import ModelVersion, OutboxMessage
from tests.conftest import make_user
from tests.ml import iris_csv, iris_skops, upload

from .worker import running_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
REDIS = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    def __init__(self, tmp_path):
        self.port = _free_port()
        self.dir = tmp_path
        self.proc = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        wait_for(self._answers, timeout=10)

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def _reconnect():
    """Make this process's Celery app publish to the broker its configuration now names."""
    from kombu import pools

    pools.reset()  # every cached connection and producer pool, for the old URL too
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def private_broker(tmp_path, settings, monkeypatch):
    if not REDIS:
        pytest.skip("redis-server is not installed")
    broker = PrivateRedis(tmp_path)
    # Read before the variable changes: Celery's broker_url prefers CELERY_BROKER_URL from the environment.
    saved = celery_app.conf.broker_url, settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS
    monkeypatch.setenv("CELERY_BROKER_URL", broker.url)
    settings.CELERY_BROKER_URL = broker.url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    celery_app.conf.broker_url = broker.url
    celery_app.conf.broker_transport_options = {}
    _reconnect()
    yield broker
    broker.stop()
    monkeypatch.undo()
    celery_app.conf.broker_url = saved[0]
    celery_app.conf.broker_transport_options = saved[2] or {}
    _reconnect()


@pytest.fixture
def author():
    return make_user("outbox_author", ["contributor"])


def test_work_asked_for_while_the_broker_is_down_runs_once_it_is_back(private_broker, author, api_as):
    client = api_as(author)
    services.model_create(actor=author, name="iris", title="Iris", task="classification")
    dataset = services.dataset_create(actor=author, fileobj=io.BytesIO(iris_csv()), filename="iris.csv",
                                      target_column="target")
    # The broker is down (never started): an upload and a job request both succeed, and their work waits.
    started = time.monotonic()
    response = client.post("/api/v1/models/iris/versions/", {"artifact": upload("iris.skops", iris_skops()),
                                                            "evaluation_dataset": dataset.pk}, format="multipart")
    assert response.status_code == 201, response.content[:500]
    response = client.post("/api/v1/jobs/", {"model": "iris", "version": 1, "kind": "permutation_importance",
                                             "params": {"n_repeats": 2}}, format="json")
    assert response.status_code == 201, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    assert time.monotonic() - started < 15  # failing fast, not hanging on the broker
    job = AnalysisJob.objects.get()
    pending = OutboxMessage.objects.filter(sent_at__isnull=True)
    assert {m.task for m in pending} == {"governance.run_compatibility_check", "explain.run_analysis_job"}
    assert all(m.last_error for m in pending)
    assert outbox.sweep(min_age_seconds=0) == {"pending": 2, "sent": 0}  # still down: nothing lost either

    private_broker.start()
    env = {"CELERY_BROKER_URL": private_broker.url, "JOB_WARM_UP": "0", "OUTBOX_SWEEP_SECONDS": "1",
           "OUTBOX_MIN_AGE_SECONDS": "0"}
    with running_worker(extra_env=env, purge=False, extra_args=["-B", "--schedule",
                                                                str(private_broker.dir / "beat")]) as worker:
        job = wait_for(lambda: AnalysisJob.objects.filter(pk=job.pk, status="succeeded").first(), timeout=90,
                       proc=worker)
        version = wait_for(lambda: ModelVersion.objects.filter(compat_status="passed").first(), timeout=60,
                           proc=worker)
    assert job.attempts == 1 and version.number == 1
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


def test_a_broker_that_goes_down_under_a_running_worker_delays_work_only(private_broker, author):
    model = services.model_create(actor=author, name="iris", title="Iris", task="classification")
    dataset = services.dataset_create(actor=author, fileobj=io.BytesIO(iris_csv()), filename="iris.csv",
                                      target_column="target")
    private_broker.start()
    env = {"CELERY_BROKER_URL": private_broker.url, "JOB_WARM_UP": "0", "OUTBOX_SWEEP_SECONDS": "1",
           "OUTBOX_MIN_AGE_SECONDS": "0"}
    with running_worker(extra_env=env, purge=False, extra_args=["-B", "--schedule",
                                                                str(private_broker.dir / "beat")]) as worker:
        private_broker.stop()
        version = services.model_version_create(actor=author, model=model, fileobj=io.BytesIO(iris_skops()),
                                                filename="iris.skops", evaluation_dataset=dataset)
        assert OutboxMessage.objects.get().sent_at is None
        time.sleep(2)
        private_broker.start()
        checked = wait_for(lambda: ModelVersion.objects.filter(pk=version.pk, compat_status="passed").first(),
                           timeout=90, proc=worker)
    assert checked.compat_result["rows"] == 150
