from django.db import models
from django.utils.translation import gettext_lazy as _

from common.fields import EncryptedTextField
from common.models import TimeStampedModel
from inbox.models import Inbox


class AgentProfile(TimeStampedModel):
    """An AI agent: who it is, which model it talks to, and which inboxes it serves.
    With no base URL here or in AI_BASE_URL, the offline engine answers."""

    name = models.CharField(_("name"), max_length=100)
    persona = models.TextField(
        _("persona"), blank=True, help_text=_("Who the agent is and how it speaks.")
    )
    base_url = models.URLField(
        _("model base URL"),
        blank=True,
        help_text=_("Any OpenAI-compatible endpoint; empty uses AI_BASE_URL."),
    )
    model = models.CharField(
        _("model"), max_length=100, blank=True, help_text=_("Empty uses AI_MODEL.")
    )
    api_key = EncryptedTextField(_("API key"), blank=True, help_text=_("Empty uses AI_API_KEY."))
    inboxes = models.ManyToManyField(
        Inbox, related_name="ai_agents", blank=True, verbose_name=_("inboxes served")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("AI agent profile")
        verbose_name_plural = _("AI agent profiles")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
