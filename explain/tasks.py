import logging
import socket
import threading

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings

from governance.choices import Channel
from governance.context import RequestMeta, acting_as

logger = logging.getLogger(__name__)


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
    """Pay SHAP's one-off numba compilation (~6 s, more on a loaded machine) once per worker process, in the
    background. Doing it in this signal handler blocked the pool process past Celery's 4 s
    worker_proc_alive_timeout: a replacement for a crashed process was then never ready and no job ran again.
    A job that starts during the warm-up simply waits on numba's compile lock."""
    if not settings.JOB_WARM_UP:
        return
    threading.Thread(target=_warm_up_quietly, name="bulwark-warm-up", daemon=True).start()


def _warm_up_quietly() -> None:
    from .analyses import warm_up as analyses_warm_up

    try:
        seconds = analyses_warm_up()
    except Exception:  # a failed warm-up only means the first SHAP job pays the compilation
        logger.warning("SHAP warm-up failed; the first SHAP job will compile instead", exc_info=True)
        return
    logger.info("SHAP warm-up done in %.1f s", seconds)
