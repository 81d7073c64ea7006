"""The widget's REST API, under /widget/v1/<public key>/. The widget's iframe is served
from our own origin, so these are same-origin requests; the visitor is identified by the
token of `POST session`, never by a cookie."""

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import (
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import ErrorResponseSerializer
from common.api.throttling import BatchedThrottlesMixin
from customers.normalization import InvalidIdentity
from customers.services import IdentityClaim, claims_normalize
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
    CONTACT_FIELDS,
    CONTEXT_KEYS,
    VisitorUserRefused,
    visitor_contact_leave,
    visitor_conversation_get,
    visitor_csat_submit,
    visitor_message_send,
    visitor_session_get,
    visitor_session_start,
    visitor_user_set,
    widget_availability,
    widget_channel_get,
    widget_config_get,
    widget_csat_question,
    widget_queue_position,
)

ERRORS = {
    400: ErrorResponseSerializer,
    401: ErrorResponseSerializer,
    404: ErrorResponseSerializer,
    429: ErrorResponseSerializer,
}


def contact_errors(values: dict, channel) -> dict:
    """Per field, why a typed email or phone cannot be an identity (none when all can)."""
    errors = {}
    for field, kind in CONTACT_FIELDS.items():
        if values.get(field):
            try:
                claims_normalize([IdentityClaim(kind, values[field])], channel=channel)
            except InvalidIdentity as invalid:
                errors[field] = [str(invalid)]
    return errors


