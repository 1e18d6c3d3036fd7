from django import forms
from django.utils import timezone

from .choices import ROLE_DESCRIPTIONS, Role


class StyledForm(forms.Form):
    """Adds Bootstrap classes to widgets so templates stay simple."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.CheckboxInput, forms.CheckboxSelectMultiple)):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"


class ApiTokenForm(StyledForm):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'CI pipeline'.")
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=3650, required=False, initial=90,
        help_text="Leave empty for a token that never expires (not recommended).",
    )

    def expires_at(self):
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timezone.timedelta(days=days) if days else None


def _role_field():
    return forms.MultipleChoiceField(
        choices=[(r.value, f"{r.label} — {ROLE_DESCRIPTIONS[r]}") for r in Role],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


class UserCreateForm(StyledForm):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password = forms.CharField(widget=forms.PasswordInput, help_text="At least 10 characters, not a common one.")
    roles = _role_field()


class UserUpdateForm(StyledForm):
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    is_active = forms.BooleanField(required=False, label="Active (may log in)")
    roles = _role_field()
