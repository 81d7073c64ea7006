from django.db import models
from django.utils.translation import gettext_lazy as _


class IdentityKind(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    WEB_VISITOR = "web_visitor", _("Web visitor id")
    WEB_USER = "web_user", _("Verified web user id")
    WHATSAPP = "whatsapp", _("WhatsApp id")
    MESSENGER = "messenger", _("Messenger PSID")
    INSTAGRAM = "instagram", _("Instagram id")
    TELEGRAM = "telegram", _("Telegram user id")
    LINE = "line", _("LINE user id")
    WECHAT_OPENID = "wechat_openid", _("WeChat openid")
    WECHAT_UNIONID = "wechat_unionid", _("WeChat unionid")
    WECOM = "wecom", _("WeCom external user id")
    DOUYIN = "douyin", _("Douyin open id")


class LeadStatus(models.TextChoices):
    NONE = "none", _("Not a lead")
    NEW = "new", _("New lead")
    QUALIFIED = "qualified", _("Qualified")
    CUSTOMER = "customer", _("Customer")
    LOST = "lost", _("Lost")
