import hashlib
import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

from common.fields import EncryptedTextField
from common.models import TimeStampedModel
from inbox.models import Conversation, Inbox, Message

from .enums import (
    DocumentStatus,
    Engine,
    OfflineToolIntent,
    RunOutcome,
    Skill,
    Tone,
    WorkingMode,
)


class KnowledgeBase(TimeStampedModel):
    """A set of documents an AI profile answers from (pre-sales FAQ, product manuals…)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("knowledge base")
        verbose_name_plural = _("knowledge bases")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def document_path(document: "KnowledgeDocument", filename: str) -> str:
    # The stored name never contains the uploader's file name (kept in `filename`).
    return f"knowledge/{document.uuid.hex}"


class KnowledgeDocument(TimeStampedModel):
    """An uploaded file or a web page. Ingestion (a task) extracts its text, cuts it into
    chunks and embeds them; `status`, `progress` and `error` say how far it got and why it
    stopped."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    knowledge_base = models.ForeignKey(
        KnowledgeBase,
        on_delete=models.CASCADE,
        related_name="documents",
        verbose_name=_("knowledge base"),
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    file = models.FileField(_("file"), upload_to=document_path, blank=True)
    filename = models.CharField(_("file name"), max_length=255, blank=True)
    url = models.URLField(_("web page"), max_length=2000, blank=True)
    # What the text was last extracted from: an unchanged upload or page is not re-indexed.
    content_hash = models.CharField(max_length=64, blank=True, editable=False)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=DocumentStatus.choices,
        default=DocumentStatus.QUEUED,
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    error = models.TextField(_("why it failed"), blank=True)
    chunk_count = models.PositiveIntegerField(_("chunks"), default=0)
    indexed_at = models.DateTimeField(_("indexed at"), null=True, blank=True)
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive documents are not used in answers.")
    )

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["knowledge_base", "title"]
        constraints = [
            models.CheckConstraint(
                condition=(~models.Q(file="") & models.Q(url=""))
                | (models.Q(file="") & ~models.Q(url="")),
                name="knowledge_document_file_xor_url",
            )
        ]

    def __str__(self) -> str:
        return self.title or self.filename or self.url


