"""The widget's REST API, under /widget/v1/<public key>/. The widget's iframe is served
from our own origin, so these are same-origin requests; the visitor is identified by the
token of `POST session`, never by a cookie."""

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import ErrorResponseSerializer
from inbox.api import (
    MESSAGE_PAGE_PARAMETERS,
    checked_attachment,
    message_page_params,
    message_response,
)
from inbox.selectors import message_list
from inbox.serializers import (
    AttachmentInputSerializer,
    CustomerMessageSerializer,
    MessageInputSerializer,
    ReadInputSerializer,
    TypingInputSerializer,
    client_id_from,
)
from inbox.services import conversation_mark_read, conversation_typing

from ..enums import FieldRequirement
from .authentication import (
    VisitorTokenAuthentication,
    WidgetIpThrottle,
    WidgetNewVisitorThrottle,
    WidgetSendThrottle,
    WidgetVisitorThrottle,
)
from .services import (
    CONTEXT_KEYS,
    visitor_conversation_get,
    visitor_message_send,
    visitor_session_get,
    visitor_session_start,
    visitor_user_set,
    widget_availability,
    widget_channel_get,
    widget_config_get,
)

ERRORS = {
    400: ErrorResponseSerializer,
    401: ErrorResponseSerializer,
    404: ErrorResponseSerializer,
    429: ErrorResponseSerializer,
}
PHONE_REGEX = r"^\+?[0-9][0-9 ()./-]{4,24}$"


