"""Races that only a real PostgreSQL can show: version numbering and releases under concurrency."""

import io
import threading

import pytest
from django.db import connection, connections

from core.errors import Conflict
from governance import services
from governance.models import ModelVersion
from tests.conftest import make_user
from tests.ml import iris_csv, iris_skops

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only(settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("row locking races are exercised on PostgreSQL")
    storages = dict(settings.STORAGES)
    storages["artifacts"] = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                             "OPTIONS": {"location": str(tmp_path / "artifacts")}}
    settings.STORAGES = storages
    settings.ATTESTATION_KEY_FILE = tmp_path / "attestation.pem"


def run_concurrently(functions):
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)

    def worker(i, fn):
        try:
            barrier.wait()
            results[i] = ("ok", fn())
        except Exception as exc:  # collected for the assertions
            results[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(functions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture
def people():
    return {"author": make_user("author", ["contributor"]), "reviewer": make_user("reviewer", ["reviewer"]),
            "reviewer2": make_user("reviewer2", ["reviewer"])}


@pytest.fixture
def model(people):
    return services.model_create(actor=people["author"], name="iris", title="Iris", task="classification",
                                 risk_tier="low")


def test_concurrent_uploads_get_unique_gapless_numbers(people, model):
    results = run_concurrently([
        lambda: services.model_version_create(actor=people["author"], model=model, fileobj=io.BytesIO(iris_skops()),
                                              filename="iris.skops").number
        for _ in range(6)
    ])
    assert [r[0] for r in results] == ["ok"] * 6, results
    assert sorted(r[1] for r in results) == [1, 2, 3, 4, 5, 6]
    assert sorted(ModelVersion.objects.values_list("number", flat=True)) == [1, 2, 3, 4, 5, 6]


def approved_version(people, model):
    dataset = services.dataset_create(actor=people["author"], fileobj=io.BytesIO(iris_csv()), filename="i.csv",
                                      target_column="target")
    version = services.model_version_create(actor=people["author"], model=model, fileobj=io.BytesIO(iris_skops()),
                                            filename="iris.skops", evaluation_dataset=dataset)
    version = services.version_compatibility_check(version_id=version.pk)
    services.version_submit(actor=people["author"], version=version)
    services.review_create(actor=people["reviewer"], version=version, decision="approve")
    version.refresh_from_db()
    assert version.status == "approved"
    return version


def test_two_concurrent_releases_of_one_version_yield_one_release_and_one_409(people, model):
    version = approved_version(people, model)
    results = run_concurrently([
        lambda: services.version_release(actor=people["reviewer"], version=version),
        lambda: services.version_release(actor=people["reviewer2"], version=version),
    ])
    outcomes = sorted(r[0] for r in results)
    assert outcomes == ["error", "ok"], results
    error = next(r[1] for r in results if r[0] == "error")
    assert isinstance(error, Conflict) and "already released" in error.message
    assert ModelVersion.objects.filter(status="released").count() == 1
    assert version.attestations.count() == 1


def test_concurrent_releases_of_two_versions_leave_exactly_one_released(people, model):
    first, second = approved_version(people, model), approved_version(people, model)
    results = run_concurrently([
        lambda: services.version_release(actor=people["reviewer"], version=first),
        lambda: services.version_release(actor=people["reviewer2"], version=second),
    ])
    assert [r[0] for r in results] == ["ok", "ok"], results
    statuses = sorted(ModelVersion.objects.values_list("status", flat=True))
    assert statuses == ["deprecated", "released"]
