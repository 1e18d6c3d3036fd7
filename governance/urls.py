from django.urls import path

from . import views

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("models/", views.ModelListView.as_view(), name="model-list"),
    path("models/new/", views.ModelCreateView.as_view(), name="model-create"),
    path("models/<slug:name>/", views.ModelDetailView.as_view(), name="model-detail"),
    path("models/<slug:name>/edit/", views.ModelEditView.as_view(), name="model-edit"),
    path("models/<slug:name>/card/", views.ModelCardEditView.as_view(), name="model-card-edit"),
    path("models/<slug:name>/compare/", views.VersionCompareView.as_view(), name="version-compare"),
    path("models/<slug:name>/versions/new/", views.VersionCreateView.as_view(), name="version-create"),
    path("models/<slug:name>/versions/<int:number>/", views.VersionDetailView.as_view(), name="version-detail"),
    path("models/<slug:name>/versions/<int:number>/artifact/", views.VersionArtifactView.as_view(),
         name="version-artifact"),
    path("datasets/", views.DatasetListView.as_view(), name="dataset-list"),
    path("datasets/new/", views.DatasetCreateView.as_view(), name="dataset-create"),
    path("datasets/<int:pk>/", views.DatasetDetailView.as_view(), name="dataset-detail"),
    path("audit/", views.AuditLogView.as_view(), name="audit-list"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("profile/tokens/<int:pk>/revoke/", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("admin/users/", views.UserListView.as_view(), name="user-list"),
    path("admin/users/<int:pk>/", views.UserUpdateView.as_view(), name="user-edit"),
]
