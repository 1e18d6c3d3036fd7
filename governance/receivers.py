"""Login, logout and failed logins are writes too: record them in the audit log. A password change or a
deactivation revokes the user's API tokens, whichever path made it (profile, admin, `changepassword`)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from . import audit


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    with transaction.atomic():
        audit.record(actor=user, action="auth.login", obj=user)


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        with transaction.atomic():
            audit.record(actor=user, action="auth.logout", obj=user)


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    with transaction.atomic():
        audit.record(
            actor=None,
            action="auth.login_failed",
            object_type="auth.user",
            object_id="",
            object_label=username,
        )


@receiver(pre_save, sender=get_user_model())
def note_credential_change(sender, instance, raw=False, **kwargs):
    instance._bulwark_revoke_tokens = None
    if raw or not instance.pk:
        return
    stored = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if stored is None:
        return
    if stored["password"] != instance.password:
        instance._bulwark_revoke_tokens = "password changed"
    elif stored["is_active"] and not instance.is_active:
        instance._bulwark_revoke_tokens = "account deactivated"


@receiver(post_save, sender=get_user_model())
def revoke_tokens_on_credential_change(sender, instance, raw=False, **kwargs):
    reason = getattr(instance, "_bulwark_revoke_tokens", None)
    if reason and not raw:
        from .services.accounts import api_tokens_revoke_all

        # Services that save a user say who acted (an admin deactivating someone); else the user themself.
        actor = getattr(instance, "_bulwark_actor", None) or instance
        api_tokens_revoke_all(user=instance, reason=reason, actor=actor)
