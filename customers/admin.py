import secrets

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .api_transfer import customers_csv_response
from .enums import AttributeType, SuggestionStatus
from .models import (
    AttributeDefinition,
    Customer,
    CustomerChange,
    CustomerNote,
    Identity,
    MergeRecord,
    MergeSuggestion,
    Tag,
)
from .selectors import customer_search
from .services import (
    ImportRefused,
    MergeRefused,
    attributes_clean,
    customer_merge_undo,
    customers_import,
    merge_suggestion_confirm,
    merge_suggestion_dismiss,
)

IMPORT_CACHE_SECONDS = 15 * 60


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ("kind", "value", "verified", "verification", "channel", "created_at")
    readonly_fields = ("verification", "channel", "created_at")


class NoteInline(admin.TabularInline):
    model = CustomerNote
    extra = 0
    fields = ("body", "author", "created_at")
    readonly_fields = ("author", "created_at")

    def has_change_permission(self, request, obj=None):
        return False


class ChangeInline(admin.TabularInline):
    model = CustomerChange
    extra = 0
    fields = ("created_at", "action", "actor", "data")
    readonly_fields = fields
    verbose_name_plural = _("history")
    max_num = 0

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CustomerForm(forms.ModelForm):
    avatar_url = forms.URLField(
        label=_("avatar URL"), max_length=500, required=False, assume_scheme="https"
    )

    class Meta:
        model = Customer
        fields = [
            "display_name",
            "avatar_url",
            "language",
            "country",
            "timezone",
            "tags",
            "attributes",
            "is_blocked",
            "lead_status",
        ]

    def clean_attributes(self):
        try:
            cleaned = attributes_clean(self.cleaned_data["attributes"] or {})
        except ValidationError as error:
            raise ValidationError(error.message_dict.get("attributes", error.messages)) from None
        return {key: value for key, value in cleaned.items() if value is not None}


