"""Domain events: an inner app announces what happened; outer apps subscribe in their AppConfig.ready().

This is how the registry tells the incident app (notifications) about a decision without importing it. Handlers
run synchronously inside the publisher's transaction, so what they write commits or rolls back with the change;
anything slow or external (e-mail, webhooks) they defer with transaction.on_commit.

Events:
    version.status_changed: version, before, after (statuses), actor (None for the system), reason, extra
    model_version.compatibility_checked: version, status (passed / failed / error)
    job.finished: job, status (succeeded / failed / cancelled)
    fingerprint.checked: actor, version, job (the fingerprint), incident, outcome, filename
"""

from collections import defaultdict
from collections.abc import Callable

_handlers: dict[str, list[Callable]] = defaultdict(list)


def subscribe(name: str, handler: Callable) -> None:
    if handler not in _handlers[name]:
        _handlers[name].append(handler)


def publish(name: str, **payload) -> None:
    for handler in list(_handlers[name]):
        handler(**payload)
