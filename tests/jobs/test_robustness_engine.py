"""Robustness kinds through the job engine: training data, hardening into a new version, the gate, fingerprints."""

import io

import pytest

from explain import services
from explain.scorecard import scorecard
from governance import checks
from governance import services as registry
from governance.models import ModelVersion
from tests.ml import iris_csv, iris_frame, iris_skops

pytestmark = pytest.mark.django_db


def run(job):
    services.job_execute(job_id=job.pk, hostname="test")
    job.refresh_from_db()
    return job


@pytest.fixture
def trained_version(iris_version):
    frame = iris_frame().copy()
    numeric = frame.columns.drop("target")
    frame[numeric] = frame[numeric] + 0.01  # distinct rows: members must not also be the evaluation rows
    training = registry.dataset_create(actor=iris_version.author, fileobj=io.BytesIO(iris_csv(frame)),
                                       filename="train.csv", target_column="target")
    return registry.model_version_update(actor=iris_version.author, version=iris_version,
                                         training_dataset=training)


def test_the_gate_follows_the_scorecard(trained_version):
    version, author = trained_version, trained_version.created_by
    assert checks.EVALUATORS["robustness"](version)[0] == "missing"
    for kind in ("cross_validation", "stress_test", "adversarial_evasion"):
        job = run(services.job_enqueue(actor=author, version=version, kind=kind, params={"max_rows": 150}))
        assert job.status == "succeeded", (kind, job.error_message)
    card = scorecard(version)
    assert {row["kind"]: row["light"] for row in card["rows"]}["cross_validation"] in ("green", "red")
    outcome = checks.EVALUATORS["robustness"](version)[0]
    assert outcome == ("passed" if card["passed"] else "failed")


def test_membership_inference_uses_the_linked_training_data(trained_version, iris_version):
    job = run(services.job_enqueue(actor=iris_version.author, version=trained_version, kind="membership_inference"))
    assert job.status == "succeeded", job.error_message
    assert "advantage" in job.result["attack"]


def test_membership_inference_without_training_data_fails_clearly(iris_version):
    job = run(services.job_enqueue(actor=iris_version.author, version=iris_version, kind="membership_inference"))
    assert job.status == "failed" and "training" in job.error_message


def test_a_hardening_job_offers_a_candidate_and_registers_it_only_when_asked(trained_version, client):
    from django.urls import reverse

    from core.errors import Conflict, PermissionDenied
    from governance.models import AuditEvent
    from tests.conftest import make_user

    author = trained_version.created_by
    before = ModelVersion.objects.filter(model=trained_version.model).count()
    job = run(services.job_enqueue(actor=author, version=trained_version, kind="adversarial_training",
                                   params={"max_rows": 100}))
    assert job.status == "succeeded", job.error_message
    assert ModelVersion.objects.filter(model=trained_version.model).count() == before  # no silent draft
    assert job.result["candidate"]["sha256"] and "new_version" not in job.result
    client.force_login(author)
    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert 'data-testid="hardened-candidate"' in page and "Register as new version" in page
    assert "Clean balanced_accuracy" in page  # before/after in the chosen metric
    with pytest.raises(PermissionDenied):
        services.hardened_candidate_register(actor=make_user("stranger", ["contributor"]), job=job)
    response = client.post(reverse("job-register-candidate", args=[job.pk]))
    job.refresh_from_db()
    new = ModelVersion.objects.get(model=trained_version.model, number=job.result["new_version"])
    assert response.url == reverse("version-detail", args=["iris", new.number])
    assert new.parent_id == trained_version.pk and new.status == "draft"
    assert new.derived_by == "adversarial training"
    assert AuditEvent.objects.filter(action="job.register_candidate", object_id=str(job.pk)).count() == 1
    with pytest.raises(Conflict, match="already registered"):
        services.hardened_candidate_register(actor=author, job=job)
    model_page = client.get(reverse("model-detail", args=["iris"])).content.decode()
    assert 'data-testid="hardened-badge"' in model_page and "hardened · adversarial training" in model_page
    version_page = client.get(reverse("version-detail", args=["iris", new.number])).content.decode()
    assert "by adversarial training" in version_page and "Adversarialtraining" not in version_page


def test_only_a_hardening_job_has_a_candidate_to_register(iris_version, api_as):
    job = run(services.job_enqueue(actor=iris_version.author, version=iris_version, kind="fingerprint"))
    response = api_as(iris_version.author).post(f"/api/v1/jobs/{job.pk}/register/")
    assert response.status_code == 409 and "only hardening jobs" in response.json()["detail"]


