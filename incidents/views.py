from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views import View

from core.errors import DomainError, InvalidInput
from explain.kinds import KINDS as ANALYSES
from governance.models import ModelVersion, RegisteredModel
from governance.permissions import Action, ActionRequiredMixin, can
from governance.views import form_error, paginate

from . import report, selectors, services
from .choices import (
    NIST_PHASES,
    SEVERITY_DEFINITIONS,
    IncidentStatus,
    TimelineKind,
)
from .filtersets import IncidentFilterSet
from .forms import (
    ActionItemFormSet,
    ContainmentForm,
    IncidentEditForm,
    IncidentForm,
    NoteForm,
    ReviewForm,
    action_items,
)
from .models import REVIEW_FIELDS, Incident, Notification, PlaybookTask, PostIncidentReview


def _incident(pk):
    try:
        return selectors.incident_detail(pk)
    except Incident.DoesNotExist:
        raise Http404(f"No incident #{pk}.")


class IncidentListView(ActionRequiredMixin, View):
    def get(self, request):
        params = request.GET.copy()
        if not params:
            params["open"] = "true"
        filterset = IncidentFilterSet(params, queryset=selectors.incident_list())
        incidents = filterset.qs if filterset.is_valid() else selectors.incident_list()
        query = request.GET.copy()
        query.pop("page", None)
        return render(request, "incidents/incident_list.html", {
            "filter": filterset, "page_obj": paginate(request, incidents.order_by("-detected_at", "-id")),
            "query": query.urlencode(), "overdue": selectors.overdue_action_items()[:10],
        })


class IncidentCreateView(ActionRequiredMixin, View):
    required_action = Action.INCIDENT_OPEN

    def get(self, request, form=None, status=200):
        initial = {}
        names = request.GET.getlist("model")
        refs = [ref.partition(":") for ref in request.GET.getlist("version")]
        versions = [v for v in ModelVersion.objects.filter(model__name__in=[m for m, _, _ in refs])
                    .select_related("model") if f"{v.model.name}:{v.number}" in request.GET.getlist("version")]
        models = list(RegisteredModel.objects.filter(name__in=names + [v.model.name for v in versions]))
        if models:
            initial["affected_models"] = [m.pk for m in models]
        if versions:
            initial["affected_versions"] = [v.pk for v in versions]
            initial["title"] = f"Incident on {', '.join(f'{v.model.name} v{v.number}' for v in versions)}"
        elif models:
            initial["title"] = f"Incident on {', '.join(m.name for m in models)}"
        return render(request, "incidents/incident_form.html", {
            "form": form or IncidentForm(initial=initial), "definitions": SEVERITY_DEFINITIONS}, status=status)

    def post(self, request):
        form = IncidentForm(request.POST)
        if form.is_valid():
            try:
                incident = services.incident_open(actor=request.user, **form.values())
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"Incident #{incident.pk} opened; its playbook is on the page.")
                return redirect("incident-detail", pk=incident.pk)
        return self.get(request, form=form, status=400)


class IncidentEditView(ActionRequiredMixin, View):
    required_action = Action.INCIDENT_MANAGE

    def get(self, request, pk, form=None, status=200):
        incident = _incident(pk)
        if form is None:
            form = IncidentEditForm(initial={
                **{f: getattr(incident, f) for f in ("title", "severity", "category", "description",
                                                     "detection_source", "harm_level", "harm_domain",
                                                     "technical_failure", "affected_parties",
                                                     "external_references")},
                "detected_at": timezone.localtime(incident.detected_at).strftime("%Y-%m-%dT%H:%M"),
                "affected_models": list(incident.affected_models.all()),
                "affected_versions": list(incident.affected_versions.all()),
                "commander": incident.commander, "scribe": incident.scribe, "liaison": incident.liaison,
                "experts": list(incident.experts.all()),
            })
        return render(request, "incidents/incident_form.html", {"form": form, "incident": incident,
                                                                "definitions": SEVERITY_DEFINITIONS}, status=status)

    def post(self, request, pk):
        incident = _incident(pk)
        form = IncidentEditForm(request.POST)
        if form.is_valid():
            try:
                services.incident_update(actor=request.user, incident=incident, **form.values())
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, "Incident updated.")
                return redirect("incident-detail", pk=pk)
        return self.get(request, pk, form=form, status=400)


