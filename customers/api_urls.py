"""Routes of the customers API, included at the `/api/v1/` root.

`customers/<uuid:uuid>/` only ever matches a UUID, so literal paths under `customers/`
(e.g. `customers/export/`) can be added anywhere; keep them before the UUID routes."""

from django.urls import path

from . import api, api_transfer

CUSTOMER = "customers/<uuid:uuid>/"

urlpatterns = [
    path("customers/", api.CustomerListApi.as_view(), name="api-customer-list"),
    path("customers/export/", api_transfer.CustomerExportApi.as_view(), name="api-customer-export"),
    path("customers/import/", api_transfer.CustomerImportApi.as_view(), name="api-customer-import"),
    path(CUSTOMER, api.CustomerDetailApi.as_view(), name="api-customer-detail"),
    path(
        CUSTOMER + "identities/",
        api.CustomerIdentitiesApi.as_view(),
        name="api-customer-identities",
    ),
    path(
        CUSTOMER + "identities/<int:identity_id>/",
        api.CustomerIdentityApi.as_view(),
        name="api-customer-identity",
    ),
    path(CUSTOMER + "tags/", api.CustomerTagsApi.as_view(), name="api-customer-tags"),
    path(CUSTOMER + "tags/<int:tag_id>/", api.CustomerTagApi.as_view(), name="api-customer-tag"),
    path(CUSTOMER + "notes/", api.CustomerNotesApi.as_view(), name="api-customer-notes"),
    path(
        CUSTOMER + "notes/<int:note_id>/",
        api.CustomerNoteApi.as_view(),
        name="api-customer-note",
    ),
    path(CUSTOMER + "history/", api.CustomerHistoryApi.as_view(), name="api-customer-history"),
    path(
        CUSTOMER + "conversations/",
        api.CustomerConversationsApi.as_view(),
        name="api-customer-conversations",
    ),
    path(CUSTOMER + "merge/", api.CustomerMergeApi.as_view(), name="api-customer-merge"),
    path("tags/", api.TagListApi.as_view(), name="api-tag-list"),
    path(
        "customer-merges/<int:pk>/undo/",
        api.CustomerMergeUndoApi.as_view(),
        name="api-customer-merge-undo",
    ),
    path(
        "merge-suggestions/<int:pk>/confirm/",
        api.MergeSuggestionConfirmApi.as_view(),
        name="api-merge-suggestion-confirm",
    ),
    path(
        "merge-suggestions/<int:pk>/dismiss/",
        api.MergeSuggestionDismissApi.as_view(),
        name="api-merge-suggestion-dismiss",
    ),
    path(
        "customer-attributes/",
        api.AttributeDefinitionListApi.as_view(),
        name="api-customer-attribute-list",
    ),
]
