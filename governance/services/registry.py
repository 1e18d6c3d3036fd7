"""Registry writes: models, model cards, datasets, versions, the compatibility check."""

import contextlib
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from core.events import publish
from governance import artifacts, audit, datasets, loading, outbox
from governance.choices import (
    METRICS_FOR_TASK,
    CheckStatus,
    FindingSeverity,
    Flavour,
    RiskTier,
    Task,
    VersionStatus,
)
from governance.evaluation import evaluate
from governance.models import (
    MODEL_CARD_FIELDS,
    Attestation,
    Dataset,
    ModelCard,
    ModelVersion,
    RegisteredModel,
    SecurityFinding,
    Tag,
)
from governance.permissions import Action, require
from governance.selectors import dataset_frame

MODEL_FIELDS = ("title", "description", "team", "risk_tier", "task", "positive_class", "primary_metric")
COMPAT_MAX_ROWS = 5000
MAX_FINDINGS_SHOWN = 50  # a crafted file can produce any number of findings; the answer stays small


def _model_snapshot(model: RegisteredModel) -> dict:
    return {
        "name": model.name, "title": model.title, "description": model.description, "team": model.team,
        "risk_tier": model.risk_tier, "task": model.task, "owner": model.owner.get_username(),
        "positive_class": model.positive_class, "primary_metric": model.primary_metric,
        "tags": sorted(t.name for t in model.tags.all()),
    }


def _diff(before: dict, after: dict) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _clean_tags(tags) -> list[str]:
    cleaned = []
    for tag in tags or []:
        tag = str(tag).strip().lower()
        if not tag:
            continue
        try:
            validate_slug(tag)
        except ValidationError:
            raise InvalidInput(f"Tag {tag!r} may only hold letters, digits, '-' and '_'.", field="tags")
        cleaned.append(tag[:50])
    return sorted(set(cleaned))


def _validate_choice(value, choices, field):
    if value not in choices.values:
        raise InvalidInput(f"{field} must be one of {', '.join(choices.values)}, not {value!r}.", field=field)


def _validate_primary_metric(metric: str, task: str) -> str:
    metric = (metric or "").strip()
    if metric and metric not in METRICS_FOR_TASK.get(task, ()):
        raise InvalidInput(f"primary_metric {metric!r} does not apply to {task}; use one of "
                           f"{', '.join(METRICS_FOR_TASK.get(task, ()))}, or leave it blank for the default.",
                           field="primary_metric")
    return metric


@transaction.atomic
def model_create(*, actor, name: str, title: str, task: str, risk_tier: str = RiskTier.MEDIUM,
                 description: str = "", team: str = "", owner=None, tags=(), card: dict | None = None,
                 positive_class: str = "", primary_metric: str = "") -> RegisteredModel:
    require(actor, Action.MODEL_REGISTER)
    name = (name or "").strip().lower()
    try:
        validate_slug(name)
    except ValidationError:
        raise InvalidInput("The name is a slug: lowercase letters, digits, '-' and '_' only.", field="name")
    if len(name) > 100:
        raise InvalidInput("The name is at most 100 characters.", field="name")
    if not (title or "").strip():
        raise InvalidInput("A title is required.", field="title")
    _validate_choice(task, Task, "task")
    _validate_choice(risk_tier, RiskTier, "risk_tier")
    primary_metric = _validate_primary_metric(primary_metric, task)
    if RegisteredModel.objects.filter(name__iexact=name).exists():
        raise Conflict(f"A model named '{name}' already exists.", field="name")
    model = RegisteredModel.objects.create(
        name=name, title=title.strip(), task=task, risk_tier=risk_tier, description=description,
        team=team, owner=owner or actor, positive_class=(positive_class or "").strip()[:100],
        primary_metric=primary_metric,
    )
    model.tags.set([Tag.objects.get_or_create(name=t)[0] for t in _clean_tags(tags)])
    sections = {k: v for k, v in (card or {}).items() if k in dict((f, 1) for f, _, _ in MODEL_CARD_FIELDS)}
    ModelCard.objects.create(model=model, updated_by=actor, **sections)
    audit.record(actor=actor, action="model.create", obj=model, after=_model_snapshot(model))
    return model


