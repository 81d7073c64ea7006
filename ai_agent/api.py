"""The AI's part of a conversation, for the console: who answers (AI or human), the AI's
runs with their sources, tool results and costs, and one-click takeover and hand-back.
docs/ai.md describes it."""

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import ErrorResponseSerializer, error_body
from inbox.api import ERRORS, conversation_or_404, forbidden, staff_or_403
from inbox.enums import Handler
from inbox.selectors import SEE_ALL_ROLES

from .models import AgentRun, AiConversation
from .services.handoff import NoProfile, ai_hand_back, ai_takeover

CONVERSATION = "conversations/<uuid:uuid>/ai/"
RUNS_SHOWN = 20
FORBIDDEN = {**ERRORS, 403: ErrorResponseSerializer, 409: ErrorResponseSerializer}


class AgentRunSerializer(serializers.ModelSerializer):
    message_seq = serializers.IntegerField(source="message.seq", allow_null=True, default=None)
    reply_seq = serializers.IntegerField(source="reply.seq", allow_null=True, default=None)

    class Meta:
        model = AgentRun
        fields = (
            "id",
            "created_at",
            "engine",
            "model",
            "outcome",
            "handoff_reason",
            "intent",
            "emotion",
            "language",
            "citations",
            "tool_calls",
            "prompt_tokens",
            "completion_tokens",
            "cost",
            "latency_ms",
            "error",
            "message_seq",
            "reply_seq",
        )


class AiStateSerializer(serializers.Serializer):
    handler = serializers.ChoiceField(choices=Handler.choices)
    profile = serializers.CharField(allow_null=True)
    handed_off_at = serializers.DateTimeField(allow_null=True)
    handoff_reason = serializers.CharField()
    runs = AgentRunSerializer(many=True)


def _state(conversation) -> dict:
    ai = AiConversation.objects.select_related("profile").filter(conversation=conversation).first()
    runs = (
        AgentRun.objects.filter(conversation=conversation)
        .select_related("message", "reply")
        .order_by("-created_at")[:RUNS_SHOWN]
    )
    return AiStateSerializer(
        {
            "handler": conversation.handler,
            "profile": ai.profile.name if ai else None,
            "handed_off_at": ai.handed_off_at if ai else None,
            "handoff_reason": ai.handoff_reason if ai else "",
            "runs": runs,
        }
    ).data


def _conflict(code: str, message) -> Response:
    return Response(error_body(code, message), status=status.HTTP_409_CONFLICT)


class ConversationAiApi(APIView):
    @extend_schema(
        summary="The AI's part in a conversation: who answers, and the AI's recent runs",
        responses={200: AiStateSerializer, **FORBIDDEN},
    )
    def get(self, request, uuid):
        if denied := staff_or_403(request):
            return denied
        return Response(_state(conversation_or_404(request, uuid)))


class ConversationTakeoverApi(APIView):
    @extend_schema(
        summary="Take the conversation over from the AI (it stops at once; you are assigned)",
        request=None,
        responses={200: AiStateSerializer, **FORBIDDEN},
    )
    def post(self, request, uuid):
        if denied := staff_or_403(request):
            return denied
        conversation = conversation_or_404(request, uuid)
        if conversation.handler != Handler.AI:
            return _conflict("not_ai", _("A person already handles this conversation."))
        ai_takeover(conversation=conversation, agent=request.user)
        return Response(_state(conversation_or_404(request, uuid)))


class ConversationHandBackApi(APIView):
    @extend_schema(
        summary="Hand the conversation back to the AI (it answers the customer's next message)",
        request=None,
        responses={200: AiStateSerializer, **FORBIDDEN},
    )
    def post(self, request, uuid):
        if denied := staff_or_403(request):
            return denied
        conversation = conversation_or_404(request, uuid)
        if conversation.handler == Handler.AI:
            return _conflict("already_ai", _("The AI agent already handles this conversation."))
        if request.user.role not in SEE_ALL_ROLES and conversation.assignee_id not in (
            None,
            request.user.pk,
        ):
            return forbidden(
                _("Only its assignee or a supervisor can hand this conversation back.")
            )
        try:
            ai_hand_back(conversation=conversation, actor=request.user)
        except NoProfile:
            return _conflict(
                "no_ai_profile", _("No active AI agent profile serves this inbox and channel.")
            )
        return Response(_state(conversation_or_404(request, uuid)))


urlpatterns = [
    path(CONVERSATION, ConversationAiApi.as_view(), name="api-conversation-ai"),
    path(
        CONVERSATION + "takeover/",
        ConversationTakeoverApi.as_view(),
        name="api-conversation-ai-takeover",
    ),
    path(
        CONVERSATION + "handback/",
        ConversationHandBackApi.as_view(),
        name="api-conversation-ai-handback",
    ),
]
