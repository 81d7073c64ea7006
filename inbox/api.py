from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import ErrorResponseSerializer

from .models import Conversation
from .selectors import conversation_get, conversation_list


class ConversationOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid")
    inbox = serializers.CharField(source="inbox.name")
    customer = serializers.CharField(source="customer.__str__")
    assignee = serializers.EmailField(source="assignee.email", allow_null=True, default=None)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "inbox",
            "customer",
            "status",
            "priority",
            "handler",
            "assignee",
            "last_seq",
            "last_message_at",
            "created_at",
        ]


@extend_schema(summary="Conversations the user may see, newest first (cursor-paginated)")
class ConversationListApi(ListAPIView):
    serializer_class = ConversationOutputSerializer

    def get_queryset(self):
        return conversation_list(user=self.request.user)


class ConversationDetailApi(APIView):
    @extend_schema(
        summary="One conversation",
        responses={200: ConversationOutputSerializer, 404: ErrorResponseSerializer},
    )
    def get(self, request, uuid):
        conversation = conversation_get(user=request.user, uuid=uuid)
        if conversation is None:
            raise Http404
        return Response(ConversationOutputSerializer(conversation).data)
