from django.db import models
from django.utils.translation import gettext_lazy as _


class Tone(models.TextChoices):
    FRIENDLY = "friendly", _("Friendly")
    PROFESSIONAL = "professional", _("Professional")
    CONCISE = "concise", _("Concise")


class Skill(models.TextChoices):
    PRESALES = "presales", _("Pre-sales: answer and collect leads")
    AFTERSALES = "aftersales", _("After-sales: answer and look up orders")
    REENGAGEMENT = "reengagement", _("Re-engagement (campaigns)")


class WorkingMode(models.TextChoices):
    ALWAYS = "always", _("Always")
    OUTSIDE_HOURS = "outside_hours", _("Outside business hours")
    NO_AGENT_FREE = "no_agent_free", _("When no agent is free")


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    PROCESSING = "processing", _("Processing")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class Engine(models.TextChoices):
    MODEL = "model", _("Model")
    OFFLINE = "offline", _("Offline engine")


class RunOutcome(models.TextChoices):
    ANSWERED = "answered", _("Answered")
    CLARIFIED = "clarified", _("Asked a question")
    HANDED_OFF = "handed_off", _("Handed over")
    SKIPPED = "skipped", _("Not answered")


class HandoffReason(models.TextChoices):
    ASKED = "asked", _("The customer asked for a person")
    EMOTION = "emotion", _("The customer is upset")
    NO_ANSWER = "no_answer", _("No answer in the knowledge base")
    ATTEMPTS = "attempts", _("Too many unanswered questions")
    PROVIDER = "provider", _("The model failed")
    RULE = "rule", _("A routing rule")
    AGENT = "agent", _("An agent took over")
    REFUSED = "refused", _("A topic the AI must not discuss")


class OfflineToolIntent(models.TextChoices):
    LOGISTICS = "logistics", _("Where is my parcel (with an order number)")
    ORDER_STATUS = "order_status", _("Order status (with an order number)")
