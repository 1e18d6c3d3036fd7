"""Celery's prefork pool, made safe against a pool process that is killed while it waits for work.

With a transport that has no event loop (kombu's filesystem transport, the embedded default), Celery uses
billiard's blocking pool: every idle pool process waits for its next task inside `SimpleQueue.get_payload()`,
*holding* the queue's shared read lock while it blocks in `recv_bytes()`. SIGKILL that process (the OOM
killer, an operator, a crash in native code) and the lock is never released: its replacement waits for the
lock for ever, queued jobs never start, and `celery inspect ping` still answers. Here a process waits for data
*before* it takes the lock, and holds the lock only to read a message that is already there.

(Redis and AMQP use Celery's AsynPool, which gives each process its own pipe and has no such lock.)
"""

from billiard.pool import Pool as BillardPool
from billiard.queues import SimpleQueue
from celery.concurrency import prefork

_POLL_SECONDS = 1.0


class IdleSafeQueue(SimpleQueue):
    def get_payload(self):
        while True:
            if not self._reader.poll(_POLL_SECONDS):
                continue
            if not self._rlock.acquire(timeout=_POLL_SECONDS):
                continue
            try:
                if self._reader.poll(0):  # another process may have taken the message first
                    return self._reader.recv_bytes()
            finally:
                self._rlock.release()


class IdleSafeBlockingPool(BillardPool):
    def _setup_queues(self):
        super()._setup_queues()
        self._inqueue = IdleSafeQueue(ctx=self._ctx)
        self._quick_put = self._inqueue._writer.send


class TaskPool(prefork.TaskPool):
    BlockingPool = IdleSafeBlockingPool
