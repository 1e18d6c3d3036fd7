"""The one place that decides who may do what. UI views and API views both ask :func:`can`."""

from enum import StrEnum

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework import permissions as drf_permissions

from .choices import Role


class Action(StrEnum):
    VIEW = "view"  # read models, reports, jobs, incidents, the audit log
    MODEL_REGISTER = "model.register"  # create models, versions, datasets; edit cards
    JOB_RUN = "job.run"
    VERSION_SUBMIT = "version.submit"
    REVIEW_DECIDE = "review.decide"
    RELEASE_MANAGE = "release.manage"  # release a version
    RELEASE_CONTAIN = "release.contain"  # revoke a version, roll a model back
    INCIDENT_OPEN = "incident.open"
    INCIDENT_MANAGE = "incident.manage"  # triage, containment, post-incident reviews
    POLICY_MANAGE = "policy.manage"  # approval policies, playbooks
    USER_MANAGE = "user.manage"
    TOKEN_MANAGE_OWN = "token.manage_own"  # noqa: S105 (an action name, not a secret)


ALL_ROLES = frozenset(Role)

# Which roles may perform each action. Admin may do everything.
RULES: dict[Action, frozenset[str]] = {
    Action.VIEW: ALL_ROLES,
    Action.MODEL_REGISTER: frozenset({Role.CONTRIBUTOR, Role.ADMIN}),
    Action.JOB_RUN: frozenset({Role.CONTRIBUTOR, Role.REVIEWER, Role.INCIDENT_MANAGER, Role.ADMIN}),
    Action.VERSION_SUBMIT: frozenset({Role.CONTRIBUTOR, Role.ADMIN}),
    Action.REVIEW_DECIDE: frozenset({Role.REVIEWER, Role.ADMIN}),
    Action.RELEASE_MANAGE: frozenset({Role.REVIEWER, Role.ADMIN}),
    Action.RELEASE_CONTAIN: frozenset({Role.REVIEWER, Role.INCIDENT_MANAGER, Role.ADMIN}),
    Action.INCIDENT_OPEN: frozenset({Role.CONTRIBUTOR, Role.INCIDENT_MANAGER, Role.ADMIN}),
    Action.INCIDENT_MANAGE: frozenset({Role.INCIDENT_MANAGER, Role.ADMIN}),
    Action.POLICY_MANAGE: frozenset({Role.ADMIN}),
    Action.USER_MANAGE: frozenset({Role.ADMIN}),
}

ACTION_NAMES = {
    Action.VIEW: "read access (any role)",
    Action.MODEL_REGISTER: "the contributor role",
    Action.JOB_RUN: "the contributor, reviewer or incident manager role",
    Action.VERSION_SUBMIT: "the contributor role",
    Action.REVIEW_DECIDE: "the reviewer role",
    Action.RELEASE_MANAGE: "the reviewer role",
    Action.RELEASE_CONTAIN: "the reviewer or incident manager role",
    Action.INCIDENT_OPEN: "the contributor or incident manager role",
    Action.INCIDENT_MANAGE: "the incident manager role",
    Action.POLICY_MANAGE: "the admin role",
    Action.USER_MANAGE: "the admin role",
}


def roles_of(user) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_bulwark_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=list(Role)).values_list("name", flat=True))
        if user.is_superuser:
            cached = cached | {Role.ADMIN}
        user._bulwark_roles = cached
    return cached


# Writes on a model (its card, versions, notes, submission, deletion) also need ownership: the model's owner,
# a member of its owning team, or an admin. Reading, running analyses and reviewing need none.
OWNED_ACTIONS = frozenset({Action.MODEL_REGISTER, Action.VERSION_SUBMIT})


def teams_of(user) -> frozenset[str]:
    cached = getattr(user, "_bulwark_teams", None)
    if cached is None:
        cached = frozenset(user.teams.values_list("name", flat=True)) if getattr(user, "pk", None) else frozenset()
        user._bulwark_teams = cached
    return cached


def _owned_model(obj):
    """The registered model that decides ownership of `obj` (a model, or anything with a `.model`)."""
    from .models import RegisteredModel

    if isinstance(obj, RegisteredModel):
        return obj
    model = getattr(obj, "model", None)
    return model if isinstance(model, RegisteredModel) else None


def owns(user, model) -> bool:
    return model.owner_id == user.pk or bool(model.team and model.team in teams_of(user))


def _role_allows(user, action: Action) -> bool:
    if action == Action.TOKEN_MANAGE_OWN:
        return True
    roles = roles_of(user)
    return Role.ADMIN in roles or bool(roles & RULES[action])


def can(user, action: Action | str, obj=None) -> bool:
    """May ``user`` perform ``action``, on ``obj`` when given (ownership of a model for OWNED_ACTIONS)?"""
    action = Action(action)
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if not _role_allows(user, action):
        return False
    if obj is None or action not in OWNED_ACTIONS or Role.ADMIN in roles_of(user):
        return True
    model = _owned_model(obj)
    return model is None or owns(user, model)


def denial_message(action: Action | str, obj=None, user=None) -> str:
    action = Action(action)
    model = _owned_model(obj) if obj is not None else None
    if model is not None and user is not None and _role_allows(user, action):
        team = f", members of its team '{model.team}'" if model.team else ""
        return f"Only the owner of '{model.name}'{team} and admins may change it."
    return f"This needs {ACTION_NAMES.get(action, action.value)}."


def require(user, action: Action | str, obj=None) -> None:
    """Raise the domain 403 unless the user may act. Services call this too."""
    from core.errors import PermissionDenied

    if not can(user, action, obj):
        raise PermissionDenied(denial_message(action, obj, user))


class ActionRequiredMixin(AccessMixin):
    """For UI views: ``required_action`` (or a dict per HTTP method) must be allowed."""

    required_action: Action | dict[str, Action] = Action.VIEW

    def action_for(self, method: str) -> Action:
        if isinstance(self.required_action, dict):
            return self.required_action.get(method, self.required_action.get("*", Action.VIEW))
        return self.required_action

    def permission_object(self, **kwargs):
        """The object whose ownership the action needs (a model, for its edit pages); None for none."""
        return None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        action = self.action_for(request.method)
        if not can(request.user, action):
            raise DjangoPermissionDenied(denial_message(action))
        if action in OWNED_ACTIONS:
            obj = self.permission_object(**kwargs)
            if obj is not None and not can(request.user, action, obj):
                raise DjangoPermissionDenied(denial_message(action, obj, request.user))
        return super().dispatch(request, *args, **kwargs)


class ApiPermission(drf_permissions.BasePermission):
    """For API views: reads need VIEW; writes need the view's ``required_action``."""

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        method = request.method.lower()
        if method not in view.http_method_names or not hasattr(view, method):
            return True  # a method the view does not have: DRF answers 405, not a misleading 403
        if request.method in drf_permissions.SAFE_METHODS:
            action = getattr(view, "read_action", Action.VIEW)
        else:
            action = getattr(view, "required_action", None)
            if isinstance(action, dict):
                action = action.get(getattr(view, "action", None) or request.method)
            if action is None:
                self.message = "This endpoint is read-only."
                return False
        if not can(request.user, action):
            self.message = denial_message(action)
            return False
        if action in OWNED_ACTIONS and hasattr(view, "permission_object"):
            obj = view.permission_object()  # before the body is validated: a 403 is not a 400
            if obj is not None and not can(request.user, action, obj):
                self.message = denial_message(action, obj, request.user)
                return False
        return True
