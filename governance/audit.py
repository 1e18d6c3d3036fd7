"""The tamper-evident audit log: append an event to the hash chain, and verify the chain.

Every service calls :func:`record` inside its own transaction, so an event exists exactly
when its write does. Appends lock the single chain-head row, so concurrent writers on
PostgreSQL queue up behind each other instead of forking the chain.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

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


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


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


def verify_chain(batch_size: int = 2000) -> tuple[int, ChainProblem | None]:
    """Walk the chain in order. Returns (events checked, first problem or None)."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    last_id = None
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
        if compute_hash(event) != event.hash:
            return checked, ChainProblem(
                event.seq, event.pk, "stored hash does not match its content: the event was modified"
            )
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
    return checked, None
