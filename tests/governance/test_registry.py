"""Registering models, versions and datasets through the API and the pages, and the bad inputs."""

import hashlib
import os
import pickle
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from governance import services
from governance.models import AuditEvent, Dataset, ModelVersion, RegisteredModel, SecurityFinding, StoredFile
from tests.conftest import assert_audited
from tests.ml import (
    Evil,
    iris_csv,
    iris_frame,
    iris_model,
    iris_pickle,
    iris_skops,
    mixed_frame,
    mixed_pipeline,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def artifact_dir(settings, tmp_path):
    storages = dict(settings.STORAGES)
    storages["artifacts"] = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                             "OPTIONS": {"location": str(tmp_path / "artifacts")}}
    settings.STORAGES = storages
    settings.ARTIFACT_STORAGE_DIR = tmp_path / "artifacts"
    return tmp_path / "artifacts"


def blobs(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def contributor_api(api_as, cast):
    return api_as(cast["author"])


@pytest.fixture
def iris_model_row(cast):
    return services.model_create(actor=cast["author"], name="iris", title="Iris species", task="classification",
                                 tags=["tabular", "demo"])


@pytest.fixture
def iris_dataset(cast):
    import io

    return services.dataset_create(actor=cast["author"], fileobj=io.BytesIO(iris_csv()), filename="iris.csv",
                                   target_column="target")


def post_version(client, name, data, filename, **extra):
    return client.post(f"/api/v1/models/{name}/versions/", {"artifact": upload(filename, data), **extra},
                       format="multipart")


# --- models -------------------------------------------------------------------------------------------

def test_contributor_registers_a_model_with_card_and_tags(contributor_api, cast):
    response = contributor_api.post("/api/v1/models/", {
        "name": "credit-scoring", "title": "Credit scoring", "task": "classification", "risk_tier": "high",
        "tags": ["credit", "Tabular"], "card": {"intended_use": "Pre-screen consumer loans."},
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner"] == "author" and body["tags"] == ["credit", "tabular"]
    assert body["card"]["intended_use"] == "Pre-screen consumer loans."
    assert "Out-of-scope uses" in body["card"]["missing_sections"]
    assert_audited(RegisteredModel.objects.get(name="credit-scoring"), "model.create")


@pytest.mark.parametrize("payload, status, fragment", [
    ({"name": "Bad Name!", "title": "x", "task": "classification"}, 400, "slug"),
    ({"name": "ok", "title": "x", "task": "clustering"}, 400, "task"),
    ({"name": "ok", "title": "", "task": "classification"}, 400, "title"),
])
def test_bad_model_input_is_refused(contributor_api, payload, status, fragment):
    response = contributor_api.post("/api/v1/models/", payload, format="json")
    assert response.status_code == status
    assert fragment in str(response.json())
    assert not RegisteredModel.objects.exists()


def test_duplicate_model_name_is_a_conflict(contributor_api, iris_model_row):
    response = contributor_api.post("/api/v1/models/", {"name": "IRIS", "title": "x", "task": "classification"},
                                    format="json")
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]
    assert RegisteredModel.objects.count() == 1


def test_viewer_cannot_register(api_as, cast):
    response = api_as(cast["viewer"]).post("/api/v1/models/", {"name": "x", "title": "x", "task": "regression"},
                                           format="json")
    assert response.status_code == 403
    assert "contributor" in response.json()["detail"]


def test_unknown_model_is_404(contributor_api):
    assert contributor_api.get("/api/v1/models/nope/").status_code == 404
    assert contributor_api.get("/api/v1/models/nope/versions/").status_code == 404
    assert contributor_api.get("/api/v1/models/nope/versions/1/").status_code == 404


def test_model_list_search_and_filters(contributor_api, cast):
    for name, tier, tags in [("alpha", "low", ["nlp"]), ("beta", "high", ["credit"]), ("gamma", "high", [])]:
        services.model_create(actor=cast["author"], name=name, title=name.title(), task="classification",
                              risk_tier=tier, tags=tags)
    names = lambda r: [m["name"] for m in r.json()["results"]]  # noqa: E731
    assert names(contributor_api.get("/api/v1/models/", {"risk_tier": "high"})) == ["beta", "gamma"]
    assert names(contributor_api.get("/api/v1/models/", {"q": "credit"})) == ["beta"]
    assert names(contributor_api.get("/api/v1/models/", {"ordering": "-name"})) == ["gamma", "beta", "alpha"]
    assert contributor_api.get("/api/v1/models/", {"risk_tier": "extreme"}).status_code == 400


def test_model_patch_and_card_update_are_audited(contributor_api, iris_model_row):
    response = contributor_api.patch("/api/v1/models/iris/", {
        "title": "Iris flowers", "card": {"caveats_and_recommendations": "Toy data."}}, format="json")
    assert response.status_code == 200
    event = assert_audited(iris_model_row, "model.update")
    assert event.changes == {"before": {"title": "Iris species"}, "after": {"title": "Iris flowers"}}
    assert AuditEvent.objects.filter(action="model_card.update").count() == 1


def test_model_card_markdown_is_sanitised(client, cast, iris_model_row):
    services.model_card_update(actor=cast["author"], model=iris_model_row,
                               intended_use='<script>alert("x")</script> **bold** [link](javascript:alert(1)) '
                                            '<img src=x onerror=alert(1)>')
    client.force_login(cast["viewer"])
    html = client.get(reverse("model-detail", args=["iris"])).content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script>alert" not in html and "javascript:" not in html and "onerror" not in html


# --- versions -----------------------------------------------------------------------------------------

def test_upload_skops_version_records_hash_features_and_classes(contributor_api, iris_model_row, iris_dataset):
    data = iris_skops()
    response = post_version(contributor_api, "iris", data, "iris.skops", evaluation_dataset=iris_dataset.pk)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == 1 and body["flavour"] == "sklearn" and body["status"] == "draft"
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["artifact"]["size"] == len(data)
    assert body["feature_names"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert body["class_labels"] == ["setosa", "versicolor", "virginica"]
    assert body["scan_report"]["ok"] is True
    assert_audited(ModelVersion.objects.get(), "version.create")


def test_version_numbers_increase_per_model_and_record_lineage(contributor_api, iris_model_row):
    assert post_version(contributor_api, "iris", iris_skops(), "a.skops").json()["number"] == 1
    second = post_version(contributor_api, "iris", iris_pickle(), "b.pkl", parent=1).json()
    assert second["number"] == 2 and second["parent"] == 1 and second["flavour"] == "pickle"
    assert post_version(contributor_api, "iris", iris_skops(), "c.skops", parent=9).status_code == 400


def test_compatibility_check_predicts_and_records_metrics(contributor_api, iris_model_row, iris_dataset):
    post_version(contributor_api, "iris", iris_skops(), "iris.skops", evaluation_dataset=iris_dataset.pk)
    version = services.version_compatibility_check(version_id=ModelVersion.objects.get().pk)
    assert version.compat_status == "passed", version.compat_result
    result = version.compat_result
    assert result["features_match"] is True and result["rows"] == 150
    frame = iris_frame()
    expected = (iris_model().predict(frame.drop(columns="target")) == frame["target"]).mean()
    assert version.metrics["accuracy"] == pytest.approx(expected)
    assert 0 < version.metrics["roc_auc"] <= 1
    assert result["latency_ms_per_row"] > 0
    assert AuditEvent.objects.filter(action="version.compat_check").count() == 1


def test_model_whose_features_do_not_match_the_dataset_fails_the_check(contributor_api, cast, iris_dataset):
    import io

    import skops.io

    services.model_create(actor=cast["author"], name="mixed", title="Mixed", task="classification")
    frame = mixed_frame().rename(columns={"label": "target"})
    other = services.dataset_create(actor=cast["author"], fileobj=io.BytesIO(frame.to_csv(index=False).encode()),
                                    filename="mixed.csv", target_column="target")
    response = post_version(contributor_api, "mixed", skops.io.dumps(mixed_pipeline()), "m.skops",
                            evaluation_dataset=iris_dataset.pk)
    assert response.status_code == 201
    version = services.version_compatibility_check(version_id=ModelVersion.objects.get().pk)
    assert version.compat_status == "failed"
    assert set(version.compat_result["missing_features"]) == {"income", "age", "home"}
    services.model_version_update(actor=cast["author"], version=version, evaluation_dataset=other)
    version = services.version_compatibility_check(version_id=version.pk)
    assert version.compat_status == "passed"
    assert version.metrics["accuracy"] > 0.7


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_malicious_pickle_is_rejected_with_findings_and_nothing_ran(contributor_api, iris_model_row, tmp_path,
                                                                     artifact_dir, protocol):
    marker = tmp_path / "pwned"
    response = post_version(contributor_api, "iris", pickle.dumps(Evil(marker), protocol=protocol), "model.pkl")
    assert response.status_code == 400
    body = response.json()
    assert "security scan" in body["artifact"][0]
    assert any("system" in f["global"] for f in body["findings"])
    assert not marker.exists()
    assert not ModelVersion.objects.exists() and not StoredFile.objects.exists()
    assert blobs(artifact_dir) == []


def test_malicious_object_inside_a_real_model_is_rejected(contributor_api, iris_model_row, tmp_path):
    import copy

    model = copy.deepcopy(iris_model())
    model.payload = {"hidden": [Evil(tmp_path / "pwned")]}
    response = post_version(contributor_api, "iris", pickle.dumps(model), "model.pkl")
    assert response.status_code == 400
    assert not (tmp_path / "pwned").exists()


def test_oversized_upload_is_413_and_leaves_nothing(contributor_api, iris_model_row, settings, artifact_dir):
    settings.MAX_UPLOAD_BYTES = 1000
    response = post_version(contributor_api, "iris", iris_skops(), "iris.skops")
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert not StoredFile.objects.exists() and blobs(artifact_dir) == []


def test_oversized_request_is_refused_before_it_is_read(contributor_api, iris_model_row, settings):
    settings.MAX_UPLOAD_BYTES = 10
    response = contributor_api.post("/api/v1/models/iris/versions/", {"artifact": upload("x.skops", b"x" * 2_000_000)},
                                    format="multipart")
    assert response.status_code == 413


@pytest.mark.parametrize("filename, data, status, fragment", [
    ("model.exe", os.urandom(256), 415, "cannot tell"),
    ("model.skops", b"PK\x03\x04 this is not really a zip", 400, "could not be"),
    ("model.onnx", b"definitely not protobuf", 400, "could not be"),
    ("model.pkl", b"\x80\x05\x95 truncated", 400, "could not be"),
    ("empty.skops", b"", 400, "empty"),
])
def test_bad_artifacts_get_clear_errors(contributor_api, iris_model_row, artifact_dir, filename, data, status,
                                        fragment):
    response = post_version(contributor_api, "iris", data, filename)
    assert response.status_code == status, response.json()
    assert fragment in str(response.json()).lower()
    assert not StoredFile.objects.exists() and blobs(artifact_dir) == []


def test_regression_model_cannot_become_a_version_of_a_classifier(contributor_api, cast, iris_model_row):
    import skops.io
    from sklearn.linear_model import LinearRegression

    frame = iris_frame()
    reg = LinearRegression().fit(frame.drop(columns=["target", "petal_width"]), frame["petal_width"])
    response = post_version(contributor_api, "iris", skops.io.dumps(reg), "reg.skops")
    assert response.status_code == 400
    assert "regression" in str(response.json())


def test_path_traversal_file_name_never_reaches_the_storage_path(contributor_api, iris_model_row, artifact_dir):
    response = post_version(contributor_api, "iris", iris_skops(), "../../../etc/passwd.skops")
    assert response.status_code == 201
    stored = StoredFile.objects.get()
    assert "/" not in stored.original_name and ".." not in stored.original_name
    assert all(artifact_dir in p.parents for p in blobs(artifact_dir))


def test_artifact_download_is_the_exact_bytes(contributor_api, iris_model_row):
    data = iris_skops()
    post_version(contributor_api, "iris", data, "iris.skops")
    response = contributor_api.get("/api/v1/models/iris/versions/1/artifact/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["X-Artifact-SHA256"] == hashlib.sha256(data).hexdigest()
    assert response["Cache-Control"] == "no-store"


def test_artifact_download_from_the_version_page_is_never_cached(contributor_api, client, cast, iris_model_row):
    post_version(contributor_api, "iris", iris_skops(), "iris.skops")
    client.force_login(cast["viewer"])
    response = client.get(reverse("version-artifact", args=["iris", 1]))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"].startswith("attachment")


def test_tampered_artifact_is_refused_recorded_and_shown(contributor_api, client, cast, iris_model_row,
                                                         artifact_dir):
    post_version(contributor_api, "iris", iris_skops(), "iris.skops")
    blob = blobs(artifact_dir)[0]
    raw = bytearray(blob.read_bytes())
    raw[-5] ^= 0xFF
    blob.write_bytes(bytes(raw))

    response = contributor_api.get("/api/v1/models/iris/versions/1/artifact/")
    assert response.status_code == 409
    assert "Refused" in response.json()["detail"]
    version = ModelVersion.objects.get()
    finding = SecurityFinding.objects.get(version=version)
    assert finding.kind == "integrity" and finding.severity == "critical"
    assert_audited(version, "version.integrity_failure")

    checked = services.version_compatibility_check(version_id=version.pk)
    assert checked.compat_status == "error" and "Refused" in checked.compat_result["message"]

    client.force_login(cast["viewer"])
    page = client.get(reverse("version-detail", args=["iris", 1])).content.decode()
    assert 'data-testid="security-banner"' in page and "integrity check failed" in page


def test_version_patch_changes_metadata_never_the_artifact(contributor_api, iris_model_row):
    post_version(contributor_api, "iris", iris_skops(), "iris.skops")
    sha = ModelVersion.objects.get().artifact.sha256
    response = contributor_api.patch("/api/v1/models/iris/versions/1/", {"notes": "retrained", "artifact": "x"},
                                     format="json")
    assert response.status_code == 200
    assert response.json()["notes"] == "retrained" and response.json()["sha256"] == sha


def test_delete_model_removes_versions_and_blobs(contributor_api, iris_model_row, artifact_dir):
    post_version(contributor_api, "iris", iris_skops(), "iris.skops")
    assert contributor_api.delete("/api/v1/models/iris/").status_code == 204
    assert not RegisteredModel.objects.exists() and not StoredFile.objects.exists()
    assert AuditEvent.objects.filter(action="model.delete").count() == 1


def test_model_with_a_released_version_cannot_be_deleted(contributor_api, iris_model_row):
    post_version(contributor_api, "iris", iris_skops(), "iris.skops")
    ModelVersion.objects.update(status="released")
    response = contributor_api.delete("/api/v1/models/iris/")
    assert response.status_code == 409
    assert RegisteredModel.objects.exists()


# --- datasets -----------------------------------------------------------------------------------------

def test_dataset_upload_infers_schema(contributor_api):
    response = contributor_api.post("/api/v1/datasets/", {"file": upload("iris.csv", iris_csv()),
                                                           "target_column": "target"}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["rows"] == 150 and body["columns"] == 5 and body["target_column"] == "target"
    schema = {c["name"]: c for c in body["schema"]}
    assert schema["target"]["dtype"] == "categorical" and schema["sepal_length"]["min"] == 4.3
    detail = contributor_api.get(f"/api/v1/datasets/{body['id']}/").json()
    assert detail["sha256"] == hashlib.sha256(iris_csv()).hexdigest()


@pytest.mark.parametrize("filename, data, extra, status, fragment", [
    ("empty.csv", b"", {}, 400, "empty"),
    ("nohead.csv", b"1.0,2.0,3.0\n4.0,5.0,6.0\n", {}, 400, "header"),
    ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n", {}, 400, "row"),
    ("latin1.csv", "name,city\nJos\u00e9,M\u00e1laga\n".encode("latin-1"), {}, 400, "utf-8"),
    ("iris.csv", None, {"target_column": "species"}, 400, "target"),
    ("fake.parquet", b"a,b\n1,2\n", {}, 415, "parquet"),
])
def test_bad_datasets_are_refused_and_nothing_is_kept(contributor_api, artifact_dir, filename, data, extra, status,
                                                     fragment):
    data = iris_csv() if data is None else data
    response = contributor_api.post("/api/v1/datasets/", {"file": upload(filename, data), **extra},
                                    format="multipart")
    assert response.status_code == status, response.json()
    assert fragment in str(response.json()).lower()
    assert not Dataset.objects.exists() and not StoredFile.objects.exists() and blobs(artifact_dir) == []


# --- pages --------------------------------------------------------------------------------------------

def test_pages_render_for_a_viewer(client, cast, contributor_api, iris_model_row, iris_dataset):
    post_version(contributor_api, "iris", iris_skops(), "iris.skops", evaluation_dataset=iris_dataset.pk)
    post_version(contributor_api, "iris", iris_pickle(), "iris.pkl", evaluation_dataset=iris_dataset.pk, parent=1)
    client.force_login(cast["viewer"])
    for url in [reverse("model-list"), reverse("model-detail", args=["iris"]),
                reverse("version-detail", args=["iris", 1]), reverse("version-compare", args=["iris"]) + "?a=1&b=2",
                reverse("dataset-list"), reverse("dataset-detail", args=[iris_dataset.pk])]:
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(reverse("model-detail", args=["iris"])).content.decode()
    assert "Upload version" not in page  # viewers do not see write actions
    assert client.get(reverse("version-detail", args=["iris", 9])).status_code == 404
    assert client.get(reverse("version-compare", args=["iris"]) + "?a=1&b=7").status_code == 404


def test_upload_form_shows_field_errors_and_scan_findings(client, cast, iris_model_row, tmp_path):
    client.force_login(cast["author"])
    response = client.post(reverse("version-create", args=["iris"]),
                           {"artifact": upload("evil.pkl", pickle.dumps(Evil(tmp_path / "pwned")))})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="scan-findings"' in page and "system" in page
    assert not (tmp_path / "pwned").exists()


def test_register_model_command_prints_the_version_number(cast, tmp_path, capsys):
    model_file = tmp_path / "iris.skops"
    model_file.write_bytes(iris_skops())
    data_file = tmp_path / "iris.csv"
    data_file.write_bytes(iris_csv())
    call_command("register_model", str(model_file), "--name", "iris-cli", "--as", "author",
                 "--dataset", str(data_file), "--target", "target")
    assert capsys.readouterr().out.strip() == "1"
    model_file.write_bytes(iris_skops())  # a new save of the model: other bytes
    call_command("register_model", str(model_file), "--name", "iris-cli", "--as", "author")
    assert capsys.readouterr().out.strip() == "2"
    version = ModelVersion.objects.get(model__name="iris-cli", number=2)
    assert version.parent.number == 1 and version.evaluation_dataset is not None
    assert AuditEvent.objects.get(action="version.create", object_id=str(version.pk)).channel == "cli"


@pytest.mark.parametrize("content", [b"not a model at all", pickle.dumps(Evil("/tmp/never"))])  # noqa: S108
def test_register_model_with_task_and_a_rejected_file_leaves_nothing_behind(cast, tmp_path, content):
    """The fault: with --task the model row (and its audit event) was created before the file was refused."""
    from django.core.management.base import CommandError

    model_file = tmp_path / "bad.pkl"
    model_file.write_bytes(content)
    data_file = tmp_path / "iris.csv"
    data_file.write_bytes(iris_csv())
    events = AuditEvent.objects.count()
    with pytest.raises(CommandError):
        call_command("register_model", str(model_file), "--name", "bad-cli", "--as", "author", "--task",
                     "classification", "--dataset", str(data_file), "--target", "target")
    assert not RegisteredModel.objects.filter(name="bad-cli").exists()
    assert not Dataset.objects.exists() and AuditEvent.objects.count() == events


# --- query counts -------------------------------------------------------------------------------------

def bulk_registry(owner, models=12, versions=6):
    """Rows straight in the database (no blobs): enough to show N+1 queries, fast to make."""
    from governance.models import Tag

    tag = Tag.objects.create(name="bulk")
    for m in range(models):
        model = RegisteredModel.objects.create(name=f"bulk-{m}", title=f"Bulk {m}", task="classification",
                                               owner=owner)
        model.tags.add(tag)
        parent = None
        for n in range(1, versions + 1):
            stored = StoredFile.objects.create(path=f"x/{m}-{n}", key_id="k1", sha256=f"{m:032d}{n:032d}", size=1,
                                               original_name="m.skops")
            parent = ModelVersion.objects.create(model=model, number=n, flavour="sklearn", artifact=stored,
                                                 created_by=owner, parent=parent, metrics={"accuracy": 0.9})


@pytest.mark.parametrize("size", [(3, 2), (12, 6)])
def test_registry_pages_and_api_use_a_constant_number_of_queries(client, contributor_api, cast, size,
                                                                 django_assert_max_num_queries):
    bulk_registry(cast["author"], *size)
    client.force_login(cast["viewer"])
    for url in [reverse("model-list"), reverse("model-detail", args=["bulk-1"]),
                reverse("version-detail", args=["bulk-1", 2]), reverse("version-compare", args=["bulk-1"])]:
        with django_assert_max_num_queries(20):
            assert client.get(url).status_code == 200, url
    for url in ["/api/v1/models/", "/api/v1/models/bulk-1/", "/api/v1/models/bulk-1/versions/"]:
        with django_assert_max_num_queries(20):
            assert contributor_api.get(url).status_code == 200, url


def test_the_same_file_twice_is_refused_with_a_link_to_the_version_it_already_is(contributor_api, iris_model_row,
                                                                                  client, cast):
    data = iris_skops()
    assert post_version(contributor_api, "iris", data, "iris.skops").status_code == 201
    response = post_version(contributor_api, "iris", data, "copy.skops")
    assert response.status_code == 409
    assert response.json()["version"] == 1 and response.json()["url"] == "/models/iris/versions/1/"
    assert "identical to iris v1" in response.json()["detail"]
    assert ModelVersion.objects.filter(model__name="iris").count() == 1
    client.force_login(cast["author"])
    page = client.post("/models/iris/versions/new/", {"artifact": upload("copy.skops", data)})
    assert page.status_code == 409
    assert 'data-testid="duplicate-artifact"' in page.content.decode()
    assert 'href="/models/iris/versions/1/"' in page.content.decode()


def test_the_upload_form_states_no_parent_unless_the_uploader_picks_one(contributor_api, iris_model_row, client,
                                                                         cast):
    assert post_version(contributor_api, "iris", iris_skops(), "iris.skops").status_code == 201
    client.force_login(cast["author"])
    form = client.get("/models/iris/versions/new/").context["form"]
    assert form["parent"].value() is None
    assert "None: not derived from another version" in str(form["parent"])


def test_a_model_that_fails_on_the_dataset_gets_an_explained_message_not_a_raw_error(cast, iris_model_row):
    import io

    frame = iris_frame().copy()
    frame["sepal_length"] = "not a number"
    dataset = services.dataset_create(actor=cast["author"], fileobj=io.BytesIO(iris_csv(frame)), filename="t.csv",
                                      target_column="target")
    version = services.model_version_create(actor=cast["author"], model=iris_model_row,
                                            fileobj=io.BytesIO(iris_skops()), filename="i.skops",
                                            evaluation_dataset=dataset)
    version = services.version_compatibility_check(version_id=version.pk)
    message = version.compat_result["message"]
    assert version.compat_status == "error"
    assert message.startswith("The check stopped while predicting 150 rows of the evaluation dataset: ")
    assert not message.startswith("ValueError") and "value ranges the model was trained on" in message
    assert version.compat_result["error"]["type"] == "ValueError"
