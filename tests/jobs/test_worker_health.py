"""/healthz tells a worker that accepts work but runs none from one that is merely busy or idle."""

from datetime import timedelta

import pytest
from django.utils import timezone

from explain import services as jobs
from explain.models import AnalysisJob

pytestmark = pytest.mark.django_db


def _queued_job(version, *, minutes_ago: float):
    job = jobs.job_enqueue(actor=version.author, version=version, kind="permutation_importance", params={})
    AnalysisJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    version.__class__.objects.filter(pk=version.pk).update(compat_status="passed", compat_checked_at=timezone.now())
    return job


def test_queued_job_with_no_work_done_for_the_stall_window_fails_the_health_check(client, iris_version, settings):
    settings.WORKER_STALL_SECONDS = 300
    _queued_job(iris_version, minutes_ago=6)
    response = client.get("/healthz")
    assert response.status_code == 503
    workers = response.json()["checks"]["workers"]
    assert workers["ok"] is False and "analysis jobs" in workers["error"] and "WORKER_STALL_SECONDS" in workers["error"]


def test_a_recent_heartbeat_of_a_long_job_means_the_workers_are_busy_not_stuck(client, iris_version, settings):
    settings.WORKER_STALL_SECONDS = 300
    _queued_job(iris_version, minutes_ago=30)
    running = _queued_job(iris_version, minutes_ago=40)
    now = timezone.now()
    AnalysisJob.objects.filter(pk=running.pk).update(status="running", started_at=now - timedelta(minutes=39),
                                                     heartbeat_at=now - timedelta(seconds=20))
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["workers"]["ok"] is True


def test_work_queued_for_less_than_the_stall_window_is_healthy(client, iris_version, settings):
    settings.WORKER_STALL_SECONDS = 300
    _queued_job(iris_version, minutes_ago=2)
    assert client.get("/healthz").status_code == 200


def test_compatibility_checks_that_never_run_fail_the_health_check(client, iris_version, settings):
    settings.WORKER_STALL_SECONDS = 60
    iris_version.__class__.objects.filter(pk=iris_version.pk).update(
        compat_status="pending", compat_checked_at=None, created_at=timezone.now() - timedelta(minutes=5))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "compatibility checks" in response.json()["checks"]["workers"]["error"]
