"""The AI agent's evaluation (`manage.py ai_eval`): a labelled set of conversations is
replayed through the real pipeline (`ai_respond`), and what it decided is scored against
what a person labelled: intent, emotion, handover, and whether answers cite the right
document and say only what the cited passages say.

Each engine runs in a throwaway world (an inbox with a web channel, a knowledge base
ingested from the set's documents, a profile with a new profile's defaults) built inside
a transaction that is rolled back, so the database is left as it was found. The model
engine talks to a local fake OpenAI-compatible server whose answers are scripted: its
figures measure the pipeline's decisions around those answers, never a real model."""

import json
import math
import re
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from customers.enums import IdentityKind
from customers.models import Customer, Identity
from inbox.enums import Handler, MessageDirection, SenderType
from inbox.models import Conversation, Inbox
from inbox.services.messages import message_append

from .enums import DocumentStatus, Engine, HandoffReason, RunOutcome, Skill
from .fake_provider import FakeOpenAI, FakeReply
from .knowledge.ingest import document_ingest
from .knowledge.retrieval import IS_CJK, terms
from .models import AgentRun, AiProfile, KnowledgeBase, KnowledgeChunk, KnowledgeDocument
from .offline.emotion import NEGATIVE_BELOW, POSITIVE_ABOVE
from .offline.intent import INTENTS
from .services import prompts
from .services.handoff import ai_first_line
from .services.pipeline import SMALL_TALK, ai_respond

ENGINES = (Engine.OFFLINE, Engine.MODEL)
CASES_FILE = "cases.json"
KNOWLEDGE_DIR = "knowledge"
EMOTIONS = ("negative", "neutral", "positive")
# What a labelled handover reason accepts from the pipeline: "no_answer" is the first
# unanswered question or the last of several (the profile's limit).
HANDOFF_REASONS = {
    "asked": {HandoffReason.ASKED},
    "emotion": {HandoffReason.EMOTION},
    "no_answer": {HandoffReason.NO_ANSWER, HandoffReason.ATTEMPTS},
}
# A sentence is grounded when this share of its words, and all its numbers, are in the
# passages it cites.
GROUNDED_TERMS = 0.6
NUMBER = re.compile(r"\d+(?:[.:]\d+)?")
SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*|\n+")
EVAL_MODEL = "eval-model"
# Blanks whatever provider the installation configured (override_settings is Django's
# tool for exactly this, tests or not).
NO_PROVIDER = {
    "AI_BASE_URL": "",
    "AI_MODEL": "",
    "AI_API_KEY": "",
    "AI_EMBEDDING_MODEL": "",
    "AI_EMBEDDING_BASE_URL": "",
    "AI_EMBEDDING_API_KEY": "",
}
EVAL_EMBEDDING_MODEL = "eval-embedding"
# Per million tokens, about a small hosted model's, so that cost is reported at all.
INPUT_PRICE = Decimal("0.15")
OUTPUT_PRICE = Decimal("0.60")
# The scripted model's reading of a turn without a scripted one, from its labels.
ORACLE_EMOTION = {"positive": 0.5, "neutral": 0.0, "negative": -0.4}
ORACLE_ANGER = -0.75  # a negative turn labelled to hand over for emotion
SMALL_TALK_REPLIES = {
    "greeting": ("Hello! How can I help you today?", "您好！请问有什么可以帮您？"),
    "thanks": ("You're welcome!", "不客气！"),
    "goodbye": ("Goodbye, have a nice day!", "再见，祝您愉快！"),
}
SOURCE_BLOCK = re.compile(r'<source id="(\d+)" title="([^"]*)">\n(.*?)\n</source>', re.S)
ANSWER_PREFIX = "\nA: "
SCRIPT_MARKER = re.compile(r"\[\[([^\]]+)\]\]")
CAVEATS = {
    Engine.OFFLINE: "Offline engine: rules and full-text retrieval, no model.",
    Engine.MODEL: (
        "Scripted model (a local fake server): unscripted turns get a reading built from "
        "their labels and an answer from the labelled document when retrieval gave it; "
        "the figures measure the pipeline's decisions around these outputs (retrieval, "
        "handover, citations, guardrails), not a real model's quality. Tokens are the "
        "fake server's estimate (characters / 4)."
    ),
}


