import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("bulwark")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Two queues so that long analyses never starve quick ones: run heavy workers separately.
app.conf.task_queues = tuple(Queue(name, Exchange(name), routing_key=name) for name in ("light", "heavy"))
app.autodiscover_tasks()
