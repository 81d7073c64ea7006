from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import ChannelAccount, InboundEvent


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "inbox", "is_active", "created_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "uuid", "public_key")
    readonly_fields = ("uuid", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "inbox", "is_active")}),
        (
            _("Connection"),
            {"fields": ("uuid", "public_key", "credentials", "webhook_secret", "settings")},
        ),
        (_("Dates"), {"fields": ("created_at", "updated_at")}),
    )


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ("dedupe_key", "channel", "received_at", "processed_at", "has_error")
    list_filter = ("channel__kind", ("processed_at", admin.EmptyFieldListFilter))
    search_fields = ("dedupe_key",)
    readonly_fields = ("channel", "dedupe_key", "payload", "received_at", "processed_at", "error")

    @admin.display(boolean=True, description=_("error"))
    def has_error(self, obj: InboundEvent) -> bool:
        return bool(obj.error)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