class DatasetError(ValueError):
    """The labelled set is malformed; the message names the case and the turn."""


class EvaluationError(RuntimeError):
    """The throwaway world could not be built (a document failed to ingest…)."""


# --- the labelled set --------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    document: str  # the file name in the set's knowledge folder
    passages: tuple[str, ...]  # the cited passage must contain one of these (none: any)

    def in_text(self, text: str) -> bool:
        return not self.passages or any(passage in text for passage in self.passages)


@dataclass(frozen=True)
class LabelledTurn:
    text: str
    intent: str
    emotion: str
    handoff: str  # "" or a key of HANDOFF_REASONS
    source: Source | None  # None: the knowledge base does not answer it
    analysis: dict | str | None = None  # the scripted model's reading (a str is sent as is)
    answer: str | None = None  # the scripted model's answer ([[document]] cites it)
    note: str = ""

    @property
    def scripted(self) -> bool:
        return self.analysis is not None or self.answer is not None


@dataclass(frozen=True)
class Case:
    id: str
    language: str
    tags: tuple[str, ...]
    turns: tuple[LabelledTurn, ...]


@dataclass(frozen=True)
class Dataset:
    directory: Path
    cases: tuple[Case, ...]
    documents: tuple[Path, ...]

    @property
    def turns(self) -> int:
        return sum(len(case.turns) for case in self.cases)


def _turn_load(raw: dict, where: str, documents: dict[str, str]) -> LabelledTurn:
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DatasetError(f"{where}: text is missing")
    if raw.get("intent") not in INTENTS:
        raise DatasetError(f"{where}: intent {raw.get('intent')!r} is not one of {INTENTS}")
    if raw.get("emotion") not in EMOTIONS:
        raise DatasetError(f"{where}: emotion {raw.get('emotion')!r} is not one of {EMOTIONS}")
    handoff = raw.get("handoff") or ""
    if handoff and handoff not in HANDOFF_REASONS:
        raise DatasetError(f"{where}: handoff {handoff!r} is not one of {list(HANDOFF_REASONS)}")
    source = None
    if raw.get("source"):
        name = raw["source"].get("document", "")
        if name not in documents:
            raise DatasetError(f"{where}: no document {name!r} in {KNOWLEDGE_DIR}/")
        passages = raw["source"].get("passage") or ()
        passages = (passages,) if isinstance(passages, str) else tuple(passages)
        for passage in passages:
            if passage not in documents[name]:
                raise DatasetError(f"{where}: {name} does not contain {passage!r}")
        source = Source(name, passages)
    model = raw.get("model") or {}
    return LabelledTurn(
        text=text,
        intent=raw["intent"],
        emotion=raw["emotion"],
        handoff=handoff,
        source=source,
        analysis=model.get("analysis"),
        answer=model.get("answer"),
        note=raw.get("note", ""),
    )


