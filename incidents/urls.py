from django.urls import path

from . import views

urlpatterns = [
    path("incidents/", views.IncidentListView.as_view(), name="incident-list"),
    path("incidents/new/", views.IncidentCreateView.as_view(), name="incident-create"),
    path("incidents/metrics/", views.MetricsView.as_view(), name="incident-metrics"),
    path("incidents/<int:pk>/", views.IncidentDetailView.as_view(), name="incident-detail"),
    path("incidents/<int:pk>/edit/", views.IncidentEditView.as_view(), name="incident-edit"),
    path("incidents/<int:pk>/transition/", views.IncidentTransitionView.as_view(), name="incident-transition"),
    path("incidents/<int:pk>/notes/", views.IncidentNoteView.as_view(), name="incident-note"),
    path("incidents/<int:pk>/tasks/", views.IncidentTaskView.as_view(), name="incident-task"),
    path("incidents/<int:pk>/contain/", views.IncidentContainView.as_view(), name="incident-contain"),
    path("incidents/<int:pk>/jobs/", views.IncidentJobView.as_view(), name="incident-job"),
    path("incidents/<int:pk>/fingerprint-check/", views.IncidentFingerprintView.as_view(),
         name="incident-fingerprint-check"),
    path("incidents/<int:pk>/review/", views.IncidentReviewView.as_view(), name="incident-review"),
    path("incidents/<int:pk>/export/", views.IncidentExportView.as_view(), name="incident-export"),
    path("incidents/<int:pk>/evidence/<int:entry_id>/", views.EvidenceDownloadView.as_view(),
         name="incident-evidence"),
    path("notifications/", views.NotificationsView.as_view(), name="notifications"),
    path("playbooks/", views.PlaybookView.as_view(), name="playbooks"),
]
