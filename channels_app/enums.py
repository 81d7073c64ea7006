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