@transaction.atomic
def model_update(*, actor, model: RegisteredModel, tags=None, owner=None, **fields) -> RegisteredModel:
    require(actor, Action.MODEL_REGISTER, model)
    model = _locked_or_404(RegisteredModel, model, f"No model named {model.name!r}.")
    require_active(model)
    before = _model_snapshot(model)
    unknown = set(fields) - set(MODEL_FIELDS)
    if unknown:
        raise InvalidInput(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    if "risk_tier" in fields:
        _validate_choice(fields["risk_tier"], RiskTier, "risk_tier")
    if "task" in fields:
        _validate_choice(fields["task"], Task, "task")
        if fields["task"] != model.task and model.versions.exists():
            raise Conflict("The task cannot change once the model has versions.", field="task")
    if "title" in fields and not str(fields["title"]).strip():
        raise InvalidInput("A title is required.", field="title")
    if "primary_metric" in fields or "task" in fields:
        fields["primary_metric"] = _validate_primary_metric(fields.get("primary_metric", model.primary_metric),
                                                            fields.get("task", model.task))
    for key, value in fields.items():
        setattr(model, key, value)
    if owner is not None:
        model.owner = owner
    model.save()
    if tags is not None:
        model.tags.set([Tag.objects.get_or_create(name=t)[0] for t in _clean_tags(tags)])
    old, new = _diff(before, _model_snapshot(model))
    if new:
        audit.record(actor=actor, action="model.update", obj=model, before=old, after=new)
    return model


def _locked_or_404(model_class, obj, message: str):
    """The row, locked; a 404 when a concurrent request deleted it meanwhile (not a 500)."""
    try:
        return model_class.objects.select_for_update().get(pk=obj.pk)
    except model_class.DoesNotExist:
        raise NotFound(message)


HISTORY_STATUSES = (VersionStatus.RELEASED, VersionStatus.DEPRECATED, VersionStatus.REVOKED)


def require_active(model: RegisteredModel) -> None:
    if model.retired_at is not None:
        raise Conflict(f"'{model.name}' is retired: it is read-only.")


def model_delete(*, actor, model: RegisteredModel) -> None:
    """Only models without release history: a released, deprecated, revoked or attested version is evidence,
    and its artifact must stay verifiable. Such a model is retired instead (for everyone, admins included)."""
    require(actor, Action.MODEL_REGISTER, model)
    with transaction.atomic():
        model = _locked_or_404(RegisteredModel, model, f"No model named {model.name!r}.")
        if model.versions.filter(status__in=HISTORY_STATUSES).exists() or \
                Attestation.objects.filter(version__model=model).exists():
            raise Conflict(f"'{model.name}' has release history (released, revoked or attested versions) and "
                           "cannot be deleted; retire it instead.")
        files = [v.artifact for v in model.versions.select_related("artifact")]
        snapshot = _model_snapshot(model)
        audit.record(actor=actor, action="model.delete", obj=model, before=snapshot)
        model.delete()
        for stored in files:
            stored.delete()
        transaction.on_commit(lambda: [artifacts.delete_blob(f) for f in files])


@transaction.atomic
def model_retire(*, actor, model: RegisteredModel, reason: str = "") -> RegisteredModel:
    """Read-only from now on and hidden from the model list by default; its history and artifacts stay."""
    require(actor, Action.MODEL_REGISTER, model)
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    require_active(model)
    if model.versions.filter(status=VersionStatus.RELEASED).exists():
        raise Conflict(f"'{model.name}' has a released version; revoke or deprecate it before retiring the model.")
    model.retired_at = timezone.now()
    model.retired_reason = (reason or "").strip()[:2000]
    model.save(update_fields=["retired_at", "retired_reason", "updated_at"])
    audit.record(actor=actor, action="model.retire", obj=model, after={"reason": model.retired_reason})
    return model


@transaction.atomic
def model_card_update(*, actor, model: RegisteredModel, **sections) -> ModelCard:
    require(actor, Action.MODEL_REGISTER, model)
    require_active(model)
    allowed = {name for name, _, _ in MODEL_CARD_FIELDS}
    unknown = set(sections) - allowed
    if unknown:
        raise InvalidInput(f"Unknown model card section(s): {', '.join(sorted(unknown))}.")
    card, _ = ModelCard.objects.select_for_update().get_or_create(model=model)
    before = card.as_dict()
    for key, value in sections.items():
        setattr(card, key, value or "")
    card.updated_by = actor
    card.save()
    old, new = _diff(before, card.as_dict())
    if new:
        audit.record(actor=actor, action="model_card.update", obj=model, before=old, after=new)
        under_review = model.versions.filter(status__in=[VersionStatus.IN_REVIEW, VersionStatus.APPROVED])
        ids = list(under_review.values_list("pk", flat=True))
        transaction.on_commit(lambda: _refresh_reviews(ids, "the model card changed"))
    return card


def dataset_create(*, actor, fileobj, filename: str, name: str = "", target_column: str = "",
                   description: str = "") -> Dataset:
    """Validate and profile the table, then store it encrypted. Nothing is kept when anything fails."""
    require(actor, Action.MODEL_REGISTER)
    parsed = datasets.parse_dataset(fileobj, filename=filename, target_column=target_column or None)
    fileobj.seek(0)
    with artifacts.artifact_upload(fileobj, original_name=filename) as stored, transaction.atomic():
        dataset = Dataset.objects.create(
            name=(name or stored.original_name)[:200], description=description, file=stored,
            format=parsed.format, target_column=parsed.target_column, rows=parsed.rows,
            columns=parsed.columns, schema=parsed.schema, created_by=actor,
        )
        audit.record(actor=actor, action="dataset.create", obj=dataset, after={
            "name": dataset.name, "sha256": stored.sha256, "rows": dataset.rows, "columns": dataset.columns,
            "target_column": dataset.target_column, "format": dataset.format,
        })
    return dataset


def _scan_or_reject(data, flavour: str) -> loading.ScanReport:
    try:
        report = loading.scan_artifact(data, flavour)
    except loading.CorruptArtifact as exc:
        raise InvalidInput(f"The file could not be read as {flavour}: {exc}", field="artifact")
    if not report.ok:
        summary = "; ".join(f"{f.get('global') or f.get('type') or ''} — {f['reason']}" for f in report.findings[:10])
        if len(report.findings) > 10:
            summary += f"; and {len(report.findings) - 10} more"
        shown = report.as_dict()
        shown["findings"] = shown["findings"][:MAX_FINDINGS_SHOWN]
        raise InvalidInput(
            f"The upload was rejected by the security scan: {summary}",
            field="artifact",
            details={"findings": shown["findings"], "findings_total": len(report.findings), "scan": shown},
        )
    return report


def _load_or_reject(data, flavour: str):
    try:
        return loading.load_model(data, flavour)
    except loading.UnsafeArtifact as exc:
        findings = exc.report.findings
        raise InvalidInput(f"The upload was rejected by the security scan: {str(exc)[:2000]}", field="artifact",
                           details={"findings": findings[:MAX_FINDINGS_SHOWN], "findings_total": len(findings)})
    except loading.CorruptArtifact as exc:
        raise InvalidInput(f"The file could not be loaded as {flavour}: {exc}", field="artifact")


def _resolve_flavour(filename: str, head: bytes, declared: str | None) -> str:
    detected = loading.detect_flavour(filename, head)
    if declared:
        if declared not in loading.FLAVOUR_EXTENSIONS:
            raise UnsupportedMediaType(
                f"Unsupported flavour {declared!r}. Supported: {', '.join(loading.FLAVOUR_EXTENSIONS)}."
            )
        return declared
    if detected is None:
        # The content is not recognisable; trust a known extension so the parser can say what is wrong.
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        by_extension = [f for f, exts in loading.FLAVOUR_EXTENSIONS.items() if suffix in exts]
        if len(by_extension) == 1:
            return by_extension[0]
        raise UnsupportedMediaType(
            "Bulwark cannot tell what kind of model file this is. Supported: .skops (scikit-learn), .onnx, "
            "XGBoost .json/.ubj, LightGBM .txt, .pkl/.joblib (scanned). Pass the flavour explicitly if needed."
        )
    return detected


def _reject_duplicate(model: RegisteredModel, fileobj) -> None:
    import hashlib

    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        digest.update(chunk)
    fileobj.seek(0)
    twin = model.versions.filter(artifact__sha256=digest.hexdigest()).order_by("number").first()
    if twin is not None:
        url = reverse("version-detail", args=[model.name, twin.number])
        raise Conflict(f"This file is identical to {model.name} v{twin.number} (same SHA-256 "
                       f"{digest.hexdigest()[:16]}…): nothing new to register.", field="artifact",
                       details={"version": twin.number, "url": url})


def model_version_create(*, actor, model: RegisteredModel, fileobj, filename: str, flavour: str | None = None,
                         evaluation_dataset: Dataset | None = None, training_dataset: Dataset | None = None,
                         parent: ModelVersion | None = None, notes: str = "", metrics: dict | None = None,
                         feature_names: list[str] | None = None, derived_by: str = "") -> ModelVersion:
    """Scan, load and store a new version; its number is the next one for the model, with no gaps. A file
    identical to one of the model's versions is refused, naming that version."""
    require(actor, Action.MODEL_REGISTER, model)
    require_active(model)
    if parent is not None and parent.model_id != model.pk:
        raise InvalidInput("The parent must be a version of the same model.", field="parent")
    if metrics is not None and not isinstance(metrics, dict):
        raise InvalidInput("Metrics must be a JSON object, e.g. {\"accuracy\": 0.91}.", field="metrics")
    _reject_oversized(fileobj)
    fileobj.seek(0)
    head = fileobj.read(4096)
    fileobj.seek(0)
    flavour = _resolve_flavour(filename, head, flavour)
    if not head:
        raise InvalidInput("The file is empty.", field="artifact")
    _reject_duplicate(model, fileobj)
    # Scan and load before anything is stored or locked: a bad file leaves nothing behind. The loaders read
    # the file themselves: skops straight from it, the other flavours into bytes they drop when done.
    report = _scan_or_reject(fileobj, flavour)
    loaded = _load_or_reject(fileobj, flavour)
    if loaded.task and loaded.task != model.task:
        raise InvalidInput(
            f"This is a {loaded.task} model but '{model.name}' is registered for {model.task}.", field="artifact"
        )
    names = list(feature_names or loaded.feature_names or [])
    if not names and evaluation_dataset is not None:
        names = evaluation_dataset.feature_columns
    try:
        loading.check_names("feature names", names)
    except loading.CorruptArtifact as exc:
        raise InvalidInput(f"The file could not be loaded as {flavour}: {exc}", field="artifact")
    fileobj.seek(0)
    with artifacts.artifact_upload(fileobj, original_name=filename) as stored:
        locked = RegisteredModel.objects.select_for_update().get(pk=model.pk)
        number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = ModelVersion.objects.create(
            model=locked, number=number, flavour=flavour, artifact=stored, feature_names=names,
            class_labels=list(loaded.classes or []), metrics=metrics or {},
            evaluation_dataset=evaluation_dataset, training_dataset=training_dataset, parent=parent,
            derived_by=derived_by[:60], notes=notes,
            scan_report={**report.as_dict(), "neutralised": loaded.neutralised_params},
            card_snapshot=_card_snapshot(locked),
            compat_status=CheckStatus.PENDING, created_by=actor,
        )
        RegisteredModel.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
        audit.record(actor=actor, action="version.create", obj=version, after={
            "number": number, "flavour": flavour, "sha256": stored.sha256, "size": stored.size,
            "evaluation_dataset": evaluation_dataset.pk if evaluation_dataset else None,
            "training_dataset": training_dataset.pk if training_dataset else None,
            "parent": parent.number if parent else None, "features": len(names),
            **({"derived_by": derived_by} if derived_by else {}),
        })
        _enqueue_compat_check(version)
    return version


def _card_snapshot(model: RegisteredModel) -> dict:
    card = ModelCard.objects.filter(model=model).first()
    return card.as_dict() if card else {}


def _reject_oversized(fileobj) -> None:
    size = getattr(fileobj, "size", None)
    if size is None:
        position = fileobj.tell()
        fileobj.seek(0, 2)
        size = fileobj.tell()
        fileobj.seek(position)
    if size > settings.MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"The file is larger than the {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit.")


