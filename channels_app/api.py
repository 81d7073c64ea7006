"""What the console may offer when replying in a conversation of a messaging channel."""

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox.api import ERRORS, conversation_or_404

from .services.rules import reply_options


class ReplyTemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    language = serializers.CharField()
    category = serializers.CharField()
    body = serializers.CharField(help_text="The text, with {{1}}, {{2}}, … for the variables.")
    variables = serializers.IntegerField(help_text="How many values the template needs.")


class ReplyOptionsSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="The channel kind (whatsapp, messenger, web, …).")
    delivers = serializers.BooleanField(help_text="Replies go through the channel's outbox.")
    window_hours = serializers.IntegerField(allow_null=True)
    window_open = serializers.BooleanField(help_text="Free-form replies are accepted now.")
    window_closes_at = serializers.DateTimeField(allow_null=True)
    outside_window = serializers.CharField(
        help_text="What may be sent outside the window: `template`, `message_tag` or empty."
    )
    tag_allowed_until = serializers.DateTimeField(allow_null=True)
    blocked_code = serializers.CharField(help_text="Why free text is refused now; empty if not.")
    blocked_reason = serializers.CharField()
    hint = serializers.CharField(help_text="What the agent can do instead.")
    max_text_length = serializers.IntegerField(allow_null=True)
    media_limits = serializers.DictField(
        child=serializers.IntegerField(), help_text="File type → largest size in bytes."
    )
    max_files = serializers.IntegerField()
    reply_modes = serializers.ListField(
        child=serializers.CharField(), help_text="`public`/`private` for a comment conversation."
    )
    templates = ReplyTemplateSerializer(many=True)


class ReplyOptionsApi(APIView):
    @extend_schema(
        summary="What a reply in this conversation may be right now",
        description=(
            "The channel's rules as they apply now: whether the reply window is open and "
            "until when, what can be sent outside it (approved templates, the human agent "
            "tag), the text and file limits, and the reply modes of a comment conversation."
        ),
        responses={200: ReplyOptionsSerializer, **ERRORS},
    )
    def get(self, request, uuid):
        conversation = conversation_or_404(request, uuid)
        return Response(ReplyOptionsSerializer(asdict(reply_options(conversation))).data)
