from collections import Counter

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from governance.artifacts import KeyRing, reencrypt
from governance.choices import Channel
from governance.context import RequestMeta, acting_as
from governance.models import StoredFile


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored artifact that is not under the active key (the FIRST entry of "
        "ARTIFACT_ENCRYPTION_KEYS). To rotate: put the new key FIRST, keep every old key after it, deploy, "
        "run this command, and remove an old key only once this command reports 0 failures and nothing "
        "left on that key. Each file is re-encrypted into a new blob and switched over in its own "
        "transaction (row lock + 'artifact.reencrypt' audit event); the old blob is deleted after the "
        "commit. Files already on the active key are skipped, so the command is idempotent, and an "
        "interrupted run leaves every file readable and can simply be run again. Exits non-zero if any "
        "file failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Only report what would be re-encrypted; change nothing."
        )
        parser.add_argument(
            "--batch", type=int, default=100, metavar="N",
            help="Fetch the ids of files to rotate N at a time (default 100); each file still commits on its own.",
        )

    def handle(self, *args, dry_run=False, batch=100, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        try:
            ring = KeyRing.from_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc))
        active = ring.active_id
        skipped = StoredFile.objects.filter(key_id=active).count()
        if dry_run:
            self._dry_run(ring, skipped)
            return

        rotated = 0
        failures: list[str] = []
        last_pk = 0
        with acting_as(RequestMeta(channel=Channel.CLI)):
            while True:
                pks = list(
                    StoredFile.objects.exclude(key_id=active)
                    .filter(pk__gt=last_pk)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:batch]
                )
                if not pks:
                    break
                last_pk = pks[-1]
                for pk in pks:
                    stored = StoredFile.objects.filter(pk=pk).first()
                    if stored is None:
                        continue  # deleted meanwhile
                    if stored.key_id == active:
                        skipped += 1  # rotated by a concurrent run since the ids were listed
                        continue
                    try:
                        reencrypt(stored, to_key_id=active, actor=None)
                    except Exception as exc:
                        failures.append(
                            f"StoredFile {stored.pk} {stored.original_name!r} ({stored.path}, key {stored.key_id!r}): "
                            f"{type(exc).__name__}: {exc}"
                        )
                    else:
                        rotated += 1
                        if options.get("verbosity", 1) >= 2:
                            self.stdout.write(f"re-encrypted StoredFile {stored.pk} ({stored.key_id} -> {active})")

        self.stdout.write(
            f"Re-encrypted {rotated} file(s) to key {active!r}; skipped {skipped} already on it; "
            f"{len(failures)} failed."
        )
        if failures:
            for line in failures:
                self.stderr.write(f"  FAILED {line}")
            raise CommandError(
                f"{len(failures)} file(s) could not be re-encrypted and are still on their old key; "
                "keep the old keys configured."
            )
        self.stdout.write(self.style.SUCCESS("Every stored file is on the active key."))

    def _dry_run(self, ring: KeyRing, skipped: int):
        pending = Counter(
            StoredFile.objects.exclude(key_id=ring.active_id).values_list("key_id", flat=True).iterator()
        )
        by_key = ", ".join(f"{key_id}: {n}" for key_id, n in sorted(pending.items())) or "none"
        self.stdout.write(
            f"Dry run: would re-encrypt {sum(pending.values())} file(s) to key {ring.active_id!r} ({by_key}); "
            f"{skipped} already on it."
        )
        missing = sorted(key_id for key_id in pending if key_id not in ring)
        if missing:
            raise CommandError(
                f"Files are encrypted with key(s) {', '.join(map(repr, missing))} which are not configured in "
                "ARTIFACT_ENCRYPTION_KEYS; they cannot be read or re-encrypted."
            )
