from django.urls import path

from accounts.api import MeApi
from inbox.api import ConversationDetailApi, ConversationListApi

urlpatterns = [
    path("me/", MeApi.as_view(), name="api-me"),
    path("conversations/", ConversationListApi.as_view(), name="api-conversation-list"),
    path(
        "conversations/<uuid:uuid>/",
        ConversationDetailApi.as_view(),
        name="api-conversation-detail",
    ),
]
