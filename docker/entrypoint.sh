#!/bin/sh
# Bulwark container entrypoint.
#
#   web    [gunicorn args...]  apply migrations, then serve config.wsgi on 0.0.0.0:8000
#   worker [celery args...]    Celery worker on the light and heavy queues
#   beat   [celery args...]    Celery beat (run exactly ONE per deployment)
#   anything else              exec'd as given (gunicorn ..., python manage.py ..., sh)
#
# Extra arguments after web/worker/beat go to gunicorn or celery, and a later
# option wins, e.g. `worker -Q heavy --concurrency 1` for a heavy-only worker.
set -eu

cmd="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$cmd" in
  web)
    python manage.py migrate --noinput
    exec gunicorn config.wsgi:application \
      --bind 0.0.0.0:8000 \
      --workers "${WEB_CONCURRENCY:-3}" \
      --access-logfile - \
      --error-logfile - \
      "$@"
    ;;
  worker)
    exec celery -A config worker \
      -Q light,heavy \
      --loglevel INFO \
      --concurrency "${WORKER_CONCURRENCY:-2}" \
      "$@"
    ;;
  beat)
    exec celery -A config beat \
      --loglevel INFO \
      --schedule /data/celerybeat-schedule \
      "$@"
    ;;
  *)
    exec "$cmd" "$@"
    ;;
esac
