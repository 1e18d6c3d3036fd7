from django.apps import AppConfig


class ExplainConfig(AppConfig):
    name = "explain"
    verbose_name = "Explainability and robustness"

    def ready(self):
        from governance import health

        from .selectors import job_queue_progress

        health.register_progress("analysis jobs", job_queue_progress)
