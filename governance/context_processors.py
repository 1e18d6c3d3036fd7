from .navigation import context


def navigation(request):
    return context(request)
