"""The shapes of customers in the REST API: the profile with its identities and tags, notes,
history, merges and merge suggestions, and the inputs that change them."""

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inbox.serializers import ConversationSerializer, CustomerRefSerializer, UserRefSerializer

from .enums import IdentityKind, LeadStatus
from .models import (
    AttributeDefinition,
    Customer,
    CustomerChange,
    CustomerNote,
    Identity,
    MergeRecord,
    MergeSuggestion,
    Tag,
)
from .services import customer_root

CHANNEL_REF_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {"kind": {"type": "string"}, "name": {"type": "string"}},
}


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "color"]


class CustomerIdentitySerializer(serializers.ModelSerializer):
    kind_label = serializers.SerializerMethodField()
    channel = serializers.SerializerMethodField(
        help_text="The channel the identity was first seen on, if any."
    )

    class Meta:
        model = Identity
        fields = [
            "id",
            "kind",
            "kind_label",
            "value",
            "verified",
            "verification",
            "channel",
            "created_at",
        ]

    def get_kind_label(self, identity: Identity) -> str:
        # What get_kind_display says, with one translation: it hashes every kind's lazy
        # label (16 translations per identity, most of a page of customers' Python time).
        try:
            return str(IdentityKind(identity.kind).label)
        except ValueError:
            return identity.kind

    @extend_schema_field(CHANNEL_REF_SCHEMA)
    def get_channel(self, identity: Identity) -> dict | None:
        channel = identity.channel
        return {"kind": channel.kind, "name": channel.name} if channel else None


class LeadSerializer(serializers.ModelSerializer):
    captured_at = serializers.DateTimeField(source="lead_captured_at", allow_null=True)
    via = serializers.CharField(source="lead_via")
    channel = serializers.CharField(source="lead_channel")
    source = serializers.DictField(source="lead_source")

    class Meta:
        model = Customer
        fields = ["captured_at", "via", "channel", "source"]


class CustomerSerializer(serializers.ModelSerializer):
    """A customer as lists show it. Prefetch `identities` (with `channel`) and `tags`."""

    id = serializers.UUIDField(source="uuid")
    name = serializers.CharField(source="__str__", help_text="The display name or “Customer #n”.")
    lead = LeadSerializer(source="*", help_text="When, how and from where they became a lead.")
    tags = TagSerializer(many=True)
    identities = CustomerIdentitySerializer(many=True)
    attributes = serializers.DictField(help_text="Custom attributes by key.")
    first_touch = serializers.DictField(help_text="The source of the first conversation.")
    last_touch = serializers.DictField(help_text="The source of the latest conversation.")

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "display_name",
            "avatar_url",
            "language",
            "country",
            "timezone",
            "lead_status",
            "lead",
            "tags",
            "identities",
            "attributes",
            "first_touch",
            "last_touch",
            "first_seen_at",
            "last_seen_at",
            "is_blocked",
            "created_at",
            "updated_at",
        ]


class MergeRecordSerializer(serializers.ModelSerializer):
    survivor = CustomerRefSerializer(help_text="The customer kept.")
    merged = CustomerRefSerializer(help_text="The customer merged into the kept one.")
    actor = UserRefSerializer(allow_null=True)
    evidence = serializers.DictField()

    class Meta:
        model = MergeRecord
        fields = [
            "id",
            "survivor",
            "merged",
            "automatic",
            "actor",
            "evidence",
            "created_at",
            "undone_at",
        ]


class MergeSuggestionSerializer(serializers.ModelSerializer):
    """A suggestion seen from one customer (`context["customer"]`): `other` is the other
    side, as the customer it lives on now."""

    other = serializers.SerializerMethodField()
    evidence = serializers.DictField()

    class Meta:
        model = MergeSuggestion
        fields = ["id", "other", "evidence", "created_at"]

    @extend_schema_field(CustomerRefSerializer)
    def get_other(self, suggestion: MergeSuggestion) -> dict:
        return CustomerRefSerializer(suggestion.other_root).data


def suggestions_seen_from(customer: Customer, suggestions) -> list[MergeSuggestion]:
    """The suggestions with `other_root` set to the side that is not `customer`, leaving
    out any whose two sides have since become one customer."""
    result = []
    for suggestion in suggestions:
        roots = [customer_root(suggestion.customer), customer_root(suggestion.other)]
        others = [root for root in roots if root.pk != customer.pk]
        if len(others) == 1:
            suggestion.other_root = others[0]
            result.append(suggestion)
    return result