def dataset_load(directory: Path) -> Dataset:
    """The labelled set in `directory` (cases.json and a knowledge/ folder), checked: every
    label is one the pipeline can produce and every labelled passage is in its document."""
    directory = Path(directory)
    documents = sorted(path for path in (directory / KNOWLEDGE_DIR).glob("*") if path.is_file())
    if not documents:
        raise DatasetError(f"{directory / KNOWLEDGE_DIR} holds no documents")
    texts = {path.name: path.read_text(encoding="utf-8") for path in documents}
    try:
        raw = json.loads((directory / CASES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DatasetError(f"{directory / CASES_FILE}: {error}") from None
    cases = []
    seen = set()
    for number, item in enumerate(raw.get("cases", []), 1):
        case_id = item.get("id") or f"#{number}"
        if case_id in seen:
            raise DatasetError(f"case {case_id}: the id is used twice")
        seen.add(case_id)
        turns = item.get("turns") or []
        if not 1 <= len(turns) <= 4:
            raise DatasetError(f"case {case_id}: a case has 1 to 4 customer turns")
        cases.append(
            Case(
                id=case_id,
                language=item.get("language", ""),
                tags=tuple(item.get("tags", ())),
                turns=tuple(
                    _turn_load(turn, f"case {case_id}, turn {index}", texts)
                    for index, turn in enumerate(turns, 1)
                ),
            )
        )
    if not cases:
        raise DatasetError(f"{directory / CASES_FILE} holds no cases")
    return Dataset(directory=directory, cases=tuple(cases), documents=tuple(documents))


# --- the scripted model ------------------------------------------------------------------


def _language(text: str) -> str:
    return "zh" if IS_CJK.search(text) else "en"


def _sources(message: str) -> list[tuple[int, str, str]]:
    """(number, title, body) of each <source> block of the pipeline's sources message."""
    return [(int(m[1]), m[2], m[3]) for m in SOURCE_BLOCK.finditer(message)]


def _source_find(sources: list[tuple[int, str, str]], document: str, passages: Sequence[str]):
    """The first (number, title, body) from `document` holding one of `passages`, or None."""
    for source in sources:
        _number, title, body = source
        from_document = title == document or title.startswith(f"{document} / ")
        if from_document and (not passages or any(passage in body for passage in passages)):
            return source
    return None


class ScriptedModel:
    """The fake server's responder in model mode: it answers the classification and the
    answer requests of the turn being replayed (`turn`), as scripted by the case, else as
    a careful model would: a reading that agrees with the labels, and an answer quoting the
    labelled document's passage when retrieval put it among the sources, citing its
    number, or NO_ANSWER (small talk gets a short reply)."""

    def __init__(self) -> None:
        self.turn: LabelledTurn | None = None

    def __call__(self, request: dict) -> FakeReply:
        turn = self.turn
        if turn is None:
            return FakeReply(text=prompts.NO_ANSWER)
        if "response_format" in request:
            return FakeReply(text=self._analysis(turn))
        return FakeReply(text=self._answer(turn, request.get("messages", [])))

    def _analysis(self, turn: LabelledTurn) -> str:
        if isinstance(turn.analysis, str):
            return turn.analysis
        if turn.analysis is not None:
            return json.dumps(turn.analysis, ensure_ascii=False)
        anger = turn.emotion == "negative" and turn.handoff == "emotion"
        reading = {
            "intent": turn.intent,
            "emotion": ORACLE_ANGER if anger else ORACLE_EMOTION[turn.emotion],
            "wants_human": turn.handoff == "asked",
            "language": _language(turn.text),
        }
        return json.dumps(reading)

    def _answer(self, turn: LabelledTurn, messages: list[dict]) -> str:
        system = [m.get("content") or "" for m in messages if m.get("role") == "system"]
        sources = _sources(system[1]) if len(system) > 1 else []
        if turn.answer is not None:
            return SCRIPT_MARKER.sub(
                lambda m: self._marker(m[1], turn, system, sources), turn.answer
            )
        if turn.intent in SMALL_TALK:
            english, chinese = SMALL_TALK_REPLIES[turn.intent]
            return chinese if _language(turn.text) == "zh" else english
        found = turn.source and _source_find(sources, turn.source.document, turn.source.passages)
        if found:
            number, _title, body = found
            # An FAQ source reads "Q: …\nA: …": the answer is what is quoted.
            return f"{body.partition(ANSWER_PREFIX)[2] or body} [{number}]"
        return prompts.NO_ANSWER

    @staticmethod
    def _marker(name: str, turn: LabelledTurn, system: list[str], sources) -> str:
        if name == "rules":  # a model coaxed into reciting its instructions
            return " ".join(system[0].splitlines()[2:6]) if system else ""
        passages = turn.source.passages if turn.source and turn.source.document == name else ()
        found = _source_find(sources, name, passages)
        # A model cannot cite what it was not given: the claim stays, unsourced.
        return f"[{found[0]}]" if found else ""


# --- one engine's replay -----------------------------------------------------------------


@dataclass
class TurnResult:
    case: str
    turn: int  # 1-based
    text: str
    expected_intent: str
    expected_emotion: str
    expected_handoff: str
    expected_document: str
    scripted: bool
    ran: bool = False  # False: the AI no longer held the conversation (an earlier handover)
    intent: str = ""
    emotion: float | None = None
    outcome: str = ""
    handoff_reason: str = ""
    reply: str = ""  # what the customer was sent (not a handover's notice)
    cited: list[str] = field(default_factory=list)  # document titles
    answer_found: bool = False  # cited the labelled document's passage
    grounded: bool | None = None  # None: not an answer with citations
    leaked: bool = False  # the reply recites the rules
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)

    @property
    def emotion_label(self) -> str:
        return emotion_label(self.emotion) if self.emotion is not None else ""


def emotion_label(score: float) -> str:
    """The bands of ai_agent.offline.emotion: negative at -0.2 or below, positive at 0.2
    or above."""
    if score <= NEGATIVE_BELOW:
        return "negative"
    return "positive" if score >= POSITIVE_ABOVE else "neutral"


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in SENTENCE_END.split(text) if part and part.strip()]


