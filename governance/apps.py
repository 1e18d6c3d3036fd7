from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        from . import receivers  # noqa: F401  (login/logout audit events)
        from .api import schema  # noqa: F401  (OpenAPI descriptions of our authenticators)
