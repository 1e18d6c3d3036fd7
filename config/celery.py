import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# One BLAS/OpenMP thread per process: workers scale by processes (one per core), and OpenMP pools
# initialised before Celery forks its children make tree-ensemble predictions hang.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

app = Celery("bulwark")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Two queues so that long analyses never starve quick ones: run heavy workers separately.
app.conf.task_queues = tuple(Queue(name, Exchange(name), routing_key=name) for name in ("light", "heavy"))
app.autodiscover_tasks()