def answer_grounded(answer: str, sources: Sequence[str]) -> bool:
    """Whether every sentence of `answer` is backed by `sources`: at least GROUNDED_TERMS
    of its words (retrieval's terms: Latin words, CJK bigrams) and all its numbers occur
    in them."""
    known_terms: set[str] = set()
    known_numbers: set[str] = set()
    for source in sources:
        known_numbers.update(NUMBER.findall(source))
        for sentence in _sentences(source):  # terms() keeps at most 40 a text
            known_terms.update(terms(sentence))
    for sentence in _sentences(answer):
        words = terms(sentence)
        if words and sum(word in known_terms for word in words) / len(words) < GROUNDED_TERMS:
            return False
        if any(number not in known_numbers for number in NUMBER.findall(sentence)):
            return False
    return True


def _turn_result(case: Case, index: int, turn: LabelledTurn, run: AgentRun | None, elapsed):
    result = TurnResult(
        case=case.id,
        turn=index,
        text=turn.text,
        expected_intent=turn.intent,
        expected_emotion=turn.emotion,
        expected_handoff=turn.handoff,
        expected_document=turn.source.document if turn.source else "",
        scripted=turn.scripted,
        latency_ms=round(elapsed * 1000, 1),
    )
    if run is None:
        return result
    result.ran = True
    result.intent = run.intent
    result.emotion = run.emotion
    result.outcome = run.outcome
    result.handoff_reason = run.handoff_reason
    result.prompt_tokens = run.prompt_tokens
    result.completion_tokens = run.completion_tokens
    result.cost = run.cost
    chunk_ids = [citation["chunk"] for citation in run.citations]
    chunks = KnowledgeChunk.objects.select_related("document").in_bulk(chunk_ids)
    cited = [chunks[pk] for pk in chunk_ids if pk in chunks]
    result.cited = list(dict.fromkeys(chunk.document.title for chunk in cited))
    if turn.source:
        result.answer_found = run.outcome == RunOutcome.ANSWERED and any(
            chunk.document.title == turn.source.document and turn.source.in_text(chunk.search_text)
            for chunk in cited
        )
    result.reply = run.reply.body if run.reply_id else ""
    result.leaked = bool(result.reply) and prompts.prompt_leaks(result.reply)
    if run.outcome == RunOutcome.ANSWERED and cited and result.reply:
        result.grounded = answer_grounded(result.reply, [chunk.search_text for chunk in cited])
    return result


def _world_build(dataset: Dataset, *, base_url: str, stored: list[str]) -> Inbox:
    """An inbox with a website channel (so answers stream as in the widget), a knowledge
    base of the set's documents ingested now, and a profile serving it with a new
    profile's defaults (emotion threshold, two unanswered questions, answers only from
    the knowledge base). Names carry a random token: the real database may hold any others."""
    token = uuid.uuid4().hex[:8]
    inbox = Inbox.objects.create(name=f"AI evaluation {token}")
    # The channels app is above ours in the import order; the evaluation only needs a row.
    channel_model = apps.get_model("channels_app", "ChannelAccount")
    channel_model.objects.create(kind="web", name=f"AI evaluation {token}", inbox=inbox)
    base = KnowledgeBase.objects.create(name=f"AI evaluation {token}")
    for path in dataset.documents:
        document = KnowledgeDocument(knowledge_base=base, title=path.name, filename=path.name)
        document.file.save(path.name, ContentFile(path.read_bytes()), save=False)
        stored.append(document.file.name)
        document.save()
        document = document_ingest(document)
        if document.status != DocumentStatus.READY:
            raise EvaluationError(f"{path.name} was not ingested: {document.error}")
    profile = AiProfile.objects.create(
        name="Evaluation",
        # Not pre-sales: that skill appends a fixed request for contact details to answers,
        # which is no claim of the knowledge base and would blur the grounding figure.
        skills=[Skill.AFTERSALES],
        base_url=base_url,
        model=EVAL_MODEL if base_url else "",
        api_key="eval" if base_url else "",
        input_price_per_million=INPUT_PRICE,
        output_price_per_million=OUTPUT_PRICE,
    )
    profile.inboxes.set([inbox])
    profile.knowledge_bases.set([base])
    return inbox


