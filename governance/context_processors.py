from .permissions import Action, can


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    may = {action.name.lower(): can(user, action) for action in Action}
    from incidents.models import Notification

    context = {"may": may, "unread_notifications": Notification.objects.filter(user=user, read_at__isnull=True).count()}
    if may["review_decide"]:
        from .selectors import review_queue_count

        context["review_queue_count"] = review_queue_count(user)
    return context
