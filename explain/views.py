
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views import View

from core.errors import DomainError
from governance.permissions import Action, ActionRequiredMixin, can
from governance.views import paginate
from governance.views.registry import _get_version

from . import report, selectors, services
from .filtersets import AnalysisJobFilterSet
from .forms import RunAnalysisForm
from .kinds import KINDS as ANALYSES
from .models import AnalysisJob


def _job(pk):
    try:
        return selectors.job_detail(pk)
    except AnalysisJob.DoesNotExist:
        raise Http404(f"No job #{pk}.")


class JobListView(ActionRequiredMixin, View):
    def get(self, request):
        filterset = AnalysisJobFilterSet(request.GET or None, queryset=selectors.job_list())
        jobs = filterset.qs if filterset.is_bound and filterset.is_valid() else selectors.job_list()
        page = paginate(request, jobs.order_by("-created_at", "-id"), per_page=25)
        query = request.GET.copy()
        query.pop("page", None)
        context = {"filter": filterset, "page_obj": page, "query": query.urlencode(), "kinds": ANALYSES,
                   "any_active": any(j.is_active for j in page)}
        if request.headers.get("HX-Request"):
            return render(request, "explain/includes/job_rows.html", context)
        return render(request, "explain/job_list.html", context)


class JobDetailView(ActionRequiredMixin, View):
    def get(self, request, pk):
        job = _job(pk)
        context = {"job": job, "log": job.log_lines.all()[:500], "module": ANALYSES.get(job.kind),
                   "stale_reason": selectors.is_stale(job), "may_run": can(request.user, Action.JOB_RUN),
                   "show_traceback": can(request.user, Action.USER_MANAGE),
                   "may_register": can(request.user, Action.MODEL_REGISTER, job.version.model)}
        if request.headers.get("HX-Request"):
            response = render(request, "explain/includes/job_status.html", context)
            if not job.is_active:
                response["HX-Refresh"] = "true"
            return response
        return render(request, "explain/job_detail.html", context)


class JobCreateView(ActionRequiredMixin, View):
    required_action = Action.JOB_RUN

    def post(self, request, name, number):
        version = _get_version(name, number)
        form = RunAnalysisForm(request.POST)
        if form.is_valid():
            try:
                job = services.job_enqueue(actor=request.user, version=version, kind=form.cleaned_data["kind"],
                                           params=form.job_params(), dataset=form.cleaned_data["dataset"])
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"{ANALYSES[job.kind].TITLE} queued as job #{job.pk}.")
                return redirect("job-detail", pk=job.pk)
        else:
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("version-report", name=name, number=number)


class JobCancelView(ActionRequiredMixin, View):
    required_action = Action.JOB_RUN

    def post(self, request, pk):
        try:
            services.job_cancel(actor=request.user, job=_job(pk))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Job #{pk}: cancellation requested.")
        return redirect("job-detail", pk=pk)


class JobRerunView(ActionRequiredMixin, View):
    required_action = Action.JOB_RUN

    def post(self, request, pk):
        try:
            job = services.job_rerun(actor=request.user, job=_job(pk))
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("job-detail", pk=pk)
        messages.success(request, f"Re-run queued as job #{job.pk}.")
        return redirect("job-detail", pk=job.pk)


class JobFingerprintRowsView(ActionRequiredMixin, View):
    """A fingerprint job's rows as CSV: what a suspect model is asked to predict."""

    def get(self, request, pk):
        import csv
        import io

        from django.http import Http404, HttpResponse

        job = _job(pk)
        result = job.result or {}
        if job.kind != "fingerprint" or job.status != "succeeded" or not result.get("fingerprint_rows"):
            raise Http404(f"Job #{pk} has no fingerprint rows.")
        columns = result.get("columns") or list(result["fingerprint_rows"][0])
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result["fingerprint_rows"])
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (f'attachment; filename="{job.version.model.name}-v{job.version.number}-'
                                           f'fingerprint-rows.csv"')
        return response


class JobRegisterCandidateView(ActionRequiredMixin, View):
    """Register a hardening job's candidate as a new draft version."""

    required_action = Action.MODEL_REGISTER

    def post(self, request, pk):
        job = _job(pk)
        try:
            version = services.hardened_candidate_register(actor=request.user, job=job)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("job-detail", pk=pk)
        messages.success(request, f"Registered as v{version.number}, a draft child of v{job.version.number}.")
        return redirect("version-detail", name=version.model.name, number=version.number)


class VersionReportView(ActionRequiredMixin, View):
    def get(self, request, name, number):
        version = _get_version(name, number)
        document = report.build(version, include_full_results=False)
        return render(request, "explain/version_report.html", {
            "version": version, "model": version.model, "report": document,
            "form": RunAnalysisForm(initial={"dataset": version.evaluation_dataset_id}),
            "jobs": selectors.version_jobs(version, limit=10), "may_run": can(request.user, Action.JOB_RUN),
            "scorecard": document["robustness_scorecard"],
            "charts": [(f"chart-{i}-{j}", chart) for i, entry in enumerate(document["analyses"])
                       for j, chart in enumerate(entry.get("charts", []))],
        })


class VersionReportExportView(ActionRequiredMixin, View):
    def get(self, request, name, number):
        version = _get_version(name, number)
        stem = f"{name}-v{number}-report"
        if request.GET.get("format") == "json":
            response = JsonResponse(report.build(version), json_dumps_params={"indent": 1})
            response["Content-Disposition"] = f'attachment; filename="{stem}.json"'
            return response
        response = HttpResponse(report.export_html(version), content_type="text/html; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{stem}.html"'
        return response




class FingerprintCheckView(ActionRequiredMixin, View):
    required_action = Action.JOB_RUN

    def post(self, request, name, number):
        version = _get_version(name, number)
        suspect = request.FILES.get("suspect")
        if suspect is None:
            messages.error(request, "Choose the suspect model file or a CSV of its outputs.")
            return redirect("version-report", name=name, number=number)
        try:
            outcome = services.fingerprint_check(actor=request.user, version=version, suspect_file=suspect,
                                                 filename=suspect.name)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Fingerprint check of {suspect.name}: {outcome['matches']}/{outcome['n']} "
                                      f"outputs match (p = {outcome['p_value']:.2e}). {outcome.get('verdict', '')}")
        return redirect("version-report", name=name, number=number)
