from django.db import models
from django.utils.translation import gettext_lazy as _

from common.models import TimeStampedModel

from .enums import IdentityKind, LeadStatus


class Customer(TimeStampedModel):
    """One person, however many channels they write from."""

    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    country = models.CharField(_("country or region"), max_length=2, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, blank=True)
    lead_status = models.CharField(
        _("lead status"), max_length=16, choices=LeadStatus.choices, default=LeadStatus.NONE
    )
    first_seen_at = models.DateTimeField(_("first seen"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    is_blocked = models.BooleanField(_("blocked"), default=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [models.Index(fields=["-last_seen_at"], name="customer_last_seen_idx")]

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
    # What the source told us about this identity and has not been verified, e.g. the
    # user a website reports for its widget visitor (`Switchboard('setUser', ...)`).
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identity_kind_value_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"