def _case_replay(case: Case, inbox: Inbox, model: ScriptedModel | None) -> list[TurnResult]:
    """The case's customer turns, one at a time, each followed by the AI's turn (called
    directly: the on-commit task never fires in a transaction that is rolled back)."""
    customer = Customer.objects.create(display_name=f"Evaluation {case.id}")
    identity = Identity.objects.create(
        customer=customer, kind=IdentityKind.WEB_VISITOR, value=f"ai-eval-{uuid.uuid4().hex}"
    )
    conversation = Conversation.objects.create(
        inbox=inbox, customer=customer, identity=identity, handler=Handler.AI
    )
    if not ai_first_line(conversation, timezone.now()):
        raise EvaluationError("the evaluation profile did not take the conversation")
    results = []
    for index, turn in enumerate(case.turns, 1):
        message_append(
            conversation=conversation,
            direction=MessageDirection.INBOUND,
            sender_type=SenderType.CUSTOMER,
            body=turn.text,
        )
        if model is not None:
            model.turn = turn
        started = time.perf_counter()
        run = ai_respond(conversation.pk)
        elapsed = time.perf_counter() - started
        results.append(_turn_result(case, index, turn, run, elapsed))
    return results


@contextmanager
def _provider(engine: str) -> Iterator[tuple[str, ScriptedModel | None]]:
    """(base URL, scripted model) for the engine. The AI_* settings are blanked whatever
    the installation configured, so no real provider is ever called; the model engine's
    embeddings come from the fake server too (hashed word features), as an installation
    with a model would have some."""
    if engine == Engine.OFFLINE:
        with override_settings(**NO_PROVIDER):
            yield "", None
        return
    model = ScriptedModel()
    with FakeOpenAI(responder=model) as fake:
        embeddings = {
            "AI_EMBEDDING_MODEL": EVAL_EMBEDDING_MODEL,
            "AI_EMBEDDING_BASE_URL": fake.url,
            "AI_EMBEDDING_API_KEY": "eval",
        }
        with override_settings(**{**NO_PROVIDER, **embeddings}):
            yield fake.url, model


def engine_replay(dataset: Dataset, engine: str) -> list[TurnResult]:
    """Every case through the pipeline with `engine`, in a transaction rolled back at the
    end; the knowledge files it stored are deleted too."""
    stored: list[str] = []
    try:
        with _provider(engine) as (base_url, model), transaction.atomic():
            inbox = _world_build(dataset, base_url=base_url, stored=stored)
            results = [
                result for case in dataset.cases for result in _case_replay(case, inbox, model)
            ]
            transaction.set_rollback(True)
    finally:
        for name in stored:
            default_storage.delete(name)
    return results


# --- scores ------------------------------------------------------------------------------


@dataclass
class Ratio:
    hits: int
    total: int
    value: float | None = field(init=False)  # None when there is nothing to count

    def __post_init__(self) -> None:
        self.value = round(self.hits / self.total, 4) if self.total else None


