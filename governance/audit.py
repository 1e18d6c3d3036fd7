"""The tamper-evident audit log: append an event to the keyed hash chain, checkpoint it, and verify it.

Every service calls :func:`record` inside its own transaction, so an event exists exactly
when its write does. Appends lock the single chain-head row, so concurrent writers on
PostgreSQL queue up behind each other instead of forking the chain.

Each event's `hash` is HMAC-SHA256, keyed with `AUDIT_HMAC_KEY` (held outside the database), over its
content and the previous event's hash: editing, inserting, deleting or renumbering events and recomputing
the chain needs the key. What the key cannot show is a chain cut short at its end (the head row can be moved
back to an earlier, valid event), so :func:`checkpoint` periodically signs the head (seq + hash) with the
Ed25519 signing key, appends it to `AUDIT_CHECKPOINT_FILE` (meant for append-only or external storage) and
to the log; :func:`verify_chain` checks every checkpoint it can find against the chain. On PostgreSQL a
trigger also refuses UPDATE and DELETE on the table (migration 0012).
"""

import base64
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC

from cryptography.exceptions import InvalidSignature
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from .context import current_meta
from .models import GENESIS_HASH, AuditChainHead, AuditEvent

HASHED_FIELDS = (
    "seq",
    "created_at",
    "actor_id",
    "actor_username",
    "action",
    "object_type",
    "object_id",
    "object_label",
    "changes",
    "ip_address",
    "user_agent",
    "channel",
    "prev_hash",
)


