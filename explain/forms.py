import json

from django import forms

from governance.forms import StyledForm
from governance.models import Dataset

from .kinds import KINDS as ANALYSES


class RunAnalysisForm(StyledForm):
    kind = forms.ChoiceField(choices=[])
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), required=False,
                                     help_text="Defaults to the version's evaluation dataset.")
    max_rows = forms.IntegerField(min_value=10, max_value=100_000, initial=1000,
                                  help_text="Rows sampled from the dataset (recorded, reproducible).")
    random_state = forms.IntegerField(min_value=0, initial=0)
    params = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "font-monospace"}),
                             help_text='Kind-specific options as JSON, e.g. {"rows": [0, 5]} or {"depth": 3}.')

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(kind, module.TITLE) for kind, module in ANALYSES.items()]
        self.fields["dataset"].queryset = Dataset.objects.order_by("-created_at")

    def clean_params(self):
        raw = (self.cleaned_data.get("params") or "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Give a JSON object, e.g. {\"depth\": 3}.")
        return value

    def job_params(self) -> dict:
        return {**self.cleaned_data["params"], "max_rows": self.cleaned_data["max_rows"],
                "random_state": self.cleaned_data["random_state"]}