def _ratio(pairs) -> Ratio:
    """Ratio of (hit, counted) pairs: how many counted ones were hits."""
    counted = [hit for hit, included in pairs if included]
    return Ratio(sum(counted), len(counted))


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1) of `values`; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class EngineReport:
    engine: str
    caveat: str
    turns: int  # labelled turns
    runs: int  # turns the AI took (not those after it handed the conversation over)
    scripted_turns: int  # turns whose model output the case scripts (model engine)
    outcomes: dict[str, int]
    intent_accuracy: Ratio
    emotion_accuracy: Ratio  # three labels
    negative_precision: Ratio
    negative_recall: Ratio
    handoff_precision: Ratio
    handoff_recall: Ratio
    handoff_reasons: dict[str, int]  # "expected -> got", where either is a handover
    grounding: Ratio  # answers with citations that say only what the citations say
    answer_recall: Ratio  # answerable turns answered citing the labelled passage
    answer_precision: Ratio  # answers with citations that cite the labelled passage
    leaks: int  # replies that recite the rules
    latency_p50_ms: float
    latency_p95_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    results: list[TurnResult]


def engine_report(engine: str, results: list[TurnResult]) -> EngineReport:
    """The scores of one engine's replay. Turns the AI did not take count only in `turns`
    and `outcomes`."""
    ran = [result for result in results if result.ran]
    handed = [(r.outcome == RunOutcome.HANDED_OFF, bool(r.expected_handoff)) for r in ran]
    negative = [(r.emotion_label == "negative", r.expected_emotion == "negative") for r in ran]
    reasons = Counter(
        f"{r.expected_handoff or '-'} -> {r.handoff_reason or '-'}"
        for r in ran
        if r.expected_handoff or r.outcome == RunOutcome.HANDED_OFF
    )
    cited_answers = [r for r in ran if r.grounded is not None]
    latencies = [r.latency_ms for r in ran]
    return EngineReport(
        engine=engine,
        caveat=CAVEATS[engine],
        turns=len(results),
        runs=len(ran),
        scripted_turns=sum(r.scripted for r in results) if engine == Engine.MODEL else 0,
        outcomes=dict(Counter(r.outcome or "not reached" for r in results)),
        intent_accuracy=_ratio((r.intent == r.expected_intent, True) for r in ran),
        emotion_accuracy=_ratio((r.emotion_label == r.expected_emotion, True) for r in ran),
        negative_precision=_ratio((expected, predicted) for predicted, expected in negative),
        negative_recall=_ratio(negative),
        handoff_precision=_ratio((expected, predicted) for predicted, expected in handed),
        handoff_recall=_ratio(handed),
        handoff_reasons=dict(sorted(reasons.items())),
        grounding=_ratio((bool(r.grounded), True) for r in cited_answers),
        answer_recall=_ratio((r.answer_found, bool(r.expected_document)) for r in ran),
        answer_precision=_ratio((r.answer_found, True) for r in cited_answers),
        leaks=sum(r.leaked for r in ran),
        latency_p50_ms=round(statistics.median(latencies), 1) if latencies else 0.0,
        latency_p95_ms=round(percentile(latencies, 0.95), 1),
        prompt_tokens=sum(r.prompt_tokens for r in ran),
        completion_tokens=sum(r.completion_tokens for r in ran),
        cost=sum((r.cost for r in ran), Decimal(0)),
        results=results,
    )


def handoff_matches(result: TurnResult) -> bool:
    """Whether the turn's handover (or its absence) is the labelled one, reason included."""
    if not result.expected_handoff:
        return result.outcome != RunOutcome.HANDED_OFF
    return result.handoff_reason in HANDOFF_REASONS[result.expected_handoff]


@dataclass
class Evaluation:
    dataset: str
    cases: int
    turns: int
    languages: dict[str, int]
    reports: list[EngineReport]


def ai_evaluate(*, dataset_dir: Path, engines: Sequence[str] = ENGINES) -> Evaluation:
    """Replays the labelled set in `dataset_dir` with each engine and scores it. Raises
    DatasetError for a malformed set, EvaluationError when the world cannot be built."""
    dataset = dataset_load(dataset_dir)
    reports = [engine_report(engine, engine_replay(dataset, engine)) for engine in engines]
    return Evaluation(
        dataset=str(dataset.directory),
        cases=len(dataset.cases),
        turns=dataset.turns,
        languages=dict(Counter(case.language or "?" for case in dataset.cases)),
        reports=reports,
    )
