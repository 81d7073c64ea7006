import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Value
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.models import TimeStampedModel
from common.validators import validate_timezone
from customers.models import Customer, Identity, Tag

from .enums import (
    AssignmentMethod,
    Availability,
    ConversationStatus,
    DeliveryStatus,
    Handler,
    HoursCondition,
    InboxVisibility,
    MessageDirection,
    NotificationKind,
    Priority,
    SenderType,
    SlaTarget,
)


class BusinessHours(TimeStampedModel):
    """A weekly schedule in a time zone, with split shifts (several shifts a day) and
    holidays; used by the widget's away state, routing conditions and SLA clocks."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_timezone]
    )

    class Meta:
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Shift(models.Model):
    """One open period of a weekday, in the schedule's time zone; a day may have several."""

    schedule = models.ForeignKey(
        BusinessHours, on_delete=models.CASCADE, related_name="shifts", verbose_name=_("schedule")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        ordering = ["schedule", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(opens__lt=models.F("closes")), name="shift_opens_before_closes"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class Holiday(models.Model):
    """A day the schedule is closed, whatever its shifts say."""

    schedule = models.ForeignKey(
        BusinessHours,
        on_delete=models.CASCADE,
        related_name="holidays",
        verbose_name=_("schedule"),
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["schedule", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "date"], name="holiday_schedule_date_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class SlaPolicy(TimeStampedModel):
    """Response and resolution targets, counted in business hours when a schedule is set.
    The clock stops while the conversation is pending on the customer and after it is
    resolved."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    first_response_minutes = models.PositiveIntegerField(
        _("first response within (minutes)"), null=True, blank=True
    )
    next_response_minutes = models.PositiveIntegerField(
        _("next response within (minutes)"), null=True, blank=True
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution within (minutes)"), null=True, blank=True
    )
    business_hours = models.ForeignKey(
        BusinessHours,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("business hours"),
        help_text=_("Count only these hours. Empty: the inbox's hours, or around the clock."),
    )

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Team(TimeStampedModel):
    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="teams", blank=True, verbose_name=_("members")
    )
    assignment_method = models.CharField(
        _("assignment"),
        max_length=16,
        choices=AssignmentMethod.choices,
        default=AssignmentMethod.ROUND_ROBIN,
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
    visibility = models.CharField(
        _("agents see"),
        max_length=16,
        choices=InboxVisibility.choices,
        default=InboxVisibility.ALL,
    )
    business_hours = models.ForeignKey(
        BusinessHours,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inboxes",
        verbose_name=_("business hours"),
        help_text=_("Empty: open around the clock."),
    )
    sla_policy = models.ForeignKey(
        SlaPolicy,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inboxes",
        verbose_name=_("SLA policy"),
    )
    auto_resolve_after = models.DurationField(
        _("resolve after idle"),
        null=True,
        blank=True,
        help_text=_("Resolve a conversation nobody wrote in for this long. Empty: never."),
    )
    auto_resolve_message = models.TextField(
        _("message on auto-resolve"),
        max_length=1000,
        blank=True,
        help_text=_("Sent to the customer when a conversation is resolved for being idle."),
    )
    csat_enabled = models.BooleanField(_("ask for a rating after resolution"), default=False)
    csat_question = models.CharField(
        _("rating question"),
        max_length=300,
        blank=True,
        help_text=_("Empty: “How would you rate this conversation?” in the customer's language."),
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
    # Detected from the customer's messages; routing rules and skills match on it.
    language = models.CharField(_("language"), max_length=16, blank=True, db_default="")
    tags = models.ManyToManyField(
        Tag, related_name="conversations", blank=True, verbose_name=_("tags")
    )
    # Skills an agent needs to be assigned (set by a routing rule), e.g. ["zh", "billing"].
    required_skills = ArrayField(
        models.CharField(max_length=50),
        default=list,
        db_default=Value([], output_field=ArrayField(models.CharField(max_length=50))),
        blank=True,
        verbose_name=_("skills needed"),
    )
    # When routing rules were applied (NULL: not yet; routing runs once, on the first
    # customer message, so that the language is known).
    routed_at = models.DateTimeField(_("routed at"), null=True, blank=True)
    # Waiting in the queue for an agent since then (oldest first, priority first); NULL when
    # assigned or not waiting.
    queued_at = models.DateTimeField(_("queued since"), null=True, blank=True)
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    # A claim: only the claimer may reply until it expires or a supervisor breaks it.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("claimed by"),
    )
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # SLA: the policy applied and the next due time of each target (NULL: none running);
    # `sla_clock` holds what the clocks need across pauses (business seconds left).
    sla_policy = models.ForeignKey(
        SlaPolicy,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("SLA policy"),
    )
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    next_response_due_at = models.DateTimeField(_("next response due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    sla_clock = models.JSONField(_("SLA clock"), default=dict, db_default={}, blank=True)
    # Set when this conversation was merged into another of the same customer.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merged into"),
    )

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
            # The queue: waiting conversations, priority first, then oldest first.
            models.Index(
                "team",
                models.F("priority").desc(),
                "queued_at",
                condition=models.Q(queued_at__isnull=False),
                name="conv_queue_idx",
            ),
            # What the SLA and auto-resolve sweepers look for.
            models.Index(
                fields=["first_response_due_at"],
                condition=models.Q(first_response_due_at__isnull=False),
                name="conv_first_response_due_idx",
            ),
            models.Index(
                fields=["next_response_due_at"],
                condition=models.Q(next_response_due_at__isnull=False),
                name="conv_next_response_due_idx",
            ),
            models.Index(
                fields=["resolution_due_at"],
                condition=models.Q(resolution_due_at__isnull=False),
                name="conv_resolution_due_idx",
            ),
            models.Index(
                fields=["snoozed_until"],
                condition=models.Q(snoozed_until__isnull=False),
                name="conv_snoozed_until_idx",
            ),
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
    # Private notes and activity (assignments, transfers): staff only, never delivered,
    # never shown in the widget.
    private = models.BooleanField(_("private"), default=False, db_default=False)
    # The message this one quotes (a reply to a specific message).
    reply_to = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reply to"),
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


class AgentProfile(models.Model):
    """How routing sees a staff member: availability, capacity and skills."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="agent_profile",
        verbose_name=_("user"),
    )
    availability = models.CharField(
        _("availability"), max_length=8, choices=Availability.choices, default=Availability.OFFLINE
    )
    # Set when the availability went offline because the last console tab closed, so
    # that opening the console again brings the agent back online.
    offline_automatically = models.BooleanField(_("went offline by itself"), default=False)
    capacity = models.PositiveSmallIntegerField(
        _("capacity"),
        default=10,
        validators=[MaxValueValidator(500)],
        help_text=_("At most this many open conversations assigned at once."),
    )
    skills = ArrayField(
        models.CharField(max_length=50),
        default=list,
        blank=True,
        verbose_name=_("skills"),
        help_text=_("Languages (en, zh, …) and products, comma-separated."),
    )
    # Round robin hands the next conversation to whoever waited longest for one.
    last_assigned_at = models.DateTimeField(_("last assigned at"), null=True, blank=True)
    availability_changed_at = models.DateTimeField(
        _("availability changed at"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return str(self.user)


class RoutingRule(TimeStampedModel):
    """Tried in order; the first rule whose every set condition holds decides where a new
    conversation goes. An empty condition matches anything."""

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("order"), default=0, db_index=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Conditions
    channel_kinds = ArrayField(
        models.CharField(max_length=16), default=list, blank=True, verbose_name=_("channels")
    )
    inboxes = models.ManyToManyField(Inbox, related_name="+", blank=True, verbose_name=_("inboxes"))
    countries = ArrayField(
        models.CharField(max_length=2),
        default=list,
        blank=True,
        verbose_name=_("countries or regions"),
        help_text=_("ISO codes such as CN, HK, US, from the phone number or IP address."),
    )
    languages = ArrayField(
        models.CharField(max_length=16),
        default=list,
        blank=True,
        verbose_name=_("languages"),
        help_text=_("Codes such as zh, en, detected from the customer's message."),
    )
    tags = models.ManyToManyField(
        Tag,
        related_name="+",
        blank=True,
        verbose_name=_("customer tags"),
        help_text=_("The customer has any of these tags."),
    )
    attributes = models.JSONField(
        _("customer attributes"),
        default=dict,
        blank=True,
        help_text=_('Every key must have this value, e.g. {"plan": "enterprise"}.'),
    )
    hours = models.CharField(
        _("time"),
        max_length=8,
        choices=HoursCondition.choices,
        default=HoursCondition.ANY,
        blank=True,
    )
    min_priority = models.SmallIntegerField(
        _("priority at least"), choices=Priority.choices, null=True, blank=True
    )
    # Actions
    team = models.ForeignKey(
        Team,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to team"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to agent"),
    )
    set_priority = models.SmallIntegerField(
        _("set priority"), choices=Priority.choices, null=True, blank=True
    )
    required_skills = ArrayField(
        models.CharField(max_length=50),
        default=list,
        blank=True,
        verbose_name=_("skills needed"),
        help_text=_("Only agents with all of these skills are assigned."),
    )
    skip_ai = models.BooleanField(
        _("straight to a person"),
        default=False,
        db_default=False,
        help_text=_("The AI agent does not answer conversations this rule routes."),
    )

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class SlaBreach(models.Model):
    """A target missed, kept for reports."""

    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="sla_breaches",
        verbose_name=_("conversation"),
    )
    policy = models.ForeignKey(
        SlaPolicy,
        on_delete=models.SET_NULL,
        null=True,
        related_name="breaches",
        verbose_name=_("policy"),
    )
    target = models.CharField(_("target"), max_length=16, choices=SlaTarget.choices)
    due_at = models.DateTimeField(_("was due"))
    breached_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignee then"),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("team then"),
    )

    class Meta:
        verbose_name = _("SLA breach")
        verbose_name_plural = _("SLA breaches")
        ordering = ["-breached_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "target", "due_at"], name="sla_breach_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_target_display()} {self.due_at:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    """Something a staff member should know about: a mention, an assignment, a transfer,
    an SLA breach. Shown live in the console."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("for"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=NotificationKind.choices)
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("conversation"),
    )
    message = models.ForeignKey(
        Message,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("message"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    text = models.CharField(_("text"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "-created_at"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text}"


class CannedReply(TimeStampedModel):
    """A prepared answer, inserted in the console by typing `/` and its shortcut.
    Variables such as {{customer.name}} are filled in when inserted. Without an owner it
    is shared with everyone."""

    shortcut = models.SlugField(_("shortcut"), max_length=50, allow_unicode=True)
    title = models.CharField(_("title"), max_length=100, blank=True)
    body = models.TextField(_("text"), max_length=4000)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_replies",
        verbose_name=_("owner"),
        help_text=_("Empty: shared with everyone."),
    )

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["shortcut"]
        constraints = [
            models.UniqueConstraint(
                fields=["shortcut"],
                condition=models.Q(owner__isnull=True),
                name="canned_shared_shortcut_unique",
            ),
            models.UniqueConstraint(
                fields=["owner", "shortcut"],
                condition=models.Q(owner__isnull=False),
                name="canned_personal_shortcut_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class SavedView(TimeStampedModel):
    """A console search with its filters, kept by name."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_views",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    position = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["user", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_view_user_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class CsatResponse(models.Model):
    """A customer's rating of a resolved conversation (1 to 5, with an optional comment)."""

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="csat", verbose_name=_("conversation")
    )
    # Agent and team at resolution: what reports attribute the rating to.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agent"),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("team"),
    )
    requested_at = models.DateTimeField(_("asked at"), default=timezone.now)
    rating = models.PositiveSmallIntegerField(
        _("rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    comment = models.TextField(_("comment"), max_length=2000, blank=True)
    responded_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("satisfaction rating")
        verbose_name_plural = _("satisfaction ratings")
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__range=(1, 5)),
                name="csat_rating_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rating or '–'}/5"