class KnowledgeChunk(models.Model):
    """A passage of a document: what retrieval finds and answers cite."""

    document = models.ForeignKey(KnowledgeDocument, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    headings = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    question = models.TextField(blank=True)  # FAQ rows: the question; text is the answer
    text = models.TextField()
    # Headings, question and text: what full-text search reads (its GIN index is on
    # `to_tsvector('simple', sb_search_text(search_text))`, as for messages).
    search_text = models.TextField()
    # sha256 of what is embedded: a re-index keeps the embeddings of unchanged chunks.
    text_hash = models.CharField(max_length=64)
    # Any dimension: each provider's model has its own; retrieval compares only
    # embeddings of the model it embeds the question with.
    embedding = VectorField(null=True, blank=True)
    embedding_model = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = _("chunk")
        verbose_name_plural = _("chunks")
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "ordinal"], name="knowledge_chunk_document_ordinal_unique"
            )
        ]

    def __str__(self) -> str:
        return self.text[:60]

    @staticmethod
    def hash_of(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()


class AgentTool(TimeStampedModel):
    """An HTTP action the AI may call, such as order status by order number. The model
    sees the name, description and input schema; the URL and the secret header never."""

    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"

    name = models.SlugField(
        _("name"),
        max_length=64,
        unique=True,
        help_text=_("What the model calls it, e.g. order_status (letters, digits, _ and -)."),
    )
    description = models.TextField(
        _("description"), help_text=_("When to use it, in words the model understands.")
    )
    method = models.CharField(_("method"), max_length=4, choices=Method.choices, default="GET")
    url = models.URLField(
        _("URL"),
        max_length=2000,
        help_text=_(
            "Inputs fill {placeholders} in the URL; the others are sent as query parameters "
            "(GET) or as a JSON body (POST)."
        ),
    )
    input_schema = models.JSONField(
        _("input schema"),
        default=dict,
        help_text=_("A JSON Schema object describing the inputs."),
    )
    auth_header = EncryptedTextField(
        _("authorization header"),
        blank=True,
        help_text=_("Sent as the Authorization header, e.g. “Bearer …”. Stored encrypted."),
    )
    timeout = models.FloatField(
        _("timeout (seconds)"),
        default=5.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(30)],
    )
    # Without a model, the offline engine calls the tool for this intent with the order
    # number it found, and answers with `offline_answer` filled from the result.
    offline_intent = models.CharField(
        _("offline engine: use for"),
        max_length=16,
        choices=OfflineToolIntent.choices,
        blank=True,
    )
    offline_answer = models.TextField(
        _("offline engine: answer"),
        blank=True,
        help_text=_(
            "The reply, with {placeholders} for the inputs and the result's fields "
            "(dotted for nested ones), e.g. “Order {order_number}: {status}, {location}”."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("AI tool")
        verbose_name_plural = _("AI tools")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def default_skills() -> list[str]:
    return [Skill.PRESALES, Skill.AFTERSALES]


class AiProfile(TimeStampedModel):
    """An AI agent: who it is, which model it talks to, what it knows, where and when it
    works, what it must never do and when it hands over. With no base URL here or in
    AI_BASE_URL, the offline engine answers."""

    name = models.CharField(_("name"), max_length=100)
    avatar_url = models.URLField(_("avatar URL"), blank=True)
    persona = models.TextField(
        _("persona"), blank=True, help_text=_("Who the agent is and how it speaks.")
    )
    tone = models.CharField(_("tone"), max_length=16, choices=Tone.choices, default=Tone.FRIENDLY)
    language = models.CharField(
        _("language"),
        max_length=16,
        blank=True,
        help_text=_("An ISO code such as zh or en; empty answers in the customer's language."),
    )
    skills = ArrayField(
        models.CharField(max_length=16, choices=Skill.choices),
        default=default_skills,
        blank=True,
        verbose_name=_("skills"),
        help_text=_(
            "Pre-sales asks a customer who shows buying interest for their contact details; "
            "after-sales uses the tools (order lookups)."
        ),
    )
    # Where it works.
    inboxes = models.ManyToManyField(
        Inbox, related_name="ai_profiles", blank=True, verbose_name=_("inboxes served")
    )
    channel_kinds = ArrayField(
        models.CharField(max_length=16),
        default=list,
        blank=True,
        verbose_name=_("channels"),
        help_text=_("Only conversations of these channel kinds; empty: every channel."),
    )
    working_mode = models.CharField(
        _("works"), max_length=16, choices=WorkingMode.choices, default=WorkingMode.ALWAYS
    )
    knowledge_bases = models.ManyToManyField(
        KnowledgeBase, related_name="profiles", blank=True, verbose_name=_("knowledge bases")
    )
    tools = models.ManyToManyField(
        AgentTool, related_name="profiles", blank=True, verbose_name=_("tools")
    )
    # Guardrails.
    knowledge_only = models.BooleanField(
        _("answer only from the knowledge base"),
        default=True,
        help_text=_("Without a grounded answer it asks one question or hands over."),
    )
    refused_topics = models.TextField(
        _("topics to refuse"), blank=True, help_text=_("One per line.")
    )
    forbidden_phrases = models.TextField(
        _("phrases never to say"),
        blank=True,
        help_text=_("One per line; an answer containing one is not sent."),
    )
    mask_pii = models.BooleanField(
        _("mask personal data sent to the model"),
        default=False,
        help_text=_("Phone numbers, emails, ID and card numbers become placeholders."),
    )
    # What the customer sees.
    label_replies = models.BooleanField(
        _("tell the customer replies come from an AI"), default=True
    )
    cite_to_customer = models.BooleanField(_("show sources to the customer"), default=False)
    # Handoff.
    emotion_threshold = models.FloatField(
        _("hand over below this mood"),
        default=-0.6,
        validators=[MinValueValidator(-1), MaxValueValidator(0)],
        help_text=_("-1 is furious, 0 neutral."),
    )
    max_failed_attempts = models.PositiveSmallIntegerField(
        _("hand over after this many unanswered questions"), default=2
    )
    handoff_message = models.CharField(
        _("message on handover"),
        max_length=500,
        blank=True,
        help_text=_("Empty: “Let me get a colleague for you.” in the customer's language."),
    )
    # The model (empty fields fall back to AI_BASE_URL, AI_API_KEY, AI_MODEL).
    base_url = models.URLField(
        _("model base URL"),
        blank=True,
        help_text=_("Any OpenAI-compatible endpoint; empty uses AI_BASE_URL."),
    )
    model = models.CharField(
        _("model"), max_length=100, blank=True, help_text=_("Empty uses AI_MODEL.")
    )
    api_key = EncryptedTextField(_("API key"), blank=True, help_text=_("Empty uses AI_API_KEY."))
    timeout = models.FloatField(
        _("timeout (seconds)"),
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
    )
    max_retries = models.PositiveSmallIntegerField(
        _("retries"), default=2, validators=[MaxValueValidator(5)]
    )
    max_output_tokens = models.PositiveIntegerField(
        _("longest answer (tokens)"), default=600, validators=[MaxValueValidator(8000)]
    )
    temperature = models.FloatField(
        _("temperature"), default=0.3, validators=[MinValueValidator(0), MaxValueValidator(2)]
    )
    input_price_per_million = models.DecimalField(
        _("price per 1M input tokens"), max_digits=10, decimal_places=4, default=0
    )
    output_price_per_million = models.DecimalField(
        _("price per 1M output tokens"), max_digits=10, decimal_places=4, default=0
    )
    stream = models.BooleanField(
        _("stream answers"),
        default=True,
        help_text=_("The widget shows the answer as it is written."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("AI agent profile")
        verbose_name_plural = _("AI agent profiles")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def lines(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip()]


class AiConversation(models.Model):
    """The AI's part in a conversation: which profile answers, whether it still does, and
    why it stopped."""

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="ai", verbose_name=_("conversation")
    )
    profile = models.ForeignKey(
        AiProfile, on_delete=models.CASCADE, related_name="+", verbose_name=_("AI profile")
    )
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    handed_off_at = models.DateTimeField(_("handed over at"), null=True, blank=True)
    handoff_reason = models.CharField(_("handover reason"), max_length=32, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(_("unanswered questions"), default=0)
    # Pre-sales asks for contact details once per conversation.
    lead_asked_at = models.DateTimeField(_("asked for contact details at"), null=True, blank=True)

    class Meta:
        verbose_name = _("AI conversation")
        verbose_name_plural = _("AI conversations")

    def __str__(self) -> str:
        return f"{self.profile} · {self.conversation_id}"


class AgentRun(models.Model):
    """One turn of the AI on a customer message: what it understood, what it did, with
    which engine, and what it cost."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="+", verbose_name=_("conversation")
    )
    message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("customer message"),
    )
    reply = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("reply")
    )
    profile = models.ForeignKey(
        AiProfile, on_delete=models.SET_NULL, null=True, related_name="runs"
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    engine = models.CharField(_("engine"), max_length=8, choices=Engine.choices)
    model = models.CharField(_("model"), max_length=100, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=RunOutcome.choices)
    handoff_reason = models.CharField(_("handover reason"), max_length=32, blank=True)
    intent = models.CharField(_("intent"), max_length=24, blank=True)
    emotion = models.FloatField(_("mood"), null=True, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    citations = models.JSONField(_("sources"), default=list, blank=True)
    tool_calls = models.JSONField(_("tool calls"), default=list, blank=True)
    prompt_tokens = models.PositiveIntegerField(_("input tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("output tokens"), default=0)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(_("time (ms)"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("AI run")
        verbose_name_plural = _("AI runs")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["conversation", "-created_at"], name="ai_run_conv_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.outcome}"
