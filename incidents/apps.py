from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incident response"

    def ready(self):
        """Subscriptions to the registry's events, and what the dashboard and the navigation show of incidents."""
        from governance import dashboard, navigation

        from . import receivers, selectors

        receivers.connect()
        dashboard.register_series("Incidents opened", selectors.incidents_per_day)
        dashboard.register_panel(selectors.my_open_action_items, order=20)
        dashboard.register_counts(selectors.dashboard_incident_counts)
        dashboard.register_extra("overdue_items", lambda user: selectors.overdue_action_items()[:10])
        navigation.register_count("unread_notifications", selectors.unread_notification_count)
