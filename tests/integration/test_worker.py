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


def test_uploaded_version_is_checked_by_the_worker(tmp_path, settings):
    import io

    from governance import services
    from governance.models import ModelVersion
    from tests.conftest import make_user
    from tests.ml import iris_csv, iris_skops

    author = make_user("worker_author", ["contributor"])
    model = services.model_create(actor=author, name="iris", title="Iris", task="classification")
    dataset = services.dataset_create(actor=author, fileobj=io.BytesIO(iris_csv()), filename="iris.csv",
                                      target_column="target")
    with running_worker() as worker:
        version = services.model_version_create(actor=author, model=model, fileobj=io.BytesIO(iris_skops()),
                                                filename="iris.skops", evaluation_dataset=dataset)
        checked = wait_for(
            lambda: ModelVersion.objects.filter(pk=version.pk, compat_status__in=["passed", "failed", "error"]).first(),
            timeout=60, proc=worker,
        )
    assert checked.compat_status == "passed", checked.compat_result
    assert checked.metrics["accuracy"] > 0.9
    assert checked.compat_result["rows"] == 150
