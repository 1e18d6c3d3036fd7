"""A task travels through the real broker to a real worker process and writes to the database."""

import pytest
from django.db import transaction

from governance import audit
from governance.models import AuditEvent
from governance.tasks import verify_audit_chain

from .worker import running_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_worker_runs_the_audit_verification_task_end_to_end():
    with transaction.atomic():
        for i in range(3):
            audit.record(actor=None, action="test.write", object_id=str(i))

    with running_worker() as worker:
        verify_audit_chain.delay()
        event = wait_for(lambda: AuditEvent.objects.filter(action="audit.verify").first(), proc=worker)

    assert event.channel == "worker"
    assert event.changes["result"] == {"checked": 3, "ok": True, "problem": ""}
    assert event.seq == 4 and event.prev_hash == AuditEvent.objects.get(seq=3).hash
