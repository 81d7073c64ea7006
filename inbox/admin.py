from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import (
    AgentProfile,
    BusinessHours,
    CannedReply,
    Conversation,
    CsatResponse,
    Holiday,
    Inbox,
    Message,
    RoutingRule,
    SavedView,
    Shift,
    SlaBreach,
    SlaPolicy,
    Team,
)
from .services.business_hours import hours_is_open


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records kept for reports: looked at, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Business hours and SLA ---------------------------------------------------------------


class ShiftInline(admin.TabularInline):
    model = Shift
    extra = 0
    verbose_name_plural = _("shifts (several a day for split shifts)")


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    list_display = ("name", "timezone", "open_now")
    search_fields = ("name",)
    fields = ("name", "timezone")
    inlines = [ShiftInline, HolidayInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("shifts", "holidays")

    @admin.display(description=_("open now"), boolean=True)
    def open_now(self, obj: BusinessHours) -> bool:
        return hours_is_open(schedule=obj, at=timezone.now())


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "first_response_minutes",
        "next_response_minutes",
        "resolution_minutes",
        "business_hours",
    )
    search_fields = ("name",)
    autocomplete_fields = ("business_hours",)


@admin.register(SlaBreach)
class SlaBreachAdmin(ReadOnlyAdmin):
    list_display = ("conversation", "target", "due_at", "breached_at", "policy", "assignee", "team")
    list_filter = ("target", "policy", "team")
    date_hierarchy = "breached_at"
    list_select_related = ("conversation__customer", "policy", "assignee", "team")


# --- Teams, inboxes and routing -----------------------------------------------------------


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "assignment_method", "created_at")
    list_filter = ("assignment_method",)
    search_fields = ("name",)
    fields = ("name", "assignment_method", "members")
    filter_horizontal = ("members",)


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    list_display = ("name", "visibility", "business_hours", "sla_policy", "csat_enabled")
    list_filter = ("visibility", "csat_enabled")
    search_fields = ("name",)
    filter_horizontal = ("members", "teams")
    autocomplete_fields = ("business_hours", "sla_policy")
    fieldsets = (
        (None, {"fields": ("name", "members", "teams", "visibility")}),
        (_("Hours and SLA"), {"fields": ("business_hours", "sla_policy")}),
        (_("Auto-resolve"), {"fields": ("auto_resolve_after", "auto_resolve_message")}),
        (_("Satisfaction rating"), {"fields": ("csat_enabled", "csat_question")}),
    )


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "availability", "capacity", "skills", "last_assigned_at")
    list_filter = ("availability",)
    search_fields = ("user__email", "user__display_name")
    raw_id_fields = ("user",)
    readonly_fields = ("last_assigned_at", "availability_changed_at")


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("position", "name", "is_active", "team", "agent", "set_priority")
    list_display_links = ("name",)
    list_editable = ("position", "is_active")
    list_filter = ("is_active", "team")
    search_fields = ("name",)
    ordering = ("position", "pk")
    filter_horizontal = ("inboxes", "tags")
    raw_id_fields = ("agent",)
    fieldsets = (
        (None, {"fields": ("name", "position", "is_active")}),
        (
            _("When (every condition set must hold; empty matches anything)"),
            {
                "fields": (
                    "channel_kinds",
                    "inboxes",
                    "countries",
                    "languages",
                    "tags",
                    "attributes",
                    "hours",
                    "min_priority",
                )
            },
        ),
        (_("Then"), {"fields": ("team", "agent", "set_priority", "required_skills", "skip_ai")}),
    )


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("shortcut", "title", "owner", "updated_at")
    list_filter = (("owner", admin.EmptyFieldListFilter),)
    search_fields = ("shortcut", "title", "body")
    raw_id_fields = ("owner",)


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "position")
    search_fields = ("name", "user__email")
    raw_id_fields = ("user",)


@admin.register(CsatResponse)
class CsatResponseAdmin(ReadOnlyAdmin):
    list_display = ("conversation", "rating", "assignee", "team", "requested_at", "responded_at")
    list_filter = ("rating", "team")
    search_fields = ("comment",)
    date_hierarchy = "requested_at"
    list_select_related = ("conversation__customer", "assignee", "team")


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("seq", "direction", "sender_type", "author", "body", "created_at")
    readonly_fields = fields
    can_delete = False
    ordering = ("-seq",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = (
        "uuid",
        "customer",
        "inbox",
        "status",
        "priority",
        "handler",
        "assignee",
        "last_message_at",
    )
    list_filter = ("status", "priority", "handler", "inbox", "team")
    search_fields = ("uuid", "customer__display_name")
    raw_id_fields = ("customer", "assignee")
    readonly_fields = (
        "uuid",
        "last_seq",
        "created_at",
        "updated_at",
        "sla_policy",
        "first_response_at",
        "first_response_due_at",
        "next_response_due_at",
        "resolution_due_at",
        "sla_clock",
    )
    date_hierarchy = "created_at"
    inlines = [MessageInline]
