from django.conf import settings
from django.contrib import admin, messages
from django.db import models, transaction
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .enums import ChannelKind
from .models import ChannelAccount, InboundEvent, WidgetConfig
from .widget.services import widget_identity_secret_regenerate


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
        (
            _("Identity verification"),
            {
                "fields": ("identity_secret_shown", "require_verified_user"),
                "description": _(
                    "Your website's server signs the id of its signed-in user with this "
                    "secret, HMAC-SHA256(secret, user id), and passes the hash to "
                    "Switchboard('setUser', {id, hash}). Only then does the visitor see that "
                    "user's conversations. Keep the secret on the server: never put it in "
                    "the page. Regenerate it with the action on the channel list."
                ),
            },
        ),
    )
    readonly_fields = ("identity_secret_shown",)

    @admin.display(description=_("identity secret"))
    def identity_secret_shown(self, obj: WidgetConfig | None) -> str:
        if obj is None or obj.pk is None:
            return _("Created when this page is saved.")
        return format_html("<code>{}</code>", obj.identity_secret)


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "inbox", "is_active", "created_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "uuid", "public_key")
    readonly_fields = ("uuid", "embed_code", "created_at", "updated_at")
    actions = ["regenerate_identity_secret"]
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

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.instance.kind == ChannelKind.WEB:
            # Unchanged widget settings are not saved by the inline; the identity secret
            # must exist (and stay the same) from now on.
            WidgetConfig.objects.get_or_create(channel=form.instance)

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

    @admin.action(description=_("Regenerate the identity secret"), permissions=["change"])
    def regenerate_identity_secret(self, request, queryset):
        websites = list(queryset.filter(kind=ChannelKind.WEB))
        with transaction.atomic():
            for channel in websites:
                widget_identity_secret_regenerate(channel)
        if websites:
            self.message_user(
                request,
                ngettext(
                    "The identity secret of %(names)s was regenerated. Hashes made with the "
                    "old secret are refused from now on: put the new secret (on the "
                    "channel's page) on your website's server.",
                    "The identity secrets of %(names)s were regenerated. Hashes made with "
                    "the old secrets are refused from now on: put the new secrets (on each "
                    "channel's page) on your websites' servers.",
                    len(websites),
                )
                % {"names": ", ".join(channel.name for channel in websites)},
                messages.SUCCESS,
            )
        if skipped := len(queryset) - len(websites):
            self.message_user(
                request,
                ngettext(
                    "%(count)d channel is not a website widget and has no identity secret.",
                    "%(count)d channels are not website widgets and have no identity secret.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
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
