import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import transaction

from . import audit
from .choices import Channel
from .context import RequestMeta, acting_as


@shared_task(name="governance.verify_audit_chain", queue="light")
def verify_audit_chain() -> dict:
    """Walk the audit chain and record the outcome as an event (run periodically by beat)."""
    checked, problem = audit.verify_chain()
    outcome = {"checked": checked, "ok": problem is None, "problem": str(problem) if problem else ""}
    with acting_as(RequestMeta(channel=Channel.WORKER)), transaction.atomic():
        audit.record(actor=None, action="audit.verify", object_type="governance.auditevent",
                     object_label="audit chain", extra={"result": outcome})
    return outcome


@shared_task(name="governance.run_compatibility_check", queue="light", acks_late=True,
             soft_time_limit=600, time_limit=660)
def run_compatibility_check(version_id: int) -> None:
    from .services import version_compatibility_check

    with acting_as(RequestMeta(channel=Channel.WORKER)):
        version_compatibility_check(version_id=version_id)


@shared_task(name="governance.outbox_sweep", queue="light", ignore_result=True)
def outbox_sweep() -> dict:
    """Deliver what the outbox still holds (run by beat, and once when a worker starts)."""
    from . import outbox

    return outbox.sweep()


@worker_ready.connect
def sweep_outbox_on_start(sender=None, **kwargs):
    """A worker that starts after a broker outage delivers what waited, without waiting for beat."""
    from . import outbox

    try:
        outbox.sweep(min_age_seconds=0)
    except Exception:  # the worker starts whatever the outbox's state; beat sweeps again
        logging.getLogger(__name__).warning("outbox sweep at worker start failed", exc_info=True)


@shared_task(name="governance.audit_checkpoint", queue="light", ignore_result=True)
def audit_checkpoint() -> dict:
    """Sign and publish the audit chain head (run by beat every AUDIT_CHECKPOINT_SECONDS)."""
    with acting_as(RequestMeta(channel=Channel.WORKER)):
        return audit.checkpoint()
