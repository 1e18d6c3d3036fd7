"""Analysis jobs through the real broker and a real worker process — including one killed mid-job."""

import io
import os
import signal
import subprocess
import time
from datetime import timedelta

import pandas as pd
import pytest
import skops.io
from sklearn.ensemble import RandomForestClassifier

from explain import services as jobs
from explain.models import AnalysisJob
from governance import services
from tests.conftest import make_user
from tests.ml import iris_csv, iris_frame, iris_skops

from .worker import running_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
FAST_WORKER = {"JOB_WARM_UP": "0", "JOB_HEARTBEAT_SECONDS": "1"}


@pytest.fixture
def author():
    return make_user("job_author", ["contributor"])


def register(author, name, model_bytes, csv_bytes):
    model = services.model_create(actor=author, name=name, title=name, task="classification")
    dataset = services.dataset_create(actor=author, fileobj=io.BytesIO(csv_bytes), filename=f"{name}.csv",
                                      target_column="target")
    return services.model_version_create(actor=author, model=model, fileobj=io.BytesIO(model_bytes),
                                         filename=f"{name}.skops", evaluation_dataset=dataset)


def finished(job_id):
    return AnalysisJob.objects.filter(pk=job_id, status__in=["succeeded", "failed", "cancelled"]).first()


def test_a_job_runs_on_a_real_worker(author):
    version = register(author, "iris", iris_skops(), iris_csv())
    with running_worker(extra_env=FAST_WORKER) as worker:
        job = jobs.job_enqueue(actor=author, version=version, kind="permutation_importance",
                               params={"n_repeats": 3})
        job = wait_for(lambda: finished(job.pk), timeout=90, proc=worker)
    assert job.status == "succeeded", job.error_message
    assert job.queue == "light" and job.worker_hostname.startswith("test-")


def test_a_job_whose_worker_process_is_killed_is_requeued_and_finishes(author):
    frame = pd.concat([iris_frame()] * 20, ignore_index=True)
    forest = RandomForestClassifier(n_estimators=200, random_state=0).fit(frame.drop(columns="target"),
                                                                         frame["target"])
    version = register(author, "slow", skops.io.dumps(forest), frame.to_csv(index=False).encode())
    with running_worker(extra_env=FAST_WORKER, concurrency=1) as worker:
        job = jobs.job_enqueue(actor=author, version=version, kind="permutation_importance",
                               params={"n_repeats": 40, "max_rows": 3000})
        wait_for(lambda: AnalysisJob.objects.filter(pk=job.pk, status="running", progress__gte=10).exists(),
                 timeout=90, proc=worker)
        children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
        assert children, "the worker has no pool process"
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
        time.sleep(3)  # the heartbeat stops with the process
        outcome = jobs.job_reap(stale_after=timedelta(seconds=2))
        assert outcome["requeued"] == [job.pk]
        job = wait_for(lambda: finished(job.pk), timeout=180, proc=worker)
    assert job.status == "succeeded", job.error_message
    assert job.attempts == 2
    assert job.log_lines.filter(message__contains="Re-queued").exists()


WORKER_ENV = {k: v for k, v in os.environ.items() if k == "JOB_WARM_UP"}


def pool_processes(worker) -> list[int]:
    return [int(pid) for pid in
            subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()]


def test_after_a_pool_process_is_killed_a_new_job_still_runs(author):
    """The fault: with SHAP's ~6 s warm-up in worker_process_init, the replacement for a SIGKILLed pool process
    never became ready (4 s worker_proc_alive_timeout): it hung on the filesystem broker and was killed in a loop
    on Redis, and no job ran again. The default warm-up is on here, as in production."""
    version = register(author, "iris", iris_skops(), iris_csv())
    with running_worker(extra_env={"JOB_HEARTBEAT_SECONDS": "1", **WORKER_ENV}, concurrency=1) as worker:
        first = jobs.job_enqueue(actor=author, version=version, kind="permutation_importance", params={"n_repeats": 2})
        assert wait_for(lambda: finished(first.pk), timeout=90, proc=worker).status == "succeeded"
        killed = pool_processes(worker)
        assert killed, "the worker has no pool process"
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: set(pool_processes(worker)) - set(killed), timeout=30, proc=worker)
        second = jobs.job_enqueue(actor=author, version=version, kind="permutation_importance",
                                  params={"n_repeats": 2})
        second = wait_for(lambda: finished(second.pk), timeout=60, proc=worker)
        assert second.status == "succeeded", second.error_message
        assert worker.poll() is None
        log = "".join(worker.log_lines)
    assert "Timed out waiting for UP message" not in log
