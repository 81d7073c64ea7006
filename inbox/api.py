"""The console's and integrations' REST API for conversations and messages."""

from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import ErrorResponseSerializer, error_body

from .api_search import FILTER_PARAMETERS, ConversationPagination
from .files import AttachmentRejected, AttachmentUpload, attachment_check
from .outbound import ReplyBlocked
from .search import conversation_search, filters_from_params
from .selectors import (
    conversation_get,
    conversation_list_for_view,
    for_list_page,
    message_list,
)
from .serializers import (
    AttachmentInputSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    MessagePageSerializer,
    MessageRetryInputSerializer,
    MessageSerializer,
    ReadInputSerializer,
    ReplyInputSerializer,
    TypingInputSerializer,
    client_id_from,
)
from .services import conversation_mark_read, conversation_typing, message_retry, message_send

# Files agents may send (the widget's own limits apply to what visitors send).
AGENT_ATTACHMENT_TYPES = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
]
AGENT_ATTACHMENT_MAX_BYTES = 25 * 2**20
ERRORS = {400: ErrorResponseSerializer, 401: ErrorResponseSerializer, 404: ErrorResponseSerializer}
REPLY_ERRORS = {**ERRORS, 422: ErrorResponseSerializer}
REPLY_BLOCKED_DESCRIPTION = (
    " A reply the channel does not accept now is refused with 422 and a stable `code` "
    "(`window_closed`, `too_long`, `file_type`, `file_too_large`, `template_variables`, "
    "`unsubscribed`, …); `details.hint` says what the agent can do instead."
)


def reply_blocked_response(blocked: ReplyBlocked) -> Response:
    return Response(
        error_body(blocked.code, blocked.message, {"hint": blocked.hint, **blocked.details}),
        status=status.HTTP_422_UNPROCESSABLE_ENTITY,
    )


def checked_attachment(upload, *, allowed_types: list[str], max_bytes: int) -> AttachmentUpload:
    """The upload, or a 400 saying why it may not be sent."""
    try:
        return attachment_check(upload, allowed_types=allowed_types, max_bytes=max_bytes)
    except AttachmentRejected as rejected:
        raise ValidationError({"file": [str(rejected)]}) from None


