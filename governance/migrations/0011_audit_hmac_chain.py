"""Key the audit chain: every existing event's hash becomes HMAC-SHA256 under AUDIT_HMAC_KEY.

The old, unkeyed chain is verified first; a broken chain stops the migration (re-keying it would launder the
tampering): investigate with the previous release's `verify_audit`.
"""

import hashlib
import hmac
import json
from datetime import UTC

from django.conf import settings
from django.db import migrations

GENESIS = "0" * 64
FIELDS = ("seq", "created_at", "actor_id", "actor_username", "action", "object_type", "object_id", "object_label",
          "changes", "ip_address", "user_agent", "channel", "prev_hash")


def _canonical(event) -> bytes:
    payload = {}
    for field in FIELDS:
        value = getattr(event, field)
        if field == "created_at":
            value = value.astimezone(UTC).isoformat(timespec="microseconds")
        payload[field] = value
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def rekey(apps, schema_editor):
    AuditEvent = apps.get_model("governance", "AuditEvent")
    AuditChainHead = apps.get_model("governance", "AuditChainHead")
    key = settings.AUDIT_HMAC_KEY.encode()
    old_prev, new_prev = GENESIS, GENESIS
    for expected, event in enumerate(AuditEvent.objects.order_by("seq").iterator(chunk_size=2000), 1):
        if event.seq != expected or event.prev_hash != old_prev or \
                hashlib.sha256(_canonical(event)).hexdigest() != event.hash:
            raise RuntimeError(f"The audit chain is broken at seq={event.seq}; not re-keying it. Run verify_audit "
                               "with the previous release to see what changed.")
        old_prev = event.hash
        event.prev_hash = new_prev
        new_hash = hmac.new(key, _canonical(event), hashlib.sha256).hexdigest()
        AuditEvent.objects.filter(pk=event.pk).update(prev_hash=new_prev, hash=new_hash)
        new_prev = new_hash
    AuditChainHead.objects.filter(pk=1).update(hash=new_prev)


class Migration(migrations.Migration):
    dependencies = [("governance", "0010_tokens_expire")]
    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
