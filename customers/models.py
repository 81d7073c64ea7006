import uuid as uuid_module

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Coalesce, Lower, Upper
from django.utils.translation import gettext_lazy as _

from common.models import TimeStampedModel

from .enums import (
    AttributeType,
    CaptureVia,
    ChangeAction,
    IdentityKind,
    LeadStatus,
    SuggestionStatus,
    Verification,
)


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50)
    color = models.CharField(_("colour"), max_length=7, default="#64748b")

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class AttributeDefinition(models.Model):
    """A custom attribute admins define for customers; values live in
    `Customer.attributes[key]` and are validated against this definition."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    label = models.CharField(_("label"), max_length=100)
    type = models.CharField(_("type"), max_length=8, choices=AttributeType.choices)
    options = models.JSONField(
        _("options"),
        default=list,
        blank=True,
        help_text=_('For list attributes: the allowed values, e.g. ["Gold", "Silver"].'),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("custom attribute")
        verbose_name_plural = _("custom attributes")
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label


class CustomerQuerySet(models.QuerySet):
    def active(self):
        """Customers that were not merged into another."""
        return self.filter(merged_into__isnull=True)


class Customer(TimeStampedModel):
    """One person, however many channels they write from."""

    uuid = models.UUIDField(_("public id"), default=uuid_module.uuid4, unique=True, editable=False)
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    avatar_url = models.URLField(_("avatar URL"), max_length=500, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    country = models.CharField(_("country or region"), max_length=2, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, blank=True)
    tags = models.ManyToManyField(Tag, related_name="customers", blank=True, verbose_name=_("tags"))
    # {AttributeDefinition.key: value}, validated by `customer_update`.
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    lead_status = models.CharField(
        _("lead status"), max_length=16, choices=LeadStatus.choices, default=LeadStatus.NONE
    )
    # Set once, when the customer first leaves a contact detail (`customer_lead_capture`).
    lead_captured_at = models.DateTimeField(_("lead captured"), null=True, blank=True)
    lead_via = models.CharField(
        _("lead captured via"), max_length=16, choices=CaptureVia.choices, blank=True
    )
    lead_channel = models.CharField(_("lead channel"), max_length=16, blank=True)
    lead_source = models.JSONField(_("lead source"), default=dict, blank=True)
    # Attribution: the source of the first and of the latest conversation.
    first_touch = models.JSONField(_("first touch"), default=dict, blank=True)
    last_touch = models.JSONField(_("last touch"), default=dict, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    is_blocked = models.BooleanField(_("blocked"), default=False)
    # Set when this customer was merged into another; the row stays so the merge can be undone.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_customers",
        verbose_name=_("merged into"),
    )

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["-last_seen_at"], name="customer_last_seen_idx"),
            models.Index(fields=["lead_captured_at"], name="customer_lead_captured_idx"),
            # The customer list's order (customers/api.py: most recently seen first), so
            # that its first page, searched or not, is read in order, not sorted out of
            # every match: at 1M customers 0.2 ms instead of 360 ms unsearched.
            models.Index(
                Coalesce("last_seen_at", "created_at").desc(),
                models.F("id").desc(),
                name="customer_recency_idx",
            ),
            # Partial names, any language: trigrams for three characters or more, and a
            # prefix index for one or two (e.g. a Chinese family name). Chinese trigrams
            # need a UTF-8 ctype (bench/README.md). Migration 0004 raises the statistics
            # target of both, for the planner's estimates of how many names match.
            GinIndex(
                OpClass(Upper("display_name"), name="gin_trgm_ops"),
                name="customer_name_trgm_idx",
            ),
            models.Index(
                OpClass(Upper("display_name"), name="text_pattern_ops"),
                name="customer_name_prefix_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or _("Customer #%(id)s") % {"id": self.pk}


class Identity(TimeStampedModel):
    """A way to reach or recognise a customer. (kind, value) is unique in the database:
    the same phone number or WhatsApp id can never belong to two customers."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="identities", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=32, choices=IdentityKind.choices)
    value = models.CharField(_("value"), max_length=255, help_text=_("Normalised value."))
    verified = models.BooleanField(_("verified"), default=False)
    verification = models.CharField(
        _("verified by"), max_length=8, choices=Verification.choices, blank=True
    )
    # Referred to by name only: `customers` never imports `channels_app`.
    channel = models.ForeignKey(
        "channels_app.ChannelAccount",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
    )
    # What the source told us about this identity and has not been verified, e.g. the
    # user a website reports for its widget visitor (`Switchboard('setUser', ...)`).
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identity_kind_value_unique")
        ]
        indexes = [
            GinIndex(OpClass("value", name="gin_trgm_ops"), name="identity_value_trgm_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class CustomerNote(TimeStampedModel):
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="notes", verbose_name=_("customer")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("author"),
    )
    body = models.TextField(_("text"), max_length=5000)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.body[:50]


class CustomerChange(models.Model):
    """The customer's history: who changed what, and when. Never edited."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="changes", verbose_name=_("customer")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    action = models.CharField(_("action"), max_length=24, choices=ChangeAction.choices)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer change")
        verbose_name_plural = _("customer history")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="customer_change_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.data}"


class MergeSuggestion(models.Model):
    """Two customers that may be the same person, on evidence too weak to merge them
    automatically. Agents confirm (merge) or dismiss it; one row per pair, ever."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    other = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("other customer")
    )
    # {"kind": "email", "value": "...", "reason": "..."}
    evidence = models.JSONField(_("evidence"), default=dict)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=SuggestionStatus.choices,
        default=SuggestionStatus.PENDING,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )

    class Meta:
        verbose_name = _("merge suggestion")
        verbose_name_plural = _("merge suggestions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "other"], name="merge_suggestion_pair"),
            models.CheckConstraint(
                condition=models.Q(customer__lt=models.F("other")),
                name="merge_suggestion_ordered_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.customer_id} ~ #{self.other_id}"


class MergeRecord(models.Model):
    """One merge: what moved from `merged` into `survivor`, on what evidence, by whom, and
    the survivor's fields before and after, so that it can be undone exactly."""

    survivor = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="merges", verbose_name=_("kept customer")
    )
    merged = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("merged customer")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merged by"),
    )
    automatic = models.BooleanField(_("automatic"), default=False)
    evidence = models.JSONField(_("evidence"), default=dict)
    # {"app_label.model": [pks moved from merged to survivor]}
    moved = models.JSONField(_("moved rows"), default=dict)
    tags_added = models.JSONField(_("tags added to the kept customer"), default=list)
    survivor_before = models.JSONField(_("kept customer before"), default=dict)
    survivor_after = models.JSONField(_("kept customer after"), default=dict)
    created_at = models.DateTimeField(_("merged at"), auto_now_add=True, db_index=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("undone by"),
    )

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merge history")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.merged_id} → #{self.survivor_id}"
