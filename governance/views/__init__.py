from .accounts import (
    AuditLogView,
    DashboardView,
    ProfileView,
    TokenRevokeView,
    UserListView,
    UserUpdateView,
    error_403,
    error_404,
    error_500,
    form_error,
    healthz,
    paginate,
)
from .registry import (
    DatasetCreateView,
    DatasetDetailView,
    DatasetListView,
    ModelCardEditView,
    ModelCreateView,
    ModelDetailView,
    ModelEditView,
    ModelListView,
    VersionArtifactView,
    VersionCompareView,
    VersionCreateView,
    VersionDetailView,
)

__all__ = [
    "AuditLogView", "DashboardView", "DatasetCreateView", "DatasetDetailView", "DatasetListView",
    "ModelCardEditView", "ModelCreateView", "ModelDetailView", "ModelEditView", "ModelListView", "ProfileView",
    "TokenRevokeView", "UserListView", "UserUpdateView", "VersionArtifactView", "VersionCompareView",
    "VersionCreateView", "VersionDetailView", "error_403", "error_404", "error_500", "form_error", "healthz",
    "paginate",
]
