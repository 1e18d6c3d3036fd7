"""Someone with database write access but without the audit key cannot rewrite the audit chain unseen.

The attacks that passed `verify_audit` before: editing a row and recomputing every later hash; deleting a
row, renumbering and recomputing; truncating the tail (and moving the head back). The chain is now keyed
(HMAC), its head is checkpointed with signatures outside the database, and PostgreSQL refuses UPDATE/DELETE.
"""

import contextlib
import hashlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from governance import audit
from governance.models import AuditChainHead, AuditEvent
from tests.governance.test_audit import raw, write_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(cast, tmp_path, settings):
    settings.ATTESTATION_KEY_FILE = tmp_path / "keys" / "signing.pem"
    write_events(cast["author"], 6)
    return list(AuditEvent.objects.order_by("seq"))


def _recompute_from(seq: int, hasher):
    """What an attacker does after editing: rebuild prev_hash/hash of every event from `seq` on."""
    previous = AuditEvent.objects.get(seq=seq - 1).hash if seq > 1 else "0" * 64
    for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
        event.prev_hash = previous
        digest = hasher(audit.canonical_bytes(event))
        raw("UPDATE governance_auditevent SET prev_hash = %s, hash = %s WHERE id = %s", [previous, digest, event.pk])
        previous = digest
    raw("UPDATE governance_auditchainhead SET seq = (SELECT MAX(seq) FROM governance_auditevent), hash = %s",
        [previous])


def _fails(*fragments):
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    for fragment in fragments:
        assert fragment in str(excinfo.value), str(excinfo.value)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def test_an_edited_row_with_every_later_hash_recomputed_is_detected(chain):
    raw("UPDATE governance_auditevent SET object_label = %s WHERE seq = 3", ["nothing to see"])
    _recompute_from(3, sha256)
    _fails("seq=3", "without the key")


def test_a_deleted_row_renumbered_and_recomputed_is_detected(chain):
    raw("DELETE FROM governance_auditevent WHERE seq = 2")
    for seq in range(3, 7):  # one row at a time: PostgreSQL checks the unique seq per row
        raw("UPDATE governance_auditevent SET seq = %s WHERE seq = %s", [seq - 1, seq])
    _recompute_from(2, sha256)
    _fails("seq=2", "without the key")


def test_a_recomputation_with_a_guessed_key_is_detected(chain):
    import hmac

    raw("UPDATE governance_auditevent SET actor_username = 'nobody' WHERE seq = 4")
    _recompute_from(4, lambda data: hmac.new(b"guess", data, hashlib.sha256).hexdigest())
    _fails("seq=4")


def test_a_truncated_tail_is_detected_by_the_last_checkpoint(chain, audit_checkpoint_file):
    signed = audit.checkpoint()
    assert signed["seq"] == 6 and json.loads(audit_checkpoint_file.read_text())["hash"] == chain[-1].hash
    call_command("verify_audit")
    # Cut the chain back to seq 4 (the checkpoint event too) and move the head: a valid, shorter chain.
    raw("DELETE FROM governance_auditevent WHERE seq > 4")
    raw("UPDATE governance_auditchainhead SET seq = 4, hash = %s", [chain[3].hash])
    _fails("vouches for seq=6", "truncation")


def test_a_checkpoint_kept_outside_catches_truncation_even_when_the_local_file_is_lost(chain, tmp_path,
                                                                                       audit_checkpoint_file):
    audit.checkpoint()
    exported = tmp_path / "offsite.jsonl"
    exported.write_text(audit_checkpoint_file.read_text())
    audit_checkpoint_file.unlink()
    raw("DELETE FROM governance_auditevent WHERE seq > 5")
    raw("UPDATE governance_auditchainhead SET seq = 5, hash = %s", [chain[4].hash])
    with pytest.raises(CommandError, match="truncation"):
        call_command("verify_audit", "--checkpoints", str(exported))


def test_a_forged_checkpoint_is_detected(chain, audit_checkpoint_file):
    audit.checkpoint()
    line = json.loads(audit_checkpoint_file.read_text())
    line["seq"] = 2
    audit_checkpoint_file.write_text(json.dumps(line) + "\n")
    _fails("signature does not verify")


def test_a_chain_rewritten_up_to_a_checkpoint_is_detected_even_with_the_key(chain, settings):
    """Checkpoints also catch an insider who has the key: the signed head pins what the chain was."""
    import hmac

    audit.checkpoint()
    raw("UPDATE governance_auditevent SET object_label = 'rewritten' WHERE seq = 2")
    key = settings.AUDIT_HMAC_KEY.encode()
    _recompute_from(2, lambda data: hmac.new(key, data, hashlib.sha256).hexdigest())
    _fails("vouches for a different event at seq=6")


def test_checkpoints_are_taken_by_a_task_and_audited(chain):
    from governance.tasks import audit_checkpoint

    signed = audit_checkpoint()
    event = AuditEvent.objects.get(action="audit.checkpoint")
    assert event.changes["checkpoint"]["signature"] == signed["signature"]
    call_command("verify_audit")


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_of_audit_rows(chain):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    for sql in ("UPDATE governance_auditevent SET action = 'x' WHERE seq = 1",
                "DELETE FROM governance_auditevent WHERE seq = 1"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert AuditEvent.objects.get(seq=1).action == "test.write"
    assert AuditChainHead.objects.get().seq == 6


def test_the_migration_rekeys_an_intact_unkeyed_chain_and_refuses_a_broken_one(chain):
    from importlib import import_module

    from django.db.migrations.loader import MigrationLoader

    apps = MigrationLoader(connection).project_state(("governance", "0010_tokens_expire")).apps
    rekey = import_module("governance.migrations.0011_audit_hmac_chain").rekey
    _recompute_from(1, sha256)  # the chain as the previous release wrote it
    with pytest.raises(CommandError):
        call_command("verify_audit")
    with _without_trigger():  # the real migration runs before the trigger's
        rekey(apps, None)
    call_command("verify_audit")
    _recompute_from(1, sha256)
    raw("UPDATE governance_auditevent SET object_label = 'edited' WHERE seq = 2")  # tampered under the old chain
    with pytest.raises(RuntimeError, match="broken at seq=2"), _without_trigger():
        rekey(apps, None)


@contextlib.contextmanager
def _without_trigger():
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = origin")
