"""The transactional outbox: background work never depends on the broker being up at the moment it is asked for.

`enqueue()` writes an OutboxMessage inside the caller's transaction, so the work exists exactly when the rows it
concerns do (a rolled-back request leaves no message, a committed one always has one). After commit, `deliver()`
hands it to the broker; if the broker is unreachable the request still succeeds and the message stays pending.
The sweep (beat, every `OUTBOX_SWEEP_SECONDS`; and at worker start) re-delivers pending messages, so an outage
delays work but never loses it. Delivery is at least once: every task is idempotent on its row (a job is
claimed once; a compatibility check re-run gives the same result).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import OutboxMessage

log = logging.getLogger(__name__)
CLAIM_SECONDS = 60  # a sender that died mid-delivery gives its claim up after this long
# Fail fast when the broker is down: the sweep retries, a web request must not hang on it.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


def enqueue(*, task: str, args: list, queue: str, task_id: str = "", options: dict | None = None) -> OutboxMessage:
    message = OutboxMessage.objects.create(task=task, args=list(args), queue=queue, options=options or {},
                                           task_id=task_id or str(uuid.uuid4()))
    transaction.on_commit(lambda: deliver(message.pk), robust=True)
    return message


def _claim(message_id: int) -> bool:
    now = timezone.now()
    return bool(OutboxMessage.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - timedelta(seconds=CLAIM_SECONDS)),
        pk=message_id, sent_at__isnull=True,
    ).update(claimed_at=now))


def deliver(message_id: int) -> bool:
    """Hand one message to the broker; True when it was sent (by this call)."""
    return _deliver(message_id) == "sent"


def _deliver(message_id: int) -> str:
    """"sent", "failed" (the broker refused or is unreachable), or "skipped" (sent or claimed elsewhere)."""
    if not _claim(message_id):
        return "skipped"
    message = OutboxMessage.objects.get(pk=message_id)
    try:
        current_app.send_task(message.task, args=message.args, queue=message.queue, task_id=message.task_id,
                      retry=True, retry_policy=PUBLISH_RETRY_POLICY, **message.options)
    except Exception as exc:  # any broker or transport error: the sweep will try again
        OutboxMessage.objects.filter(pk=message_id).update(
            claimed_at=None, attempts=message.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000])
        log.warning("broker unreachable; %s stays in the outbox: %s", message, exc)
        return "failed"
    OutboxMessage.objects.filter(pk=message_id).update(sent_at=timezone.now(), attempts=message.attempts + 1,
                                                       last_error="")
    return "sent"


def sweep(*, min_age_seconds: float | None = None, limit: int = 500) -> dict:
    """Deliver pending messages older than `min_age_seconds` (the after-commit sender gets the first go).
    Stops at the first broker failure: the rest would fail the same way."""
    min_age = settings.OUTBOX_MIN_AGE_SECONDS if min_age_seconds is None else min_age_seconds
    cutoff = timezone.now() - timedelta(seconds=min_age)
    pending = list(OutboxMessage.objects.filter(sent_at__isnull=True, created_at__lte=cutoff)
                   .order_by("id").values_list("pk", flat=True)[:limit])
    sent = 0
    for message_id in pending:
        outcome = _deliver(message_id)
        sent += outcome == "sent"
        if outcome == "failed":
            break  # the broker is still down
    purge_sent()
    return {"pending": len(pending), "sent": sent}


def purge_sent() -> int:
    cutoff = timezone.now() - timedelta(days=settings.OUTBOX_KEEP_SENT_DAYS)
    deleted, _ = OutboxMessage.objects.filter(sent_at__lt=cutoff).delete()
    return deleted


def pending_count() -> int:
    return OutboxMessage.objects.filter(sent_at__isnull=True).count()