def _enqueue_compat_check(version: ModelVersion) -> None:
    outbox.enqueue(task="governance.run_compatibility_check", args=[version.pk], queue="light")


@transaction.atomic
def model_version_update(*, actor, version: ModelVersion, notes: str | None = None,
                         evaluation_dataset=..., training_dataset=..., metrics: dict | None = None) -> ModelVersion:
    """Metadata only: the artifact of a version never changes."""
    require(actor, Action.MODEL_REGISTER, version)
    require_active(version.model)
    version = _locked_or_404(ModelVersion, version, f"{version} no longer exists.")
    before = {"notes": version.notes, "evaluation_dataset": version.evaluation_dataset_id,
              "training_dataset": version.training_dataset_id, "metrics": version.metrics}
    recheck = False
    if notes is not None:
        version.notes = notes
    if metrics is not None:
        if not isinstance(metrics, dict):
            raise InvalidInput("Metrics must be a JSON object.", field="metrics")
        version.metrics = {**version.metrics, **metrics}
    for field, value in (("evaluation_dataset", evaluation_dataset), ("training_dataset", training_dataset)):
        if value is ...:
            continue
        if version.status not in (VersionStatus.DRAFT, VersionStatus.REJECTED):
            raise Conflict(f"The datasets of a version in status '{version.status}' cannot change.", field=field)
        setattr(version, field, value)
        recheck = recheck or field == "evaluation_dataset"
    if recheck:
        version.compat_status = CheckStatus.PENDING
        version.compat_result = {}
    version.save()
    after = {"notes": version.notes, "evaluation_dataset": version.evaluation_dataset_id,
             "training_dataset": version.training_dataset_id, "metrics": version.metrics}
    old, new = _diff(before, after)
    if new:
        audit.record(actor=actor, action="version.update", obj=version, before=old, after=new)
    if recheck:
        _enqueue_compat_check(version)
    return version


