"""The AI's turn: for the customer's unanswered messages in a conversation the AI holds,
understand them (intent, emotion, language, contact details), decide whether to hand over,
retrieve from the knowledge base, and answer, ask one question, or hand over. Every turn
is recorded as an AgentRun (engine, outcome, sources, tool calls, tokens, cost, time).

With a model configured, the model classifies and answers (streaming into the widget
where it can); without one, the offline engine does: rules for intent, emotion and
contacts, and a knowledge-base passage when it matches the question strongly."""

import json
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.pii import pii_mask, pii_unmask
from customers.enums import CONTACT_KINDS
from customers.models import Identity
from inbox import realtime
from inbox.enums import Handler, MessageDirection, SenderType
from inbox.models import Conversation, Message
from inbox.outbound import ReplyBlocked
from inbox.services.language import language_detect
from inbox.services.messages import message_send_ai
from inbox.services.routing import channel_kind

from ..enums import Engine, HandoffReason, RunOutcome, Skill
from ..knowledge.retrieval import Hit, knowledge_search
from ..llm import ChatResult, ProviderError, ProviderSettings, Usage, chat
from ..models import AgentRun, AgentTool, AiConversation, AiProfile
from ..offline.emotion import emotion_detect, emotion_trend
from ..offline.entities import contacts_extract, order_numbers_extract
from ..offline.intent import INTENTS, intent_detect, wants_human
from ..providers import chat_provider
from . import prompts
from .contacts import contacts_store
from .handoff import ai_handoff, ai_stopped, customer_language, in_language
from .summary import handoff_summary
from .tools import ToolResult, tool_answer, tool_call, tool_schema

logger = logging.getLogger(__name__)

# How much of the conversation the model reads.
HISTORY_MESSAGES = 16
# The offline engine answers on its own only when a passage covers this much of the
# question (retrieval.Hit.strength); below it, it asks or hands over.
OFFLINE_STRENGTH = 0.6
# Emotion that keeps getting worse over this many turns hands over even above the
# threshold (emotion_trend > RISING and the latest turn negative).
TREND_TURNS = 3
RISING = 0.45
SMALL_TALK = ("greeting", "thanks", "goodbye")
# Buying interest, which a pre-sales profile answers with a request for contact details.
LEAD_INTENTS = ("pricing", "purchase")
TOOL_ROUNDS = 3
# The widget sees a streamed draft at most this often.
DRAFT_INTERVAL = 0.15


@dataclass
class Understanding:
    intent: str
    emotion: float
    language: str
    asks_for_human: bool
    refused_topic: bool = False
    cues: list[str] = field(default_factory=list)


@dataclass
class Turn:
    """What one turn collects on its way to the run log."""

    conversation: Conversation
    state: AiConversation
    profile: AiProfile
    messages: list[Message]  # the customer's unanswered messages, oldest first
    provider: ProviderSettings | None
    usage: Usage = field(default_factory=Usage)
    tool_results: list[ToolResult] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    cited: list[Hit] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    error: str = ""

    @property
    def text(self) -> str:
        return "\n".join(message.body for message in self.messages if message.body)

    @property
    def engine(self) -> str:
        return Engine.MODEL if self.provider else Engine.OFFLINE


def _recent(conversation: Conversation) -> list[Message]:
    """The conversation's newest messages the customer can see, newest first: what a turn
    answers and what the model reads. Private notes never reach the model."""
    return list(
        Message.objects.filter(conversation=conversation, private=False).order_by("-seq")[
            :HISTORY_MESSAGES
        ]
    )


def _unanswered(recent: list[Message]) -> list[Message]:
    """The customer's messages since the last reply (by anyone), oldest first. Messages
    marked automated (another bot, an auto-reply) are never answered."""
    pending = []
    for message in recent:
        if message.direction == MessageDirection.OUTBOUND:
            break
        if message.sender_type == SenderType.CUSTOMER and not (message.content or {}).get(
            "automated"
        ):
            pending.append(message)
    return pending[::-1]


def _history(recent: list[Message], mask) -> list[dict]:
    """The conversation as chat messages: the customer as "user", replies as "assistant"."""
    return [
        {
            "role": "user" if message.direction == MessageDirection.INBOUND else "assistant",
            "content": mask(message.body),
        }
        for message in reversed(recent)
        if message.body
    ]


def _understand_offline(text: str, language: str) -> Understanding:
    intent = intent_detect(text, language=language)
    emotion = emotion_detect(text, language=language)
    return Understanding(
        intent=intent.name,
        emotion=emotion.score,
        language=language,
        asks_for_human=wants_human(text),
        cues=[*intent.cues, *emotion.cues],
    )


