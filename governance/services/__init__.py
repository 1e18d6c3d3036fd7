"""Every write in governance goes through these functions: permission, transaction, audit event."""

from .accounts import api_token_create, api_token_revoke, user_create, user_update
from .registry import (
    dataset_create,
    model_card_update,
    model_create,
    model_delete,
    model_update,
    model_version_create,
    model_version_update,
    version_compatibility_check,
    version_load_model,
    version_read_artifact,
    version_record_integrity_failure,
)

__all__ = [
    "api_token_create",
    "api_token_revoke",
    "dataset_create",
    "model_card_update",
    "model_create",
    "model_delete",
    "model_update",
    "model_version_create",
    "model_version_update",
    "user_create",
    "user_update",
    "version_compatibility_check",
    "version_load_model",
    "version_read_artifact",
    "version_record_integrity_failure",
]