class MergedFilter(admin.SimpleListFilter):
    title = _("merged")
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return [("no", _("Active customers")), ("yes", _("Merged into another"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(merged_into__isnull=True)
        if self.value() == "yes":
            return queryset.filter(merged_into__isnull=False)
        return queryset


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerForm
    list_display = (
        "__str__",
        "lead_status",
        "lead_captured_at",
        "country",
        "language",
        "last_seen_at",
        "is_blocked",
    )
    list_filter = (MergedFilter, "lead_status", "lead_via", "is_blocked", "tags", "country")
    search_fields = ("display_name",)
    search_help_text = _("Name, phone number in any format, email or any identity.")
    date_hierarchy = "created_at"
    filter_horizontal = ("tags",)
    readonly_fields = (
        "uuid",
        "lead_captured_at",
        "lead_via",
        "lead_channel",
        "lead_source",
        "first_touch",
        "last_touch",
        "first_seen_at",
        "last_seen_at",
        "merged_into",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "uuid",
                    "display_name",
                    "avatar_url",
                    ("language", "country", "timezone"),
                    "tags",
                    "attributes",
                    "is_blocked",
                    "merged_into",
                )
            },
        ),
        (
            _("Lead"),
            {
                "fields": (
                    "lead_status",
                    "lead_captured_at",
                    "lead_via",
                    "lead_channel",
                    "lead_source",
                )
            },
        ),
        (
            _("Attribution"),
            {"fields": ("first_touch", "last_touch", "first_seen_at", "last_seen_at")},
        ),
        (_("Dates"), {"fields": ("created_at", "updated_at")}),
    )
    inlines = [IdentityInline, NoteInline, ChangeInline]
    change_list_template = "admin/customers/customer/change_list.html"
    actions = ["export_csv"]

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="customers_customer_import",
            ),
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="customers_customer_export",
            ),
            *super().get_urls(),
        ]

    @admin.action(description=_("Export the selected customers as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        return customers_csv_response(queryset)

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return customers_csv_response(Customer.objects.active())

    def import_view(self, request):
        """Upload, preview (a dry run of the real import) and then import."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.model._meta}
        form = ImportForm()
        if request.method == "POST" and request.POST.get("token"):
            data = cache.get(f"customer-import:{request.user.pk}:{request.POST['token']}")
            if data is None:
                self.message_user(
                    request, _("The preview expired; upload the file again."), messages.ERROR
                )
                return redirect("admin:customers_customer_import")
            result = customers_import(data=data, actor=request.user, dry_run=False)
            context["result"] = result.as_dict()
        elif request.method == "POST":
            form = ImportForm(request.POST, request.FILES)
            if form.is_valid():
                data = form.cleaned_data["file"].read()
                try:
                    result = customers_import(data=data, actor=request.user, dry_run=True)
                except ImportRefused as refused:
                    form.add_error("file", str(refused))
                else:
                    token = secrets.token_urlsafe(16)
                    cache.set(
                        f"customer-import:{request.user.pk}:{token}", data, IMPORT_CACHE_SECONDS
                    )
                    context.update(result=result.as_dict(), token=token)
        context.update(
            form=form,
            title=_("Import customers"),
            changelist_url=reverse("admin:customers_customer_changelist"),
        )
        return TemplateResponse(request, "admin/customers/customer/import.html", context)

    def get_search_results(self, request, queryset, search_term):
        # The same search as the console: phones in any format, emails, identities, names.
        if not search_term.strip():
            return queryset, False
        return customer_search(queryset, search_term), False


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("value", "kind", "customer", "verified", "verification", "created_at")
    list_filter = ("kind", "verified", "verification")
    search_fields = ("=value",)
    raw_id_fields = ("customer",)
    readonly_fields = ("channel", "details", "created_at", "updated_at")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "color")
    search_fields = ("name",)


class AttributeDefinitionForm(forms.ModelForm):
    class Meta:
        model = AttributeDefinition
        fields = ["key", "label", "type", "options", "description", "position"]

    def clean(self):
        cleaned = super().clean()
        options = cleaned.get("options") or []
        if cleaned.get("type") == AttributeType.LIST:
            if not isinstance(options, list) or not options:
                self.add_error("options", _("A list attribute needs its values, as a JSON list."))
            elif not all(isinstance(o, str) and o.strip() for o in options):
                self.add_error("options", _("Each value is a non-empty text."))
        elif options:
            self.add_error("options", _("Only list attributes have values to choose from."))
        return cleaned


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin):
    form = AttributeDefinitionForm
    list_display = ("label", "key", "type", "position")
    list_editable = ("position",)
    search_fields = ("label", "key")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MergeSuggestion)
class MergeSuggestionAdmin(ReadOnlyAdmin):
    list_display = ("customer", "other", "reason", "status", "created_at", "resolved_by")
    list_filter = ("status",)
    list_select_related = ("customer", "other", "resolved_by")
    actions = ["confirm", "dismiss"]

    @admin.display(description=_("evidence"))
    def reason(self, obj: MergeSuggestion) -> str:
        evidence = obj.evidence or {}
        return " · ".join(str(evidence[k]) for k in ("kind", "value", "reason") if k in evidence)

    def _each_pending(self, request, queryset, handle, done_message):
        done = 0
        for suggestion in queryset.filter(status=SuggestionStatus.PENDING):
            try:
                handle(suggestion=suggestion, actor=request.user)
                done += 1
            except MergeRefused as refused:
                self.message_user(request, f"{suggestion}: {refused}", messages.WARNING)
        self.message_user(request, done_message(done), messages.SUCCESS)

    @admin.action(description=_("Merge the selected pairs"), permissions=["view"])
    def confirm(self, request, queryset):
        self._each_pending(
            request,
            queryset,
            merge_suggestion_confirm,
            lambda n: ngettext("%(n)d pair merged.", "%(n)d pairs merged.", n) % {"n": n},
        )

    @admin.action(description=_("Dismiss the selected suggestions"), permissions=["view"])
    def dismiss(self, request, queryset):
        self._each_pending(
            request,
            queryset,
            merge_suggestion_dismiss,
            lambda n: (
                ngettext("%(n)d suggestion dismissed.", "%(n)d suggestions dismissed.", n)
                % {"n": n}
            ),
        )


@admin.register(MergeRecord)
class MergeRecordAdmin(ReadOnlyAdmin):
    """Merge history: who merged whom, on what evidence; undo from here or the console."""

    list_display = ("created_at", "survivor", "merged", "automatic", "actor", "undone_at")
    list_filter = ("automatic", ("undone_at", admin.EmptyFieldListFilter))
    list_select_related = ("survivor", "merged", "actor")
    date_hierarchy = "created_at"
    actions = ["undo"]

    @admin.action(description=_("Undo the selected merges"), permissions=["view"])
    def undo(self, request, queryset):
        undone = 0
        # Newest first, so that a later merge is undone before an earlier one it builds on.
        for record in queryset.filter(undone_at__isnull=True).order_by("-created_at"):
            try:
                customer_merge_undo(record=record, actor=request.user)
                undone += 1
            except MergeRefused as refused:
                self.message_user(request, f"{record}: {refused}", messages.WARNING)
        self.message_user(
            request,
            ngettext("%(n)d merge undone.", "%(n)d merges undone.", undone) % {"n": undone},
            messages.SUCCESS,
        )