def _understand(turn: Turn, history: list[dict]) -> Understanding:
    """Offline rules always run (cheap, and precise on "转人工"); the model refines the
    intent and emotion when there is one. A model failure keeps the rules' reading."""
    language = turn.profile.language or language_detect(turn.text) or turn.conversation.language
    offline = _understand_offline(turn.text, language)
    if turn.provider is None:
        return offline
    refused = AiProfile.lines(turn.profile.refused_topics)
    system = prompts.analysis_prompt()
    if refused:
        system += "\nRefused topics: " + "; ".join(refused)
    try:
        result = chat(
            turn.provider,
            [{"role": "system", "content": system}, *history[-6:]],
            json_mode=True,
        )
    except ProviderError as error:
        turn.error = f"analysis: {error}"
        return offline
    turn.usage.add(result.usage)
    try:
        data = json.loads(result.text)
        emotion = max(-1.0, min(1.0, float(data.get("emotion", offline.emotion))))
    except (ValueError, TypeError, AttributeError):
        return offline
    intent = data.get("intent") if data.get("intent") in INTENTS else offline.intent
    return Understanding(
        intent=intent,
        # The lower of the two: the rules catch insults a polite model reading may soften.
        emotion=min(emotion, offline.emotion),
        language=turn.profile.language or str(data.get("language") or language)[:8],
        asks_for_human=offline.asks_for_human or data.get("wants_human") is True,
        refused_topic=data.get("refused_topic") is True,
        cues=offline.cues,
    )


def _refused_offline(profile: AiProfile, text: str) -> bool:
    lowered = text.lower()
    return any(topic.lower() in lowered for topic in AiProfile.lines(profile.refused_topics))


def _forbidden(profile: AiProfile, text: str) -> bool:
    lowered = text.lower()
    return any(phrase.lower() in lowered for phrase in AiProfile.lines(profile.forbidden_phrases))


def _mood_rising(conversation: Conversation, current: float) -> bool:
    earlier = list(
        AgentRun.objects.filter(conversation=conversation, emotion__isnull=False)
        .order_by("-created_at")
        .values_list("emotion", flat=True)[: TREND_TURNS - 1]
    )
    scores = [*reversed(earlier), current]
    return len(scores) >= TREND_TURNS and current < 0 and emotion_trend(scores) > RISING


def _handoff_reason(turn: Turn, understood: Understanding) -> str:
    if understood.asks_for_human:
        return HandoffReason.ASKED
    if understood.emotion <= turn.profile.emotion_threshold:
        return HandoffReason.EMOTION
    if _mood_rising(turn.conversation, understood.emotion):
        return HandoffReason.EMOTION
    return ""


def _localized(language: str, text_fn) -> str:
    with in_language(language):
        return text_fn()


def _small_talk(intent: str, language: str, profile: AiProfile) -> str:
    def text():
        if intent == "thanks":
            return _("You're welcome! Is there anything else I can help with?")
        if intent == "goodbye":
            return _("Thank you for reaching out. Have a nice day!")
        return _("Hello, I'm %(name)s. How can I help you?") % {"name": profile.name}

    return _localized(language, text)


def _clarifying_question(language: str) -> str:
    return _localized(
        language,
        lambda: _(
            "I'm not sure I understood. Could you tell me a little more, for example the "
            "product or the order it is about?"
        ),
    )


def _refusal(language: str) -> str:
    return _localized(
        language, lambda: _("Sorry, I can't help with that topic. Is there anything else?")
    )


def _with_sources(profile: AiProfile, body: str, cited: list[Hit], language: str) -> str:
    if not profile.cite_to_customer or not cited:
        return body
    titles = list(dict.fromkeys(hit.document_title for hit in cited))
    label = _localized(language, lambda: _("Sources"))
    return f"{body}\n\n{label}: " + "; ".join(titles)


# --- skills -----------------------------------------------------------------------------


def _tools(profile: AiProfile):
    """The tools the profile may call: only an after-sales profile looks orders up."""
    if Skill.AFTERSALES not in profile.skills:
        return AgentTool.objects.none()
    return profile.tools.filter(is_active=True)


def _lead_question(turn: Turn, understood: Understanding, language: str) -> str:
    """A pre-sales profile asks a customer who shows buying interest and has left no
    contact detail for one, once per conversation ("" otherwise)."""
    if (
        Skill.PRESALES not in turn.profile.skills
        or understood.intent not in LEAD_INTENTS
        or turn.state.lead_asked_at is not None
        or Identity.objects.filter(
            customer_id=turn.conversation.customer_id, kind__in=CONTACT_KINDS
        ).exists()
    ):
        return ""
    AiConversation.objects.filter(pk=turn.state.pk).update(lead_asked_at=timezone.now())
    return _localized(
        language,
        lambda: _(
            "If you leave your phone number, email or WeChat ID, our team can send you an "
            "offer and follow up."
        ),
    )


