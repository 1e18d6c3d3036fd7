import socket

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings

from governance.choices import Channel
from governance.context import RequestMeta, acting_as


@shared_task(name="explain.run_analysis_job", acks_late=True, reject_on_worker_lost=True,
             soft_time_limit=settings.JOB_SOFT_TIME_LIMIT, time_limit=settings.JOB_HARD_TIME_LIMIT, bind=True)
def run_analysis_job(self, job_id: int) -> None:
    from .services import job_execute

    hostname = getattr(self.request, "hostname", None) or socket.gethostname()
    with acting_as(RequestMeta(channel=Channel.WORKER)):
        job_execute(job_id=job_id, hostname=hostname)


@shared_task(name="explain.reap_stale_jobs", queue="light")
def reap_stale_jobs() -> dict:
    from .services import job_reap

    with acting_as(RequestMeta(channel=Channel.WORKER)):
        return job_reap()


@worker_process_init.connect
def warm_up(**kwargs):
    """Pay SHAP's one-off numba compilation once per worker process, not in the first job."""
    if not settings.JOB_WARM_UP:
        return
    from .analyses import warm_up as analyses_warm_up

    analyses_warm_up()
