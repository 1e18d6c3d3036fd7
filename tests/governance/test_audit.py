"""The audit log is append-only and its hash chain exposes any direct change to the table."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from governance import audit, services
from governance.models import AppendOnlyError, AuditChainHead, AuditEvent

pytestmark = pytest.mark.django_db


def write_events(actor, n):
    for i in range(n):
        with transaction.atomic():
            audit.record(actor=actor, action="test.write", object_type="test.thing", object_id=str(i),
                         object_label=f"thing {i}", after={"i": i, "note": "ünïcode"})


@pytest.fixture
def chain(cast):
    write_events(cast["author"], 5)
    return list(AuditEvent.objects.order_by("seq"))


def raw(sql, params=()):
    """Tamper as someone with full database rights would: on PostgreSQL that means switching off the
    append-only trigger first (session_replication_role needs a superuser, as the tests run)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = origin")


def verify_fails_with(*fragments):
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_events_form_an_intact_chain(chain, capsys):
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    assert chain[0].prev_hash == "0" * 64
    for previous, event in zip(chain, chain[1:], strict=False):
        assert event.prev_hash == previous.hash
    call_command("verify_audit")
    assert "5 event(s) verified" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_record_refuses_to_run_outside_a_transaction(cast):
    with pytest.raises(RuntimeError, match="inside the write's transaction"):
        audit.record(actor=cast["author"], action="test.write")
    assert AuditEvent.objects.count() == 0


def test_event_is_rolled_back_with_its_write(cast):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit.record(actor=cast["author"], action="test.write")
        1 / 0  # noqa: B018  the write fails after the event was recorded
    assert AuditEvent.objects.count() == 0
    assert AuditChainHead.objects.get().seq == 0


def test_a_deleted_chain_head_stops_every_write_until_verified(chain, cast):
    """Without its head the chain could restart from genesis and hide what came before: writes must refuse."""
    AuditChainHead.objects.all().delete()
    with pytest.raises(RuntimeError, match="head is missing"), transaction.atomic():
        audit.record(actor=cast["author"], action="test.write")
    assert not AuditChainHead.objects.exists()  # the refused write did not leave a fresh head behind
    assert AuditEvent.objects.count() == len(chain)


def test_model_refuses_update_and_delete(chain):
    event = chain[0]
    event.action = "something.else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.write"


def test_verify_detects_a_modified_row(chain):
    raw("UPDATE governance_auditevent SET object_label = %s WHERE seq = 3", ["tampered"])
    verify_fails_with("seq=3", "modified")


def test_verify_detects_modified_changes_json(chain):
    raw("UPDATE governance_auditevent SET changes = %s WHERE seq = 2", ['{"after": {"i": 99}}'])
    verify_fails_with("seq=2", "modified")


def test_verify_detects_a_deleted_row_in_the_middle(chain):
    raw("DELETE FROM governance_auditevent WHERE seq = 3")
    verify_fails_with("seq=4", "deleted")


def test_verify_detects_deleted_rows_at_the_end(chain):
    raw("DELETE FROM governance_auditevent WHERE seq >= 4")
    verify_fails_with("chain head", "seq=5")


def test_verify_detects_an_inserted_row(chain):
    e = chain[1]
    raw(
        "INSERT INTO governance_auditevent (seq, created_at, actor_username, action, object_type, object_id,"
        " object_label, changes, user_agent, channel, prev_hash, hash)"
        " VALUES (%s, %s, '', 'forged', '', '', '', '{}', '', 'system', %s, %s)",
        [99, e.created_at, e.hash, "f" * 64],
    )
    verify_fails_with("seq=99")


def test_verify_detects_an_insertion_that_renumbers_the_rest(chain):
    # An attacker shifts events 3..5 up by one and slips a forged event in at seq 3.
    for seq in (5, 4, 3):
        raw("UPDATE governance_auditevent SET seq = seq + 1 WHERE seq = %s", [seq])
    raw(
        "INSERT INTO governance_auditevent (seq, created_at, actor_username, action, object_type, object_id,"
        " object_label, changes, user_agent, channel, prev_hash, hash)"
        " VALUES (3, %s, 'mallory', 'forged', '', '', '', '{}', '', 'system', %s, %s)",
        [chain[2].created_at, chain[1].hash, "e" * 64],
    )
    verify_fails_with("seq=3", "modified")


def test_verify_detects_reordered_rows(chain):
    raw("UPDATE governance_auditevent SET seq = 1000 WHERE seq = 2")
    raw("UPDATE governance_auditevent SET seq = 2 WHERE seq = 4")
    raw("UPDATE governance_auditevent SET seq = 4 WHERE seq = 1000")
    verify_fails_with("seq=2")


def test_every_service_write_records_exactly_one_event(cast):
    token, _ = services.api_token_create(actor=cast["viewer"], name="ci")
    services.api_token_revoke(actor=cast["viewer"], token_id=token.pk)
    assert AuditEvent.objects.filter(action="token.create", object_id=str(token.pk)).count() == 1
    event = AuditEvent.objects.get(action="token.revoke", object_id=str(token.pk))
    assert event.actor_username == "viewer"
    assert event.changes["after"]["revoked_at"]
    call_command("verify_audit")
