import secrets
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from common.fields import EncryptedJSONField, EncryptedTextField
from common.models import TimeStampedModel
from inbox.models import Inbox

from .enums import ChannelKind


def new_public_key() -> str:
    return secrets.token_urlsafe(18)


def new_webhook_secret() -> str:
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