class IncidentDetailView(ActionRequiredMixin, View):
    def get(self, request, pk, *, review_form=None, item_formset=None, status=200):
        incident = _incident(pk)
        kind = request.GET.get("kind") or None
        review = PostIncidentReview.objects.filter(incident=incident).prefetch_related("action_items__owner").first()
        tasks = list(incident.tasks.select_related("done_by"))
        phase, csf = NIST_PHASES[incident.status]
        if review_form is None:
            review_form = ReviewForm(initial={f: getattr(review, f) for f in REVIEW_FIELDS} if review else
                                     {"timeline_summary": services.timeline_summary(incident)})
        if item_formset is None:
            item_formset = ActionItemFormSet(prefix="items", initial=[
                {"description": i.description, "owner": i.owner.get_username() if i.owner else None,
                 "due_date": i.due_date, "status": i.status} for i in review.action_items.all()] if review else [])
        return render(request, "incidents/incident_detail.html", {
            "incident": incident, "timeline": selectors.timeline(incident, kind), "kind": kind,
            "kinds": TimelineKind.choices, "tasks": tasks, "tasks_done": sum(1 for t in tasks if t.done_at),
            "phase": phase, "csf": csf, "phases": [(s, NIST_PHASES[s]) for s in IncidentStatus],
            **selectors.next_steps(incident, review),
            "review": review, "review_form": review_form, "item_formset": item_formset,
            "review_required": services.review_required(incident),
            "note_form": NoteForm(), "containment_form": ContainmentForm(incident=incident),
            "actions": incident.actions.select_related("version__model", "actor"),
            "may_manage": can(request.user, Action.INCIDENT_MANAGE),
            "may_note": can(request.user, Action.INCIDENT_OPEN), "may_run": can(request.user, Action.JOB_RUN),
            "kinds_to_run": [(k, m.TITLE) for k, m in ANALYSES.items()],
            "versions": incident.affected_versions.all() or ModelVersion.objects.filter(
                model__in=incident.affected_models.all()).select_related("model"),
            "now": timezone.now(),
        }, status=status)


class _IncidentAction(ActionRequiredMixin, View):
    required_action = Action.INCIDENT_MANAGE
    anchor = ""

    def post(self, request, pk):
        incident = _incident(pk)
        try:
            message = self.perform(request, incident)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if message:
                messages.success(request, message)
        response = redirect("incident-detail", pk=pk)
        response["Location"] += self.anchor
        return response


class IncidentTransitionView(_IncidentAction):
    def perform(self, request, incident):
        false_positive = request.POST.get("false_positive") == "1"
        incident = services.incident_transition(actor=request.user, incident=incident,
                                                to="closed" if false_positive else request.POST.get("to", ""),
                                                reason=request.POST.get("reason", ""), false_positive=false_positive)
        if incident.resolution == "false_positive":
            return f"Incident #{incident.pk} is closed as a false positive."
        return f"Incident #{incident.pk} is now {incident.get_status_display().lower()}."


class IncidentNoteView(_IncidentAction):
    required_action = Action.INCIDENT_OPEN
    anchor = "#timeline"

    def perform(self, request, incident):
        form = NoteForm(request.POST, request.FILES)
        if not form.is_valid():
            raise DomainError("; ".join(" ".join(e) for e in form.errors.values()))
        services.timeline_add(actor=request.user, incident=incident, body=form.cleaned_data["body"],
                              link_url=form.cleaned_data["link_url"], evidence_file=form.cleaned_data["evidence"])
        return "Added to the timeline."


class IncidentTaskView(_IncidentAction):
    anchor = "#playbook"

    def perform(self, request, incident):
        task = get_object_or_404(PlaybookTask, pk=request.POST.get("task"), incident=incident)
        services.task_set_done(actor=request.user, task=task, done=request.POST.get("done") == "1")
        return ""


class IncidentContainView(_IncidentAction):
    anchor = "#containment"

    def perform(self, request, incident):
        form = ContainmentForm(request.POST, incident=incident)
        if not form.is_valid():
            raise DomainError("; ".join(" ".join(e) for e in form.errors.values()))
        action = services.containment_action(actor=request.user, incident=incident, **form.cleaned_data)
        return f"Done: {action.get_kind_display().lower()} — {action.version}."


class IncidentJobView(_IncidentAction):
    required_action = Action.JOB_RUN

    def perform(self, request, incident):
        version = get_object_or_404(ModelVersion, pk=request.POST.get("version"))
        job = services.incident_start_job(actor=request.user, incident=incident, version=version,
                                          kind=request.POST.get("kind", ""))
        return f"Job #{job.pk} queued; its result will appear on the timeline."


class IncidentFingerprintView(_IncidentAction):
    """Ownership evidence for an extraction incident: compare a suspect model with an affected version."""

    required_action = Action.INCIDENT_OPEN  # writes on the timeline; the service also needs JOB_RUN
    anchor = "#timeline"

    def perform(self, request, incident):
        from explain.services import fingerprint_check

        version = get_object_or_404(ModelVersion, pk=request.POST.get("version"))
        suspect = request.FILES.get("suspect")
        if suspect is None:
            raise InvalidInput("Choose the suspect model file or a CSV of its outputs.", field="suspect")
        outcome = fingerprint_check(actor=request.user, version=version, suspect_file=suspect,
                                    filename=suspect.name, incident=incident)
        return (f"Fingerprint check of {suspect.name}: {outcome['matches']}/{outcome['n']} outputs match "
                f"(p = {outcome['p_value']:.2e}); recorded on the timeline.")


