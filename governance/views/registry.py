"""Registry pages: browse models and versions, upload, compare, datasets."""

import json

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from core.errors import DomainError
from governance import lineage, pages, selectors, services
from governance.choices import CheckStatus, VersionStatus
from governance.filtersets import DatasetFilterSet, RegisteredModelFilterSet
from governance.forms import DatasetForm, ModelCardForm, ModelEditForm, ModelForm, VersionForm
from governance.models import MODEL_CARD_FIELDS
from governance.permissions import Action, ActionRequiredMixin, can

from .accounts import form_error, paginate

VERSIONS_SHOWN = 25


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


class ModelListView(ActionRequiredMixin, View):
    def get(self, request):
        filterset = RegisteredModelFilterSet(request.GET, queryset=selectors.model_list())
        models = filterset.qs if filterset.is_valid() else selectors.model_list().filter(retired_at__isnull=True)
        if not request.GET.get("sort"):
            models = models.order_by("name")
        return render(request, "governance/model_list.html", {
            "filter": filterset, "page_obj": paginate(request, models, per_page=25),
            "query": _query_without_page(request), "sort": request.GET.get("sort", "name"),
        })


class ModelCreateView(ActionRequiredMixin, View):
    required_action = Action.MODEL_REGISTER

    def get(self, request, form=None):
        return render(request, "governance/model_form.html", {"form": form or ModelForm(), "creating": True})

    def post(self, request):
        form = ModelForm(request.POST)
        if form.is_valid():
            try:
                model = services.model_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"Model {model.name} registered. Upload its first version next.")
                return redirect("model-detail", name=model.name)
        return self.get(request, form=form)


def _get_model(name):
    try:
        return selectors.model_detail(name)
    except selectors.RegisteredModel.DoesNotExist:
        raise Http404(f"No model named {name!r}.")


class OwnedModelMixin:
    """Edit pages of a model: the model's owner, its team and admins only (decided in permissions.can)."""

    def permission_object(self, name=None, **kwargs):
        model = selectors.model_for_permission(name)
        if model is None:
            raise Http404(f"No model named {name!r}.")
        return model


class ModelDetailView(ActionRequiredMixin, View):
    def get(self, request, name):
        model = _get_model(name)
        show_all = request.GET.get("versions") == "all"
        versions = selectors.version_list(model).order_by("-number")
        versions = list(versions if show_all else versions[:VERSIONS_SHOWN])
        card = getattr(model, "card", None)
        return render(request, "governance/model_detail.html", {
            "model": model,
            "card": card,
            "card_sections": [(label, getattr(card, field, "")) for field, label, _ in MODEL_CARD_FIELDS],
            "versions": versions,
            "released": selectors.version_list(model).filter(status=VersionStatus.RELEASED).first(),
            "lineage": lineage.figure(selectors.version_lineage(model)),
            "more_versions": 0 if show_all else max(0, model.version_count - len(versions)),
            "incidents": selectors.model_incidents(model),
            "may_register": can(request.user, Action.MODEL_REGISTER, model) and not model.retired,
            "history": selectors.release_history(model),
            "rollback_target": services.rollback_target(model),
            "may_contain": can(request.user, Action.RELEASE_CONTAIN),
        })


class ModelEditView(OwnedModelMixin, ActionRequiredMixin, View):
    required_action = Action.MODEL_REGISTER

    def get(self, request, name, form=None):
        model = _get_model(name)
        if form is None:
            form = ModelEditForm(initial={
                "title": model.title, "task": model.task, "risk_tier": model.risk_tier, "team": model.team,
                "positive_class": model.positive_class, "primary_metric": model.primary_metric,
                "description": model.description, "tags": ", ".join(t.name for t in model.tags.all()),
            })
        return render(request, "governance/model_form.html", {"form": form, "model": model})

    def post(self, request, name):
        model = _get_model(name)
        form = ModelEditForm(request.POST)
        if form.is_valid():
            try:
                services.model_update(actor=request.user, model=model, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, "Model updated.")
                return redirect("model-detail", name=model.name)
        return self.get(request, name, form=form)


class ModelRetireView(OwnedModelMixin, ActionRequiredMixin, View):
    required_action = Action.MODEL_REGISTER

    def post(self, request, name):
        try:
            services.model_retire(actor=request.user, model=_get_model(name), reason=request.POST.get("reason", ""))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{name} is retired: read-only, and hidden from the model list by default.")
        return redirect("model-detail", name=name)


class ModelCardEditView(OwnedModelMixin, ActionRequiredMixin, View):
    required_action = Action.MODEL_REGISTER

    def get(self, request, name, form=None):
        model = _get_model(name)
        card = getattr(model, "card", None)
        form = form or ModelCardForm(initial=card.as_dict() if card else {})
        return render(request, "governance/model_card_form.html", {"form": form, "model": model})

    def post(self, request, name):
        model = _get_model(name)
        form = ModelCardForm(request.POST)
        if form.is_valid():
            try:
                services.model_card_update(actor=request.user, model=model, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, "Model card saved.")
                return redirect("model-detail", name=model.name)
        return self.get(request, name, form=form)


