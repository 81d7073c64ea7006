from django.db import models
from django.utils.translation import gettext_lazy as _


class ChannelKind(models.TextChoices):
    WEB = "web", _("Website chat widget")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MESSENGER = "messenger", _("Messenger")
    INSTAGRAM = "instagram", _("Instagram")
    TELEGRAM = "telegram", _("Telegram")
    LINE = "line", _("LINE")
    EMAIL = "email", _("Email")
    WECHAT = "wechat", _("WeChat Official Account")
    WECOM = "wecom", _("WeCom customer service")
    DOUYIN = "douyin", _("Douyin")
    API = "api", _("API")


class FieldRequirement(models.TextChoices):
    OFF = "off", _("Not asked")
    OPTIONAL = "optional", _("Optional")
    REQUIRED = "required", _("Required")


class WidgetPosition(models.TextChoices):
    RIGHT = "right", _("Bottom right")
    LEFT = "left", _("Bottom left")


class WidgetLanguage(models.TextChoices):
    AUTO = "auto", _("Follow the visitor's browser")
    EN = "en", _("English")
    ZH_HANS = "zh-hans", _("Simplified Chinese")


class DeliveryState(models.TextChoices):
    """The outbox row's own state (the message's delivery status follows receipts)."""

    QUEUED = "queued", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Accepted by the provider")
    FAILED = "failed", _("Failed")


class TemplateStatus(models.TextChoices):
    APPROVED = "approved", _("Approved")
    PENDING = "pending", _("Pending review")
    REJECTED = "rejected", _("Rejected")
    PAUSED = "paused", _("Paused")
    DISABLED = "disabled", _("Disabled")
