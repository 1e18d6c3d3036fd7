"""Two writers at once on PostgreSQL must queue up on the chain tail, never fork it."""

import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from governance import audit
from governance.models import AuditEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

WRITERS = 8
EVENTS_EACH = 15


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent appends are a PostgreSQL concern (SQLite serialises writers itself)")


@pytest.mark.parametrize("start", ["with a head", "on an empty chain (the first writers create the head)"])
def test_concurrent_writers_keep_one_linear_chain(start):
    from governance.models import AuditChainHead

    if start != "with a head":
        AuditChainHead.objects.all().delete()
        assert not AuditEvent.objects.exists()
    else:
        with transaction.atomic():
            audit._locked_head()
    barrier = threading.Barrier(WRITERS)
    errors = []

    def writer(n):
        try:
            barrier.wait()
            for i in range(EVENTS_EACH):
                with transaction.atomic():
                    audit.record(actor=None, action="test.concurrent", object_id=f"{n}-{i}")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, WRITERS * EVENTS_EACH + 1))
    assert len({e.prev_hash for e in events}) == len(events), "two events share a parent: the chain forked"
    call_command("verify_audit")
