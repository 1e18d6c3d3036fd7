"""Users, roles and API tokens: every write checks permission, runs in a transaction, is audited."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from governance import audit, tokens
from governance.choices import Role
from governance.models import ApiToken, Team
from governance.permissions import Action, require

User = get_user_model()


def _user_snapshot(user) -> dict:
    return {
        "username": user.username,
        "email": user.email,
        "full_name": user.get_full_name(),
        "is_active": user.is_active,
        "roles": sorted(roles_of_fresh(user)),
        "teams": sorted(user.teams.values_list("name", flat=True)) if user.pk else [],
    }


def _set_teams(user, teams) -> None:
    """Membership of owning teams (created on first use); names are slugs."""
    names = sorted({str(t).strip().lower() for t in teams or [] if str(t).strip()})
    for name in names:
        try:
            validate_slug(name)
        except ValidationError:
            raise InvalidInput(f"Team {name!r} may only hold letters, digits, '-' and '_'.", field="teams")
    user.teams.set([Team.objects.get_or_create(name=name[:100])[0] for name in names])
    if hasattr(user, "_bulwark_teams"):
        del user._bulwark_teams


def roles_of_fresh(user) -> set[str]:
    return set(user.groups.filter(name__in=list(Role)).values_list("name", flat=True))


def _role_groups(roles: list[str]) -> list[Group]:
    """The groups of validated role names, created if a migration's groups were removed (a flushed database)."""
    return [Group.objects.get_or_create(name=role)[0] for role in roles]


def _validate_roles(roles) -> list[str]:
    roles = list(dict.fromkeys(roles))
    unknown = [r for r in roles if r not in Role.values]
    if unknown:
        raise InvalidInput(f"Unknown role(s): {', '.join(unknown)}. Known: {', '.join(Role.values)}.", field="roles")
    return roles


@transaction.atomic
def user_create(
    *,
    actor,
    username: str,
    password: str,
    roles: list[str],
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    teams: list[str] | None = None,
    check_permission: bool = True,
):
    if check_permission:
        require(actor, Action.USER_MANAGE)
    roles = _validate_roles(roles)
    username = username.strip()
    if not username:
        raise InvalidInput("A username is required.", field="username")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"A user named {username!r} already exists.", field="username")
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password") from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise Conflict(f"A user named {username!r} already exists.", field="username") from exc
    user.groups.set(_role_groups(roles))
    _set_teams(user, teams)
    audit.record(actor=actor, action="user.create", obj=user, after=_user_snapshot(user))
    return user


@transaction.atomic
def user_update(*, actor, user, roles: list[str] | None = None, is_active: bool | None = None,
                email: str | None = None, first_name: str | None = None, last_name: str | None = None,
                teams: list[str] | None = None):
    require(actor, Action.USER_MANAGE)
    user = User.objects.select_for_update().get(pk=user.pk)
    before = _user_snapshot(user)
    if is_active is False and user.pk == actor.pk:
        raise Conflict("You cannot deactivate your own account.", field="is_active")
    if roles is not None:
        roles = _validate_roles(roles)
        if user.pk == actor.pk and Role.ADMIN not in roles and not user.is_superuser:
            raise Conflict("You cannot remove your own admin role.", field="roles")
        user.groups.set(_role_groups(roles))
    if teams is not None:
        _set_teams(user, teams)
    for field, value in (("is_active", is_active), ("email", email), ("first_name", first_name),
                         ("last_name", last_name)):
        if value is not None:
            setattr(user, field, value)
    user._bulwark_actor = actor  # a deactivation revokes the user's tokens, audited as this actor's doing
    user.save()
    if hasattr(user, "_bulwark_roles"):
        del user._bulwark_roles
    after = _user_snapshot(user)
    if after != before:
        audit.record(actor=actor, action="user.update", obj=user, before=before, after=after)
    return user


@transaction.atomic
def api_token_create(*, actor, name: str, expires_at: datetime | None = None,
                     via_token: bool = False) -> tuple[ApiToken, str]:
    """Create a token for the actor. Returns the row and the key, which is never stored.

    Every token expires (API_TOKEN_DEFAULT_DAYS when no expiry is given, never past API_TOKEN_MAX_DAYS), and a
    token cannot mint tokens: a stolen token must not outlive its revocation through children."""
    require(actor, Action.TOKEN_MANAGE_OWN)
    if via_token:
        raise PermissionDenied("A token cannot create tokens: sign in with your password (or use your session).")
    now = timezone.now()
    if expires_at is None:
        expires_at = now + timedelta(days=min(settings.API_TOKEN_DEFAULT_DAYS, settings.API_TOKEN_MAX_DAYS))
    latest = now + timedelta(days=settings.API_TOKEN_MAX_DAYS)
    if expires_at > latest + timedelta(minutes=1):
        raise InvalidInput(f"A token lives at most {settings.API_TOKEN_MAX_DAYS} days (API_TOKEN_MAX_DAYS); "
                           f"choose an expiry before {latest:%Y-%m-%d}.", field="expires_at")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the token a name, e.g. 'CI pipeline'.", field="name")
    if len(name) > 100:
        raise InvalidInput("The name is at most 100 characters.", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("The expiry must be in the future.", field="expires_at")
    key, prefix, key_hash = tokens.new_key()
    token = ApiToken.objects.create(user=actor, name=name, prefix=prefix, key_hash=key_hash, expires_at=expires_at)
    audit.record(
        actor=actor,
        action="token.create",
        obj=token,
        after={"name": name, "prefix": prefix, "expires_at": expires_at},
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, actor, token_id: int) -> ApiToken:
    require(actor, Action.TOKEN_MANAGE_OWN)
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
    if token is None:
        raise NotFound("No such token among yours.")
    if token.revoked_at is not None:
        raise Conflict("This token is already revoked.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(actor=actor, action="token.revoke", obj=token, after={"revoked_at": token.revoked_at})
    return token


def api_tokens_revoke_all(*, user, reason: str, actor=None) -> int:
    """Revoke every live token of `user` (password change, deactivation); one audit event naming the reason."""
    with transaction.atomic():
        live = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
        prefixes = sorted(live.values_list("prefix", flat=True))
        if not prefixes:
            return 0
        live.update(revoked_at=timezone.now())
        audit.record(actor=actor, action="token.revoke_all", obj=user,
                     after={"reason": reason, "revoked": prefixes})
    return len(prefixes)