def version_record_integrity_failure(*, version: ModelVersion, reason: str, actor=None) -> SecurityFinding:
    """Record (in its own transaction, so it survives the caller's failure) that a load was refused."""
    with transaction.atomic():
        finding = SecurityFinding.objects.create(
            version=version, kind=SecurityFinding.Kind.INTEGRITY, severity=FindingSeverity.CRITICAL,
            title="Artifact integrity check failed: the stored file does not match its recorded SHA-256",
            detail={"reason": reason, "expected_sha256": version.artifact.sha256},
        )
        audit.record(actor=actor, action="version.integrity_failure", obj=version,
                     extra={"reason": reason, "finding": finding.pk})
    _refresh_reviews([version.pk], "a security finding was recorded")
    return finding


def _refresh_reviews(version_ids, reason: str) -> None:
    from .releases import version_refresh_review

    for version_id in version_ids:
        version_refresh_review(version_id=version_id, reason=reason)


def version_read_artifact(version: ModelVersion, *, actor=None) -> bytes:
    """The artifact's bytes, hash-verified; for a released version also checked against its attestation."""
    from governance.attestation import VerificationError

    from .releases import verify_release

    try:
        data = artifacts.read_bytes(version.artifact)
        if version.status == VersionStatus.RELEASED:
            verify_release(version, data)
        return data
    except (artifacts.ArtifactIntegrityError, VerificationError) as exc:
        raise _refused(version, exc, actor) from exc


