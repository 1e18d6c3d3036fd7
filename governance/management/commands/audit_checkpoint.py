import json

from django.core.management.base import BaseCommand

from governance import audit


class Command(BaseCommand):
    help = "Sign the audit chain head and append it to AUDIT_CHECKPOINT_FILE (beat does this periodically)."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(audit.checkpoint(), sort_keys=True))
