import io
import secrets
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from governance import services
from governance.choices import Channel, Role
from governance.context import RequestMeta, acting_as
from governance.models import RegisteredModel

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

    def add_arguments(self, parser):
        parser.add_argument("--no-models", action="store_true", help="Only the users, no demo models.")

    def handle(self, *args, no_models=False, **options):
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

        if not no_models:
            with acting_as(RequestMeta(channel=Channel.CLI)):
                self.seed_models()

    def seed_models(self):
        from governance.demo.models import build_demo_models

        owner = User.objects.get(username="contributor")
        missing = [name for name in DEMO_MODEL_NAMES if not RegisteredModel.objects.filter(name=name).exists()]
        if not missing:
            self.stdout.write("Demo models already registered.")
            return
        started = time.perf_counter()
        self.stdout.write("Training the demo models (once)…")
        for demo in build_demo_models():
            if demo.name not in missing:
                continue
            model = services.model_create(
                actor=owner, name=demo.name, title=demo.title, description=demo.description, task=demo.task,
                risk_tier=demo.risk_tier, team=demo.team, tags=demo.tags, card=demo.card,
                positive_class=demo.positive_class or "",
            )
            training = services.dataset_create(
                actor=owner, fileobj=io.BytesIO(demo.training_csv), filename=f"{demo.name}-train.csv",
                name=f"{demo.title} — training split", target_column=demo.target_column,
            )
            evaluation = services.dataset_create(
                actor=owner, fileobj=io.BytesIO(demo.evaluation_csv), filename=f"{demo.name}-eval.csv",
                name=f"{demo.title} — evaluation split", target_column=demo.target_column,
            )
            parent = None
            for spec in demo.versions:
                parent = services.model_version_create(
                    actor=owner, model=model, fileobj=io.BytesIO(spec.artifact), filename=spec.filename,
                    flavour=spec.flavour, evaluation_dataset=evaluation, training_dataset=training, parent=parent,
                    notes=spec.notes, metrics={},
                )
            self.stdout.write(f"  {demo.name}: {len(demo.versions)} versions")
            self.queue_analyses(owner, parent, everything=demo.name == "credit-scoring")
        self.seed_incident(owner)
        self.stdout.write(f"Demo models registered in {time.perf_counter() - started:.1f} s; "
                          "compatibility checks and analyses are queued for the worker.")

    def seed_incident(self, owner):
        from incidents.services import incident_open, incident_transition

        manager = User.objects.get(username="incident")
        model = RegisteredModel.objects.get(name="credit-scoring")
        incident = incident_open(
            actor=owner, title="Approval rate for applicants with missing income jumped", severity="sev3",
            category="drift", affected_models=[model], affected_versions=list(model.versions.all()[:1]),
            commander=manager, description="Monitoring shows applicants without a declared income are approved "
                                           "twice as often as last month. Check the imputation of Income.",
            detection_source="monitoring", harm_level="issue", harm_domain="financial",
            technical_failure="distribution_shift", affected_parties="Loan applicants without declared income.",
        )
        incident_transition(actor=manager, incident=incident, to="triaged")


    def queue_analyses(self, owner, version, *, everything: bool):
        """So a newcomer finds finished reports shortly after start: the worker picks these up first."""
        from explain.kinds import EXPLAINABILITY as EXPLAIN_KINDS
        from explain.kinds import KINDS as ANALYSES
        from explain.services import job_enqueue

        robustness = ["cross_validation", "stress_test", "adversarial_evasion", "model_extraction",
                      "membership_inference", "vulnerability_scan"]
        kinds = ([k for k in ANALYSES if k not in robustness and k in EXPLAIN_KINDS] + robustness if everything
                 else ["shap_global", "permutation_importance"])
        for kind in kinds:
            job_enqueue(actor=owner, version=version, kind=kind, params={"max_rows": 500})


DEMO_MODEL_NAMES = ["credit-scoring", "breast-cancer", "wine", "diabetes"]