def _refused(version: ModelVersion, exc: Exception, actor) -> Conflict:
    """A failed integrity check is recorded (finding, audit event) before the use is refused."""
    version_record_integrity_failure(version=version, reason=str(exc), actor=actor)
    return Conflict(f"Refused to load {version}: {exc}")


@contextlib.contextmanager
def _verified_artifact_file(version: ModelVersion, *, actor=None):
    """The artifact decrypted into a temporary file, hash-verified (and attestation-verified when released)."""
    from governance.attestation import VerificationError

    from .releases import verify_release

    try:
        tmp = artifacts.open_plaintext_tempfile(version.artifact)  # checks size and SHA-256 before returning
    except artifacts.ArtifactIntegrityError as exc:
        raise _refused(version, exc, actor) from exc
    with tmp:
        if version.status == VersionStatus.RELEASED:
            try:
                verify_release(version, sha256=version.artifact.sha256)
            except VerificationError as exc:
                raise _refused(version, exc, actor) from exc
        yield tmp


def version_load_model(version: ModelVersion, *, actor=None):
    """Decrypt, verify the hash, scan and load. Every use of a model goes through here."""
    names = version.feature_names or None
    try:
        if version.flavour == Flavour.SKLEARN:
            # skops reads zip members on demand: from a file, the worker never holds the whole artifact as
            # bytes next to skops's copies of its members (bench/README.md, upload memory).
            with _verified_artifact_file(version, actor=actor) as fh:
                return loading.load_model(fh, version.flavour, feature_names=names)
        data = version_read_artifact(version, actor=actor)
        return loading.load_model(data, version.flavour, feature_names=names)
    except (loading.UnsafeArtifact, loading.CorruptArtifact) as exc:
        raise Conflict(f"Refused to load {version}: {exc}") from exc


