from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from governance import views as governance_views
from governance.api.views import ApiDocsRedirect

# Each app declares its own API routes; they are assembled here, under one namespace.
api_v1 = [
    path("", include("governance.api.urls")),
    path("", include("explain.api.urls")),
    path("", include("incidents.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiDocsRedirect.as_view(), name="docs"),
]

urlpatterns = [
    path("healthz", governance_views.healthz, name="healthz"),
    path(
        "accounts/login/",
        login_not_required(auth_views.LoginView.as_view(redirect_authenticated_user=True)),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include((api_v1, "api"))),
    path("docs/api/", governance_views.ApiDocsView.as_view(), name="api-docs"),
    path("", include("explain.urls")),
    path("", include("incidents.urls")),
    path("", include("governance.urls")),
]

handler403 = "governance.views.error_403"
handler404 = "governance.views.error_404"
handler500 = "governance.views.error_500"
