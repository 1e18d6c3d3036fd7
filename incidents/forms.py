from django import forms
from django.contrib.auth import get_user_model

from governance.forms import StyledForm
from governance.models import ModelVersion, RegisteredModel

from .choices import (
    SEVERITY_DEFINITIONS,
    ActionItemStatus,
    Category,
    DetectionSource,
    HarmDomain,
    HarmLevel,
    Severity,
    TechnicalFailure,
)
from .models import REVIEW_FIELDS

User = get_user_model()


def _versions():
    return ModelVersion.objects.select_related("model").order_by("model__name", "-number")


class VersionChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.model.name} v{obj.number} ({obj.get_status_display()})"


class IncidentForm(StyledForm):
    title = forms.CharField(max_length=200)
    severity = forms.ChoiceField(choices=Severity.choices, widget=forms.RadioSelect,
                                 help_text=" ".join(f"{s.label}: {d}" for s, d in SEVERITY_DEFINITIONS.items()))
    category = forms.ChoiceField(choices=Category.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                                  help_text="What happened, what is affected. Markdown.")
    affected_models = forms.ModelMultipleChoiceField(queryset=RegisteredModel.objects.order_by("name"),
                                                     required=False)
    affected_versions = VersionChoiceField(queryset=ModelVersion.objects.none(), required=False)
    detected_at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                      help_text="When it was detected (default: now).")
    detection_source = forms.ChoiceField(choices=DetectionSource.choices)
    commander = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True).order_by("username"),
                                       required=False, to_field_name="username")
    harm_level = forms.ChoiceField(choices=HarmLevel.choices, initial=HarmLevel.ISSUE)
    harm_domain = forms.ChoiceField(choices=[("", "—")] + list(HarmDomain.choices), required=False)
    technical_failure = forms.ChoiceField(choices=[("", "—")] + list(TechnicalFailure.choices), required=False)
    affected_parties = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                       help_text="Affected persons or services.")
    external_references = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                          help_text="Tickets, CVEs, AI Incident Database links — one per line.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["affected_versions"].queryset = _versions()

    def values(self) -> dict:
        values = dict(self.cleaned_data)
        if not values.get("detected_at"):
            values.pop("detected_at", None)
        return values


class IncidentEditForm(IncidentForm):
    scribe = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True).order_by("username"),
                                    required=False, to_field_name="username")
    liaison = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True).order_by("username"),
                                     required=False, to_field_name="username")
    experts = forms.ModelMultipleChoiceField(queryset=User.objects.filter(is_active=True).order_by("username"),
                                             required=False, to_field_name="username",
                                             label="Subject-matter experts")


class NoteForm(StyledForm):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Note (Markdown)")
    link_url = forms.CharField(max_length=500, required=False, label="Link")
    evidence = forms.FileField(required=False, help_text="png, jpg, pdf, txt, log, csv, json or md; 20 MB max.")


class ContainmentForm(StyledForm):
    kind = forms.ChoiceField(choices=[("revoke", "Revoke a version"), ("rollback", "Roll the model back")])
    version = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), required=False,
                                     help_text="The version to revoke.")
    model = forms.ModelChoiceField(queryset=RegisteredModel.objects.none(), required=False,
                                   help_text="The model to roll back to its previous approved release.")
    reason = forms.CharField(max_length=500)

    def __init__(self, *args, incident=None, **kwargs):
        super().__init__(*args, **kwargs)
        versions = _versions().filter(status__in=["approved", "released", "deprecated"])
        models = RegisteredModel.objects.order_by("name")
        if incident is not None and incident.pk:
            affected = incident.affected_models.all()
            if affected:
                versions = versions.filter(model__in=affected)
                models = models.filter(pk__in=affected)
        self.fields["version"].queryset = versions
        self.fields["version"].label_from_instance = lambda v: f"{v.model.name} v{v.number} ({v.get_status_display()})"
        self.fields["model"].queryset = models


class ReviewForm(StyledForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in REVIEW_FIELDS:
            self.fields[name] = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
                                                required=False, label=name.replace("_", " ").capitalize())


class ActionItemForm(StyledForm):
    """One action item of a post-incident review: a row of the review form."""

    description = forms.CharField(max_length=500, required=False)
    owner = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True).order_by("username"),
                                   required=False, to_field_name="username", empty_label="unassigned")
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    status = forms.ChoiceField(choices=ActionItemStatus.choices, initial=ActionItemStatus.OPEN)

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("description") or "").strip() and (cleaned.get("owner") or cleaned.get("due_date")):
            self.add_error("description", "Describe the action, or clear the row.")
        return cleaned

    def item(self) -> dict | None:
        data = self.cleaned_data
        if not data or data.get("DELETE") or not (data.get("description") or "").strip():
            return None
        return {"description": data["description"].strip(), "owner": data["owner"].get_username()
                if data.get("owner") else None, "due_date": data.get("due_date"), "status": data["status"]}


ActionItemFormSet = forms.formset_factory(ActionItemForm, extra=2, can_delete=True, max_num=50, validate_max=True)


def action_items(formset) -> list[dict]:
    return [item for item in (form.item() for form in formset.forms) if item is not None]
