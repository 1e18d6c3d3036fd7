from django.core.management.base import BaseCommand, CommandError

from governance.audit import verify_chain


class Command(BaseCommand):
    help = "Walk the audit hash chain; exit non-zero naming the first broken event."

    def handle(self, *args, **options):
        checked, problem = verify_chain()
        if problem is not None:
            raise CommandError(f"Audit chain BROKEN after {checked} good event(s): {problem}")
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {checked} event(s) verified."))