def _jsonable(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def canonical_bytes(event: AuditEvent) -> bytes:
    payload = {}
    for field in HASHED_FIELDS:
        value = getattr(event, field)
        if field == "created_at":
            value = value.astimezone(UTC).isoformat(timespec="microseconds")
        payload[field] = value
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _key() -> bytes:
    return settings.AUDIT_HMAC_KEY.encode()


def compute_hash(event: AuditEvent, key: bytes | None = None) -> str:
    return hmac.new(key if key is not None else _key(), canonical_bytes(event), hashlib.sha256).hexdigest()


def describe(obj) -> tuple[str, str, str]:
    if obj is None:
        return "", "", ""
    return obj._meta.label_lower, str(obj.pk), str(obj)[:255]


def record(
    *,
    actor,
    action: str,
    obj=None,
    object_type: str | None = None,
    object_id: str | None = None,
    object_label: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    extra: dict | None = None,
) -> AuditEvent:
    """Append one event. Must run inside the transaction of the write it describes."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record() must be called inside the write's transaction")
    o_type, o_id, o_label = describe(obj)
    changes = {}
    if before is not None:
        changes["before"] = before
    if after is not None:
        changes["after"] = after
    if extra:
        changes.update(extra)
    meta = current_meta()
    actor = actor if getattr(actor, "is_authenticated", False) else None

    head = _locked_head()
    event = AuditEvent(
        seq=head.seq + 1,
        created_at=timezone.now(),
        actor=actor,
        actor_username=actor.get_username() if actor else "",
        action=action,
        object_type=object_type if object_type is not None else o_type,
        object_id=str(object_id if object_id is not None else o_id),
        object_label=(object_label if object_label is not None else o_label)[:255],
        changes=_jsonable(changes),
        ip_address=meta.ip_address,
        user_agent=meta.user_agent,
        channel=meta.channel,
        prev_hash=head.hash,
    )
    event.hash = compute_hash(event)
    event.save(force_insert=True)
    AuditChainHead.objects.filter(pk=1).update(seq=event.seq, hash=event.hash)
    return event


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        try:
            with transaction.atomic():
                AuditChainHead.objects.create(pk=1)
        except IntegrityError:
            pass  # another writer created it first (and may have appended since): lock theirs below
        else:
            # We made the head. Events without a head mean it was deleted: refuse (this rolls the head back).
            # Checked only here: a writer that lost the race to create it would see the winner's events.
            if AuditEvent.objects.exists():
                raise RuntimeError("The audit chain head is missing while events exist; run verify_audit.")
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


@dataclass
class ChainProblem:
    seq: int | None
    event_id: int | None
    reason: str

    def __str__(self):
        where = f"event seq={self.seq} (id={self.event_id})" if self.seq is not None else "chain head"
        return f"{where}: {self.reason}"


def verify_chain(batch_size: int = 2000, checkpoints: list[dict] | None = None) -> tuple[int, ChainProblem | None]:
    """Walk the chain in order, then hold it against every signed checkpoint (the file's and the log's own).
    Returns (events checked, first problem or None)."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    last_id = None
    key = _key()
    hashes: dict[int, str] = {}
    wanted = {c["seq"] for c in (checkpoints if checkpoints is not None else all_checkpoints())}
    for event in AuditEvent.objects.order_by("seq", "id").iterator(chunk_size=batch_size):
        if event.seq != expected_seq:
            reason = (
                f"sequence jumps from {expected_seq - 1} to {event.seq}: events were deleted"
                if event.seq > expected_seq
                else f"sequence {event.seq} appears out of order: events were inserted or reordered"
            )
            return checked, ChainProblem(event.seq, event.pk, reason)
        if event.prev_hash != prev_hash:
            return checked, ChainProblem(
                event.seq, event.pk, "prev_hash does not match the previous event's hash: the chain was altered"
            )
        if not hmac.compare_digest(compute_hash(event, key), event.hash):
            return checked, ChainProblem(
                event.seq, event.pk, "stored hash does not match its content under the audit key: the event was "
                "modified, or the chain was recomputed without the key"
            )
        if event.seq in wanted:
            hashes[event.seq] = event.hash
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
        last_id = event.pk
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None:
        return checked, ChainProblem(None, None, "the chain head row is missing")
    if head.seq != expected_seq - 1 or head.hash != prev_hash:
        return checked, ChainProblem(
            None,
            last_id,
            f"head says the last event is seq={head.seq} but the log ends at seq={expected_seq - 1}: "
            "events at the end were deleted or the head was altered",
        )
    problem = _check_checkpoints(checkpoints if checkpoints is not None else all_checkpoints(), hashes,
                                 expected_seq - 1)
    return checked, problem


# --- checkpoints --------------------------------------------------------------------------------------------
checkpoint_log = logging.getLogger("bulwark.audit.checkpoint")


def checkpoint() -> dict:
    """Sign the current head and publish it: an `audit.checkpoint` event, a line appended to the checkpoint file,
    and a log record. Returns the signed checkpoint."""
    from . import attestation

    with transaction.atomic():
        head = _locked_head()
        payload = {"type": "bulwark.audit-checkpoint/v1", "seq": head.seq, "hash": head.hash,
                   "at": timezone.now().astimezone(UTC).isoformat(timespec="seconds")}
        signature, fingerprint = attestation.sign(payload)
        signed = {**payload, "signature": signature, "key_fingerprint": fingerprint}
        record(actor=None, action="audit.checkpoint", object_type="governance.auditevent",
               object_label="audit chain", extra={"checkpoint": signed})
    path = settings.AUDIT_CHECKPOINT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(json.dumps(signed, sort_keys=True) + "\n")
    checkpoint_log.info("audit checkpoint %s", json.dumps(signed, sort_keys=True))
    return signed


def file_checkpoints(path=None) -> list[dict]:
    path = path or settings.AUDIT_CHECKPOINT_FILE
    if not path.exists():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    out = []
    for number, line in enumerate(lines, 1):
        try:
            out.append({**json.loads(line), "_source": f"{path.name} line {number}"})
        except ValueError:
            out.append({"_source": f"{path.name} line {number}", "_malformed": True})
    return out


def all_checkpoints() -> list[dict]:
    logged = [
        {**e.changes["checkpoint"], "_source": f"audit event seq={e.seq}"}
        for e in AuditEvent.objects.filter(action="audit.checkpoint").only("seq", "changes").order_by("seq")
        if isinstance(e.changes, dict) and "checkpoint" in e.changes
    ]
    return file_checkpoints() + logged


def _check_checkpoints(checkpoints: list[dict], hashes: dict[int, str], last_seq: int) -> ChainProblem | None:
    from . import attestation

    public = None
    for item in checkpoints:
        source = item.get("_source", "checkpoint")
        if item.get("_malformed"):
            return ChainProblem(None, None, f"{source} is not a valid checkpoint")
        payload = {k: item.get(k) for k in ("type", "seq", "hash", "at")}
        if public is None:
            public = attestation.private_key().public_key()
        try:
            public.verify(base64.b64decode(item.get("signature", "")), attestation.canonical(payload))
        except (InvalidSignature, ValueError, TypeError):
            return ChainProblem(None, None, f"{source}: the checkpoint's signature does not verify: it was forged")
        seq = payload["seq"]
        if not isinstance(seq, int) or seq > last_seq:
            return ChainProblem(None, None, f"{source} vouches for seq={seq}, but the log ends at seq={last_seq}: "
                                "events at the end were deleted (truncation)")
        if seq and hashes.get(seq) != payload["hash"]:
            return ChainProblem(seq, None, f"{source} vouches for a different event at seq={seq}: the chain up "
                                "to it was rewritten")
    return None
