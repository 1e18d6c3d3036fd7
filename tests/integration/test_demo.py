"""What a newcomer sees after `make run`: the demo seeded, and every job it queues finishing with a result."""

import io

import pytest
from django.core.management import call_command

from explain import services as jobs
from explain.models import AnalysisJob
from governance.models import ModelVersion, RegisteredModel

pytestmark = pytest.mark.django_db


def test_every_job_the_demo_queues_succeeds():
    call_command("seed_demo", stdout=io.StringIO())
    assert set(RegisteredModel.objects.values_list("name", flat=True)) >= {"credit-scoring", "breast-cancer",
                                                                           "wine", "diabetes"}
    for version in ModelVersion.objects.all():  # the worker runs these first: the checks come from uploads
        from governance.services import version_compatibility_check

        version_compatibility_check(version_id=version.pk)
    queued = list(AnalysisJob.objects.filter(status="queued").order_by("pk").values_list("pk", flat=True))
    credit = AnalysisJob.objects.filter(version__model__name="credit-scoring")
    assert {"shap_global", "lime", "rule_extraction", "adversarial_evasion", "membership_inference"} <= set(
        credit.values_list("kind", flat=True))
    for pk in queued:
        jobs.job_execute(job_id=pk, hostname="demo-test")
    failed = {f"{j.version} {j.kind}": j.error_message
              for j in AnalysisJob.objects.filter(pk__in=queued).exclude(status="succeeded")}
    assert failed == {}
    assert all(v.compat_status == "passed" for v in ModelVersion.objects.all())