# --- the offline engine -----------------------------------------------------------------


def _offline_tool_answer(turn: Turn, intent: str) -> str:
    numbers = order_numbers_extract(turn.text)
    if not numbers:
        return ""
    tools = _tools(turn.profile).filter(offline_intent=intent).exclude(offline_answer="")
    for tool in tools:
        properties = list((tool.input_schema or {}).get("properties", {}))
        argument = next((name for name in properties if "order" in name), None)
        if argument is None and properties:
            argument = properties[0]
        result = tool_call(tool, {argument: numbers[0]} if argument else {})
        turn.tool_results.append(result)
        if result.ok and (answer := tool_answer(tool.offline_answer, result)):
            return answer
    return ""


def _offline_answer(turn: Turn, understood: Understanding) -> tuple[str, str]:
    """(outcome, text) of the offline engine: a tool's answer, a strong passage, or ""."""
    tool_intent = understood.intent in ("logistics", "order_status")
    if tool_intent and (answer := _offline_tool_answer(turn, understood.intent)):
        return RunOutcome.ANSWERED, answer
    best = max(turn.hits, key=lambda hit: hit.strength, default=None)
    if best is not None and best.strength >= OFFLINE_STRENGTH:
        turn.cited = [best]
        return RunOutcome.ANSWERED, best.text
    return "", ""


# --- the model --------------------------------------------------------------------------


class _Draft:
    """Streams an answer into the widget and the console while it is written, and stops
    reading the moment the conversation is handed over."""

    def __init__(self, turn: Turn, streams: bool):
        self.turn = turn
        self.streams = streams
        self.text = ""
        self.shown = ""
        self.last_push = 0.0
        self.last_check = 0.0

    def __call__(self, delta: str) -> bool:
        self.text += delta
        now = time.monotonic()
        if now - self.last_check >= DRAFT_INTERVAL:
            self.last_check = now
            if ai_stopped(self.turn.conversation.pk):
                return False
        if _forbidden(self.turn.profile, self.text) or prompts.prompt_leaks(self.text):
            return False
        visible = prompts.without_citations(self.text)
        # Nothing is shown until it is clear the model is not declining (NO_ANSWER, CLARIFY).
        if (
            self.streams
            and len(visible) > len(prompts.NO_ANSWER)
            and not visible.startswith((prompts.NO_ANSWER, prompts.CLARIFY))
            and now - self.last_push >= DRAFT_INTERVAL
        ):
            self.last_push = now
            self.shown = visible
            realtime.push_ai_draft(self.turn.conversation, text=visible, state="writing")
        return True


def _streams(conversation: Conversation, profile: AiProfile) -> bool:
    """Only the website widget shows a reply while it is written; messaging apps get the
    finished message."""
    return (
        profile.stream
        and conversation.identity_id is not None
        and channel_kind(conversation) == "web"  # the website widget
    )


def _model_answer(turn: Turn, understood: Understanding, history: list[dict], mask, unmask):
    """(outcome, text) from the model, calling tools as it asks. Raises ProviderError."""
    tools = list(_tools(turn.profile))
    by_name = {tool.name: tool for tool in tools}
    messages = [
        {
            "role": "system",
            "content": prompts.system_prompt(
                turn.profile, language=understood.language, has_tools=bool(tools)
            ),
        },
        {"role": "system", "content": mask(prompts.sources_message(turn.hits))},
        *history,
    ]
    draft = _Draft(turn, _streams(turn.conversation, turn.profile))
    result: ChatResult | None = None
    for _round in range(TOOL_ROUNDS + 1):
        draft.text = ""
        result = chat(
            turn.provider,
            messages,
            tools=[tool_schema(tool) for tool in tools] or None,
            on_delta=draft,
        )
        turn.usage.add(result.usage)
        if result.finish_reason == "cancelled" or not result.tool_calls:
            break
        messages.append(
            {
                "role": "assistant",
                "content": result.text or None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {
                            "name": call.name,
                            "arguments": json.dumps(call.arguments, ensure_ascii=False),
                        },
                    }
                    for call in result.tool_calls
                ],
            }
        )
        for call in result.tool_calls:
            tool = by_name.get(call.name)
            if tool is None:
                outcome = ToolResult(call.name, call.arguments, ok=False, error="unknown tool")
            else:
                outcome = tool_call(tool, {k: unmask(v) for k, v in call.arguments.items()})
            turn.tool_results.append(outcome)
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": mask(outcome.for_model())}
            )
    if result.finish_reason == "cancelled":
        if draft.shown:
            realtime.push_ai_draft(turn.conversation, text="", state="discarded")
        if ai_stopped(turn.conversation.pk):
            return RunOutcome.SKIPPED, ""
        return "", ""  # a forbidden phrase or the rules coming out: not sent
    text = unmask(result.text.strip())
    if text.startswith(prompts.NO_ANSWER) or not text:
        return "", ""
    if text.startswith(prompts.CLARIFY):
        question = text[len(prompts.CLARIFY) :].strip()
        return (RunOutcome.CLARIFIED, question) if question else ("", "")
    if _forbidden(turn.profile, text) or prompts.prompt_leaks(text):
        return "", ""
    turn.cited = prompts.citations_in(text, turn.hits)
    grounded = bool(turn.cited) or any(r.ok for r in turn.tool_results)
    if turn.profile.knowledge_only and not grounded and understood.intent not in SMALL_TALK:
        return "", ""
    return RunOutcome.ANSWERED, prompts.without_citations(text)