def message_response(data: dict, *, created: bool) -> Response:
    """201 for a message stored now, 200 for one a retried client_id had stored before."""
    return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class HasRole(BasePermission):
    """Signed in with a role (agent, supervisor, admin). An account without one, e.g. whose
    role was taken away, sees none of the team's material (shared canned replies, tags);
    what is scoped by a selector needs no such check (it shows such an account nothing)."""

    message = gettext_lazy("Only staff members can do this.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role is not None)


def forbidden(message) -> Response:
    return Response(error_body("permission_denied", message), status=status.HTTP_403_FORBIDDEN)


def staff_or_403(request) -> Response | None:
    """A 403 for an account without a role (what only staff may do), else None."""
    if request.user.role is None:
        return forbidden(_("Only staff members can do this."))
    return None


def conversation_or_404(request, uuid):
    conversation = conversation_get(user=request.user, uuid=uuid)
    if conversation is None:
        raise Http404
    return conversation


@extend_schema(
    summary="Conversations the user may see, most recent activity first (cursor-paginated)",
    parameters=[
        OpenApiParameter(
            "view",
            str,
            enum=["all", "mine", "unassigned"],
            description="`mine`: assigned to me; `unassigned`; `all` (default): all I may see.",
        ),
        OpenApiParameter("q", str, description="Full-text search, as `GET /api/v1/search/`."),
        *FILTER_PARAMETERS,
    ],
)
class ConversationListApi(ListAPIView):
    serializer_class = ConversationSerializer
    pagination_class = ConversationPagination

    def get_queryset(self):
        view = self.request.query_params.get("view", "all")
        if view not in ("all", "mine", "unassigned"):
            raise ValidationError({"view": [_("Use all, mine or unassigned.")]})
        filters = filters_from_params(self.request.query_params)  # a 400 on a bad value
        found = conversation_search(
            user=self.request.user,
            q=filters.pop("q", ""),
            filters=filters,
            conversations=conversation_list_for_view(user=self.request.user, view=view),
            window=self.paginator.window(self.request),  # as in SearchApi
        )
        return for_list_page(found)


class ConversationDetailApi(APIView):
    @extend_schema(
        summary="One conversation, with its customer and where it came from",
        responses={200: ConversationDetailSerializer, **ERRORS},
    )
    def get(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        return Response(ConversationDetailSerializer(conversation).data)


def _seq_param(request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValidationError({name: [_("Must be a whole number.")]}) from None
    if number < 0:
        raise ValidationError({name: [_("Must be a whole number.")]})
    return number


def message_page_params(request) -> dict:
    limit = _seq_param(request, "limit")
    return {
        "after": _seq_param(request, "after"),
        "before": _seq_param(request, "before"),
        "limit": min(limit or 50, 200),
    }


MESSAGE_PAGE_PARAMETERS = [
    OpenApiParameter("after", int, description="Messages after this seq, oldest first."),
    OpenApiParameter("before", int, description="The page of messages before this seq."),
    OpenApiParameter("limit", int, description="Page size, at most 200 (default 50)."),
]


class MessageListCreateApi(APIView):
    @extend_schema(
        summary="A conversation's messages by seq",
        description=(
            "Without parameters: the newest page. `after=N` resumes after the last seq a "
            "client holds (after a reconnect or on seeing a gap); `before=N` loads older "
            "history. Results are always in seq order."
        ),
        parameters=MESSAGE_PAGE_PARAMETERS,
        responses={200: MessagePageSerializer, **ERRORS},
    )
    def get(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        messages, has_more = message_list(conversation=conversation, **message_page_params(request))
        return Response(
            MessagePageSerializer(
                {"results": messages, "has_more": has_more}, context={"request": request}
            ).data
        )

    @extend_schema(
        summary="Reply to the customer",
        description=(
            "201 when stored, 200 when the client_id was seen before (nothing stored). The "
            "reply is checked against the channel's rules first (see reply-options) and then "
            "delivered through the outbox: `delivery_status` moves from queued to sent, "
            "delivered and read, or to failed with the provider's reason."
            + REPLY_BLOCKED_DESCRIPTION
        ),
        request=ReplyInputSerializer,
        responses={201: MessageSerializer, 200: MessageSerializer, **REPLY_ERRORS},
    )
    def post(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        data = ReplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            message, created = message_send(
                conversation=conversation,
                author=request.user,
                body=data.validated_data["body"],
                client_id=client_id_from(request, data.validated_data),
                template=data.validated_data.get("template"),
                options=data.validated_data.get("options"),
                reply_to=data.validated_data.get("reply_to"),
            )
        except ReplyBlocked as blocked:
            return reply_blocked_response(blocked)
        return message_response(
            MessageSerializer(message, context={"request": request}).data, created=created
        )


class MessageRetryApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Send a failed reply again, optionally with corrected text",
        description="Only a reply whose delivery failed can be retried."
        + REPLY_BLOCKED_DESCRIPTION,
        request=MessageRetryInputSerializer,
        responses={200: MessageSerializer, **REPLY_ERRORS},
    )
    def post(self, request, uuid, seq):
        conversation = conversation_or_404(request, uuid)
        message = conversation.messages.filter(seq=seq).first()
        if message is None:
            raise Http404
        data = MessageRetryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            message = message_retry(
                message=message, actor=request.user, body=data.validated_data.get("body")
            )
        except ReplyBlocked as blocked:
            return reply_blocked_response(blocked)
        return Response(MessageSerializer(message, context={"request": request}).data)


class AttachmentCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Send a file to the customer",
        description="Checked against the channel's file types and sizes first."
        + REPLY_BLOCKED_DESCRIPTION,
        request={"multipart/form-data": AttachmentInputSerializer},
        responses={201: MessageSerializer, 200: MessageSerializer, **REPLY_ERRORS},
    )
    def post(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        data = AttachmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = checked_attachment(
            data.validated_data["file"],
            allowed_types=AGENT_ATTACHMENT_TYPES,
            max_bytes=AGENT_ATTACHMENT_MAX_BYTES,
        )
        try:
            message, created = message_send(
                conversation=conversation,
                author=request.user,
                body=data.validated_data["body"],
                client_id=client_id_from(request, data.validated_data),
                attachments=[upload],
            )
        except ReplyBlocked as blocked:
            return reply_blocked_response(blocked)
        return message_response(
            MessageSerializer(message, context={"request": request}).data, created=created
        )


class ConversationReadApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Mark the conversation read up to a seq",
        request=ReadInputSerializer,
        responses={200: ConversationSerializer, **ERRORS},
    )
    def post(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        data = ReadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversation_mark_read(
            conversation=conversation, reader="agent", seq=data.validated_data["seq"]
        )
        return Response(ConversationSerializer(conversation).data)


class ConversationTypingApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Show the customer that an agent is typing (or has stopped)",
        request=TypingInputSerializer,
        responses={204: None, **ERRORS},
    )
    def post(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        data = TypingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation_typing(
            conversation=conversation, typing=data.validated_data["typing"], agent=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
