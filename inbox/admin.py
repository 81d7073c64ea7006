from django.contrib import admin

from .models import Conversation, Inbox, Message, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("members",)


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("members", "teams")


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
    readonly_fields = ("uuid", "last_seq", "created_at", "updated_at")
    date_hierarchy = "created_at"
    inlines = [MessageInline]
