from .permissions import Action, can


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "may": {action.name.lower(): can(user, action) for action in Action},
    }