class IncidentReviewView(_IncidentAction):
    """Saves the review and its action items in one go; a failed submission shows the page again with every field
    as typed (status 400), never a redirect that loses them."""

    anchor = "#review"

    def post(self, request, pk):
        form = ReviewForm(request.POST)
        formset = ActionItemFormSet(request.POST, prefix="items")
        if form.is_valid() and formset.is_valid():
            incident = _incident(pk)
            try:
                with transaction.atomic():  # a refused sign-off leaves the review as it was
                    services.review_save(actor=request.user, incident=incident,
                                         action_items=action_items(formset),
                                         **{f: form.cleaned_data.get(f, "") for f in REVIEW_FIELDS})
                    if request.POST.get("sign"):
                        services.review_sign(actor=request.user, incident=incident)
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, "Review signed off." if request.POST.get("sign") else "Review saved.")
                response = redirect("incident-detail", pk=pk)
                response["Location"] += self.anchor
                return response
        messages.error(request, "The review was not saved: correct the fields marked below.")
        return IncidentDetailView().get(request, pk, review_form=form, item_formset=formset, status=400)


class IncidentExportView(ActionRequiredMixin, View):
    def get(self, request, pk):
        incident = _incident(pk)
        what = request.GET.get("what", "report")
        fmt = request.GET.get("format", "html")
        if what == "review":
            text = report.review_markdown(incident)
            if fmt == "md":
                response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
                response["Content-Disposition"] = f'attachment; filename="incident-{pk}-review.md"'
                return response
            html = render_to_string("incidents/review_export.html", {"incident": incident, "markdown": text})
            response = HttpResponse(html)
            response["Content-Disposition"] = f'attachment; filename="incident-{pk}-review.html"'
            return response
        data = report.build(incident)
        if fmt == "json":
            response = JsonResponse(data, json_dumps_params={"indent": 1})
            response["Content-Disposition"] = f'attachment; filename="incident-{pk}-report.json"'
            return response
        response = HttpResponse(render_to_string("incidents/report_export.html", {"report": data}))
        response["Content-Disposition"] = f'attachment; filename="incident-{pk}-report.html"'
        return response


class MetricsView(ActionRequiredMixin, View):
    def get(self, request):
        try:
            days = max(1, min(3650, int(request.GET.get("days", 90))))
        except ValueError:
            days = 90
        data = selectors.metrics(days)
        return render(request, "incidents/metrics.html", {"metrics": data, "charts": selectors.metric_charts(data),
                                                          "overdue": selectors.overdue_action_items()[:20]})


class NotificationsView(ActionRequiredMixin, View):
    required_action = Action.TOKEN_MANAGE_OWN

    def get(self, request):
        return render(request, "incidents/notifications.html", {
            "page_obj": paginate(request, Notification.objects.filter(user=request.user).select_related("incident"))})

    def post(self, request):
        Notification.objects.filter(user=request.user, read_at__isnull=True).update(read_at=timezone.now())
        return redirect("notifications")


class PlaybookView(ActionRequiredMixin, View):
    """Response plans per category. Everyone reads them; admins edit them (new incidents use the new steps)."""

    required_action = {"GET": Action.VIEW, "POST": Action.POLICY_MANAGE}

    def get(self, request):
        from .choices import Category, Phase
        from .models import PlaybookStep

        steps = list(PlaybookStep.objects.all())
        return render(request, "incidents/playbooks.html", {
            "categories": [(c, [s for s in steps if s.category == c]) for c in Category],
            "phases": Phase.choices, "may_edit": can(request.user, Action.POLICY_MANAGE),
        })

    def post(self, request):
        from .models import PlaybookStep

        try:
            if request.POST.get("delete"):
                services.playbook_step_delete(actor=request.user,
                                              step=get_object_or_404(PlaybookStep, pk=request.POST["delete"]))
                messages.success(request, "Step removed.")
            else:
                services.playbook_step_add(actor=request.user, category=request.POST.get("category", ""),
                                           phase=request.POST.get("phase", ""), text=request.POST.get("text", ""),
                                           owner_role=request.POST.get("owner_role", ""))
                messages.success(request, "Step added.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("playbooks")


def evidence_response(data: bytes, name: str) -> HttpResponse:
    """Always a download, never rendered: evidence is untrusted (an .html or .svg would run in our origin)."""
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(True, name)
    response["X-Content-Type-Options"] = "nosniff"
    return response


class EvidenceDownloadView(ActionRequiredMixin, View):
    def get(self, request, pk, entry_id):
        incident = get_object_or_404(Incident, pk=pk)
        try:
            data, name = services.evidence_download(actor=request.user, incident=incident, entry_id=entry_id)
        except DomainError as exc:
            if exc.status_code == 404:
                raise Http404(exc.message)
            messages.error(request, exc.message)
            return redirect("incident-detail", pk=pk)
        return evidence_response(data, name)
