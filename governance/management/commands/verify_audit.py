from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from governance import audit


class Command(BaseCommand):
    help = ("Walk the keyed audit chain and hold it against every signed checkpoint (AUDIT_CHECKPOINT_FILE, the "
            "log's own, and any --checkpoints FILE exported elsewhere); exit non-zero naming the first problem.")

    def add_arguments(self, parser):
        parser.add_argument("--checkpoints", action="append", default=[], type=Path,
                            help="A checkpoint file kept outside Bulwark (JSON lines); may repeat.")

    def handle(self, *args, **options):
        extra = []
        for path in options["checkpoints"]:
            if not path.exists():
                raise CommandError(f"No checkpoint file at {path}.")
            extra += audit.file_checkpoints(path)
        checked, problem = audit.verify_chain(checkpoints=audit.all_checkpoints() + extra)
        if problem is not None:
            raise CommandError(f"Audit chain BROKEN after {checked} good event(s): {problem}")
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {checked} event(s) verified."))
