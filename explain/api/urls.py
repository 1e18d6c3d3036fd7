from rest_framework.routers import SimpleRouter

from .views import AnalysisJobViewSet

router = SimpleRouter(trailing_slash=True)
router.register("jobs", AnalysisJobViewSet, basename="job")

urlpatterns = router.urls