class CustomerProfileSerializer(CustomerSerializer):
    """One customer with pending merge suggestions and the merges kept on them. Give
    `suggestions` (from `suggestions_seen_from`) and `merges` in the context."""

    suggestions = serializers.SerializerMethodField()
    merges = serializers.SerializerMethodField(
        help_text="Merges into this customer, newest first (undone ones too)."
    )

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "suggestions", "merges"]

    @extend_schema_field(MergeSuggestionSerializer(many=True))
    def get_suggestions(self, customer: Customer) -> list:
        return MergeSuggestionSerializer(self.context["suggestions"], many=True).data

    @extend_schema_field(MergeRecordSerializer(many=True))
    def get_merges(self, customer: Customer) -> list:
        return MergeRecordSerializer(self.context["merges"], many=True).data


class CustomerNoteSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(allow_null=True)

    class Meta:
        model = CustomerNote
        fields = ["id", "body", "author", "created_at"]


class CustomerChangeSerializer(serializers.ModelSerializer):
    action_label = serializers.CharField(source="get_action_display")
    actor = UserRefSerializer(allow_null=True)
    data = serializers.DictField(help_text="What changed; the keys depend on the action.")

    class Meta:
        model = CustomerChange
        fields = ["id", "action", "action_label", "actor", "data", "created_at"]


class AttributeDefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AttributeDefinition
        fields = ["key", "label", "type", "options", "description"]


class CustomerConversationSerializer(ConversationSerializer):
    """A conversation in a customer's profile: where it runs by name and channel kind."""

    inbox = serializers.CharField(source="inbox.name")
    channel = serializers.SerializerMethodField(help_text="The inbox's channel kind, if any.")

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "channel"]

    # Other fields than the list's: DRF's walk through the declarations.
    to_representation = serializers.ModelSerializer.to_representation

    def get_channel(self, conversation) -> str | None:
        try:
            return conversation.inbox.channel.kind
        except ObjectDoesNotExist:
            return None


# --- Inputs -------------------------------------------------------------------------------


class CustomerFilterSerializer(serializers.Serializer):
    """The customer list's query parameters; empty ones are ignored."""

    q = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A phone number in any format, an email, an identity value or part of a name.",
    )
    tag = serializers.CharField(required=False, allow_blank=True, help_text="A tag name.")
    lead_status = serializers.ChoiceField(
        choices=LeadStatus.choices, required=False, allow_blank=True
    )
    channel = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="An identity kind or the kind of the channel an identity came from, "
        "e.g. `whatsapp`, `web`.",
    )
    source = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The `utm_source` or channel of the first or latest touch.",
    )
    last_seen_after = serializers.DateTimeField(
        required=False, help_text="ISO 8601; customers last seen at or after this time."
    )
    last_seen_before = serializers.DateTimeField(
        required=False, help_text="ISO 8601; customers last seen before this time."
    )
    identity = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="`kind:value`, e.g. `phone:+8613800138000` (normalised, exact).",
    )

    def validate_identity(self, value: str) -> str:
        if value and ":" not in value:
            raise serializers.ValidationError(
                _("Write the identity as kind:value, e.g. email:ann@example.com.")
            )
        return value


class CustomerUpdateSerializer(serializers.Serializer):
    """The fields a PATCH may change; each is optional (documentation of the request)."""

    display_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    avatar_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    language = serializers.CharField(required=False, allow_blank=True, max_length=16)
    country = serializers.CharField(
        required=False, allow_blank=True, max_length=2, help_text="e.g. CN, GB"
    )
    timezone = serializers.CharField(
        required=False, allow_blank=True, help_text="e.g. Asia/Shanghai"
    )
    lead_status = serializers.ChoiceField(choices=LeadStatus.choices, required=False)
    is_blocked = serializers.BooleanField(required=False)
    attributes = serializers.DictField(
        required=False,
        help_text="Custom attributes to change, by key; null (or empty) removes one. "
        "Attributes not named stay as they are.",
    )


class IdentityInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IdentityKind.choices)
    value = serializers.CharField(
        max_length=255,
        help_text="Phone numbers in any format (without a country code: read in the "
        "customer's country, else the server's default region); emails in any case.",
    )


class TagInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)


class NoteInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000)


class MergeInputSerializer(serializers.Serializer):
    other = serializers.UUIDField(help_text="The customer to merge into this one.")
