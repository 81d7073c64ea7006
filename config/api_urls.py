from django.urls import include, path

from accounts.api import MeApi
from channels_app import api as channels_api
from inbox import api as inbox_api

CONVERSATION = "conversations/<uuid:uuid>/"

urlpatterns = [
    path("me/", MeApi.as_view(), name="api-me"),
    path("", include("customers.api_urls")),
    path("", include("inbox.api_notifications")),
    path("", include("inbox.api_routing")),
    path("", include("inbox.api_workflow")),
    path("", include("inbox.api_search")),
    path("", include("ai_agent.api")),
    path("conversations/", inbox_api.ConversationListApi.as_view(), name="api-conversation-list"),
    path(CONVERSATION, inbox_api.ConversationDetailApi.as_view(), name="api-conversation-detail"),
    path(
        CONVERSATION + "messages/",
        inbox_api.MessageListCreateApi.as_view(),
        name="api-conversation-messages",
    ),
    path(
        CONVERSATION + "messages/<int:seq>/retry/",
        inbox_api.MessageRetryApi.as_view(),
        name="api-message-retry",
    ),
    path(
        CONVERSATION + "reply-options/",
        channels_api.ReplyOptionsApi.as_view(),
        name="api-conversation-reply-options",
    ),
    path(
        CONVERSATION + "attachments/",
        inbox_api.AttachmentCreateApi.as_view(),
        name="api-conversation-attachments",
    ),
    path(
        CONVERSATION + "read/",
        inbox_api.ConversationReadApi.as_view(),
        name="api-conversation-read",
    ),
    path(
        CONVERSATION + "typing/",
        inbox_api.ConversationTypingApi.as_view(),
        name="api-conversation-typing",
    ),
]
