from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from core.errors import DomainError
from governance import dashboard, health, selectors, services
from governance.api import errors as api_errors
from governance.choices import Role
from governance.filtersets import AuditEventFilterSet
from governance.forms import ApiTokenForm, UserCreateForm, UserUpdateForm
from governance.permissions import Action, ActionRequiredMixin, roles_of

User = get_user_model()
PAGE_SIZE = 50


def paginate(request, queryset, per_page=PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def form_error(form, exc: DomainError):
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_not_required
@never_cache
def healthz(request):
    healthy, checks = health.run_checks()
    return JsonResponse({"status": "ok" if healthy else "fail", "checks": checks}, status=200 if healthy else 503)


class DashboardView(ActionRequiredMixin, TemplateView):
    template_name = "governance/dashboard.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(counts=dashboard.counts(), panels=dashboard.panels(user),
                                        activity=dashboard.activity_chart(), **dashboard.extras(user), **kwargs)


class ApiDocsView(ActionRequiredMixin, TemplateView):
    """The API reference (Swagger UI from the local sidecar) inside the app's own page and navigation."""

    template_name = "api_docs.html"


class AuditLogView(ActionRequiredMixin, View):
    def get(self, request):
        filterset = AuditEventFilterSet(request.GET or None, queryset=selectors.audit_event_list())
        events = filterset.qs if filterset.is_bound and filterset.is_valid() else selectors.audit_event_list()
        page = paginate(request, events)
        query = request.GET.copy()
        query.pop("page", None)
        return render(request, "governance/audit_list.html", {
            "filter": filterset, "page_obj": page, "query": query.urlencode(),
            "actions": selectors.audit_actions(),
        })


class AdminChangesView(ActionRequiredMixin, View):
    """Every change to users, roles, teams, policies and playbooks, with what it was before and after."""

    required_action = Action.USER_MANAGE

    def get(self, request):
        return render(request, "governance/admin_changes.html",
                      {"page_obj": paginate(request, selectors.admin_change_list())})


class ProfileView(ActionRequiredMixin, View):
    required_action = Action.TOKEN_MANAGE_OWN

    def get(self, request, form=None, new_key=None):
        return render(request, "governance/profile.html", {
            "form": form or ApiTokenForm(),
            "tokens": selectors.api_token_list(user=request.user),
            "roles": sorted(roles_of(request.user)),
            "new_key": new_key,
        })

    def post(self, request):
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                token, key = services.api_token_create(
                    actor=request.user, name=form.cleaned_data["name"], expires_at=form.expires_at()
                )
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"Token “{token.name}” created. Copy the key now: it is shown only once.")
                return self.get(request, new_key=key)
        return self.get(request, form=form)


class TokenRevokeView(ActionRequiredMixin, View):
    required_action = Action.TOKEN_MANAGE_OWN

    def post(self, request, pk):
        try:
            token = services.api_token_revoke(actor=request.user, token_id=pk)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Token “{token.name}” revoked.")
        return redirect("profile")


class UserListView(ActionRequiredMixin, View):
    required_action = Action.USER_MANAGE

    def get(self, request, form=None):
        return render(request, "governance/user_list.html", {
            "page_obj": paginate(request, selectors.user_list()),
            "form": form or UserCreateForm(),
            "roles": list(Role),
        })

    def post(self, request):
        form = UserCreateForm(request.POST)
        if form.is_valid():
            try:
                user = services.user_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"User {user.username} created.")
                return redirect("user-list")
        return self.get(request, form=form)


class UserUpdateView(ActionRequiredMixin, View):
    required_action = Action.USER_MANAGE

    def get(self, request, pk, form=None):
        user = get_object_or_404(User, pk=pk)
        if form is None:
            form = UserUpdateForm(initial={
                "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
                "is_active": user.is_active, "roles": sorted(roles_of(user)),
                "teams": ", ".join(user.teams.values_list("name", flat=True)),
            })
        return render(request, "governance/user_form.html", {"subject": user, "form": form})

    def post(self, request, pk):
        user = get_object_or_404(User, pk=pk)
        form = UserUpdateForm(request.POST)
        if form.is_valid():
            try:
                services.user_update(actor=request.user, user=user, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"User {user.username} updated.")
                return redirect("user-list")
        return self.get(request, pk, form=form)


def error_403(request, exception=None):
    message = str(exception) if exception else "You do not have permission to do this."
    if api_errors.is_api(request):
        return api_errors.json_error(403, message)
    return render(request, "errors/403.html", {"message": message}, status=403)


def error_404(request, exception=None):
    if api_errors.is_api(request):
        return api_errors.json_error(404, "Not found.")
    return render(request, "errors/404.html", status=404)


def error_500(request):
    if api_errors.is_api(request):
        return api_errors.json_error(500, "Internal server error; it was logged.")
    return render(request, "errors/500.html", status=500)
