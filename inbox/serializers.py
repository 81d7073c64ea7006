"""The shapes of conversations and messages, shared by the REST API and the realtime
pushes so that a client handles one format whichever way an item reaches it."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from customers.models import Customer, Identity

from .enums import SenderType
from .files import attachment_url, visitor_attachment_url
from .models import Attachment, Conversation, Message, Notification


class UserRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="__str__")

    class Meta:
        model = User
        fields = ["id", "name"]


class AttachmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid")
    is_image = serializers.BooleanField()
    url = serializers.SerializerMethodField(
        help_text=(
            "Signed download link, valid for a day. It opens only for a signed-in user "
            "(console session or `Authorization: Token`) who may still see the "
            "conversation, and only for the user it was issued to when it names one; "
            "anyone else gets a 404."
        )
    )

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "is_image", "url"]

    def get_url(self, attachment: Attachment) -> str:
        request = self.context.get("request")
        return attachment_url(attachment, user=getattr(request, "user", None))


class CustomerAttachmentSerializer(AttachmentSerializer):
    url = serializers.SerializerMethodField(
        help_text=(
            "Signed download link for this conversation's visitor, valid for a day. It "
            "needs no header, so that it can be an image's source or a plain link."
        )
    )

    def get_url(self, attachment: Attachment) -> str:
        return visitor_attachment_url(attachment)


class MessageSerializer(serializers.ModelSerializer):
    """A message as agents and integrations see it."""

    author = UserRefSerializer(allow_null=True)
    attachments = AttachmentSerializer(many=True)
    reply_to = serializers.IntegerField(
        source="reply_to.seq",
        allow_null=True,
        default=None,
        help_text="The seq of the message this one quotes.",
    )
    content = serializers.JSONField(
        help_text=(
            "Structured parts beside the text, each key present only when used: location "
            "{latitude, longitude, name, address}, contacts [{name, phones, emails}], "
            "postback {payload, title}, referral {source, source_id, source_url, headline}, "
            "comment {comment_id, post_id, permalink}, sticker, reply_to (provider id), "
            "subject, html (sanitised email HTML), quoted, automated, template {name, "
            "language, variables}, options, reactions {customer: emoji}, edits "
            "[{body, replaced_at}], edited_at, deleted_at, csat (the rating question), "
            "csat_rating (the customer's rating reply, filed in the resolved conversation)."
        )
    )

    class Meta:
        model = Message
        fields = [
            "seq",
            "client_id",
            "direction",
            "sender_type",
            "author",
            "body",
            "attachments",
            "content",
            "external_id",
            "sent_at",
            "delivery_status",
            "delivery_error",
            "private",
            "reply_to",
            "created_at",
        ]
        extra_kwargs = {
            "private": {"help_text": "A note or an activity entry: staff only, never delivered."},
            "sent_at": {
                "help_text": "When it was sent, by the provider's clock for inbound messages."
            },
            "delivery_status": {
                "help_text": (
                    "queued, sent, delivered, read or failed for replies a channel carries; "
                    "empty where the channel has no receipts."
                )
            },
            "delivery_error": {"help_text": "The provider's reason when delivery failed."},
            "external_id": {
                "help_text": "The provider's id of the message (what `content.reply_to` names)."
            },
        }


class CustomerMessageSerializer(serializers.ModelSerializer):
    """A message as the customer's widget sees it: no staff emails or ids."""

    author_name = serializers.SerializerMethodField()
    client_id = serializers.SerializerMethodField(
        help_text="The key the visitor sent it with; null on messages to the visitor."
    )
    attachments = CustomerAttachmentSerializer(many=True)
    sender_type = serializers.SerializerMethodField(
        help_text="customer, agent, ai or system; an AI reply whose profile does not tell "
        "customers it is an AI reads agent."
    )

    class Meta:
        model = Message
        fields = [
            "seq",
            "client_id",
            "direction",
            "sender_type",
            "author_name",
            "body",
            "attachments",
            "sent_at",
            "created_at",
        ]

    def get_author_name(self, message: Message) -> str:
        if message.sender_type == SenderType.AI:
            # Marked as an AI here, where its profile says to tell the customer.
            ai = (message.content or {}).get("ai", {})
            name = str(ai.get("profile", ""))
            return " · ".join(filter(None, [name, "AI"])) if ai.get("label", True) else name
        return message.author.display_name if message.author else ""

    def get_sender_type(self, message: Message) -> str:
        ai = (message.content or {}).get("ai", {})
        if message.sender_type == SenderType.AI and ai.get("label") is False:
            return SenderType.AGENT
        return message.sender_type

    def get_client_id(self, message: Message) -> str | None:
        return message.client_id if message.direction == "in" else None


class CustomerRefSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid")
    name = serializers.CharField(source="__str__")

    class Meta:
        model = Customer
        fields = ["id", "name"]


# A time as every DateTimeField of the API shows it (rows built by hand use it).
moment = serializers.DateTimeField().to_representation


def _user_ref(user: User | None) -> dict | None:
    """UserRefSerializer's output."""
    return None if user is None else {"id": user.pk, "name": str(user)}


class ConversationSerializer(serializers.ModelSerializer):
    """A conversation as the console's list shows it."""

    id = serializers.UUIDField(source="uuid")
    inbox = serializers.SerializerMethodField()
    customer = CustomerRefSerializer()
    assignee = UserRefSerializer(allow_null=True)
    team = serializers.CharField(source="team.name", allow_null=True, default=None)
    tags = serializers.SerializerMethodField()
    claimed_by = UserRefSerializer(allow_null=True)

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
            "team",
            "last_seq",
            "last_message_at",
            "last_message_preview",
            "unread_count",
            "agent_read_seq",
            "customer_read_seq",
            "language",
            "tags",
            "snoozed_until",
            "queued_at",
            "claimed_by",
            "claimed_until",
            "first_response_due_at",
            "next_response_due_at",
            "resolution_due_at",
            "created_at",
        ]
        extra_kwargs = {
            "queued_at": {"help_text": "Waiting in the queue for an agent since then."},
            "claimed_until": {"help_text": "Only `claimed_by` may reply until then."},
        }

    def to_representation(self, conversation: Conversation) -> dict:
        """The declared fields' output, built by hand: DRF's walk through them (copied for
        each serializer, then read field by field) took a third of a 50-row page's time.
        The declarations still describe it in the schema; tests hold the two equal."""
        return {
            "id": str(conversation.uuid),
            "inbox": self.get_inbox(conversation),
            "customer": {"id": str(conversation.customer.uuid), "name": str(conversation.customer)},
            "status": conversation.status,
            "priority": conversation.priority,
            "handler": conversation.handler,
            "assignee": _user_ref(conversation.assignee),
            "team": conversation.team.name if conversation.team_id else None,
            "last_seq": conversation.last_seq,
            "last_message_at": moment(conversation.last_message_at),
            "last_message_preview": conversation.last_message_preview,
            "unread_count": conversation.unread_count,
            "agent_read_seq": conversation.agent_read_seq,
            "customer_read_seq": conversation.customer_read_seq,
            "language": conversation.language,
            "tags": self.get_tags(conversation),
            "snoozed_until": moment(conversation.snoozed_until),
            "queued_at": moment(conversation.queued_at),
            "claimed_by": _user_ref(conversation.claimed_by),
            "claimed_until": moment(conversation.claimed_until),
            "first_response_due_at": moment(conversation.first_response_due_at),
            "next_response_due_at": moment(conversation.next_response_due_at),
            "resolution_due_at": moment(conversation.resolution_due_at),
            "created_at": moment(conversation.created_at),
        }

    def get_tags(self, conversation: Conversation) -> list[str]:
        # Read with the conversation where it is listed or pushed (`tag_names`).
        names = getattr(conversation, "tag_names", None)
        if names is None:
            names = [tag.name for tag in conversation.tags.all()]
        return sorted(names)

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "channel": {
                    "type": "string",
                    "description": "The kind of channel feeding the inbox (web, whatsapp, …).",
                },
            },
        }
    )
    def get_inbox(self, conversation: Conversation) -> dict:
        channel = getattr(conversation.inbox, "channel", None)
        return {
            "id": conversation.inbox_id,
            "name": conversation.inbox.name,
            "channel": channel.kind if channel else "",
        }


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Identity
        fields = ["kind", "value", "verified", "details"]


class CustomerDetailSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid")
    name = serializers.CharField(source="__str__")
    identities = IdentitySerializer(many=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "language",
            "country",
            "timezone",
            "lead_status",
            "first_seen_at",
            "last_seen_at",
            "identities",
        ]


class ConversationDetailSerializer(ConversationSerializer):
    """One conversation with what we know of its customer and where it came from."""

    customer = CustomerDetailSerializer()

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "source"]

    # One conversation at a time, with other fields: DRF's walk through the declarations.
    to_representation = serializers.ModelSerializer.to_representation


CLIENT_ID_FIELD = {
    "max_length": 64,
    "regex": r"^[A-Za-z0-9_.:-]+$",
    "help_text": (
        "The sender's idempotency key (e.g. a UUID made on the client). A retry with the "
        "same key returns the stored message instead of storing it twice. The "
        "`Idempotency-Key` header is accepted instead."
    ),
}
MAX_BODY_LENGTH = 10_000


class TemplateInputSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="An approved template of the channel (reply-options).")
    variables = serializers.ListField(
        child=serializers.CharField(max_length=1024, trim_whitespace=False, allow_blank=True),
        required=False,
        default=list,
        help_text="The values of {{1}}, {{2}}, … in order.",
    )


class ReplyOptionsInputSerializer(serializers.Serializer):
    message_tag = serializers.ChoiceField(
        choices=["HUMAN_AGENT"],
        required=False,
        help_text="Messenger/Instagram: send outside the 24-hour window (up to 7 days).",
    )
    reply_mode = serializers.ChoiceField(
        choices=["public", "private"],
        required=False,
        help_text="A comment conversation: answer in public (default) or as a private message.",
    )


class MessageInputSerializer(serializers.Serializer):
    client_id = serializers.RegexField(required=False, allow_null=True, **CLIENT_ID_FIELD)
    body = serializers.CharField(
        max_length=MAX_BODY_LENGTH, trim_whitespace=False, required=False, default=""
    )
    template = TemplateInputSerializer(
        required=False,
        help_text="Send an approved template instead of free text (outside WhatsApp's window).",
    )
    options = ReplyOptionsInputSerializer(required=False, default=dict)

    def validate(self, data: dict) -> dict:
        if not data.get("template") and not data.get("body", "").strip():
            raise serializers.ValidationError({"body": [_("Write a message first.")]})
        return data


class ReplyInputSerializer(MessageInputSerializer):
    """An agent's reply: a message that may quote one of the conversation's messages."""

    reply_to = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="The seq of the message quoted."
    )


class MessageRetryInputSerializer(serializers.Serializer):
    body = serializers.CharField(
        max_length=MAX_BODY_LENGTH,
        trim_whitespace=False,
        required=False,
        help_text="Corrected text to send instead (leave out to send it unchanged).",
    )

    def validate_body(self, body: str) -> str:
        if not body.strip():
            raise serializers.ValidationError(_("Write a message first."))
        return body


class AttachmentInputSerializer(serializers.Serializer):
    client_id = serializers.RegexField(required=False, allow_null=True, **CLIENT_ID_FIELD)
    file = serializers.FileField()
    body = serializers.CharField(
        max_length=MAX_BODY_LENGTH, required=False, allow_blank=True, default=""
    )


class ReadInputSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0, help_text="The newest message seq read.")


class TypingInputSerializer(serializers.Serializer):
    typing = serializers.BooleanField()


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    has_more = serializers.BooleanField()


class CustomerMessagePageSerializer(serializers.Serializer):
    results = CustomerMessageSerializer(many=True)
    has_more = serializers.BooleanField()


def client_id_from(request, data: dict) -> str | None:
    """The body's client_id, else the Idempotency-Key header (validated the same way)."""
    if data.get("client_id"):
        return data["client_id"]
    header = request.headers.get("Idempotency-Key", "").strip()
    field = serializers.RegexField(**CLIENT_ID_FIELD)
    return field.run_validation(header) if header else None


class NotificationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid")
    conversation = serializers.UUIDField(source="conversation.uuid", allow_null=True, default=None)
    seq = serializers.IntegerField(source="message.seq", allow_null=True, default=None)
    actor = UserRefSerializer(allow_null=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "text", "conversation", "seq", "actor", "created_at", "read_at"]


class NotificationsReadInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=500,
        help_text="The notifications to mark read; leave out to mark all read.",
    )