def version_compatibility_check(*, version_id: int) -> ModelVersion:
    """Load the model and predict on the evaluation dataset; record what matched and the metrics."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update(of=("self",)).select_related(
            "model", "artifact", "evaluation_dataset__file").get(pk=version_id)
        version.compat_status = CheckStatus.RUNNING
        version.save(update_fields=["compat_status", "updated_at"])
    result = {"artifact_sha256": version.artifact.sha256, "started_at": timezone.now().isoformat()}
    status = CheckStatus.ERROR
    computed = {}
    stage = "loading the model"
    try:
        loaded = version_load_model(version)
        result["loaded"] = True
        stage = "reading the evaluation dataset"
        dataset = version.evaluation_dataset
        if dataset is None:
            result["message"] = "No evaluation dataset linked: the model loads, but nothing was predicted."
            status = CheckStatus.PASSED
        else:
            result["dataset_id"] = dataset.pk
            result["dataset_sha256"] = dataset.sha256
            frame = dataset_frame(dataset)
            expected = version.feature_names or dataset.feature_columns
            compat = datasets.schema_compatibility(expected, dataset.schema, dataset.target_column)
            result.update({"features_match": compat["match"], "missing_features": compat["missing"],
                           "extra_columns": compat["extra"], "order_differs": compat["order_differs"]})
            if not compat["match"]:
                status = CheckStatus.FAILED
                result["message"] = (
                    f"The dataset lacks {len(compat['missing'])} feature(s) the model needs: "
                    f"{', '.join(compat['missing'][:10])}"
                )
            else:
                sample = frame.head(COMPAT_MAX_ROWS)
                X = sample[expected]
                stage = f"predicting {len(X)} rows of the evaluation dataset"
                started = time.perf_counter()
                loaded.predict(X)
                batch_seconds = time.perf_counter() - started
                started = time.perf_counter()
                for i in range(min(20, len(X))):
                    loaded.predict(X.iloc[[i]])
                single_seconds = (time.perf_counter() - started) / max(1, min(20, len(X)))
                result.update({
                    "rows": len(X), "batch_latency_ms": round(batch_seconds * 1000, 3),
                    "latency_ms_per_row": round(batch_seconds * 1000 / max(1, len(X)), 4),
                    "single_row_latency_ms": round(single_seconds * 1000, 3),
                })
                if dataset.target_column:
                    stage = "scoring the predictions against the target column"
                    y = sample[dataset.target_column]
                    labelled = y.notna()
                    computed = evaluate(loaded, X[labelled], y[labelled], version.model.task,
                                        positive_class=version.model.positive_class)
                    result["metrics"] = computed
                status = CheckStatus.PASSED
                result["message"] = f"Predicted {len(X)} rows; features match."
    except Conflict as exc:
        result["message"] = exc.message
    except Exception as exc:  # the model is untrusted: any failure of it is a result to show, not a crash
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        result["message"] = (f"The check stopped while {stage}: {reason[:600]}. Check that the dataset has the "
                             "columns, types and value ranges the model was trained on.")
        result["error"] = {"stage": stage, "type": type(exc).__name__}
    result["finished_at"] = timezone.now().isoformat()

    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        before = {"compat_status": version.compat_status}
        version.compat_status = status
        version.compat_result = result
        version.compat_checked_at = timezone.now()
        if computed:
            version.metrics = {**version.metrics, **computed}
        version.save(update_fields=["compat_status", "compat_result", "compat_checked_at", "metrics", "updated_at"])
        audit.record(actor=None, action="version.compat_check", obj=version, before=before,
                     after={"compat_status": status, "message": result.get("message", "")})
    _refresh_reviews([version.pk], "the compatibility check was re-run")
    # The analysis app reacts (it fingerprints a classifier whose check passed): explain/receivers.py.
    publish("model_version.compatibility_checked", version=version, status=status)
    return version