def test_ensemble_needs_other_versions(iris_version):
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="members"):
        services.job_enqueue(actor=iris_version.author, version=iris_version, kind="ensemble")
    second = registry.model_version_create(actor=iris_version.author, model=iris_version.model,
                                           fileobj=io.BytesIO(iris_skops()), filename="b.skops",
                                           evaluation_dataset=iris_version.evaluation_dataset)
    job = run(services.job_enqueue(actor=iris_version.author, version=second, kind="ensemble",
                                   params={"members": [1]}))
    assert job.status == "succeeded", job.error_message


def test_fingerprint_then_check_a_suspect(iris_version):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from core.errors import Conflict

    with pytest.raises(Conflict, match="no fingerprint"):
        services.fingerprint_check(actor=iris_version.author, version=iris_version,
                                   suspect_file=SimpleUploadedFile("s.skops", iris_skops()), filename="s.skops")
    job = run(services.job_enqueue(actor=iris_version.author, version=iris_version, kind="fingerprint"))
    assert job.status == "succeeded", job.error_message
    outcome = services.fingerprint_check(actor=iris_version.author, version=iris_version,
                                         suspect_file=SimpleUploadedFile("s.skops", iris_skops()),
                                         filename="s.skops")
    assert outcome["match_rate"] == 1.0 and outcome["p_value"] < 0.01


def test_hardened_version_page_shows_before_and_after(trained_version, api_as, client):
    from django.urls import reverse

    author = trained_version.created_by
    job = run(services.job_enqueue(actor=author, version=trained_version, kind="adversarial_training",
                                   params={"max_rows": 100}))
    response = api_as(author).post(f"/api/v1/jobs/{job.pk}/register/")
    assert response.status_code == 201, response.json()
    assert response.json()["parent"] == trained_version.number
    client.force_login(author)
    page = client.get(reverse("version-detail", args=["iris", response.json()["version"]])).content.decode()
    assert 'data-testid="hardening-origin"' in page and "Clean accuracy" in page


def test_a_suspect_checked_from_an_incident_goes_on_its_timeline(iris_version, client):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from governance.models import AuditEvent
    from incidents.models import TimelineEntry
    from incidents.services import incident_open
    from tests.conftest import make_user

    author = iris_version.author
    run(services.job_enqueue(actor=author, version=iris_version, kind="fingerprint"))
    incident = incident_open(actor=author, title="A copy of iris is served by a competitor", severity="sev2",
                             category="extraction", affected_models=[iris_version.model])
    url = reverse("incident-fingerprint-check", args=[incident.pk])

    reviewer = make_user("fp_reviewer", ["reviewer"])  # may run jobs, may not write on incidents
    client.force_login(reviewer)
    page = client.get(reverse("incident-detail", args=[incident.pk])).content.decode()
    assert url not in page
    response = client.post(url, {"version": iris_version.pk, "suspect": SimpleUploadedFile("s.skops", iris_skops())})
    assert response.status_code == 403
    assert not TimelineEntry.objects.filter(incident=incident, kind="job").exists()

    client.force_login(author)
    assert url in client.get(reverse("incident-detail", args=[incident.pk])).content.decode()
    response = client.post(url, {"version": iris_version.pk}, follow=True)
    assert "Choose the suspect model" in response.content.decode()
    response = client.post(url, {"version": iris_version.pk,
                                 "suspect": SimpleUploadedFile("suspect.skops", iris_skops())}, follow=True)
    assert "outputs match" in response.content.decode()
    entry = TimelineEntry.objects.get(incident=incident, kind="job")
    assert "Fingerprint check of suspect.skops" in entry.body and entry.job.kind == "fingerprint"
    event = AuditEvent.objects.get(action="incident.analysis_evidence", object_id=str(incident.pk))
    assert event.changes["after"]["match_rate"] == 1.0 and event.changes["after"]["p_value"] < 0.01


@pytest.mark.parametrize("kind", ["shap_global", "permutation_importance", "rule_extraction"])
def test_explanations_run_on_a_version_with_a_training_dataset(trained_version, kind):
    job = run(services.job_enqueue(actor=trained_version.created_by, version=trained_version, kind=kind,
                                   params={"max_rows": 100}))
    assert job.status == "succeeded", job.error_message


def test_hardening_someone_elses_model_is_refused_when_queued_not_after_the_work(iris_version):
    """A hardening job registers its result as a new version of the model: it needs ownership, up front."""
    from core.errors import PermissionDenied
    from tests.conftest import make_user

    rival = make_user("rival_hardener", ["contributor"])
    with pytest.raises(PermissionDenied, match="Only the owner of 'iris'"):
        services.job_enqueue(actor=rival, version=iris_version, kind="adversarial_training", params={})
    assert services.job_enqueue(actor=rival, version=iris_version, kind="permutation_importance", params={})


