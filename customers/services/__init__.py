"""Writes to customers: resolving identities, merging, the profile. Import from here."""

from .history import change_record
from .identities import (
    IdentityClaim,
    Resolution,
    claims_normalize,
    customer_identities_add,
    customer_identity_remove,
    customer_resolve,
)
from .merging import (
    MergeRefused,
    customer_merge,
    customer_merge_undo,
    customer_root,
    customers_kept_apart,
    merge_suggest,
    merge_suggestion_confirm,
    merge_suggestion_dismiss,
    merge_suggestions_for,
)
from .profile import (
    attribute_value_clean,
    attributes_clean,
    customer_lead_capture,
    customer_note_add,
    customer_note_delete,
    customer_tag_add,
    customer_tag_remove,
    customer_touch,
    customer_update,
    tag_get_or_create,
)
from .transfer import ImportRefused, ImportResult, customers_export_lines, customers_import

__all__ = [
    "IdentityClaim",
    "ImportRefused",
    "ImportResult",
    "MergeRefused",
    "Resolution",
    "attribute_value_clean",
    "attributes_clean",
    "change_record",
    "claims_normalize",
    "customer_identities_add",
    "customer_identity_remove",
    "customer_lead_capture",
    "customer_merge",
    "customer_merge_undo",
    "customer_note_add",
    "customer_note_delete",
    "customer_resolve",
    "customer_root",
    "customer_tag_add",
    "customer_tag_remove",
    "customer_touch",
    "customer_update",
    "customers_export_lines",
    "customers_import",
    "customers_kept_apart",
    "merge_suggest",
    "merge_suggestion_confirm",
    "merge_suggestion_dismiss",
    "merge_suggestions_for",
    "tag_get_or_create",
]
