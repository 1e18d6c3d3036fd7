"""What the navigation bar shows on every page: the user's permissions, and counters other apps provide (the
incident app's unread notifications) through register_count in their AppConfig.ready()."""

from collections.abc import Callable

from .permissions import Action, can

_counts: dict[str, Callable] = {}


def register_count(name: str, provider: Callable) -> None:
    """`provider(user)` -> a number shown in the navigation under `name`."""
    _counts[name] = provider


def context(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    may = {action.name.lower(): can(user, action) for action in Action}
    values = {"may": may, **{name: provider(user) for name, provider in _counts.items()}}
    if may["review_decide"]:
        from .selectors import review_queue_count

        values["review_queue_count"] = review_queue_count(user)
    return values
