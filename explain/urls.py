from django.urls import path

from . import views

urlpatterns = [
    path("jobs/", views.JobListView.as_view(), name="job-list"),
    path("jobs/<int:pk>/", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel/", views.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<int:pk>/rerun/", views.JobRerunView.as_view(), name="job-rerun"),
    path("jobs/<int:pk>/fingerprint-rows.csv", views.JobFingerprintRowsView.as_view(), name="job-fingerprint-rows"),
    path("jobs/<int:pk>/register/", views.JobRegisterCandidateView.as_view(), name="job-register-candidate"),
    path("models/<slug:name>/versions/<int:number>/report/", views.VersionReportView.as_view(),
         name="version-report"),
    path("models/<slug:name>/versions/<int:number>/report/export/", views.VersionReportExportView.as_view(),
         name="version-report-export"),
    path("models/<slug:name>/versions/<int:number>/jobs/", views.JobCreateView.as_view(), name="job-create"),
    path("models/<slug:name>/versions/<int:number>/fingerprint-check/", views.FingerprintCheckView.as_view(),
         name="fingerprint-check"),
]
