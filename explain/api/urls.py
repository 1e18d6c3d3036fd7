from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import AnalysisJobViewSet, VersionReportView

router = SimpleRouter(trailing_slash=True)
router.register("jobs", AnalysisJobViewSet, basename="job")

urlpatterns = [
    path("models/<slug:model_name>/versions/<int:number>/report/", VersionReportView.as_view(),
         name="version-report"),
    *router.urls,
]