# --- the turn ---------------------------------------------------------------------------


def _region(conversation: Conversation) -> str:
    """Where a phone number written without a country code is read."""
    return conversation.customer.country or settings.PHONE_DEFAULT_REGION


def _masking(turn: Turn):
    """(mask, unmask) for text sent to the provider: the customer's phone numbers, emails,
    ID and card numbers become placeholders when the profile asks for it, the same value
    keeping one placeholder across the conversation."""
    if not turn.profile.mask_pii or turn.provider is None:
        return (lambda text: text), (lambda text: text)
    mapping: dict[str, str] = {}
    region = _region(turn.conversation)

    def mask(text: str) -> str:
        masked, known = pii_mask(text, default_region=region, mapping=mapping)
        mapping.update(known)
        return masked

    def unmask(value):
        return pii_unmask(value, mapping) if isinstance(value, str) else value

    return mask, unmask


def _record(turn: Turn, understood: Understanding | None, outcome: str, **fields) -> AgentRun:
    return AgentRun.objects.create(
        conversation=turn.conversation,
        message=turn.messages[-1],
        profile=turn.profile,
        engine=turn.engine,
        model=turn.provider.model if turn.provider else "",
        outcome=outcome,
        intent=understood.intent if understood else "",
        emotion=understood.emotion if understood else None,
        language=understood.language if understood else "",
        citations=[hit.citation() for hit in turn.cited],
        tool_calls=[result.as_log() for result in turn.tool_results],
        prompt_tokens=turn.usage.prompt_tokens,
        completion_tokens=turn.usage.completion_tokens,
        cost=turn.usage.cost(turn.provider) if turn.provider else 0,
        latency_ms=int((time.monotonic() - turn.started) * 1000),
        error=turn.error[:2000],
        **fields,
    )