class ContactFieldsSerializer(serializers.Serializer):
    """Name, email and phone as a person types them; email and phone must be usable as
    identities (a phone number without a country code is read in the channel's region)."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)

    def validate(self, attrs):
        attrs = {key: value.strip() for key, value in attrs.items() if value.strip()}
        if errors := contact_errors(attrs, self.context["channel"]):
            raise ValidationError(errors)
        return attrs


class WidgetApiView(BatchedThrottlesMixin, APIView):
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


class ProfileSerializer(ContactFieldsSerializer):
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
        values = {key: value.strip() for key, value in values.items() if value.strip()}
        for field, messages in contact_errors(values, config.channel).items():
            errors.setdefault(field, messages)
        if errors:
            raise ValidationError(errors)
        return values

    def validate(self, attrs):
        return attrs  # to_internal_value checked everything


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
    queue_position = serializers.SerializerMethodField(
        help_text="While waiting for an agent: 1 when next in the queue. Null otherwise."
    )
    csat_question = serializers.SerializerMethodField(
        help_text="While a rating of the resolved conversation is awaited: the question to "
        "show with a 1–5 choice (answer with `POST csat/`). Null otherwise."
    )

    def get_queue_position(self, conversation) -> int | None:
        return widget_queue_position(conversation)

    def get_csat_question(self, conversation) -> str | None:
        return widget_csat_question(conversation)


class SessionOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Visitor <token>`.")
    visitor_id = serializers.CharField()
    name = serializers.CharField()
    conversation = ConversationStateSerializer(allow_null=True)
    online = serializers.BooleanField()
    within_hours = serializers.BooleanField()
    lead = serializers.BooleanField(
        help_text="Whether the visitor already left a way to reach them (no lead form then)."
    )


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
            "the page context for attribution and the pre-chat answers. A typed email or "
            "phone is attached to the visitor unverified: if it belongs to another customer it "
            "stays theirs (agents get a merge suggestion) and shows nothing of theirs here."
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
            "lead": session.customer.lead_captured_at is not None,
        }
        return Response(SessionOutputSerializer(body).data)


class WidgetMessagePageSerializer(serializers.Serializer):
    results = CustomerMessageSerializer(many=True)
    has_more = serializers.BooleanField()
    conversation = ConversationStateSerializer(allow_null=True)


# Built once, used on every message: a serializer's fields cost more to build than to use.
CUSTOMER_MESSAGE = CustomerMessageSerializer()


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
                conversation=conversation, for_customer=True, **message_page_params(request)
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
        return message_response(CUSTOMER_MESSAGE.to_representation(message), created=created)


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


class UserInputSerializer(ContactFieldsSerializer):
    # As the website sent it: the hash is computed over exactly these characters.
    id = serializers.CharField(
        required=False, allow_blank=True, max_length=255, trim_whitespace=False
    )
    hash = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=128,
        help_text="HMAC-SHA256 of `id` with the widget's identity secret, in hex.",
    )

    def validate(self, attrs):
        user_id, given = attrs.pop("id", ""), attrs.pop("hash", "").strip()
        attrs = super().validate(attrs)
        if given and not user_id.strip():
            raise ValidationError({"id": [_("A hash verifies a user id: send the id too.")]})
        if user_id.strip():
            attrs["id"] = user_id
        if given:
            attrs["hash"] = given
        return attrs


class UserOutputSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="The visitor's token: a new one when another verified user took over this "
        "browser (the previous user's conversations stay with the previous token)."
    )
    visitor_id = serializers.CharField()
    verified = serializers.BooleanField(help_text="Whether the session is a verified user.")
    changed = serializers.BooleanField(
        help_text="Whether what this session sees changed (a new visitor, or newly "
        "verified): fetch the messages again."
    )


class WidgetUserApi(WidgetApiView):
    parser_classes = [JSONParser]

    def get_throttles(self):
        return [*super().get_throttles(), WidgetSendThrottle()]

    @extend_schema(
        summary="What the website says about its signed-in user",
        description=(
            "From `Switchboard('setUser', {...})`. With `hash` (HMAC-SHA256 of `id` with the "
            "widget's identity secret, computed on the website's server) the id is a verified "
            "user: this session sees that user's conversations, on any device. A wrong hash is "
            "refused with 403 `invalid_user_hash`; no hash while the widget requires verified "
            "users with 403 `user_verification_required`; nothing is stored then. Without a "
            "hash the data is stored as reported, not verified."
        ),
        request=UserInputSerializer,
        responses={200: UserOutputSerializer, 403: ErrorResponseSerializer, **ERRORS},
        tags=["widget"],
    )
    def post(self, request, public_key):
        data = UserInputSerializer(data=request.data, context={"channel": self.channel})
        data.is_valid(raise_exception=True)
        try:
            session, changed = visitor_user_set(session=self.session, user=data.validated_data)
        except VisitorUserRefused as refused:
            raise PermissionDenied(refused.message, code=refused.code) from None
        body = {
            "token": session.token,
            "visitor_id": session.identity.value,
            "verified": session.user_identity is not None,
            "changed": changed,
        }
        return Response(UserOutputSerializer(body).data)


class ContactInputSerializer(ContactFieldsSerializer):
    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs.get("email") and not attrs.get("phone"):
            raise ValidationError({"email": [_("Leave an email address or a phone number.")]})
        return attrs


class WidgetContactApi(WidgetApiView):
    parser_classes = [JSONParser]

    def get_throttles(self):
        return [*super().get_throttles(), WidgetSendThrottle()]

    @extend_schema(
        summary="The visitor leaves their details (the lead form)",
        description=(
            "Shown while nobody is there to answer: a name and an email or phone to be "
            "reached at. They make the visitor a lead (once: the first capture counts). Like "
            "the pre-chat form's, they are unverified: an email or phone of another customer "
            "stays theirs."
        ),
        request=ContactInputSerializer,
        responses={204: None, **ERRORS},
        tags=["widget"],
    )
    def post(self, request, public_key):
        data = ContactInputSerializer(data=request.data, context={"channel": self.channel})
        data.is_valid(raise_exception=True)
        visitor_contact_leave(session=self.session, contact=data.validated_data)
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


class CsatInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(
        min_value=1,
        max_value=5,
        error_messages={
            "invalid": _("Rate from 1 to 5."),
            "min_value": _("Rate from 1 to 5."),
            "max_value": _("Rate from 1 to 5."),
        },
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class WidgetCsatApi(WidgetApiView):
    parser_classes = [JSONParser]

    def get_throttles(self):
        return [*super().get_throttles(), WidgetSendThrottle()]

    @extend_schema(
        summary="The visitor rates their resolved conversation",
        description=(
            "A rating from 1 to 5 with an optional comment, for the session's conversation "
            "while its rating request is open (24 hours from the request). Sending again "
            "while it is open replaces the answer. 404 `csat_not_requested` when no rating "
            "was asked (or it was asked more than 24 hours ago)."
        ),
        request=CsatInputSerializer,
        responses={204: None, **ERRORS},
        tags=["widget"],
    )
    def post(self, request, public_key):
        data = CsatInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        csat = visitor_csat_submit(
            session=self.session,
            rating=data.validated_data["rating"],
            comment=data.validated_data.get("comment", ""),
        )
        if csat is None:
            raise NotFound(_("No rating was asked for."), code="csat_not_requested")
        return Response(status=status.HTTP_204_NO_CONTENT)
