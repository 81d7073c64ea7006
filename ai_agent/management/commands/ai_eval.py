import dataclasses
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ai_agent.evaluation import (
    ENGINES,
    DatasetError,
    EngineReport,
    EvaluationError,
    Ratio,
    ai_evaluate,
    handoff_matches,
)

DEFAULT_DATASET = Path(settings.BASE_DIR) / "tests" / "ai_eval"
LABEL_WIDTH = 30
COLUMN_WIDTH = 22


def _ratio(ratio: Ratio) -> str:
    value = "n/a" if ratio.value is None else f"{ratio.value:.2f}"
    return f"{value} ({ratio.hits}/{ratio.total})"


ROWS = (
    ("turns the AI took", lambda r: f"{r.runs}/{r.turns}"),
    ("intent accuracy", lambda r: _ratio(r.intent_accuracy)),
    ("emotion accuracy (3 labels)", lambda r: _ratio(r.emotion_accuracy)),
    ("negative emotion precision", lambda r: _ratio(r.negative_precision)),
    ("negative emotion recall", lambda r: _ratio(r.negative_recall)),
    ("handover precision", lambda r: _ratio(r.handoff_precision)),
    ("handover recall", lambda r: _ratio(r.handoff_recall)),
    ("grounded answers", lambda r: _ratio(r.grounding)),
    ("answer recall", lambda r: _ratio(r.answer_recall)),
    ("answer precision", lambda r: _ratio(r.answer_precision)),
    ("replies reciting the rules", lambda r: str(r.leaks)),
    ("latency p50 / p95 (ms)", lambda r: f"{r.latency_p50_ms:.0f} / {r.latency_p95_ms:.0f}"),
    ("tokens in / out", lambda r: f"{r.prompt_tokens} / {r.completion_tokens}"),
    ("cost (0.15 / 0.60 per 1M)", lambda r: f"{r.cost:.6f}"),
)


class Command(BaseCommand):
    help = (
        "Replay the labelled conversations through the AI pipeline (offline engine and a "
        "scripted fake model) and report intent, emotion, handover, grounding and latency. "
        "Everything runs in a transaction that is rolled back."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--engine", choices=[*ENGINES, "both"], default="both", help="Which engine to run."
        )
        parser.add_argument(
            "--dataset",
            type=Path,
            default=DEFAULT_DATASET,
            help="A folder with cases.json and knowledge/ (default: tests/ai_eval).",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--min-intent-accuracy",
            type=float,
            help="Exit with status 1 when an engine's intent accuracy is below this (0..1).",
        )

    def handle(self, *args, engine: str, dataset: Path, min_intent_accuracy, **options):
        engines = ENGINES if engine == "both" else (engine,)
        try:
            evaluation = ai_evaluate(dataset_dir=dataset, engines=engines)
        except (DatasetError, EvaluationError) as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps(dataclasses.asdict(evaluation), default=str, indent=1))
        else:
            self._table(evaluation, verbose=options["verbosity"] >= 2)
        below = [
            report
            for report in evaluation.reports
            if min_intent_accuracy is not None
            and (report.intent_accuracy.value or 0) < min_intent_accuracy
        ]
        if below:
            scores = ", ".join(f"{r.engine} {_ratio(r.intent_accuracy)}" for r in below)
            raise CommandError(
                f"Intent accuracy below {min_intent_accuracy:.2f}: {scores}", returncode=1
            )

    def _table(self, evaluation, *, verbose: bool) -> None:
        write = self.stdout.write
        languages = ", ".join(f"{name} {count}" for name, count in evaluation.languages.items())
        write(
            f"AI evaluation: {evaluation.cases} cases, {evaluation.turns} customer turns "
            f"({languages}) from {evaluation.dataset}\n"
        )
        reports = evaluation.reports
        write(
            (" " * LABEL_WIDTH + "".join(f"{r.engine:<{COLUMN_WIDTH}}" for r in reports)).rstrip()
        )
        for label, cell in ROWS:
            cells = "".join(f"{cell(report):<{COLUMN_WIDTH}}" for report in reports)
            write(f"{label:<{LABEL_WIDTH}}{cells}".rstrip())
        for report in reports:
            write(f"\n{report.engine}:")
            outcomes = ", ".join(f"{name} {count}" for name, count in report.outcomes.items())
            write(f"  outcomes: {outcomes}")
            reasons = ", ".join(f"{pair} {count}" for pair, count in report.handoff_reasons.items())
            write(f"  handovers (labelled -> pipeline's reason): {reasons or 'none'}")
            if report.scripted_turns:
                write(f"  turns with a scripted model output: {report.scripted_turns}")
            write(f"  note: {report.caveat}")
            if verbose:
                self._misses(report)

    def _misses(self, report: EngineReport) -> None:
        """The turns where the pipeline and the labels disagree, one line each."""
        for result in report.results:
            where = f"    {result.case}#{result.turn}"
            if not result.ran:
                self.stdout.write(f"{where} not reached: {result.text}")
                continue
            found = []
            if result.intent != result.expected_intent:
                found.append(f"intent {result.expected_intent}->{result.intent}")
            if result.emotion_label != result.expected_emotion:
                found.append(
                    f"emotion {result.expected_emotion}->{result.emotion_label} "
                    f"({result.emotion:+.2f})"
                )
            if not handoff_matches(result):
                found.append(
                    f"handover {result.expected_handoff or '-'}->{result.handoff_reason or '-'}"
                )
            if result.expected_document and not result.answer_found:
                found.append(f"no answer from {result.expected_document} ({result.outcome})")
            if result.grounded is False:
                found.append("ungrounded answer")
            if result.expected_document == "" and result.grounded is not None:
                found.append(f"answered though unanswerable ({', '.join(result.cited)})")
            if found:
                self.stdout.write(f"{where} {'; '.join(found)}: {result.text}")