@pytest.fixture
def rare_positive_data(db, artifact_dir):
    """A 3 %-positive dataset, registered, and its author."""
    import numpy as np
    import pandas as pd

    from tests.conftest import make_user

    generator = np.random.default_rng(3)
    frame = pd.DataFrame({"a": generator.normal(size=400), "b": generator.normal(size=400)})
    score = frame["a"] + frame["b"]
    frame["default"] = np.where(score > np.quantile(score, 0.97), "yes", "no")
    author = make_user("rare_author", ["contributor"])
    dataset = registry.dataset_create(actor=author, fileobj=io.BytesIO(frame.to_csv(index=False).encode()),
                                      filename="rare.csv", target_column="default")
    return frame, dataset, author


def _register(author, dataset, estimator, name, **fields):
    from skops import io as skops_io

    model = registry.model_create(actor=author, name=name, title=name, task="classification", **fields)
    return registry.model_version_create(actor=author, model=model, fileobj=io.BytesIO(skops_io.dumps(estimator)),
                                         filename=f"{name}.skops", evaluation_dataset=dataset,
                                         training_dataset=dataset)


def test_a_constant_model_never_passes_the_scorecard(rare_positive_data):
    from sklearn.dummy import DummyClassifier

    frame, dataset, author = rare_positive_data
    constant = DummyClassifier(strategy="most_frequent").fit(frame[["a", "b"]], frame["default"])
    version = _register(author, dataset, constant, "always-no")
    for kind in ("cross_validation", "stress_test", "adversarial_evasion"):
        job = run(services.job_enqueue(actor=author, version=version, kind=kind,
                                       params={"n_samples": 10, "hsj_max_iter": 1, "hsj_max_eval": 20,
                                               "attacks": ["hop_skip_jump"]} if kind == "adversarial_evasion"
                                       else {"sensitivity_repeats": 1} if kind == "stress_test" else {}))
        assert job.status == "succeeded", (kind, job.error_message)
    card = scorecard(version)
    lights = {row["kind"]: row for row in card["rows"]}
    assert not card["passed"]
    for kind in ("cross_validation", "stress_test", "adversarial_evasion"):
        assert lights[kind]["light"] == "red", lights[kind]
        assert "constant model" in lights[kind]["detail"]
    assert checks.EVALUATORS["robustness"](version)[0] == "failed"


def test_the_models_primary_metric_is_what_the_analyses_judge_by(rare_positive_data):
    from sklearn.linear_model import LogisticRegression

    frame, dataset, author = rare_positive_data
    fitted = LogisticRegression().fit(frame[["a", "b"]], frame["default"])
    version = _register(author, dataset, fitted, "rare-f1", primary_metric="f1")
    job = run(services.job_enqueue(actor=author, version=version, kind="stress_test",
                                   params={"sensitivity_repeats": 1}))
    assert job.status == "succeeded", job.error_message
    assert job.result["metric"] == "f1"
    assert job.result["verdict"]["metric"]["source"] == "model"


def test_a_result_on_another_dataset_says_which_dataset_it_used(iris_version):
    from explain import selectors
    from tests.ml import iris_frame

    other = registry.dataset_create(actor=iris_version.author, fileobj=io.BytesIO(iris_csv(iris_frame().head(120))),
                                    filename="holdout.csv", target_column="target")
    job = run(services.job_enqueue(actor=iris_version.author, version=iris_version, kind="cross_validation",
                                   dataset=other))
    reason = selectors.is_stale(job)
    assert reason == (f"run on dataset “holdout.csv” (#{other.pk}), not on the version's evaluation dataset "
                      f"“iris.csv” (#{iris_version.evaluation_dataset_id})")
    same_table = registry.dataset_create(actor=iris_version.author, fileobj=io.BytesIO(iris_csv()),
                                         filename="again.csv", target_column="target")
    job = run(services.job_enqueue(actor=iris_version.author, version=iris_version, kind="cross_validation",
                                   dataset=same_table))
    assert selectors.is_stale(job) == ""  # the very same table, uploaded twice


def test_a_classifier_whose_check_passes_is_fingerprinted_once_through_the_registry_event(iris_version):
    from explain.models import AnalysisJob

    registry.version_compatibility_check(version_id=iris_version.pk)
    registry.version_compatibility_check(version_id=iris_version.pk)  # a re-run does not queue a second one
    assert AnalysisJob.objects.filter(version=iris_version, kind="fingerprint").count() == 1