class WidgetApiView(APIView):
    """Resolves the channel from the URL (404 for an unknown or inactive widget) before
    authentication, which needs it."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [WidgetIpThrottle, WidgetVisitorThrottle]
    requires_visitor = True

    def initial(self, request, *args, **kwargs):
        self.channel = widget_channel_get(kwargs["public_key"])
        if self.channel is None:
            raise Http404
        super().initial(request, *args, **kwargs)
        if self.requires_visitor and request.auth is None:
            raise NotAuthenticated(_("Start a chat session first."))

    @property
    def session(self):
        return self.request.auth


# The page context the widget reports; the user agent comes from the request's header.
ContextSerializer = type(
    "ContextSerializer",
    (serializers.Serializer,),
    {
        key: serializers.CharField(required=False, allow_blank=True, max_length=2000)
        for key in CONTEXT_KEYS
        if key != "user_agent"
    },
)


class ProfileSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.RegexField(
        PHONE_REGEX,
        required=False,
        allow_blank=True,
        error_messages={"invalid": _("Enter a phone number, e.g. +86 138 0013 8000.")},
    )

    def to_internal_value(self, data):
        """Applies the channel's pre-chat form (each field off, optional or required) and
        reports every missing and malformed field at once."""
        config = self.context["config"]
        errors = {}
        try:
            values = super().to_internal_value(data)
        except ValidationError as invalid:
            errors, values = dict(invalid.detail), {}
        for field in ("name", "email", "phone"):
            requirement = getattr(config, f"prechat_{field}")
            given = str(data.get(field) or "").strip() if hasattr(data, "get") else ""
            if requirement == FieldRequirement.REQUIRED and not given and field not in errors:
                errors[field] = [_("This field is required.")]
            if requirement == FieldRequirement.OFF:
                values.pop(field, None)
                errors.pop(field, None)
        if errors:
            raise ValidationError(errors)
        return {key: value.strip() for key, value in values.items() if value.strip()}


class SessionInputSerializer(serializers.Serializer):
    token = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=500,
        help_text="The token this browser holds, to continue its visitor; omit for a new one.",
    )
    context = ContextSerializer(required=False)
    profile = ProfileSerializer(required=False, help_text="The pre-chat form's answers.")


class ConversationStateSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    last_seq = serializers.IntegerField()
    agent_read_seq = serializers.IntegerField()
    customer_read_seq = serializers.IntegerField()


class SessionOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Visitor <token>`.")
    visitor_id = serializers.CharField()
    name = serializers.CharField()
    conversation = ConversationStateSerializer(allow_null=True)
    online = serializers.BooleanField()
    within_hours = serializers.BooleanField()


class WidgetSessionApi(WidgetApiView):
    authentication_classes = []
    throttle_classes = [WidgetIpThrottle]
    requires_visitor = False
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Start or continue a widget visitor",
        description=(
            "Called on the visitor's first use of the chat (no storage before). With a valid "
            "`token`, continues that visitor; otherwise starts a new anonymous one. Records "
            "the page context for attribution and the pre-chat answers."
        ),
        request=SessionInputSerializer,
        responses={200: SessionOutputSerializer, **ERRORS},
        tags=["widget"],
    )
    def post(self, request, public_key):
        config = widget_config_get(self.channel)
        data = SessionInputSerializer(data=request.data, context={"config": config})
        data.is_valid(raise_exception=True)
        token = data.validated_data.get("token")
        session = visitor_session_get(channel=self.channel, token=token) if token else None
        if session is None:
            throttle = WidgetNewVisitorThrottle()
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())
        context = {
            **data.validated_data.get("context", {}),
            "user_agent": request.headers.get("User-Agent", ""),
        }
        session = visitor_session_start(
            channel=self.channel,
            session=session,
            context=context,
            profile=data.validated_data.get("profile"),
        )
        conversation = visitor_conversation_get(session=session)
        body = {
            "token": session.token,
            "visitor_id": session.identity.value,
            "name": session.customer.display_name,
            "conversation": conversation,
            **widget_availability(self.channel, config),
        }
        return Response(SessionOutputSerializer(body).data)


class WidgetMessagePageSerializer(serializers.Serializer):
    results = CustomerMessageSerializer(many=True)
    has_more = serializers.BooleanField()
    conversation = ConversationStateSerializer(allow_null=True)


class WidgetMessagesApi(WidgetApiView):
    def get_throttles(self):
        if self.request.method == "POST":
            return [*super().get_throttles(), WidgetSendThrottle()]
        return super().get_throttles()

    @extend_schema(
        summary="The visitor's messages by seq",
        description="`after=N` resumes after the last seq the widget holds.",
        parameters=MESSAGE_PAGE_PARAMETERS,
        responses={200: WidgetMessagePageSerializer, **ERRORS},
        tags=["widget"],
    )
    def get(self, request, public_key):
        conversation = visitor_conversation_get(session=self.session)
        messages, has_more = [], False
        if conversation is not None:
            messages, has_more = message_list(
                conversation=conversation, **message_page_params(request)
            )
        page = {"results": messages, "has_more": has_more, "conversation": conversation}
        return Response(WidgetMessagePageSerializer(page).data)

    @extend_schema(
        summary="Send a message from the visitor",
        description="201 when stored, 200 when the client_id was seen before (nothing stored).",
        request=MessageInputSerializer,
        responses={201: CustomerMessageSerializer, 200: CustomerMessageSerializer, **ERRORS},
        tags=["widget"],
    )
    def post(self, request, public_key):
        data = MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = visitor_message_send(
            session=self.session,
            body=data.validated_data["body"],
            client_id=client_id_from(request, data.validated_data),
        )
        return message_response(CustomerMessageSerializer(message).data, created=created)


class WidgetAttachmentApi(WidgetApiView):
    parser_classes = [MultiPartParser, FormParser]

    def get_throttles(self):
        return [*super().get_throttles(), WidgetSendThrottle()]

    @extend_schema(
        summary="Send a file from the visitor",
        description="The channel's widget settings limit the file types and size.",
        request={"multipart/form-data": AttachmentInputSerializer},
        responses={201: CustomerMessageSerializer, 200: CustomerMessageSerializer, **ERRORS},
        tags=["widget"],
    )
    def post(self, request, public_key):
        data = AttachmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        config = widget_config_get(self.channel)
        upload = checked_attachment(
            data.validated_data["file"],
            allowed_types=config.allowed_content_types,
            max_bytes=config.attachment_max_mb * 2**20,
        )
        message, created = visitor_message_send(
            session=self.session,
            body=data.validated_data["body"],
            client_id=client_id_from(request, data.validated_data),
            attachments=[upload],
        )
        return message_response(CustomerMessageSerializer(message).data, created=created)


class WidgetReadApi(WidgetApiView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="The visitor has read up to a seq",
        request=ReadInputSerializer,
        responses={204: None, **ERRORS},
        tags=["widget"],
    )
    def post(self, request, public_key):
        data = ReadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = visitor_conversation_get(session=self.session)
        if conversation is not None:
            conversation_mark_read(
                conversation=conversation, reader="customer", seq=data.validated_data["seq"]
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WidgetTypingApi(WidgetApiView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="The visitor is typing (or has stopped)",
        request=TypingInputSerializer,
        responses={204: None, **ERRORS},
        tags=["widget"],
    )
    def post(self, request, public_key):
        data = TypingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = visitor_conversation_get(session=self.session)
        if conversation is not None:
            conversation_typing(conversation=conversation, typing=data.validated_data["typing"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserInputSerializer(serializers.Serializer):
    id = serializers.CharField(required=False, allow_blank=True, max_length=255)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.RegexField(PHONE_REGEX, required=False, allow_blank=True)
    hash = serializers.CharField(required=False, allow_blank=True, max_length=128)


class WidgetUserApi(WidgetApiView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="What the website says about its signed-in user",
        description=(
            "From `Switchboard('setUser', {...})`. Stored as reported; the hash (HMAC of the "
            "user id with the channel's secret) is kept for verification."
        ),
        request=UserInputSerializer,
        responses={204: None, **ERRORS},
        tags=["widget"],
    )
    def post(self, request, public_key):
        data = UserInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = {key: value for key, value in data.validated_data.items() if value}
        visitor_user_set(session=self.session, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WidgetStatusApi(WidgetApiView):
    authentication_classes = []
    requires_visitor = False

    @extend_schema(
        summary="Whether someone is there to answer",
        responses={
            200: inline_serializer(
                "WidgetStatus",
                {"online": serializers.BooleanField(), "within_hours": serializers.BooleanField()},
            ),
            **ERRORS,
        },
        tags=["widget"],
    )
    def get(self, request, public_key):
        return Response(widget_availability(self.channel, widget_config_get(self.channel)))
