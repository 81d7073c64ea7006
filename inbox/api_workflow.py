"""Working a conversation over the API: status, priority, claim, notes, tags, merge, bulk
actions, and canned replies."""

from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import ErrorResponseSerializer, error_body

from .api import ERRORS, HasRole, conversation_or_404
from .enums import ConversationStatus, Priority
from .models import CannedReply, Conversation
from .selectors import conversation_get, with_list_fields
from .serializers import (
    CLIENT_ID_FIELD,
    MAX_BODY_LENGTH,
    ConversationSerializer,
    MessageSerializer,
)
from .services.canned import (
    canned_create,
    canned_delete,
    canned_list,
    canned_render,
    canned_update,
)
from .services.claims import (
    CLAIM_DEFAULT_MINUTES,
    CLAIM_MAX_MINUTES,
    ClaimConflict,
    conversation_claim,
    conversation_claim_break,
    conversation_release,
)
from .services.notes import note_add
from .services.workflow import (
    BULK_ACTIONS,
    BULK_MAX,
    TAG_MAX_LENGTH,
    TAGS_MAX,
    conversation_merge,
    conversation_priority_set,
    conversation_status_set,
    conversation_tags_set,
    conversations_bulk,
)

CONFLICT_ERRORS = {**ERRORS, 403: ErrorResponseSerializer, 409: ErrorResponseSerializer}


def conversation_response(conversation: Conversation) -> Response:
    """The conversation as committed, with its tags and claim read again."""
    fresh = with_list_fields(Conversation.objects.filter(pk=conversation.pk)).get()
    return Response(ConversationSerializer(fresh).data)


def claim_conflict_response(conflict: ClaimConflict) -> Response:
    return Response(
        error_body(
            conflict.code,
            conflict.message,
            {
                "claimed_by": {"id": conflict.holder.pk, "name": str(conflict.holder)},
                "claimed_until": conflict.until.isoformat(),
            },
        ),
        status=status.HTTP_409_CONFLICT,
    )


# --- Input serializers -------------------------------------------------------------------


class ConversationStatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConversationStatus.choices)
    snoozed_until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Required with `snoozed`: when it reopens."
    )


class ConversationPriorityInputSerializer(serializers.Serializer):
    priority = serializers.ChoiceField(
        choices=Priority.choices, help_text="0 low, 1 normal, 2 high, 3 urgent."
    )


class ConversationClaimInputSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(
        min_value=1, max_value=CLAIM_MAX_MINUTES, default=CLAIM_DEFAULT_MINUTES
    )


class ConversationNoteInputSerializer(serializers.Serializer):
    client_id = serializers.RegexField(required=False, allow_null=True, **CLIENT_ID_FIELD)
    body = serializers.CharField(max_length=MAX_BODY_LENGTH, trim_whitespace=False)
    reply_to = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="The seq of a message quoted."
    )

    def validate_body(self, body: str) -> str:
        if not body.strip():
            raise serializers.ValidationError(_("Write a note first."))
        return body


class ConversationTagsInputSerializer(serializers.Serializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX_LENGTH, allow_blank=True),
        max_length=TAGS_MAX,
        allow_empty=True,
    )


class ConversationMergeInputSerializer(serializers.Serializer):
    into = serializers.UUIDField(help_text="The conversation that receives the messages.")


class ConversationBulkInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.UUIDField(), max_length=BULK_MAX, allow_empty=False
    )
    action = serializers.ChoiceField(choices=BULK_ACTIONS)
    status = serializers.ChoiceField(choices=ConversationStatus.choices, required=False)
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX_LENGTH),
        max_length=TAGS_MAX,
        required=False,
    )
    agent = serializers.IntegerField(required=False, allow_null=True, help_text="For assign.")
    team = serializers.IntegerField(required=False, allow_null=True, help_text="For assign.")


class CannedReplySerializer(serializers.ModelSerializer):
    shared = serializers.SerializerMethodField()

    class Meta:
        model = CannedReply
        fields = ["id", "shortcut", "title", "body", "shared", "updated_at"]

    def get_shared(self, canned: CannedReply) -> bool:
        return canned.owner_id is None


class CannedReplyInputSerializer(serializers.Serializer):
    shortcut = serializers.CharField(max_length=50)
    title = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    body = serializers.CharField(max_length=4000, trim_whitespace=False)
    shared = serializers.BooleanField(
        default=False, help_text="Shared with everyone (supervisors and admins only)."
    )


# --- Conversation actions ----------------------------------------------------------------


class ConversationStatusApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Set the status: open, pending, snoozed (until a time) or resolved",
        request=ConversationStatusInputSerializer,
        responses={200: ConversationSerializer, **ERRORS},
    )
    def post(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        data = ConversationStatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversation_status_set(
            conversation=conversation,
            status=data.validated_data["status"],
            snoozed_until=data.validated_data.get("snoozed_until"),
            actor=request.user,
        )
        return conversation_response(conversation)


class ConversationPriorityApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Set the priority",
        request=ConversationPriorityInputSerializer,
        responses={200: ConversationSerializer, **ERRORS},
    )
    def post(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        data = ConversationPriorityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversation_priority_set(
            conversation=conversation, priority=data.validated_data["priority"], actor=request.user
        )
        return conversation_response(conversation)


class ConversationClaimApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Claim the conversation: only you can reply until the claim expires",
        description="Claiming again renews your claim. 409 `claimed` when someone else "
        "holds an unexpired claim (`details.claimed_by`, `details.claimed_until`).",
        request=ConversationClaimInputSerializer,
        responses={200: ConversationSerializer, **CONFLICT_ERRORS},
    )
    def post(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        data = ConversationClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            conversation = conversation_claim(
                conversation=conversation, user=request.user, minutes=data.validated_data["minutes"]
            )
        except ClaimConflict as conflict:
            return claim_conflict_response(conflict)
        return conversation_response(conversation)

    @extend_schema(
        summary="Release your claim",
        request=None,
        responses={200: ConversationSerializer, **CONFLICT_ERRORS},
    )
    def delete(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        try:
            conversation = conversation_release(conversation=conversation, user=request.user)
        except ClaimConflict as conflict:
            return claim_conflict_response(conflict)
        return conversation_response(conversation)


class ConversationClaimBreakApi(APIView):
    @extend_schema(
        summary="Break someone's claim (supervisors and admins); the holder is notified",
        request=None,
        responses={200: ConversationSerializer, **CONFLICT_ERRORS},
    )
    def post(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        conversation = conversation_claim_break(conversation=conversation, supervisor=request.user)
        return conversation_response(conversation)


class ConversationNoteApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Add a private note (staff only), with @mentions and an optional quote",
        description=(
            "Mentions are tokens the console inserts: `@[Name](user:12)` or "
            "`@[Team](team:3)`. Mentioned users, and every member of a mentioned team, who "
            "may see the conversation are notified. `reply_to` quotes a message by seq; a "
            "seq not in this conversation is a 400."
        ),
        request=ConversationNoteInputSerializer,
        responses={201: MessageSerializer, **ERRORS},
    )
    def post(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        data = ConversationNoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = note_add(
            conversation=conversation,
            author=request.user,
            body=data.validated_data["body"],
            reply_to_seq=data.validated_data.get("reply_to"),
            client_id=data.validated_data.get("client_id"),
        )
        return Response(
            MessageSerializer(message, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ConversationTagsApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Set the conversation's tags (new names create tags; case-insensitive)",
        request=ConversationTagsInputSerializer,
        responses={200: ConversationSerializer, **ERRORS},
    )
    def put(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        data = ConversationTagsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversation_tags_set(
            conversation=conversation, names=data.validated_data["tags"], actor=request.user
        )
        return conversation_response(conversation)


class ConversationMergeApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Merge this conversation into another of the same customer",
        description=(
            "This conversation's messages move to the end of `into` (numbered after its "
            "last seq, in order); this one is resolved as merged. Returns `into`."
        ),
        request=ConversationMergeInputSerializer,
        responses={200: ConversationSerializer, **ERRORS},
    )
    def post(self, request, uuid):
        source = conversation_or_404(request, uuid)
        data = ConversationMergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = conversation_get(user=request.user, uuid=data.validated_data["into"])
        if target is None:
            raise ValidationError({"into": [_("No such conversation.")]})
        target = conversation_merge(source=source, target=target, actor=request.user)
        return conversation_response(target)


BulkResultSerializer = inline_serializer(
    "BulkResults",
    {
        "results": serializers.ListField(
            child=inline_serializer(
                "BulkResult",
                {
                    "id": serializers.UUIDField(),
                    "ok": serializers.BooleanField(),
                    "error": serializers.DictField(required=False),
                },
            )
        )
    },
)


class ConversationBulkApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Apply one action to many conversations",
        description=(
            "`action`: assign ({agent, team}), tag ({tags}: added), resolve, snooze "
            "({snoozed_until}), status ({status, snoozed_until}), priority ({priority}). "
            "Each conversation is changed on its own; ones you may not see are reported "
            "`not_found` and left alone. One result per id."
        ),
        request=ConversationBulkInputSerializer,
        responses={200: BulkResultSerializer, **ERRORS},
    )
    def post(self, request):
        data = ConversationBulkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        uuids, action = params.pop("ids"), params.pop("action")
        if action == "assign":
            params = {**params, **_assign_targets(params)}
        results = conversations_bulk(user=request.user, uuids=uuids, action=action, **params)
        return Response({"results": results})


def _assign_targets(params: dict) -> dict:
    from accounts.models import User

    from .models import Team

    targets = {"agent": None, "team": None}
    if params.get("agent") is not None:
        targets["agent"] = User.objects.filter(pk=params["agent"], is_active=True).first()
        if targets["agent"] is None:
            raise ValidationError({"agent": [_("No such agent.")]})
    if params.get("team") is not None:
        targets["team"] = Team.objects.filter(pk=params["team"]).first()
        if targets["team"] is None:
            raise ValidationError({"team": [_("No such team.")]})
    return targets


# --- Canned replies ----------------------------------------------------------------------


def canned_or_404(request, pk: int) -> CannedReply:
    canned = canned_list(user=request.user).filter(pk=pk).first()
    if canned is None:
        raise Http404
    return canned


class CannedReplyListApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [HasRole]

    @extend_schema(
        summary="Canned replies I can use: shared ones and my own",
        parameters=[OpenApiParameter("q", str, description="Search shortcut and title.")],
        responses={200: CannedReplySerializer(many=True), **ERRORS},
    )
    def get(self, request):
        replies = canned_list(user=request.user, q=request.query_params.get("q", ""))[:200]
        return Response(CannedReplySerializer(replies, many=True).data)

    @extend_schema(
        summary="Create a canned reply (shared: supervisors and admins only)",
        request=CannedReplyInputSerializer,
        responses={201: CannedReplySerializer, 403: ErrorResponseSerializer, **ERRORS},
    )
    def post(self, request):
        data = CannedReplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        canned = canned_create(user=request.user, **data.validated_data)
        return Response(CannedReplySerializer(canned).data, status=status.HTTP_201_CREATED)


class CannedReplyDetailApi(APIView):
    parser_classes = [JSONParser]
    permission_classes = [HasRole]

    @extend_schema(
        summary="Change a canned reply (your own; shared ones: supervisors and admins)",
        request=CannedReplyInputSerializer(partial=True),
        responses={200: CannedReplySerializer, 403: ErrorResponseSerializer, **ERRORS},
    )
    def patch(self, request, pk):
        canned = canned_or_404(request, pk)
        data = CannedReplyInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k != "shared"}
        canned = canned_update(canned=canned, user=request.user, **fields)
        return Response(CannedReplySerializer(canned).data)

    @extend_schema(
        summary="Delete a canned reply",
        responses={204: None, 403: ErrorResponseSerializer, **ERRORS},
    )
    def delete(self, request, pk):
        canned = canned_or_404(request, pk)
        canned_delete(canned=canned, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CannedReplyRenderApi(APIView):
    permission_classes = [HasRole]

    @extend_schema(
        summary="A canned reply's text with its variables filled in for a conversation",
        parameters=[OpenApiParameter("conversation", str, required=True)],
        responses={
            200: inline_serializer("CannedRendered", {"text": serializers.CharField()}),
            **ERRORS,
        },
    )
    def get(self, request, pk):
        canned = canned_or_404(request, pk)
        field = serializers.UUIDField()
        try:
            uuid = field.run_validation(request.query_params.get("conversation", ""))
        except serializers.ValidationError as error:
            raise ValidationError({"conversation": error.detail}) from None
        conversation = conversation_or_404(request, uuid)
        return Response(
            {"text": canned_render(canned=canned, conversation=conversation, agent=request.user)}
        )


CONVERSATION = "conversations/<uuid:uuid>/"

urlpatterns = [
    path("conversations/bulk/", ConversationBulkApi.as_view(), name="api-conversation-bulk"),
    path(CONVERSATION + "status/", ConversationStatusApi.as_view(), name="api-conversation-status"),
    path(
        CONVERSATION + "priority/",
        ConversationPriorityApi.as_view(),
        name="api-conversation-priority",
    ),
    path(CONVERSATION + "claim/", ConversationClaimApi.as_view(), name="api-conversation-claim"),
    path(
        CONVERSATION + "claim/break/",
        ConversationClaimBreakApi.as_view(),
        name="api-conversation-claim-break",
    ),
    path(CONVERSATION + "notes/", ConversationNoteApi.as_view(), name="api-conversation-notes"),
    path(CONVERSATION + "tags/", ConversationTagsApi.as_view(), name="api-conversation-tags"),
    path(CONVERSATION + "merge/", ConversationMergeApi.as_view(), name="api-conversation-merge"),
    path("canned-replies/", CannedReplyListApi.as_view(), name="api-canned-list"),
    path("canned-replies/<int:pk>/", CannedReplyDetailApi.as_view(), name="api-canned-detail"),
    path(
        "canned-replies/<int:pk>/render/",
        CannedReplyRenderApi.as_view(),
        name="api-canned-render",
    ),
]
