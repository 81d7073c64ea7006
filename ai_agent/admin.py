from functools import partial

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import Count, Sum
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .enums import DocumentStatus
from .llm import provider_check
from .models import (
    AgentRun,
    AgentTool,
    AiProfile,
    KnowledgeBase,
    KnowledgeDocument,
)
from .providers import chat_provider
from .services.tools import schema_problem
from .tasks import knowledge_ingest

UPLOAD_TYPES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".csv", ".xlsx")
UPLOAD_MAX_MB = 20
# An address typed without a scheme is https.


HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


def _https_urls(field, **kwargs):
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


def _secret_field(model, name: str) -> forms.CharField:
    field = model._meta.get_field(name)
    # Write-only: a stored secret is never sent back to the browser; empty keeps it.
    return forms.CharField(
        label=field.verbose_name,
        help_text=field.help_text,
        required=False,
        widget=forms.PasswordInput(render_value=False),
    )


class AiProfileForm(forms.ModelForm):
    api_key = _secret_field(AiProfile, "api_key")
    base_url = forms.URLField(
        label=AiProfile._meta.get_field("base_url").verbose_name,
        required=False,
        assume_scheme="https",
        help_text=AiProfile._meta.get_field("base_url").help_text,
    )

    class Meta:
        model = AiProfile
        formfield_callback = _https_urls
        fields = (
            *("name", "is_active", "avatar_url", "persona", "tone", "language"),
            *("skills", "knowledge_bases", "tools", "inboxes", "channel_kinds", "working_mode"),
            *("knowledge_only", "refused_topics", "forbidden_phrases", "mask_pii"),
            *("label_replies", "cite_to_customer", "stream"),
            *("emotion_threshold", "max_failed_attempts", "handoff_message"),
            *("base_url", "model", "api_key", "timeout", "max_retries", "max_output_tokens"),
            *("temperature", "input_price_per_million", "output_price_per_million"),
        )

    def clean_api_key(self):
        key = self.cleaned_data.get("api_key")
        return key or (self.instance.api_key if self.instance.pk else "")


@admin.register(AiProfile)
class AiProfileAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS  # the admin's own fields; the forms' below
    form = AiProfileForm
    list_display = ("name", "working_mode", "engine", "is_active", "updated_at")
    list_filter = ("is_active", "working_mode")
    search_fields = ("name",)
    filter_horizontal = ("inboxes", "knowledge_bases", "tools")
    actions = ["test_connection"]
    fieldsets = (
        (None, {"fields": ("name", "is_active", "avatar_url", "persona", "tone", "language")}),
        (_("Skills and knowledge"), {"fields": ("skills", "knowledge_bases", "tools")}),
        (_("Where and when"), {"fields": ("inboxes", "channel_kinds", "working_mode")}),
        (
            _("Guardrails"),
            {"fields": ("knowledge_only", "refused_topics", "forbidden_phrases", "mask_pii")},
        ),
        (_("What the customer sees"), {"fields": ("label_replies", "cite_to_customer", "stream")}),
        (
            _("Handover"),
            {"fields": ("emotion_threshold", "max_failed_attempts", "handoff_message")},
        ),
        (
            _("Model"),
            {
                "description": _(
                    "Any OpenAI-compatible endpoint (OpenAI, DeepSeek, Qwen, Ollama, vLLM). "
                    "With none here or in the server settings, the offline engine answers."
                ),
                "fields": (
                    "base_url",
                    "model",
                    "api_key",
                    "timeout",
                    "max_retries",
                    "max_output_tokens",
                    "temperature",
                    "input_price_per_million",
                    "output_price_per_million",
                ),
            },
        ),
    )

    @admin.display(description=_("engine"))
    def engine(self, profile: AiProfile) -> str:
        provider = chat_provider(profile)
        return provider.model if provider else _("Offline engine")

    @admin.action(description=_("Test the model connection"))
    def test_connection(self, request, queryset):
        for profile in queryset:
            provider = chat_provider(profile)
            if provider is None:
                self.message_user(
                    request,
                    _("%(name)s: no model configured; the offline engine answers.")
                    % {"name": profile.name},
                    messages.WARNING,
                )
                continue
            problem = provider_check(provider)
            if problem:
                self.message_user(request, f"{profile.name}: {problem}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(name)s: %(model)s answers.")
                    % {"name": profile.name, "model": provider.model},
                    messages.SUCCESS,
                )


class KnowledgeDocumentForm(forms.ModelForm):
    class Meta:
        model = KnowledgeDocument
        formfield_callback = _https_urls
        fields = ("knowledge_base", "title", "file", "url", "is_active")

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and hasattr(upload, "size"):
            name = upload.name.lower()
            if not name.endswith(UPLOAD_TYPES):
                raise forms.ValidationError(
                    _("Upload a %(types)s file.") % {"types": ", ".join(UPLOAD_TYPES)}
                )
            if upload.size > UPLOAD_MAX_MB * 1024 * 1024:
                raise forms.ValidationError(
                    _("The file is larger than %(mb)s MB.") % {"mb": UPLOAD_MAX_MB}
                )
        return upload

    def clean(self):
        cleaned = super().clean()
        has_file, has_url = bool(cleaned.get("file")), bool(cleaned.get("url"))
        if has_file == has_url:
            raise forms.ValidationError(_("Give either a file or a web page address, not both."))
        return cleaned


