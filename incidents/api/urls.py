from rest_framework.routers import SimpleRouter

from .views import IncidentViewSet

router = SimpleRouter(trailing_slash=True)
router.register("incidents", IncidentViewSet, basename="incident")

urlpatterns = router.urls
