"""The job engine: enqueue, cancel, re-run, execute on a worker, reap jobs whose worker died."""

import logging
import threading
import time
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotFound
from core.events import publish
from governance import audit, outbox
from governance.permissions import Action, require

from .analyses import AnalysisError, ParamError
from .choices import JobStatus
from .kinds import KINDS
from .models import AnalysisJob, JobLogLine

log = logging.getLogger(__name__)

COMMON_PARAMS = {"max_rows", "random_state"}


class JobCancelled(Exception):
    pass


def queue_for(kind: str) -> str:
    return settings.JOB_QUEUES.get(kind, "heavy")


def _validate(kind: str, params: dict, dataset, version) -> dict:
    module = KINDS.get(kind)
    if module is None:
        raise InvalidInput(f"Unknown analysis kind {kind!r}. Known: {', '.join(sorted(KINDS))}.", field="kind")
    if not isinstance(params, dict):
        raise InvalidInput("params must be a JSON object.", field="params")
    params = {**module.DEFAULT_PARAMS, **params}
    positive = getattr(version.model, "positive_class", "")
    if positive and "positive_class" in module.DEFAULT_PARAMS and params.get("positive_class") is None:
        params["positive_class"] = positive
    max_rows = params.get("max_rows", 1000)
    if not isinstance(max_rows, int) or isinstance(max_rows, bool) or not 10 <= max_rows <= 100_000:
        raise InvalidInput("max_rows must be an integer between 10 and 100000.", field="params")
    seed = params.get("random_state", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidInput("random_state must be a non-negative integer.", field="params")
    members = params.pop("members", None)
    if kind == "ensemble":
        if not isinstance(members, list) or not members or not all(isinstance(n, int) for n in members):
            raise InvalidInput("An ensemble needs 'members': a list of other version numbers of this model.",
                               field="params")
        known = set(version.model.versions.values_list("number", flat=True))
        unknown = [n for n in members if n not in known]
        if unknown:
            raise InvalidInput(f"Not versions of {version.model.name}: {unknown}.", field="params")
        # The version the job runs on is always a member: naming it too is fine, not an error.
        members = sorted({n for n in members if n != version.number})
        if not members:
            raise InvalidInput("An ensemble needs at least one other version in 'members'.", field="params")
    elif members is not None:
        raise InvalidInput("'members' is only for the ensemble analysis.", field="params")
    specific = {k: v for k, v in params.items() if k not in COMMON_PARAMS}
    try:
        cleaned = module.validate_params(specific, n_rows=dataset.rows, columns=dataset.feature_columns)
    except ParamError as exc:
        raise InvalidInput(str(exc), field="params") from exc
    if getattr(module, "REQUIRES_TARGET", False) and not dataset.target_column:
        raise InvalidInput(f"{module.TITLE} needs a dataset with a target column; '{dataset.name}' has none.",
                           field="dataset")
    cleaned = {**cleaned, "max_rows": max_rows, "random_state": seed}
    if members:
        cleaned["members"] = members
    return cleaned


def job_enqueue(*, actor, version, kind: str, params: dict | None = None, dataset=None, rerun_of=None,
                incident=None) -> AnalysisJob:
    """Validate, create the row and send it to the queue of its weight once the transaction commits."""
    require(actor, Action.JOB_RUN)
    if getattr(KINDS.get(kind), "REGISTERS_VERSION", False):
        # Refused now rather than after minutes of work: only who may add versions of the model makes candidates.
        require(actor, Action.MODEL_REGISTER, version)
    dataset = dataset or version.evaluation_dataset
    if dataset is None:
        raise InvalidInput(f"{version} has no evaluation dataset: link one, or pass a dataset.", field="dataset")
    cleaned = _validate(kind, params or {}, dataset, version)
    with transaction.atomic():
        job = AnalysisJob.objects.create(
            kind=kind, version=version, dataset=dataset, params=cleaned, queue=queue_for(kind), created_by=actor,
            artifact_sha256=version.artifact.sha256, dataset_sha256=dataset.file.sha256, rerun_of=rerun_of,
            incident=incident,
        )
        audit.record(actor=actor, action="job.enqueue", obj=job,
                     after={"kind": kind, "version": str(version), "dataset": dataset.pk, "params": cleaned})
        _send(job)
    return job


def _send(job: AnalysisJob) -> None:
    """Put the job in the outbox, in the caller's transaction: it reaches the broker after commit, or once the
    broker is back."""
    task_id = f"job-{job.pk}-{job.attempts + 1}-{int(time.time())}"
    AnalysisJob.objects.filter(pk=job.pk).update(celery_task_id=task_id)
    soft, hard = settings.JOB_TIME_LIMITS.get(job.kind, (settings.JOB_SOFT_TIME_LIMIT, settings.JOB_HARD_TIME_LIMIT))
    outbox.enqueue(task="explain.run_analysis_job", args=[job.pk], queue=job.queue, task_id=task_id,
                   options={"soft_time_limit": soft, "time_limit": hard})


@transaction.atomic
def job_cancel(*, actor, job: AnalysisJob) -> AnalysisJob:
    """Queued: it will never run. Running: it stops at its next progress checkpoint, writing no result."""
    require(actor, Action.JOB_RUN)
    job = AnalysisJob.objects.select_for_update().get(pk=job.pk)
    if job.status == JobStatus.QUEUED:
        job.status = JobStatus.CANCELLED
        job.finished_at = timezone.now()
        job.cancel_requested = True
        job.save(update_fields=["status", "finished_at", "cancel_requested"])
    elif job.status == JobStatus.RUNNING:
        job.cancel_requested = True
        job.save(update_fields=["cancel_requested"])
    else:
        raise Conflict(f"Job #{job.pk} is already {job.get_status_display().lower()}.")
    audit.record(actor=actor, action="job.cancel", obj=job, after={"status": job.status})
    _log(job.pk, f"Cancellation requested by {actor.get_username()}.", "warning")
    return job


@transaction.atomic
def hardened_candidate_register(*, actor, job: AnalysisJob):
    """Register a hardening job's candidate as a new draft version, a child of the version it hardened."""
    import io

    from governance import artifacts
    from governance.models import StoredFile
    from governance.services import model_version_create

    from .kinds import HARDENING_KINDS

    job = AnalysisJob.objects.select_for_update().select_related("version__model").get(pk=job.pk)
    version = job.version
    require(actor, Action.MODEL_REGISTER, version.model)
    if job.kind not in HARDENING_KINDS:
        raise Conflict(f"Job #{job.pk} is {job.kind}: only hardening jobs make a candidate to register.")
    if job.status != JobStatus.SUCCEEDED:
        raise Conflict(f"Job #{job.pk} is {job.get_status_display().lower()}; only a finished job's candidate can "
                       "be registered.")
    result = dict(job.result or {})
    if result.get("new_version"):
        raise Conflict(f"Job #{job.pk}'s candidate is already registered as v{result['new_version']}.")
    candidate = result.get("candidate")
    if not candidate:
        raise Conflict(f"Job #{job.pk} has no candidate model to register.")
    stored = StoredFile.objects.get(pk=candidate["stored_file"])
    label = job.kind.replace("_", " ")
    created = model_version_create(
        actor=actor, model=version.model, fileobj=io.BytesIO(artifacts.read_bytes(stored)),
        filename=stored.original_name, flavour="sklearn", evaluation_dataset=version.evaluation_dataset,
        training_dataset=version.training_dataset, parent=version, derived_by=label,
        notes=f"{candidate.get('notes', '')}\n\nHardened by {label} (job #{job.pk}) from v{version.number} with "
              f"{candidate.get('params', {})}.".strip(),
    )
    result["new_version"] = created.number
    job.result = result
    job.save(update_fields=["result"])
    audit.record(actor=actor, action="job.register_candidate", obj=job,
                 after={"version": created.number, "from": version.number, "sha256": candidate["sha256"]})
    return created


def job_rerun(*, actor, job: AnalysisJob) -> AnalysisJob:
    params = {k: v for k, v in job.params.items()}
    return job_enqueue(actor=actor, version=job.version, kind=job.kind, params=params, dataset=job.dataset,
                       rerun_of=job, incident=job.incident)


def _log(job_id: int, message: str, level: str = "info") -> None:
    JobLogLine.objects.create(job_id=job_id, message=message[:5000], level=level)


class _Heartbeat(threading.Thread):
    """Touches the job row while the analysis runs, so the reaper can tell a live job from a dead worker."""

    def __init__(self, job_id: int, interval: float):
        super().__init__(daemon=True)
        self.job_id, self.interval = job_id, interval
        self.stopped = threading.Event()

    def run(self):
        from django.db import DatabaseError, connection

        try:
            while not self.stopped.wait(self.interval):
                try:
                    AnalysisJob.objects.filter(pk=self.job_id, status=JobStatus.RUNNING).update(
                        heartbeat_at=timezone.now())
                except DatabaseError as exc:
                    # One missed beat (a busy SQLite file, a dropped connection) must not end the heartbeat:
                    # the reaper would take a live job for a dead one. Reconnect at the next beat.
                    log.warning("heartbeat of job %s missed: %s", self.job_id, exc)
                    connection.close()
        finally:
            close_old_connections()
            connection.close()


def _claim(job_id: int, hostname: str) -> bool:
    """queued → running, atomically; a redelivered or cancelled job is not claimed twice."""
    now = timezone.now()
    return bool(AnalysisJob.objects.filter(pk=job_id, status=JobStatus.QUEUED, cancel_requested=False).update(
        status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, worker_hostname=hostname[:255],
        attempts=F("attempts") + 1, progress=0, progress_message="Starting", error_message="",
    ))


def _sample(frame, job: AnalysisJob, module):
    version = job.version
    features = version.feature_names or job.dataset.feature_columns
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise AnalysisError(f"The dataset lacks feature(s) the model needs: {', '.join(missing[:10])}.")
    if getattr(module, "SAMPLE_ROWS", True) and len(frame) > job.params["max_rows"]:
        frame = frame.sample(n=job.params["max_rows"], random_state=job.params["random_state"]).sort_index()
    target = job.dataset.target_column
    y = frame[target] if target and target in frame.columns else None
    return frame[features], y


def _engine_inputs(job: AnalysisJob, model, progress) -> dict:
    """What some kinds need beyond JSON params: the training data, the other versions of an ensemble."""
    from governance.selectors import dataset_frame
    from governance.services import version_load_model

    from .kinds import ROBUSTNESS_KINDS

    params = {k: v for k, v in job.params.items() if k != "members"}
    if job.kind in ROBUSTNESS_KINDS and job.version.model.primary_metric:
        params["_primary_metric"] = job.version.model.primary_metric
    training = job.version.training_dataset
    if training is not None and job.kind in ROBUSTNESS_KINDS:  # the explainability analyses take no engine inputs
        progress(6, "Loading the training dataset")
        frame = dataset_frame(training)
        features = job.version.feature_names or training.feature_columns
        missing = [f for f in features if f not in frame.columns]
        if not missing:
            target = training.target_column
            params["_training"] = (frame[features], frame[target] if target in frame.columns else None)
    if job.params.get("members"):
        members = [(f"v{job.version.number} (this version)", model)]
        for version in job.version.model.versions.filter(number__in=job.params["members"]).order_by("number"):
            members.append((f"v{version.number}", version_load_model(version)))
        params["_members"] = members
    return params


def _keep_outputs(job: AnalysisJob, result: dict, progress) -> None:
    """Hardening returns a candidate model (stored, registered only when someone decides to: see
    hardened_candidate_register) and detection a detector (a stored artifact)."""
    import io

    import skops.io

    from governance import artifacts

    new_model = result.pop("_new_model", None)
    if new_model is not None:
        progress(98, "Storing the hardened candidate")
        version = job.version
        data = skops.io.dumps(new_model["estimator"])
        stored = artifacts.store_upload(io.BytesIO(data), original_name=f"{version.model.name}-{job.kind}-from-"
                                                                        f"v{version.number}.skops")
        result["candidate"] = {"stored_file": stored.pk, "sha256": stored.sha256, "size": stored.size,
                               "notes": new_model.get("notes", ""), "params": new_model.get("params", {})}
    detector = result.pop("_detector", None)
    if detector is not None:
        data = skops.io.dumps(detector["estimator"])
        stored = artifacts.store_upload(io.BytesIO(data), original_name=f"detector-job-{job.pk}.skops")
        result["detector"] = {"stored_file": stored.pk, "sha256": stored.sha256, "size": stored.size,
                              "notes": detector.get("notes", "")}


def job_execute(*, job_id: int, hostname: str = "") -> None:
    """Run one job on this worker. Ends in exactly one terminal state; a cancelled job writes no result."""
    from governance.selectors import dataset_frame
    from governance.services import version_load_model

    if not _claim(job_id, hostname):
        log.info("job %s not claimed (already taken, cancelled or finished)", job_id)
        return
    job = AnalysisJob.objects.select_related("version__model", "version__artifact", "dataset__file").get(pk=job_id)
    module = KINDS[job.kind]
    heartbeat = _Heartbeat(job_id, settings.JOB_HEARTBEAT_SECONDS)
    heartbeat.start()
    last_write = [0.0]

    def progress(percent: int, message: str = "") -> None:
        now = time.monotonic()
        if now - last_write[0] >= 0.5 or percent >= 100:
            last_write[0] = now
            AnalysisJob.objects.filter(pk=job_id).update(progress=max(0, min(100, int(percent))),
                                                         progress_message=message[:255], heartbeat_at=timezone.now())
            if message:
                _log(job_id, f"{int(percent)}% {message}")
        if AnalysisJob.objects.filter(pk=job_id, cancel_requested=True).exists():
            raise JobCancelled()

    try:
        _log(job_id, f"Started on {hostname or 'a worker'} (attempt {job.attempts}).")
        progress(1, "Loading the model (hash and attestation verified)")
        model = version_load_model(job.version)
        progress(5, "Loading the dataset")
        X, y = _sample(dataset_frame(job.dataset), job, module)
        params = _engine_inputs(job, model, progress)
        progress(8, f"Analysing {len(X)} rows")
        result = module.run(model, X, y, task=job.version.model.task, params=params, progress=progress)
        result.setdefault("rows_used", [int(i) if isinstance(i, int | float) else str(i) for i in X.index])
        _keep_outputs(job, result, progress)
    except JobCancelled:
        _finish(job_id, JobStatus.CANCELLED, message="Cancelled at a progress checkpoint; no result was written.")
    except (AnalysisError, ParamError, Conflict, NotFound, InvalidInput) as exc:
        _finish(job_id, JobStatus.FAILED, message=str(getattr(exc, "message", exc)))
    except Exception as exc:  # the model and data are user input: any failure is a failed job, not a crash
        from celery.exceptions import SoftTimeLimitExceeded

        message = ("The job ran past its time limit." if isinstance(exc, SoftTimeLimitExceeded)
                   else f"{type(exc).__name__}: {exc}")
        _finish(job_id, JobStatus.FAILED, message=message, tb=traceback.format_exc())
    else:
        _finish(job_id, JobStatus.SUCCEEDED, result=result)
    finally:
        heartbeat.stopped.set()


def _finish(job_id: int, status: str, *, result=None, message: str = "", tb: str = "") -> None:
    with transaction.atomic():
        job = AnalysisJob.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.RUNNING:
            return  # the reaper already gave up on it
        if status == JobStatus.SUCCEEDED and job.cancel_requested:
            status, result, message = JobStatus.CANCELLED, None, "Cancelled before the result was saved."
        job.status = status
        job.finished_at = timezone.now()
        job.result = result if status == JobStatus.SUCCEEDED else None
        job.error_message = message[:5000]
        job.error_traceback = tb[-20000:]
        if status == JobStatus.SUCCEEDED:
            job.progress, job.progress_message = 100, "Done"
        job.save()
        audit.record(actor=None, action=f"job.{status}", obj=job,
                     after={"status": status, **({"error": message[:500]} if message else {})})
        _log(job_id, message or "Finished.", "error" if status == JobStatus.FAILED else "info")
        publish("job.finished", job=job, status=status)  # e.g. the incident app posts it on the incident
    if status == JobStatus.SUCCEEDED and job.kind in settings.RELEASE_EVIDENCE_KINDS:
        from governance.services import version_refresh_review

        version_refresh_review(version_id=job.version_id, reason=f"a new {job.kind} result")


def job_reap(*, stale_after: timedelta | None = None) -> dict:
    """Fail (or re-queue once) running jobs whose heartbeat stopped: their worker died."""
    stale_after = stale_after or timedelta(seconds=settings.JOB_STALE_SECONDS)
    cutoff = timezone.now() - stale_after
    requeued, failed = [], []
    for job_id in AnalysisJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", flat=True):
        with transaction.atomic():
            job = AnalysisJob.objects.select_for_update().get(pk=job_id)
            if job.status != JobStatus.RUNNING or (job.heartbeat_at and job.heartbeat_at >= cutoff):
                continue
            if job.attempts < settings.JOB_MAX_ATTEMPTS and not job.cancel_requested:
                job.status = JobStatus.QUEUED
                job.progress, job.progress_message = 0, "Re-queued: its worker stopped responding"
                job.save(update_fields=["status", "progress", "progress_message"])
                audit.record(actor=None, action="job.requeue", obj=job, after={"attempts": job.attempts})
                _send(job)
                requeued.append(job.pk)
            else:
                job.status = JobStatus.FAILED
                job.finished_at = timezone.now()
                job.error_message = (f"The worker ({job.worker_hostname or 'unknown'}) stopped responding "
                                     f"after attempt {job.attempts}; the job was abandoned.")
                job.save(update_fields=["status", "finished_at", "error_message"])
                audit.record(actor=None, action="job.failed", obj=job, after={"status": "failed",
                                                                             "error": job.error_message})
                failed.append(job.pk)
            _log(job.pk, job.progress_message if job.status == JobStatus.QUEUED else job.error_message, "warning")
    return {"requeued": requeued, "failed": failed}


__all__ = ["AnalysisError", "JobCancelled", "fingerprint_check", "job_cancel", "job_enqueue", "job_execute", "job_reap",
           "job_rerun"]


def fingerprint_check(*, actor, version, suspect_file, filename: str, incident=None) -> dict:
    """Compare a suspect model (a model file) or its outputs (a CSV with a `prediction` column) with the
    version's latest fingerprint: match rate and p-value against chance, recorded as evidence."""
    import io

    import pandas as pd

    from governance import loading

    from .robustness import check_suspect

    require(actor, Action.JOB_RUN)
    if incident is not None:
        require(actor, Action.INCIDENT_OPEN)  # the result goes on the incident's timeline, like a note
    job = (AnalysisJob.objects.filter(version=version, kind="fingerprint", status=JobStatus.SUCCEEDED)
           .order_by("-finished_at", "-id").first())
    if job is None or not job.result:
        raise Conflict(f"{version} has no fingerprint yet: run the fingerprint analysis first.")
    data = suspect_file.read()
    if len(data) > settings.MAX_UPLOAD_BYTES:
        from core.errors import PayloadTooLarge

        raise PayloadTooLarge("The suspect file is larger than the upload limit.")
    if filename.lower().endswith(".csv"):
        try:
            frame = pd.read_csv(io.BytesIO(data))
        except Exception as exc:  # a malformed CSV is the user's input: say what pandas said
            raise InvalidInput(f"Cannot read the CSV: {exc}", field="suspect") from exc
        if "prediction" not in frame.columns:
            raise InvalidInput("The CSV needs a 'prediction' column: the suspect's output for each fingerprint row, "
                               "in order.", field="suspect")
        outputs = frame["prediction"].tolist()
        source = "outputs CSV"
    else:
        flavour = loading.detect_flavour(filename, data[:4096])
        if flavour is None:
            raise InvalidInput("Upload the suspect's outputs as CSV or the suspect model as a model file.",
                               field="suspect")
        try:
            suspect = loading.load_model(data, flavour)
        except (loading.UnsafeArtifact, loading.CorruptArtifact, loading.UnsupportedFlavour) as exc:
            raise InvalidInput(f"The suspect model cannot be loaded safely: {exc}", field="suspect") from exc
        rows = pd.DataFrame(job.result["fingerprint_rows"])
        # PostgreSQL's jsonb does not keep key order: put the columns back in the model's feature order.
        order = [f for f in (version.feature_names or []) if f in rows.columns]
        rows = rows[order + [c for c in rows.columns if c not in order]]
        try:
            outputs = [str(v) for v in suspect.predict(rows)]
        except Exception as exc:  # the suspect is untrusted: a model that cannot predict is a clear answer
            raise InvalidInput(f"The suspect model could not predict on the fingerprint rows: {exc}",
                               field="suspect") from exc
        source = f"{flavour} model"
    try:
        outcome = check_suspect(job.result, outputs)
    except AnalysisError as exc:
        raise InvalidInput(str(exc), field="suspect") from exc
    outcome = {**outcome, "fingerprint_job": job.pk, "suspect": filename, "source": source}
    with transaction.atomic():
        audit.record(actor=actor, action="fingerprint.check", obj=version, after=outcome)
        if incident is not None:  # the incident app puts it on the timeline, or refuses (and nothing is kept)
            publish("fingerprint.checked", actor=actor, version=version, job=job, incident=incident,
                    outcome=outcome, filename=filename)
    return outcome
