"""A staff member's notifications: mentions, assignments, transfers, SLA breaches."""

from django.db.models import Exists, OuterRef, Q
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.pagination import CreatedCursorPagination

from .api import ERRORS
from .models import Notification
from .selectors import conversation_list
from .serializers import NotificationSerializer, NotificationsReadInputSerializer
from .services.notifications import notifications_mark_read


class NotificationPagination(CreatedCursorPagination):
    ordering = ("-created_at", "-id")


@extend_schema(
    summary="My notifications, newest first (cursor-paginated)",
    parameters=[OpenApiParameter("unread", bool, description="Only those not read yet.")],
)
class NotificationListApi(ListAPIView):
    serializer_class = NotificationSerializer
    pagination_class = NotificationPagination

    def get_queryset(self):
        # One about a conversation the user may no longer see (moved to another inbox, or
        # assigned to someone else in an "assigned" inbox) is not theirs to read any more:
        # its text quotes the conversation.
        visible = conversation_list(user=self.request.user).filter(pk=OuterRef("conversation_id"))
        notifications = (
            Notification.objects.filter(user=self.request.user)
            .filter(Q(conversation__isnull=True) | Exists(visible))
            .select_related("conversation", "message", "actor")
        )
        if self.request.query_params.get("unread") in ("1", "true"):
            notifications = notifications.filter(read_at__isnull=True)
        return notifications


class NotificationsReadApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Mark my notifications read (the given ones, or all)",
        request=NotificationsReadInputSerializer,
        responses={
            200: inline_serializer("NotificationsRead", {"marked": serializers.IntegerField()}),
            **ERRORS,
        },
    )
    def post(self, request):
        data = NotificationsReadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        marked = notifications_mark_read(user=request.user, uuids=data.validated_data.get("ids"))
        return Response({"marked": marked})


urlpatterns = [
    path("notifications/", NotificationListApi.as_view(), name="api-notification-list"),
    path("notifications/read/", NotificationsReadApi.as_view(), name="api-notifications-read"),
]
