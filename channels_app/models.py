import secrets
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.fields import EncryptedJSONField, EncryptedTextField
from common.models import TimeStampedModel
from inbox.models import Inbox

from .enums import ChannelKind, FieldRequirement, WidgetLanguage, WidgetPosition
from .widget.validators import (
    validate_business_hours,
    validate_color,
    validate_content_types,
    validate_origins,
    validate_timezone,
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
    # Identifies a widget in `<script data-channel="...">`; public by design.
    public_key = models.CharField(
        _("public key"), max_length=32, unique=True, default=new_public_key
    )
    credentials = EncryptedJSONField(_("credentials"), default=dict, blank=True)
    webhook_secret = EncryptedTextField(_("webhook secret"), default=new_webhook_secret, blank=True)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

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
    business_hours = models.JSONField(
        _("business hours"),
        default=dict,
        blank=True,
        validators=[validate_business_hours],
        help_text=_(
            'Per weekday, e.g. {"mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]]}. '
            "A weekday left out is closed; empty means always open."
        ),
    )
    timezone = models.CharField(
        _("time zone of the business hours"),
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
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
