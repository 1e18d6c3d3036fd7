from django import template

from governance import markdown
from governance.choices import CHECK_STATUS_BADGE, VERSION_STATUS_BADGE

register = template.Library()


@register.filter
def render_markdown(text):
    return markdown.render(text)


@register.filter
def status_badge(status):
    return VERSION_STATUS_BADGE.get(status, "secondary")


@register.filter
def check_badge(status):
    return CHECK_STATUS_BADGE.get(status, "secondary")


@register.filter
def filesize(n):
    if n is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@register.filter
def metric(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    return value


@register.filter
def get_item(mapping, key):
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.simple_tag(takes_context=True)
def query_with(context, **kwargs):
    """The current query string with some parameters replaced (for sort links and pagination)."""
    query = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    if "page" not in kwargs:
        query.pop("page", None)
    return query.urlencode()
