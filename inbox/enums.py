from django.db import models
from django.utils.translation import gettext_lazy as _


class ConversationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    SNOOZED = "snoozed", _("Snoozed")
    RESOLVED = "resolved", _("Resolved")


class Priority(models.IntegerChoices):
    LOW = 0, _("Low")
    NORMAL = 1, _("Normal")
    HIGH = 2, _("High")
    URGENT = 3, _("Urgent")


class Handler(models.TextChoices):
    AI = "ai", _("AI agent")
    HUMAN = "human", _("Human")


class MessageDirection(models.TextChoices):
    INBOUND = "in", _("From the customer")
    OUTBOUND = "out", _("To the customer")


class SenderType(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    AI = "ai", _("AI agent")
    SYSTEM = "system", _("System")


class DeliveryStatus(models.TextChoices):
    """Where an outbound message is on its way to the customer's app. Receipts only move
    it forward (queued → sent → delivered → read); `failed` carries the provider's reason."""

    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


# The order receipts move a message along; a late "delivered" never undoes "read".
DELIVERY_PROGRESS = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
}


class InboxVisibility(models.TextChoices):
    """What an agent of an inbox sees of its conversations."""

    ALL = "all", _("All of the inbox's conversations")
    ASSIGNED = "assigned", _("Only those assigned to them, and unassigned ones")


class AssignmentMethod(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOADED = "least_loaded", _("Least loaded")
    MANUAL = "manual", _("Manual (the team's queue)")


class Availability(models.TextChoices):
    ONLINE = "online", _("Online")
    BUSY = "busy", _("Busy")
    OFFLINE = "offline", _("Offline")


class SlaTarget(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")


class NotificationKind(models.TextChoices):
    MENTION = "mention", _("Mention")
    ASSIGNED = "assigned", _("Assigned to you")
    TRANSFER = "transfer", _("Transfer")
    SLA_BREACH = "sla_breach", _("SLA breach")
    LOCK_BROKEN = "lock_broken", _("Claim broken")


class HoursCondition(models.TextChoices):
    ANY = "", _("Any time")
    INSIDE = "inside", _("Inside business hours")
    OUTSIDE = "outside", _("Outside business hours")
