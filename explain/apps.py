from django.apps import AppConfig


class ExplainConfig(AppConfig):
    name = "explain"
    verbose_name = "Explainability and robustness"

    def ready(self):
        from governance import health

        from .selectors import job_queue_progress

        health.register_progress("analysis jobs", job_queue_progress)

        from governance import dashboard

        from .selectors import jobs_per_day

        dashboard.register_series("Analysis jobs", jobs_per_day)

        from governance import checks

        from . import scorecard

        checks.register_thresholds(defaults=scorecard.DEFAULT_THRESHOLDS, fields=scorecard.THRESHOLD_FIELDS,
                                   gated=list(scorecard.RULES), validate=scorecard.validate_thresholds)
