from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from inbox.services import message_retry

from .adapters import adapter_class
from .adapters.base import PermanentError, TransientError
from .enums import ChannelKind, DeliveryState
from .forms import PREFIX, ChannelAccountForm, connection_fields
from .models import ChannelAccount, InboundEvent, MessageTemplate, OutboundDelivery, WidgetConfig
from .selectors import channel_health_text
from .services.connections import (
    connection_connect,
    connection_test,
    templates_sync,
    webhook_url,
)
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
        (
            _("Availability"),
            {
                "fields": ("away_message",),
                "description": _(
                    "The widget is away outside the business hours of the channel's inbox "
                    "(Inbox → business hours) and when no agent of the inbox is online."
                ),
            },
        ),
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
    form = ChannelAccountForm
    change_form_template = "admin/channels_app/channelaccount/change_form.html"
    list_display = ("name", "kind", "inbox", "is_active", "rejected_webhooks", "created_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "uuid", "public_key")
    readonly_fields = (
        "uuid",
        "embed_code",
        "webhook_url",
        "verify_token",
        "rejected_webhooks",
        "last_rejected_at",
        "health",
        "created_at",
        "updated_at",
    )
    actions = ["regenerate_identity_secret"]

    def get_fieldsets(self, request, obj=None):
        base = (None, {"fields": ("name", "kind", "inbox", "team", "is_active")})
        dates = (_("Dates"), {"fields": ("created_at", "updated_at")})
        if obj is None:
            return (
                (
                    None,
                    {
                        "fields": ("name", "kind", "inbox", "team", "is_active"),
                        "description": _(
                            "Choose the kind and save: the page then asks for the provider's "
                            "credentials and shows the webhook address to paste there."
                        ),
                    },
                ),
            )
        if obj.kind == ChannelKind.WEB:
            return (base, (_("Website"), {"fields": ("uuid", "public_key", "embed_code")}), dates)
        return (
            base,
            (
                _("At the provider"),
                {
                    "fields": ("webhook_url", "verify_token"),
                    "description": _(
                        "Paste these at the provider; docs/channels/%(kind)s.md walks through it."
                    )
                    % {"kind": obj.kind},
                },
            ),
            (
                _("Credentials and settings"),
                {"fields": [PREFIX + spec.name for spec in connection_fields(obj.kind)]},
            ),
            (
                _("Health"),
                {"fields": ("health", "rejected_webhooks", "last_rejected_at")},
            ),
            dates,
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The kind's connection fields are added by the form itself, not declared here.
        kwargs["fields"] = ["name", "kind", "inbox", "team", "is_active"]
        if obj is not None and obj.kind == ChannelKind.WEB:
            kwargs["fields"].append("public_key")
        return super().get_form(request, obj, change=change, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.instance.kind == ChannelKind.WEB:
            # Unchanged widget settings are not saved by the inline; the identity secret
            # must exist (and stay the same) from now on.
            WidgetConfig.objects.get_or_create(channel=form.instance)

    def get_inlines(self, request, obj):
        # Widget settings belong to website channels only, shown once the kind is saved.
        return [WidgetConfigInline] if obj is not None and obj.kind == ChannelKind.WEB else []

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

    @admin.display(description=_("webhook URL"))
    def webhook_url(self, obj: ChannelAccount) -> str:
        if obj.pk is None:
            return "—"
        note = "" if settings.PUBLIC_URL else _(" (set PUBLIC_URL to your server's address)")
        return format_html("<code>{}</code>{}", webhook_url(obj), note)

    @admin.display(description=_("verify token / webhook secret"))
    def verify_token(self, obj: ChannelAccount) -> str:
        if obj.pk is None:
            return "—"
        return format_html("<code>{}</code>", obj.webhook_secret)

    @admin.display(description=_("health"))
    def health(self, obj: ChannelAccount) -> str:
        if obj.pk is None:
            return "—"
        return channel_health_text(obj)

    def get_urls(self):
        def view(name):
            return self.admin_site.admin_view(getattr(self, f"{name}_view"))

        return [
            path("<int:pk>/test/", view("test"), name="channels_app_channel_test"),
            path("<int:pk>/connect/", view("connect"), name="channels_app_channel_connect"),
            path(
                "<int:pk>/sync-templates/",
                view("sync_templates"),
                name="channels_app_channel_sync_templates",
            ),
            *super().get_urls(),
        ]

    def _tool(self, request, pk, run) -> HttpResponseRedirect:
        channel = get_object_or_404(ChannelAccount, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, channel):
            raise PermissionDenied
        run(channel)
        return HttpResponseRedirect(
            reverse("admin:channels_app_channelaccount_change", args=[channel.pk])
        )

    def _report(self, request, result) -> None:
        self.message_user(
            request, result.message, messages.SUCCESS if result.ok else messages.ERROR
        )

    def test_view(self, request, pk):
        return self._tool(request, pk, lambda c: self._report(request, connection_test(c)))

    def connect_view(self, request, pk):
        return self._tool(request, pk, lambda c: self._report(request, connection_connect(c)))

    def sync_templates_view(self, request, pk):
        def run(channel):
            try:
                count = templates_sync(channel)
            except (TransientError, PermanentError) as exc:
                self.message_user(request, exc.reason, messages.ERROR)
                return
            self.message_user(
                request,
                ngettext("%(count)d template synced.", "%(count)d templates synced.", count)
                % {"count": count},
                messages.SUCCESS,
            )

        return self._tool(request, pk, run)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.kind != ChannelKind.WEB:
            context["channel_tools"] = [
                (reverse("admin:channels_app_channel_test", args=[obj.pk]), _("Test connection")),
                (
                    reverse("admin:channels_app_channel_connect", args=[obj.pk]),
                    _("Connect (register the webhook)"),
                ),
            ]
            if adapter_class(obj.kind).rules.outside_window == "template":
                context["channel_tools"].append(
                    (
                        reverse("admin:channels_app_channel_sync_templates", args=[obj.pk]),
                        _("Sync templates"),
                    )
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

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

    actions = ["process_again"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Process again"), permissions=["view"])
    def process_again(self, request, queryset):
        from .tasks import inbound_process_event

        pending = list(queryset.filter(processed_at__isnull=True).values_list("pk", flat=True))
        queryset.filter(pk__in=pending).update(attempts=0)
        for event_id in pending:
            inbound_process_event.delay(event_id)
        self.message_user(
            request,
            ngettext(
                "%(count)d unprocessed event queued again.",
                "%(count)d unprocessed events queued again.",
                len(pending),
            )
            % {"count": len(pending)},
            messages.SUCCESS,
        )


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "language", "channel", "category", "status", "synced_at")
    list_filter = ("status", "channel")
    search_fields = ("name", "body")
    readonly_fields = ("synced_at",)
    fields = (
        "channel",
        "name",
        "language",
        "category",
        "status",
        "body",
        "components",
        "synced_at",
    )


@admin.register(OutboundDelivery)
class OutboundDeliveryAdmin(admin.ModelAdmin):
    list_display = ("message", "channel", "state", "attempts", "next_attempt_at", "error")
    list_filter = ("state", "channel__kind")
    search_fields = ("external_id", "error")
    readonly_fields = [f.name for f in OutboundDelivery._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send again"), permissions=["change"])
    def send_again(self, request, queryset):
        failed = list(queryset.filter(state=DeliveryState.FAILED).select_related("message"))
        with transaction.atomic():
            for delivery in failed:
                # The agent's retry: the message shows "queued" again, not only the row.
                message_retry(message=delivery.message, actor=request.user)
        self.message_user(
            request,
            ngettext(
                "%(count)d failed delivery queued again.",
                "%(count)d failed deliveries queued again.",
                len(failed),
            )
            % {"count": len(failed)},
            messages.SUCCESS,
        )
