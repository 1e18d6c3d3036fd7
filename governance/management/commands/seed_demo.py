import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from governance import services
from governance.choices import Channel, Role
from governance.context import RequestMeta, acting_as

User = get_user_model()

DEMO_USERS = [
    ("admin", "Ada", "Admin", [Role.ADMIN]),
    ("contributor", "Carl", "Contributor", [Role.CONTRIBUTOR]),
    ("reviewer", "Rita", "Reviewer", [Role.REVIEWER]),
    ("reviewer2", "Rob", "Reviewer", [Role.REVIEWER]),
    ("incident", "Ines", "Incident-Manager", [Role.INCIDENT_MANAGER]),
    ("viewer", "Vera", "Viewer", [Role.VIEWER]),
]


class Command(BaseCommand):
    help = "Create the demo users (one per role) and demo data. Idempotent: existing rows are kept."

    def handle(self, *args, **options):
        created = []
        with acting_as(RequestMeta(channel=Channel.CLI)):
            for username, first, last, roles in DEMO_USERS:
                if User.objects.filter(username=username).exists():
                    continue
                password = secrets.token_urlsafe(12)
                services.user_create(
                    actor=None, username=username, password=password, roles=roles,
                    first_name=first, last_name=last, email=f"{username}@bulwark.invalid",
                    check_permission=False,
                )
                created.append((username, ", ".join(roles), password))
        if created:
            self.stdout.write(self.style.WARNING(
                "Demo users created. Their passwords are shown ONCE, here; note them now:"
            ))
            for username, roles, password in created:
                self.stdout.write(f"  {username:<12} {roles:<18} {password}")
        else:
            self.stdout.write("Demo users already exist (passwords were printed when they were created; "
                              "reset one with: python manage.py changepassword USERNAME).")