def _send(turn: Turn, text: str, *, outcome: str, language: str, run: AgentRun) -> Message | None:
    """Stores the reply, unless the conversation left the AI meanwhile (checked under the
    conversation's row lock, so a takeover either comes before it or sees it)."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update(no_key=True).get(
            pk=turn.conversation.pk
        )
        fresh_state = AiConversation.objects.get(pk=turn.state.pk)
        if conversation.handler != Handler.AI or fresh_state.handed_off_at is not None:
            return None
        body = _with_sources(turn.profile, text, turn.cited, language)
        message, _created = message_send_ai(
            conversation=conversation,
            body=body,
            client_id=f"ai-run-{run.pk}",
            content={
                "ai": {
                    "profile": turn.profile.name,
                    "engine": turn.engine,
                    "model": turn.provider.model if turn.provider else "",
                    "run": run.pk,
                    "outcome": outcome,
                    "citations": [hit.citation() for hit in turn.cited],
                    "tools": [result.tool for result in turn.tool_results],
                    "label": turn.profile.label_replies,
                }
            },
        )
        AgentRun.objects.filter(pk=run.pk).update(reply=message)
        run.reply = message
    return message


def _mark(run: AgentRun, outcome: str, **fields) -> AgentRun:
    """Corrects the outcome of a recorded run (the turn ended otherwise than planned)."""
    for name, value in {"outcome": outcome, **fields}.items():
        setattr(run, name, value)
    run.save(update_fields=["outcome", *fields])
    return run


def _hand_over(
    turn: Turn,
    understood: Understanding | None,
    reason: str,
    language: str,
    run: AgentRun | None = None,
) -> AgentRun:
    if run is None:
        run = _record(turn, understood, RunOutcome.HANDED_OFF, handoff_reason=reason)
    else:
        _mark(run, RunOutcome.HANDED_OFF, handoff_reason=reason)
    summary = handoff_summary(
        conversation=turn.conversation, reason=reason, understood=understood, turn=turn
    )
    handed = ai_handoff(
        conversation=turn.conversation, reason=reason, summary=summary, language=language
    )
    # Nothing to hand over: an agent took the conversation meanwhile.
    return run if handed else _mark(run, RunOutcome.SKIPPED)


def ai_respond(conversation_id: int) -> AgentRun | None:
    """One turn on the conversation's unanswered customer messages (None: nothing to do)."""
    state = (
        AiConversation.objects.select_related(
            "profile", "conversation__inbox", "conversation__customer"
        )
        .filter(conversation_id=conversation_id, handed_off_at__isnull=True)
        .first()
    )
    if state is None or state.conversation.handler != Handler.AI or not state.profile.is_active:
        return None
    conversation = state.conversation
    recent = _recent(conversation)
    pending = _unanswered(recent)
    if not pending:
        return None
    turn = Turn(
        conversation=conversation,
        state=state,
        profile=state.profile,
        messages=pending,
        provider=chat_provider(state.profile),
    )
    mask, unmask = _masking(turn)
    history = _history(recent, mask)
    understood = _understand(turn, history)
    language = customer_language(conversation, understood.language)
    region = _region(conversation)
    contacts_store(
        conversation=conversation, details=contacts_extract(turn.text, default_region=region)
    )
    if reason := _handoff_reason(turn, understood):
        return _hand_over(turn, understood, reason, language)
    if understood.refused_topic or _refused_offline(turn.profile, turn.text):
        run = _record(turn, understood, RunOutcome.ANSWERED)
        _send(turn, _refusal(language), outcome=RunOutcome.ANSWERED, language=language, run=run)
        return run
    question = understood.intent not in SMALL_TALK
    if question:
        retrieval = knowledge_search(turn.profile, turn.text)
        turn.hits = retrieval.hits
        turn.usage.add(retrieval.usage)
    if turn.provider is not None:
        try:
            outcome, text = _model_answer(turn, understood, history, mask, unmask)
        except ProviderError as error:
            turn.error = str(error)
            return _hand_over(turn, understood, HandoffReason.PROVIDER, language)
        if outcome == RunOutcome.SKIPPED:
            return _record(turn, understood, RunOutcome.SKIPPED)
    elif not question:
        outcome, text = RunOutcome.ANSWERED, _small_talk(understood.intent, language, turn.profile)
    else:
        outcome, text = _offline_answer(turn, understood)
    if not outcome:
        # No grounded answer: ask once (or as often as the profile allows), then hand over.
        failed = state.failed_attempts + 1
        AiConversation.objects.filter(pk=state.pk).update(failed_attempts=failed)
        if failed >= max(turn.profile.max_failed_attempts, 1):
            reason = HandoffReason.NO_ANSWER if failed == 1 else HandoffReason.ATTEMPTS
            return _hand_over(turn, understood, reason, language)
        outcome, text = RunOutcome.CLARIFIED, _clarifying_question(language)
    if outcome == RunOutcome.ANSWERED and (ask := _lead_question(turn, understood, language)):
        text = f"{text}\n\n{ask}"
    run = _record(turn, understood, outcome)
    try:
        sent = _send(turn, text, outcome=outcome, language=language, run=run)
    except ReplyBlocked as blocked:
        _mark(run, run.outcome, error=f"reply blocked: {blocked.code}")
        return _hand_over(turn, understood, HandoffReason.PROVIDER, language, run=run)
    if sent is None:  # the conversation left the AI while it wrote: nothing was sent
        return _mark(run, RunOutcome.SKIPPED)
    if outcome == RunOutcome.ANSWERED and question:
        AiConversation.objects.filter(pk=state.pk).update(failed_attempts=0)
    return run


def ai_respond_all(conversation_id: int, *, turns: int = 3) -> list[AgentRun]:
    """Turns until nothing is left unanswered (a message that arrived while the AI was
    writing is answered next), at most `turns`."""
    runs = []
    for _turn in range(turns):
        run = ai_respond(conversation_id)
        if run is None:
            break
        runs.append(run)
        if run.outcome in (RunOutcome.HANDED_OFF, RunOutcome.SKIPPED):
            break
    return runs
