from django.apps import AppConfig


class ExplainConfig(AppConfig):
    name = "explain"
    verbose_name = "Explainability and robustness"

    def ready(self):
        """What the registry shows of the analyses, registered here so that the registry never imports them."""
        from governance import checks, dashboard, health, pages

        from . import receivers, scorecard, selectors

        receivers.connect()
        health.register_progress("analysis jobs", selectors.job_queue_progress)
        dashboard.register_series("Analysis jobs", selectors.jobs_per_day)
        dashboard.register_counts(selectors.dashboard_job_counts)
        pages.register_version_context(selectors.version_page_context)
        pages.register_compare_context(lambda a, b: {"importance": selectors.importance_comparison(a, b)})
        checks.register_evaluator("explainability", selectors.explainability_evidence)
        checks.register_evaluator("robustness", selectors.robustness_evidence)
        checks.register_thresholds(defaults=scorecard.DEFAULT_THRESHOLDS, fields=scorecard.THRESHOLD_FIELDS,
                                   gated=list(scorecard.RULES), validate=scorecard.validate_thresholds)
