import secrets
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.fields import EncryptedJSONField, EncryptedTextField
from common.models import TimeStampedModel
from inbox.models import Inbox, Message, Team

from .enums import (
    ChannelKind,
    DeliveryState,
    FieldRequirement,
    TemplateStatus,
    WidgetLanguage,
    WidgetPosition,
)
from .widget.validators import (
    validate_color,
    validate_content_types,
    validate_origins,
)


def new_public_key() -> str:
    return secrets.token_urlsafe(18)


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def new_identity_secret() -> str:
    return secrets.token_urlsafe(32)


class ChannelAccount(TimeStampedModel):
    """One connected account at a provider (a WhatsApp number, a bot, a website widget)."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices)
    name = models.CharField(_("name"), max_length=100)
    inbox = models.OneToOneField(
        Inbox, on_delete=models.PROTECT, related_name="channel", verbose_name=_("inbox")
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="channels",
        verbose_name=_("team"),
        help_text=_("New conversations from this channel go to this team."),
    )
    # Identifies a widget in `<script data-channel="...">`; public by design.
    public_key = models.CharField(
        _("public key"), max_length=32, unique=True, default=new_public_key
    )
    credentials = EncryptedJSONField(_("credentials"), default=dict, blank=True)
    webhook_secret = EncryptedTextField(_("webhook secret"), default=new_webhook_secret, blank=True)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Webhook calls refused for a bad signature: only counted, never stored.
    rejected_webhooks = models.PositiveIntegerField(_("refused webhook calls"), default=0)
    last_rejected_at = models.DateTimeField(_("last refused at"), null=True, blank=True)
    # Tokens the provider issues and that expire (an OAuth or WeChat access token), kept
    # apart from the credentials an admin types.
    token_cache = EncryptedJSONField(_("issued tokens"), default=dict, blank=True)
    # Where polling left off (an IMAP mailbox's UIDVALIDITY and last UID, a sync cursor).
    poll_state = models.JSONField(_("polling position"), default=dict, blank=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class InboundEvent(models.Model):
    """A provider's webhook body as received, committed before we answer the provider.
    (channel, dedupe_key) is unique, so a replay is recognised by the database."""

    channel = models.ForeignKey(
        ChannelAccount,
        on_delete=models.CASCADE,
        related_name="inbound_events",
        verbose_name=_("channel"),
    )
    dedupe_key = models.CharField(_("dedupe key"), max_length=255)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "dedupe_key"], name="inbound_event_dedupe_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=models.Q(processed_at__isnull=True),
                name="inbound_event_unprocessed_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.dedupe_key}"


class OutboundDelivery(TimeStampedModel):
    """The outbox: one row per outbound message, written in the same transaction as the
    message, and worked off by `outbound_deliver` until the provider accepts or refuses it."""

    # Stable across retries: providers that take an idempotency key get this one.
    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="delivery", verbose_name=_("message")
    )
    channel = models.ForeignKey(
        ChannelAccount,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("channel"),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.QUEUED
    )
    # What the adapter needs beyond the message: a template, a message tag, a reply mode.
    options = models.JSONField(_("options"), default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    # A worker holds a delivery until then; past it, the sweeper takes it back.
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    external_id = models.CharField(_("provider id"), max_length=255, blank=True)
    error_code = models.CharField(_("error code"), max_length=100, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbound delivery")
        verbose_name_plural = _("outbound deliveries")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state__in=["queued", "sending"]),
                name="delivery_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.message_id} {self.state}"


class MessageTemplate(TimeStampedModel):
    """A message approved by the provider for sending outside the reply window
    (a WhatsApp template). Its body numbers its variables: "Hi {{1}}, order {{2}} is ready"."""

    channel = models.ForeignKey(
        ChannelAccount,
        on_delete=models.CASCADE,
        related_name="templates",
        verbose_name=_("channel"),
    )
    name = models.CharField(_("name"), max_length=512)
    language = models.CharField(_("language"), max_length=16)
    category = models.CharField(_("category"), max_length=32, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=TemplateStatus.choices, default=TemplateStatus.APPROVED
    )
    body = models.TextField(_("text"))
    # The provider's full definition (header, footer, buttons), as synced.
    components = models.JSONField(_("components"), default=list, blank=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "name", "language"], name="template_channel_name_lang_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


DEFAULT_ATTACHMENT_TYPES = "image/jpeg,image/png,image/gif,image/webp,application/pdf,text/plain"


class WidgetConfig(TimeStampedModel):
    """How a website chat widget looks and behaves; one per web channel."""

    channel = models.OneToOneField(
        ChannelAccount, on_delete=models.CASCADE, related_name="widget", verbose_name=_("channel")
    )
    color = models.CharField(
        _("colour"), max_length=7, default="#2563eb", validators=[validate_color]
    )
    title = models.CharField(_("title"), max_length=80, default="", blank=True)
    greeting = models.TextField(_("greeting"), max_length=500, blank=True)
    avatar_url = models.URLField(_("avatar image URL"), blank=True)
    position = models.CharField(
        _("position"), max_length=8, choices=WidgetPosition.choices, default=WidgetPosition.RIGHT
    )
    language = models.CharField(
        _("language"), max_length=8, choices=WidgetLanguage.choices, default=WidgetLanguage.AUTO
    )
    prechat_name = models.CharField(
        _("pre-chat: name"),
        max_length=8,
        choices=FieldRequirement.choices,
        default=FieldRequirement.OFF,
    )
    prechat_email = models.CharField(
        _("pre-chat: email"),
        max_length=8,
        choices=FieldRequirement.choices,
        default=FieldRequirement.OFF,
    )
    prechat_phone = models.CharField(
        _("pre-chat: phone"),
        max_length=8,
        choices=FieldRequirement.choices,
        default=FieldRequirement.OFF,
    )
    away_message = models.TextField(
        _("away message"),
        max_length=500,
        blank=True,
        help_text=_("Shown when no agent is online or outside business hours."),
    )
    allowed_origins = models.TextField(
        _("allowed websites"),
        blank=True,
        validators=[validate_origins],
        help_text=_(
            "One origin per line, e.g. https://shop.example.com. Only these sites may embed "
            "the widget; empty allows any site."
        ),
    )
    attachment_types = models.CharField(
        _("allowed file types"),
        max_length=500,
        default=DEFAULT_ATTACHMENT_TYPES,
        blank=True,
        validators=[validate_content_types],
        help_text=_("Comma-separated, e.g. image/png,application/pdf. Empty allows no files."),
    )
    attachment_max_mb = models.PositiveSmallIntegerField(
        _("largest file (MB)"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    sound = models.BooleanField(_("sound on new messages"), default=True)
    # The key of HMAC-SHA256(secret, user id): the website's server signs the id of its
    # signed-in user with it, so that only a verified user sees that user's conversations.
    identity_secret = EncryptedTextField(_("identity secret"), default=new_identity_secret)
    require_verified_user = models.BooleanField(
        _("require verified users"),
        default=False,
        help_text=_(
            "Refuse setUser calls without a valid hash. Turn on once the website's server "
            "signs every signed-in user."
        ),
    )

    class Meta:
        verbose_name = _("widget settings")
        verbose_name_plural = _("widget settings")

    def __str__(self) -> str:
        return str(self.channel)

    @property
    def allowed_content_types(self) -> list[str]:
        return [t.strip() for t in self.attachment_types.split(",") if t.strip()]