class VersionCreateView(OwnedModelMixin, ActionRequiredMixin, View):
    required_action = Action.MODEL_REGISTER

    def get(self, request, name, form=None):
        model = _get_model(name)
        return render(request, "governance/version_form.html", {"form": form or VersionForm(model=model),
                                                                "model": model})

    def post(self, request, name):
        model = _get_model(name)
        form = VersionForm(request.POST, request.FILES, model=model)
        findings = duplicate = None
        if form.is_valid():
            values = dict(form.cleaned_data)
            upload = values.pop("artifact")
            values["flavour"] = values["flavour"] or None
            try:
                version = services.model_version_create(actor=request.user, model=model, fileobj=upload,
                                                        filename=upload.name, **values)
            except DomainError as exc:
                form_error(form, exc)
                findings = exc.details.get("findings")
                duplicate = exc.details.get("url") and exc.details
            else:
                messages.success(request, f"Version {version.number} uploaded. The compatibility check is running.")
                return redirect("version-detail", name=model.name, number=version.number)
        return render(request, "governance/version_form.html", {"form": form, "model": model, "findings": findings,
                                                                "duplicate": duplicate},
                      status=409 if duplicate else 400)


def _get_version(name, number):
    try:
        return selectors.version_detail(name, number)
    except selectors.ModelVersion.DoesNotExist:
        raise Http404(f"{name} has no version {number}.")


class VersionDetailView(ActionRequiredMixin, View):
    def get(self, request, name, number):
        version = _get_version(name, number)
        if request.headers.get("HX-Request") and request.GET.get("part") == "compat":
            response = render(request, "governance/includes/compat_check.html", {"version": version})
            if version.compat_status not in (CheckStatus.PENDING, CheckStatus.RUNNING):
                response["HX-Refresh"] = "true"  # metrics elsewhere on the page changed too
            return response
        from .releases import release_panel

        siblings = list(selectors.version_lineage(version.model).order_by("-number"))
        return render(request, "governance/version_detail.html", {
            **release_panel(request, version),
            "version": version,
            "model": version.model,
            "findings": selectors.open_findings(version),
            "children": [v for v in siblings if v.parent_id == version.pk],
            "lineage": lineage.figure(siblings, highlight=version.pk),
            "other_versions": [v for v in siblings if v.pk != version.pk],
            **pages.version_context(version),
        })


class VersionArtifactView(ActionRequiredMixin, View):
    def get(self, request, name, number):
        version = _get_version(name, number)
        try:
            data = services.version_read_artifact(version, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("version-detail", name=name, number=number)
        from governance.loading import FLAVOUR_EXTENSIONS

        extension = FLAVOUR_EXTENSIONS.get(version.flavour, (".bin",))[0]
        response = HttpResponse(data, content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="{name}-v{number}{extension}"'
        response["X-Artifact-SHA256"] = version.artifact.sha256
        return response


class VersionCompareView(ActionRequiredMixin, View):
    def get(self, request, name):
        model = _get_model(name)
        versions = list(selectors.version_list(model).order_by("-number"))
        if len(versions) < 2:
            messages.info(request, "Comparison needs at least two versions.")
            return redirect("model-detail", name=name)
        by_number = {v.number: v for v in versions}
        try:
            a = by_number[int(request.GET.get("a") or versions[1].number)]
            b = by_number[int(request.GET.get("b") or versions[0].number)]
        except (KeyError, ValueError):
            raise Http404("Unknown version number.")
        return render(request, "governance/version_compare.html", {
            "model": model, "a": a, "b": b, "versions": versions,
            "comparison": selectors.compare_versions(a, b),
            **pages.compare_context(a, b),
        })


class DatasetListView(ActionRequiredMixin, View):
    def get(self, request):
        filterset = DatasetFilterSet(request.GET or None, queryset=selectors.dataset_list())
        items = filterset.qs if filterset.is_bound and filterset.is_valid() else selectors.dataset_list()
        return render(request, "governance/dataset_list.html", {
            "filter": filterset, "page_obj": paginate(request, items, per_page=25),
            "query": _query_without_page(request),
        })


class DatasetCreateView(ActionRequiredMixin, View):
    required_action = Action.MODEL_REGISTER

    def get(self, request, form=None, status=200):
        return render(request, "governance/dataset_form.html", {"form": form or DatasetForm()}, status=status)

    def post(self, request):
        form = DatasetForm(request.POST, request.FILES)
        if form.is_valid():
            values = dict(form.cleaned_data)
            upload = values.pop("file")
            try:
                dataset = services.dataset_create(actor=request.user, fileobj=upload, filename=upload.name, **values)
            except DomainError as exc:
                form_error(form, exc if exc.field in form.fields else type(exc)(exc.message, field="file"))
            else:
                messages.success(request, f"Dataset “{dataset.name}” uploaded: {dataset.rows} rows.")
                return redirect("dataset-detail", pk=dataset.pk)
        return self.get(request, form=form, status=400)


class DatasetDetailView(ActionRequiredMixin, View):
    PREVIEW_ROWS = 20

    def get(self, request, pk):
        dataset = get_object_or_404(selectors.dataset_list(), pk=pk)
        preview, preview_error = None, None
        try:
            frame = selectors.dataset_frame(dataset).head(self.PREVIEW_ROWS)
            preview = {"columns": list(frame.columns),
                       "rows": json.loads(frame.to_json(orient="values", date_format="iso"))}
        except Exception as exc:  # shown on the page: the stored file failed its integrity check
            preview_error = str(exc)
        return render(request, "governance/dataset_detail.html", {
            "dataset": dataset, "preview": preview, "preview_error": preview_error,
            "usage": selectors.dataset_usage(dataset),
        })
