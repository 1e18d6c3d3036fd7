from django import forms
from django.utils import timezone

from .choices import ROLE_DESCRIPTIONS, Check, Decision, Flavour, PrimaryMetric, RiskTier, Role, Task
from .models import MODEL_CARD_FIELDS, Dataset, ModelVersion, RegisteredModel


class StyledForm(forms.Form):
    """Adds Bootstrap classes to widgets so templates stay simple."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple | forms.RadioSelect):
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
        min_value=1, required=False,
        help_text="Every token expires: leave empty for the default lifetime; the maximum is set by the operator.",
    )

    def __init__(self, *args, **kwargs):
        from django.conf import settings

        super().__init__(*args, **kwargs)
        # The same default as a token made through the API (services.api_token_create).
        self.fields["expires_in_days"].initial = settings.API_TOKEN_DEFAULT_DAYS

    def expires_at(self):
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timezone.timedelta(days=days) if days else None


def _role_field():
    return forms.MultipleChoiceField(
        choices=[(r.value, f"{r.label} — {ROLE_DESCRIPTIONS[r]}") for r in Role],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


class TeamsField(forms.CharField):
    """Comma-separated team names; members may change the models their team owns."""

    def __init__(self, **kwargs):
        super().__init__(required=False, max_length=1000, help_text="Comma-separated, e.g. credit-risk, fraud. "
                         "Members change the models whose team is one of these.", **kwargs)

    def to_python(self, value):
        return [t.strip() for t in (super().to_python(value) or "").split(",") if t.strip()]


class UserCreateForm(StyledForm):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password = forms.CharField(widget=forms.PasswordInput, help_text="At least 10 characters, not a common one.")
    roles = _role_field()
    teams = TeamsField()


class UserUpdateForm(StyledForm):
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    is_active = forms.BooleanField(required=False, label="Active (may log in)")
    roles = _role_field()
    teams = TeamsField()


class ModelForm(StyledForm):
    name = forms.SlugField(max_length=100, help_text="Unique, lowercase, e.g. credit-scoring. Cannot change later.")
    title = forms.CharField(max_length=200)
    task = forms.ChoiceField(choices=Task.choices)
    risk_tier = forms.ChoiceField(choices=RiskTier.choices, initial=RiskTier.MEDIUM,
                                  help_text="Drives the approval policy: high-risk releases need more approvals.")
    positive_class = forms.CharField(max_length=100, required=False,
                                     help_text="Binary classifiers: the class the model exists to detect, e.g. bad.")
    primary_metric = forms.ChoiceField(
        choices=PrimaryMetric.choices, required=False, label="Primary metric",
        help_text="What robustness and validation analyses judge the model by. Automatic: balanced accuracy for "
                  "classifiers (plain accuracy rewards always predicting the majority class), R² for regressors.")
    team = forms.CharField(max_length=100, required=False)
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. credit, tabular.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def clean_tags(self):
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]


class ModelEditForm(ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["name"]


class ModelCardForm(StyledForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label, help_text in MODEL_CARD_FIELDS:
            self.fields[name] = forms.CharField(
                label=label, help_text=f"{help_text} Markdown.", required=False,
                widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
            )


class DatasetForm(StyledForm):
    file = forms.FileField(help_text="CSV (UTF-8, header row) or Parquet.")
    name = forms.CharField(max_length=200, required=False, help_text="Defaults to the file name.")
    target_column = forms.CharField(max_length=200, required=False,
                                    help_text="The label column, if the data is labelled.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class VersionForm(StyledForm):
    artifact = forms.FileField(help_text=".skops (scikit-learn), .onnx, XGBoost .json/.ubj, LightGBM .txt, or "
                                         ".pkl/.joblib (scanned; only allow-listed types load).")
    flavour = forms.ChoiceField(choices=[("", "Detect from the file")] + list(Flavour.choices), required=False)
    evaluation_dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), required=False,
                                                help_text="Used by the compatibility check and the analyses.")
    training_dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), required=False)
    parent = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), required=False,
                                    help_text="The version this one was derived from (lineage).")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    metrics = forms.JSONField(required=False, help_text='Optional JSON, e.g. {"accuracy": 0.91}.')

    def __init__(self, *args, model=None, **kwargs):
        super().__init__(*args, **kwargs)
        datasets = Dataset.objects.order_by("-created_at")
        self.fields["evaluation_dataset"].queryset = datasets
        self.fields["training_dataset"].queryset = datasets
        if model is not None:
            self.fields["parent"].queryset = model.versions.order_by("-number")
            self.fields["parent"].label_from_instance = lambda v: f"v{v.number} ({v.get_status_display()})"
            latest = model.versions.order_by("-number").first()
            self.fields["parent"].empty_label = "None: not derived from another version"
            if latest is not None:  # the datasets usually stay; the lineage is the uploader's to state
                self.fields["evaluation_dataset"].initial = latest.evaluation_dataset_id
                self.fields["training_dataset"].initial = latest.training_dataset_id

    def clean_metrics(self):
        value = self.cleaned_data.get("metrics")
        if value in (None, ""):
            return None
        if not isinstance(value, dict):
            raise forms.ValidationError('Metrics must be a JSON object, e.g. {"accuracy": 0.91}.')
        return value


class ReviewForm(StyledForm):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                              help_text="Required when rejecting: say what must change.")


class VerifyForm(StyledForm):
    attestation = forms.FileField(help_text="The attestation JSON downloaded from a released version.")
    artifact = forms.FileField(required=False, help_text="Optional: the model file, to check its SHA-256 too.")


class PolicyForm(StyledForm):
    model = forms.ModelChoiceField(queryset=RegisteredModel.objects.none(), required=False,
                                   help_text="Leave empty to edit the tier's policy; pick a model to override it.")
    required_approvals = forms.IntegerField(min_value=1, max_value=10)
    admin_approval_required = forms.BooleanField(required=False, label="One approval must come from an admin")
    required_checks = forms.MultipleChoiceField(choices=Check.choices, widget=forms.CheckboxSelectMultiple,
                                                required=False)
    submit_with_failing_checks = forms.BooleanField(
        required=False, label="Allow submitting a version whose required checks fail (reviewers see the failures)")

    def __init__(self, *args, instance_policy=None, **kwargs):
        from .checks import threshold_schema

        schema = threshold_schema()
        stored = {**schema["defaults"], **((instance_policy.robustness_thresholds or {}) if instance_policy else {})}
        if instance_policy is not None:
            kwargs.setdefault("initial", {
                "required_approvals": instance_policy.required_approvals,
                "admin_approval_required": instance_policy.admin_approval_required,
                "required_checks": list(instance_policy.required_checks),
                "submit_with_failing_checks": instance_policy.submit_with_failing_checks,
                **{f"threshold_{key}": stored.get(key) for key, *_ in schema["fields"]},
                "threshold_required": stored.get("required", []),
            })
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = RegisteredModel.objects.order_by("name")
        # The robustness gate's thresholds, as the analysis app declares them.
        for key, label, kind, minimum, maximum, help_text in schema["fields"]:
            field_class = forms.IntegerField if kind is int else forms.FloatField
            self.fields[f"threshold_{key}"] = field_class(
                label=label, min_value=minimum, max_value=maximum, required=False, help_text=help_text,
                widget=forms.NumberInput(attrs={"class": "form-control form-control-sm",
                                                "step": "1" if kind is int else "any"}))
        if schema["gated"]:
            self.fields["threshold_required"] = forms.MultipleChoiceField(
                choices=[(kind, kind.replace("_", " ")) for kind in schema["gated"]], required=False,
                widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
                label="Analyses the robustness gate requires")

    @property
    def approval_fields(self):
        return [field for field in self if not field.name.startswith("threshold_")]

    @property
    def threshold_fields(self):
        return [field for field in self if field.name.startswith("threshold_")]

    def values(self) -> dict:
        """The keyword arguments of services.policy_update."""
        data = dict(self.cleaned_data)
        thresholds = {key.removeprefix("threshold_"): data.pop(key) for key in list(data)
                      if key.startswith("threshold_")}
        # A post without the threshold fields (an older client, a script) leaves the stored thresholds alone.
        if any(value is not None for key, value in thresholds.items() if key != "required"):
            data["robustness_thresholds"] = {key: value for key, value in thresholds.items() if value is not None}
        return data
