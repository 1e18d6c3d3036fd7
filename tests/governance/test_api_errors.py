"""Under /api/ every error is JSON in DRF's shape, never an HTML page; races answer 404/409, not 500."""

import threading

import pytest
from django.db import connection

from core.errors import NotFound
from governance import services
from governance.models import RegisteredModel

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/jobs/-1/", "/api/v1/no-such-thing/", "/api/v1/models/a/b/c/d/e/"])
def test_unmatched_api_paths_answer_json_404(api_as, cast, path):
    response = api_as(cast["viewer"]).get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found."}


def test_a_crash_under_the_api_answers_json_500(api_as, cast, monkeypatch):
    from governance import selectors

    def boom():
        raise RuntimeError("unexpected")

    monkeypatch.setattr(selectors, "model_list", boom)
    client = api_as(cast["viewer"])
    client.raise_request_exception = False
    response = client.get("/api/v1/models/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json") and "detail" in response.json()


def test_html_pages_keep_their_html_404(client, cast):
    client.force_login(cast["viewer"])
    response = client.get("/models/no-such-model/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_updating_a_model_deleted_meanwhile_is_a_404(cast):
    model = services.model_create(actor=cast["author"], name="gone", title="Gone", task="classification")
    stale = RegisteredModel.objects.get(pk=model.pk)
    services.model_delete(actor=cast["author"], model=model)
    with pytest.raises(NotFound):
        services.model_update(actor=cast["author"], model=stale, title="Too late")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_patch_racing_delete_never_answers_500(api_as, cast):
    if connection.vendor != "postgresql":
        pytest.skip("row-locking races are exercised on PostgreSQL")
    client_a, client_b = api_as(cast["author"]), api_as(cast["author"])
    for client in (client_a, client_b):
        client.raise_request_exception = False
    statuses = []
    for trial in range(15):
        name = f"race-{trial}"
        services.model_create(actor=cast["author"], name=name, title="Race", task="classification")
        barrier = threading.Barrier(2)

        def patch(name=name, barrier=barrier):
            barrier.wait()
            statuses.append(client_a.patch(f"/api/v1/models/{name}/", {"title": "New"}, format="json").status_code)
            connection.close()

        def delete(name=name, barrier=barrier):
            barrier.wait()
            statuses.append(client_b.delete(f"/api/v1/models/{name}/").status_code)
            connection.close()

        threads = [threading.Thread(target=patch), threading.Thread(target=delete)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert 500 not in statuses, statuses
    assert set(statuses) <= {200, 204, 404}
