"""Job pages read as people read them: kinds by title, parameters as JSON, fingerprint rows as a CSV."""

import csv
import io
import json

import pytest
from django.urls import reverse

from explain import services

pytestmark = pytest.mark.django_db


def run(job):
    services.job_execute(job_id=job.pk, hostname="test")
    job.refresh_from_db()
    return job


def test_job_pages_show_titles_and_json_parameters(iris_version, client):
    job = services.job_enqueue(actor=iris_version.author, version=iris_version, kind="stress_test",
                               params={"noise_levels": [0.1], "sensitivity_repeats": 1})
    client.force_login(iris_version.author)
    listing = client.get(reverse("job-list")).content.decode()
    assert "Stress test: noise, missing values" in listing
    page = client.get(reverse("job-detail", args=[job.pk]))
    shown = page.content.decode()
    params = shown.split('data-testid="job-params">', 1)[1].split("</pre>", 1)[0]
    assert json.loads(params.replace("&quot;", '"'))["noise_levels"] == [0, 0.1]
    assert "{'" not in params  # not a Python repr


def test_the_fingerprint_rows_download_as_csv_and_the_summary_names_no_internal_function(iris_version, client):
    job = run(services.job_enqueue(actor=iris_version.author, version=iris_version, kind="fingerprint"))
    assert job.status == "succeeded", job.error_message
    assert "check_suspect" not in json.dumps(job.result["summary"])
    client.force_login(iris_version.author)
    assert 'data-testid="fingerprint-csv"' in client.get(reverse("job-detail", args=[job.pk])).content.decode()
    response = client.get(reverse("job-fingerprint-rows", args=[job.pk]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == len(job.result["fingerprint_rows"])
    assert list(rows[0]) == job.result["columns"]
    other = services.job_enqueue(actor=iris_version.author, version=iris_version, kind="stress_test")
    assert client.get(reverse("job-fingerprint-rows", args=[other.pk])).status_code == 404


def test_the_report_has_a_table_of_contents_collapsible_sections_and_the_full_rule_list(iris_version, client):
    job = run(services.job_enqueue(actor=iris_version.author, version=iris_version, kind="rule_extraction",
                                   params={"depth": 6}))
    assert job.status == "succeeded", job.error_message
    rules = job.result["tables"][0]["rows"]
    client.force_login(iris_version.author)
    page = client.get(reverse("version-report", args=["iris", 1])).content.decode()
    assert 'data-testid="report-toc"' in page and 'href="#analysis-rule_extraction"' in page
    assert 'data-bs-toggle="collapse" data-bs-target="#body-rule_extraction"' in page
    listed = page.split('data-testid="rule-list"', 1)[1].split("</details>", 1)[0]
    assert listed.count("<tr>") == len(rules) + 1  # every rule, and the header


def test_the_report_api_answers_json_and_the_html_export(iris_version, api_as):
    client = api_as(iris_version.author)
    body = client.get("/api/v1/models/iris/versions/1/report/").json()
    assert body["version"]["number"] == 1 and "analyses" in body
    export = client.get("/api/v1/models/iris/versions/1/report/?format=html")
    assert export.status_code == 200 and export["Content-Disposition"].startswith("attachment")
    assert b"<html" in export.content[:500].lower()
    assert client.get("/api/v1/models/iris/versions/9/report/").status_code == 404
