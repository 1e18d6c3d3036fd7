import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.errors import DomainError
from governance import loading, services
from governance.choices import Channel, RiskTier, Task
from governance.context import RequestMeta, acting_as
from governance.models import ModelVersion, RegisteredModel


class Command(BaseCommand):
    help = (
        "Register a model file as a new version (creating the model if needed) and print the version number. "
        "For CI pipelines: stdout carries only the number."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--name", required=True, help="Model name (slug).")
        parser.add_argument("--as", dest="username", required=True, help="Username that registers it (audited).")
        parser.add_argument("--flavour", choices=list(loading.FLAVOUR_EXTENSIONS))
        parser.add_argument("--dataset", type=Path, help="Evaluation dataset (CSV or Parquet) to upload and link.")
        parser.add_argument("--target", default="", help="Target column of --dataset.")
        parser.add_argument("--title", help="Title, when the model is new.")
        parser.add_argument("--task", choices=Task.values, help="Task, when the model is new (else inferred).")
        parser.add_argument("--risk-tier", choices=RiskTier.values, default=RiskTier.MEDIUM)
        parser.add_argument("--parent", type=int, help="Parent version number (default: the latest version).")
        parser.add_argument("--notes", default="")

    def handle(self, *args, file, name, username, flavour, dataset, target, title, task, risk_tier, parent, notes,
               **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        if not file.is_file():
            raise CommandError(f"{file} is not a file.")
        # The file is scanned and loaded before anything is created, and everything runs in one transaction: a
        # rejected file leaves no empty model row (nor its audit event) behind.
        inferred = self._check_file(file, flavour)
        if task is not None and inferred is not None and task != inferred:
            raise CommandError(f"This is a {inferred} model, not {task}.")
        try:
            with acting_as(RequestMeta(channel=Channel.CLI)), transaction.atomic():
                model = RegisteredModel.objects.filter(name=name).first()
                if model is None:
                    if task is None:
                        task = inferred
                    if task is None:
                        raise CommandError("Cannot infer the task of this model; pass --task.")
                    model = services.model_create(actor=user, name=name, title=title or name, task=task,
                                                  risk_tier=risk_tier)
                    self.stderr.write(f"Registered new model {model.name} ({task}).")
                evaluation = None
                if dataset is not None:
                    with dataset.open("rb") as fh:
                        evaluation = services.dataset_create(actor=user, fileobj=fh, filename=dataset.name,
                                                             target_column=target)
                    self.stderr.write(f"Uploaded dataset #{evaluation.pk}: {evaluation.rows} rows.")
                parent_version = self._parent(model, parent)
                if evaluation is None and parent_version is not None:
                    evaluation = parent_version.evaluation_dataset
                with file.open("rb") as fh:
                    version = services.model_version_create(
                        actor=user, model=model, fileobj=fh, filename=file.name, flavour=flavour,
                        evaluation_dataset=evaluation,
                        training_dataset=parent_version.training_dataset if parent_version else None,
                        parent=parent_version, notes=notes,
                    )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"{model.name} v{version.number} sha256={version.artifact.sha256}")
        sys.stdout.write(f"{version.number}\n")

    def _parent(self, model, number):
        if number is None:
            return model.versions.order_by("-number").first()
        parent = ModelVersion.objects.filter(model=model, number=number).first()
        if parent is None:
            raise CommandError(f"{model.name} has no version {number}.")
        return parent

    def _check_file(self, file, flavour):
        """Scan and load the file (refusing it as the upload would); its task, if it has one."""
        data = file.read_bytes()
        flavour = flavour or loading.detect_flavour(file.name, data[:4096])
        if flavour is None:
            raise CommandError("Cannot tell the flavour of this file; pass --flavour.")
        try:
            loaded = loading.load_model(data, flavour)
        except (loading.UnsafeArtifact, loading.CorruptArtifact, loading.UnsupportedFlavour) as exc:
            raise CommandError(str(exc)) from exc
        return loaded.task
