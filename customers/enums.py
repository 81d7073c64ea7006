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
    WECHAT_ID = "wechat_id", _("WeChat ID")
    WECOM = "wecom", _("WeCom external user id")
    DOUYIN = "douyin", _("Douyin open id")
    # A contact of a platform connected through the API channel: "<channel uuid>:<their id>".
    EXTERNAL = "external", _("External platform id")


# Kinds that let us reach the customer again: capturing one makes the customer a lead.
CONTACT_KINDS = frozenset(
    {
        IdentityKind.PHONE,
        IdentityKind.EMAIL,
        IdentityKind.WHATSAPP,
        IdentityKind.WECHAT_ID,
        IdentityKind.LINE,
        IdentityKind.TELEGRAM,
    }
)


class Verification(models.TextChoices):
    """How an identity was proven to belong to the customer."""

    CHANNEL = "channel", _("Given by the channel")
    HMAC = "hmac", _("Signed by the website (HMAC)")
    AGENT = "agent", _("Confirmed by an agent")
    IMPORT = "import", _("Imported")


class CaptureVia(models.TextChoices):
    """Where a customer left a contact detail."""

    PRECHAT = "prechat", _("Pre-chat form")
    LEAD_FORM = "lead_form", _("Lead form")
    WEBSITE_USER = "website_user", _("Website sign-in")
    AGENT = "agent", _("Added by an agent")
    AI = "ai", _("Extracted by the AI agent")
    IMPORT = "import", _("Import")
    API = "api", _("API")


class LeadStatus(models.TextChoices):
    NONE = "none", _("Not a lead")
    NEW = "new", _("New lead")
    QUALIFIED = "qualified", _("Qualified")
    CUSTOMER = "customer", _("Customer")
    LOST = "lost", _("Lost")


class AttributeType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    LIST = "list", _("List")
    BOOLEAN = "boolean", _("Yes / no")
    LINK = "link", _("Link")


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    MERGED = "merged", _("Merged")
    DISMISSED = "dismissed", _("Dismissed")


class ChangeAction(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    IDENTITY_ADDED = "identity_added", _("Identity added")
    IDENTITY_REMOVED = "identity_removed", _("Identity removed")
    IDENTITY_VERIFIED = "identity_verified", _("Identity verified")
    TAG_ADDED = "tag_added", _("Tag added")
    TAG_REMOVED = "tag_removed", _("Tag removed")
    NOTE_ADDED = "note_added", _("Note added")
    NOTE_DELETED = "note_deleted", _("Note deleted")
    LEAD_CAPTURED = "lead_captured", _("Became a lead")
    MERGED = "merged", _("Merged")
    MERGE_CONFLICT = "merge_conflict", _("Value replaced by a merge")
    SPLIT = "split", _("Merge undone")
    SUGGESTED = "suggested", _("Merge suggested")
    SUGGESTION_DISMISSED = "suggestion_dismissed", _("Merge suggestion dismissed")
