from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incident response"

    def ready(self):
        from . import receivers

        receivers.connect()

        from governance import dashboard

        from .selectors import incidents_per_day, my_open_action_items

        dashboard.register_series("Incidents opened", incidents_per_day)
        dashboard.register_panel(my_open_action_items, order=20)
