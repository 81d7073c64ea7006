from django.conf import settings
from django.contrib import admin
from django.db import models
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .enums import ChannelKind
from .models import ChannelAccount, InboundEvent, WidgetConfig


class WidgetConfigInline(admin.StackedInline):
    model = WidgetConfig
    can_delete = False
    # An avatar URL typed without a scheme means https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    verbose_name_plural = _("website widget")
    fieldsets = (
        (None, {"fields": ("title", "greeting", "color", "avatar_url", "position", "language")}),
        (_("Pre-chat form"), {"fields": ("prechat_name", "prechat_email", "prechat_phone")}),
        (_("Availability"), {"fields": ("away_message", "business_hours", "timezone")}),
        (_("Files"), {"fields": ("attachment_types", "attachment_max_mb")}),
        (_("Security and sound"), {"fields": ("allowed_origins", "sound")}),
    )


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "inbox", "is_active", "created_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "uuid", "public_key")
    readonly_fields = ("uuid", "embed_code", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "inbox", "is_active")}),
        (
            _("Connection"),
            {
                "fields": (
                    "uuid",
                    "public_key",
                    "embed_code",
                    "credentials",
                    "webhook_secret",
                    "settings",
                )
            },
        ),
        (_("Dates"), {"fields": ("created_at", "updated_at")}),
    )

    def get_inlines(self, request, obj):
        # Widget settings belong to website channels only.
        return [WidgetConfigInline] if obj is None or obj.kind == ChannelKind.WEB else []

    @admin.display(description=_("code to paste into the website"))
    def embed_code(self, obj: ChannelAccount) -> str:
        if obj.pk is None or obj.kind != ChannelKind.WEB:
            return "—"
        host = settings.PUBLIC_URL or "https://switchboard.example.com"
        return format_html(
            '<code>&lt;script src="{}/widget.js" data-channel="{}" async&gt;&lt;/script&gt;</code>',
            host,
            obj.public_key,
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
