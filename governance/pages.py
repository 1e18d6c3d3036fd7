"""What other apps add to the registry's version pages, registered in their AppConfig.ready(): the analysis app
puts a version's recent jobs and its hardening origin on the version page, and the importance comparison on the
compare page. The registry renders what it is given and never imports them."""

from collections.abc import Callable

_version: list[Callable] = []
_compare: list[Callable] = []


def register_version_context(provider: Callable) -> None:
    """`provider(version)` -> {template variable: value} for the version page."""
    if provider not in _version:
        _version.append(provider)


def register_compare_context(provider: Callable) -> None:
    """`provider(a, b)` -> {template variable: value} for the page comparing two versions."""
    if provider not in _compare:
        _compare.append(provider)


def version_context(version) -> dict:
    values: dict = {}
    for provider in _version:
        values.update(provider(version))
    return values


def compare_context(a, b) -> dict:
    values: dict = {}
    for provider in _compare:
        values.update(provider(a, b))
    return values
