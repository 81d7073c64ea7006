import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.models import TimeStampedModel
from customers.models import Customer, Identity

from .enums import (
    ConversationStatus,
    DeliveryStatus,
    Handler,
    MessageDirection,
    Priority,
    SenderType,
)


class Team(TimeStampedModel):
    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="teams", blank=True, verbose_name=_("members")
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Inbox(TimeStampedModel):
    """Where one channel's conversations land; agents see the inboxes they belong to."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="inboxes", blank=True, verbose_name=_("members")
    )
    teams = models.ManyToManyField(
        Team, related_name="inboxes", blank=True, verbose_name=_("teams")
    )

    class Meta:
        verbose_name = _("inbox")
        verbose_name_plural = _("inboxes")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Conversation(TimeStampedModel):
    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    inbox = models.ForeignKey(
        Inbox, on_delete=models.PROTECT, related_name="conversations", verbose_name=_("inbox")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="conversations", verbose_name=_("customer")
    )
    # The identity the customer writes from here (their WhatsApp id, the widget visitor, an
    # email address): where replies go, and what a widget session may see.
    identity = models.ForeignKey(
        Identity,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="conversations",
        verbose_name=_("identity"),
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ConversationStatus.choices,
        default=ConversationStatus.OPEN,
    )
    priority = models.SmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    handler = models.CharField(
        _("handled by"), max_length=8, choices=Handler.choices, default=Handler.HUMAN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
        verbose_name=_("assignee"),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        verbose_name=_("team"),
    )
    # The seq of the newest message; the next message takes last_seq + 1 under a row lock.
    last_seq = models.PositiveIntegerField(_("last message number"), default=0, editable=False)
    last_message_at = models.DateTimeField(_("last message at"), null=True, blank=True)
    last_message_preview = models.CharField(_("last message"), max_length=200, blank=True)
    # Read state, as the newest seq each side has read; unread_count counts the customer's
    # messages after agent_read_seq, kept with the message that changes it.
    agent_read_seq = models.PositiveIntegerField(_("read by agents up to"), default=0)
    customer_read_seq = models.PositiveIntegerField(_("read by the customer up to"), default=0)
    unread_count = models.PositiveIntegerField(_("unread messages"), default=0)
    # Where the conversation started: page URL, referrer, UTM parameters, user agent, language.
    source = models.JSONField(_("source"), default=dict, blank=True)
    # What separates this conversation from the customer's others on the same identity:
    # e.g. "comment:<post id>" for comments on one post. Empty for direct messages.
    thread_key = models.CharField(_("thread"), max_length=255, blank=True, db_default="")
    # When the customer last wrote here, by the provider's clock: reply windows start there.
    last_inbound_at = models.DateTimeField(_("customer last wrote at"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            models.Index(
                fields=["inbox", "status", "-last_message_at"], name="conv_inbox_status_idx"
            ),
            models.Index(
                fields=["assignee", "status", "-last_message_at"], name="conv_assignee_idx"
            ),
            models.Index(
                fields=["identity", "inbox", "thread_key"], name="conv_identity_thread_idx"
            ),
            # The console list's order (inbox/api.py, ConversationPagination), so that a page
            # is read in order instead of sorting every visible conversation.
            models.Index(fields=["-last_message_at", "-id"], name="conv_last_message_idx"),
        ]

    def __str__(self) -> str:
        return _("Conversation with %(customer)s") % {"customer": self.customer}


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("conversation"),
    )
    seq = models.PositiveIntegerField(_("number in conversation"))
    direction = models.CharField(_("direction"), max_length=3, choices=MessageDirection.choices)
    sender_type = models.CharField(_("sender"), max_length=8, choices=SenderType.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    # Plain text, escaped on output; never HTML.
    body = models.TextField(_("text"), blank=True)
    # The sender's idempotency key: a retried send returns the stored message.
    # NULL, not "", where none is given: the unique constraint applies only to real keys.
    client_id = models.CharField(_("client id"), max_length=64, null=True, blank=True)  # noqa: DJ001
    # The provider's id of the message (a WhatsApp wamid, an email Message-ID): receipts,
    # reactions, edits and email replies find the message by it.
    external_id = models.CharField(_("provider id"), max_length=255, null=True, blank=True)  # noqa: DJ001
    # When it was sent, by the sender's clock (the provider's timestamp for inbound
    # messages): what the console shows. `seq` is the order we stored them in.
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now, db_default=Now())
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Structured parts beside the text: location, contact cards, a button's payload, an ad
    # referral, a template, reactions, an edit's history, the reply mode of a comment.
    content = models.JSONField(_("content"), default=dict, db_default={}, blank=True)
    delivery_status = models.CharField(
        _("delivery"), max_length=10, choices=DeliveryStatus.choices, blank=True, db_default=""
    )
    delivery_error = models.CharField(
        _("delivery error"), max_length=500, blank=True, db_default=""
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "seq"], name="message_conversation_seq_unique"
            ),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="message_conversation_client_id_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="message_external_id_idx",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.body[:60]}"


def attachment_path(attachment: "Attachment", filename: str) -> str:
    # The stored name never contains the uploader's file name (kept in `name` instead).
    return f"attachments/{attachment.created_at:%Y/%m}/{attachment.uuid.hex}"


class Attachment(models.Model):
    """A file sent with a message; served only through signed links (`inbox.files`)."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("message")
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=255)
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["message", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