def _queue_ingest(documents, *, force: bool) -> None:
    for document in documents:
        transaction.on_commit(partial(knowledge_ingest.delay, document.pk, force), robust=True)


@admin.register(KnowledgeDocument)
class KnowledgeDocumentAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS  # the admin's own fields; the forms' below
    form = KnowledgeDocumentForm
    list_display = (
        "__str__",
        "knowledge_base",
        "status_shown",
        "chunk_count",
        "indexed_at",
        "is_active",
    )
    list_filter = ("status", "knowledge_base", "is_active")
    search_fields = ("title", "filename", "url")
    readonly_fields = ("status", "progress", "error", "chunk_count", "indexed_at", "filename")
    actions = ["reindex"]

    @admin.display(description=_("status"), ordering="status")
    def status_shown(self, document: KnowledgeDocument) -> str:
        if document.status == DocumentStatus.PROCESSING:
            return format_html("{} {}%", document.get_status_display(), document.progress)
        if document.status == DocumentStatus.FAILED:
            return format_html(
                '<span title="{}">{} ⚠</span>', document.error, document.get_status_display()
            )
        return document.get_status_display()

    def save_model(self, request, obj, form, change):
        if "file" in form.changed_data and obj.file:
            obj.filename = obj.file.name.rsplit("/", 1)[-1]
            obj.title = obj.title or obj.filename
        if not obj.title and obj.url:
            obj.title = obj.url[:200]
        changed_source = not change or {"file", "url"} & set(form.changed_data)
        if changed_source:
            obj.status, obj.progress, obj.error = DocumentStatus.QUEUED, 0, ""
        super().save_model(request, obj, form, change)
        if changed_source:
            _queue_ingest([obj], force=True)

    @admin.action(description=_("Re-index the selected documents"))
    def reindex(self, request, queryset):
        documents = list(queryset)
        queryset.update(status=DocumentStatus.QUEUED, progress=0, error="")
        _queue_ingest(documents, force=True)
        self.message_user(
            request,
            ngettext(
                "%(count)d document queued for indexing.",
                "%(count)d documents queued for indexing.",
                len(documents),
            )
            % {"count": len(documents)},
        )


class KnowledgeDocumentInline(admin.TabularInline):
    model = KnowledgeDocument
    fields = ("title", "url", "status", "progress", "chunk_count", "error")
    readonly_fields = ("title", "url", "status", "progress", "chunk_count", "error")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # documents are added on their own page (file upload)


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(admin.ModelAdmin):
    list_display = ("name", "documents_count")
    search_fields = ("name",)
    inlines = [KnowledgeDocumentInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(documents_total=Count("documents"))

    @admin.display(description=_("documents"), ordering="documents_total")
    def documents_count(self, base) -> int:
        return base.documents_total


class AgentToolForm(forms.ModelForm):
    auth_header = _secret_field(AgentTool, "auth_header")

    class Meta:
        model = AgentTool
        formfield_callback = _https_urls
        fields = (
            *("name", "description", "method", "url", "input_schema", "auth_header"),
            *("timeout", "offline_intent", "offline_answer", "is_active"),
        )

    def clean_auth_header(self):
        value = self.cleaned_data.get("auth_header")
        return value or (self.instance.auth_header if self.instance.pk else "")

    def clean_input_schema(self):
        schema = self.cleaned_data.get("input_schema") or {}
        if problem := schema_problem(schema):
            raise forms.ValidationError(problem)
        return schema


@admin.register(AgentTool)
class AgentToolAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS  # the admin's own fields; the forms' below
    form = AgentToolForm
    list_display = ("name", "method", "url", "offline_intent", "is_active")
    list_filter = ("is_active", "method")
    search_fields = ("name", "description")


@admin.register(AgentRun)
class AgentRunAdmin(admin.ModelAdmin):
    """The run log: every AI turn with what it understood and did, and its cost."""

    list_display = (
        "created_at",
        "conversation_link",
        "profile",
        "engine",
        "outcome",
        "handoff_reason",
        "intent",
        "emotion",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "latency_ms",
    )
    list_filter = ("engine", "outcome", "handoff_reason", "profile", "intent")
    date_hierarchy = "created_at"
    list_select_related = ("profile", "conversation")
    readonly_fields = [field.name for field in AgentRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("conversation"))
    def conversation_link(self, run: AgentRun) -> str:
        return format_html(
            '<a href="/console/?c={}">{}</a>',
            run.conversation.uuid,
            str(run.conversation.uuid)[:8],
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        try:
            queryset = response.context_data["cl"].queryset
        except (AttributeError, KeyError):
            return response
        response.context_data["totals"] = queryset.aggregate(
            runs=Count("pk"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cost=Sum("cost"),
        )
        return response
