from celery import shared_task

from governance.choices import Channel
from governance.context import RequestMeta, acting_as


@shared_task(name="incidents.notify_overdue_action_items", queue="light")
def notify_overdue_action_items() -> int:
    from .services import notifications_overdue_action_items

    with acting_as(RequestMeta(channel=Channel.WORKER)):
        return notifications_overdue_action_items()
