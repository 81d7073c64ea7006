"""Merging two customers into one, and undoing it exactly.

A merge keeps the merged customer's row (marked `merged_into`) and moves every row that
points at it (identities, conversations, notes, history, and whatever other apps add) to
the kept customer, listing what moved in a `MergeRecord`. Undo moves those rows back and
restores the kept customer's fields that the merge changed and nobody changed since."""

import datetime

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from ..enums import ChangeAction, LeadStatus, SuggestionStatus
from ..models import Customer, MergeRecord, MergeSuggestion
from ..signals import customer_split, customers_merged
from .history import change_record

# Profile fields a merge combines; their before/after values are kept for undo.
SCALAR_FIELDS = ("display_name", "avatar_url", "language", "country", "timezone")
LEAD_FIELDS = ("lead_captured_at", "lead_via", "lead_channel", "lead_source")
MERGE_FIELDS = (
    *SCALAR_FIELDS,
    "lead_status",
    *LEAD_FIELDS,
    "first_touch",
    "last_touch",
    "first_seen_at",
    "last_seen_at",
    "is_blocked",
    "attributes",
)
DATETIME_FIELDS = ("lead_captured_at", "first_seen_at", "last_seen_at")
# Customer relations that describe merges themselves and never move.
NOT_MOVED = {MergeRecord, MergeSuggestion, Customer}


class MergeRefused(Exception):
    """A merge or undo that cannot happen; the message says why."""


def customer_root(customer: Customer) -> Customer:
    """The customer a (possibly merged) customer lives on as now."""
    seen = set()
    while customer.merged_into_id is not None and customer.pk not in seen:
        seen.add(customer.pk)
        customer = Customer.objects.get(pk=customer.merged_into_id)
    return customer


def _snapshot(customer: Customer) -> dict:
    values = {}
    for name in MERGE_FIELDS:
        value = getattr(customer, name)
        if isinstance(value, datetime.datetime):
            value = value.isoformat()
        values[name] = value
    return values


def _restore(customer: Customer, name: str, value) -> None:
    if name in DATETIME_FIELDS and value is not None:
        value = datetime.datetime.fromisoformat(value)
    setattr(customer, name, value)


def _recency(customer: Customer) -> datetime.datetime:
    return customer.last_seen_at or customer.created_at


def _moving_relations():
    """(model, field name) of every many-to-one relation onto Customer that a merge moves."""
    for relation in Customer._meta.related_objects:
        if relation.one_to_many and relation.related_model not in NOT_MOVED:
            yield relation.related_model, relation.field.name


def _combine(survivor: Customer, merged: Customer, actor: User | None) -> None:
    """Sets the survivor's fields to the merged result. Where both have a value, the value
    of the customer seen more recently wins, and the other is written to history."""
    newer, older = (
        (merged, survivor) if _recency(merged) > _recency(survivor) else (survivor, merged)
    )

    def pick(name: str, newer_value, older_value, empty=("",)):
        if newer_value in empty:
            return older_value
        if older_value not in empty and older_value != newer_value:
            change_record(
                survivor,
                ChangeAction.MERGE_CONFLICT,
                actor=actor,
                field=name,
                kept=newer_value,
                replaced=older_value,
            )
        return newer_value

    for name in SCALAR_FIELDS:
        setattr(survivor, name, pick(name, getattr(newer, name), getattr(older, name)))
    survivor.lead_status = pick(
        "lead_status", newer.lead_status, older.lead_status, empty=("", LeadStatus.NONE)
    )
    attributes = dict(older.attributes)
    for key, value in newer.attributes.items():
        attributes[key] = pick(f"attributes.{key}", value, older.attributes.get(key), empty=(None,))
    survivor.attributes = attributes
    # A lead is captured once: the earliest capture is the one that counts.
    captures = [c for c in (survivor, merged) if c.lead_captured_at is not None]
    if captures:
        first = min(captures, key=lambda c: c.lead_captured_at)
        for name in LEAD_FIELDS:
            setattr(survivor, name, getattr(first, name))
    firsts = [c.first_touch for c in (survivor, merged) if c.first_touch]
    survivor.first_touch = min(firsts, key=lambda t: t.get("at", ""), default={})
    lasts = [c.last_touch for c in (survivor, merged) if c.last_touch]
    survivor.last_touch = max(lasts, key=lambda t: t.get("at", ""), default={})
    seen = [c.first_seen_at for c in (survivor, merged) if c.first_seen_at]
    survivor.first_seen_at = min(seen) if seen else None
    seen = [c.last_seen_at for c in (survivor, merged) if c.last_seen_at]
    survivor.last_seen_at = max(seen) if seen else None
    survivor.is_blocked = survivor.is_blocked or merged.is_blocked


def _lock(*customers: Customer) -> list[Customer]:
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[c.pk for c in customers])
        .order_by("pk")
    }
    return [locked[c.pk] for c in customers]


@transaction.atomic
def customer_merge(
    *,
    survivor: Customer,
    merged: Customer,
    actor: User | None = None,
    evidence: dict | None = None,
    automatic: bool = False,
) -> MergeRecord:
    """Moves everything of `merged` onto `survivor` and records how to undo it."""
    survivor, merged = _lock(survivor, merged)
    if survivor.pk == merged.pk:
        raise MergeRefused(_("A customer cannot be merged with themselves."))
    if survivor.merged_into_id or merged.merged_into_id:
        raise MergeRefused(_("One of these customers was already merged into another."))
    before = _snapshot(survivor)
    _combine(survivor, merged, actor)
    survivor.save()

    moved = {}
    for model, field in _moving_relations():
        rows = model._default_manager.filter(**{field: merged})
        pks = list(rows.values_list("pk", flat=True))
        if pks:
            rows.update(**{field: survivor})
            moved[model._meta.label_lower] = {"field": field, "pks": pks}
    tags_added = list(merged.tags.exclude(pk__in=survivor.tags.all()).values_list("pk", flat=True))
    survivor.tags.add(*tags_added)

    merged.merged_into = survivor
    merged.save(update_fields=["merged_into", "updated_at"])
    record = MergeRecord.objects.create(
        survivor=survivor,
        merged=merged,
        actor=actor if actor is not None and actor.pk else None,
        automatic=automatic,
        evidence=evidence or {},
        moved=moved,
        tags_added=tags_added,
        survivor_before=before,
        survivor_after=_snapshot(survivor),
    )
    _pair_suggestions(survivor, merged).filter(status=SuggestionStatus.PENDING).update(
        status=SuggestionStatus.MERGED, resolved_at=timezone.now(), resolved_by=record.actor
    )
    change_record(
        survivor,
        ChangeAction.MERGED,
        actor=actor,
        merge=record.pk,
        merged=merged.pk,
        merged_name=merged.display_name,
        automatic=automatic,
        evidence=record.evidence,
    )
    transaction.on_commit(
        lambda: customers_merged.send(sender=MergeRecord, record=record), robust=True
    )
    return record


@transaction.atomic
def customer_merge_undo(*, record: MergeRecord, actor: User | None) -> MergeRecord:
    """Splits the merged customer off again: moves back what the merge moved (and is still
    on the kept customer), and restores each kept-customer field the merge changed, unless
    someone changed it since. The pair is then kept apart: no automatic merge or suggestion
    joins them again."""
    record = MergeRecord.objects.select_for_update().get(pk=record.pk)
    if record.undone_at is not None:
        raise MergeRefused(_("This merge was already undone."))
    survivor, merged = _lock(record.survivor, record.merged)
    if survivor.merged_into_id is not None:
        raise MergeRefused(
            _("%(customer)s was merged into another customer since; undo that merge first.")
            % {"customer": survivor}
        )
    for label, rows in record.moved.items():
        model = apps.get_model(label)
        model._default_manager.filter(pk__in=rows["pks"], **{rows["field"]: survivor}).update(
            **{rows["field"]: merged}
        )
    survivor.tags.remove(*record.tags_added)

    current = _snapshot(survivor)
    after, before = record.survivor_after, record.survivor_before
    for name in MERGE_FIELDS:
        if name == "attributes":
            continue
        if current[name] == after[name]:
            _restore(survivor, name, before[name])
    attributes = dict(survivor.attributes)
    for key in set(before["attributes"]) | set(after["attributes"]):
        if attributes.get(key) == after["attributes"].get(key):
            if key in before["attributes"]:
                attributes[key] = before["attributes"][key]
            else:
                attributes.pop(key, None)
    survivor.attributes = attributes
    survivor.save()
    merged.merged_into = None
    merged.save(update_fields=["merged_into", "updated_at"])

    record.undone_at = timezone.now()
    record.undone_by = actor if actor is not None and actor.pk else None
    record.save(update_fields=["undone_at", "undone_by"])
    _keep_apart(survivor, merged, actor=actor)
    for customer, other in ((survivor, merged), (merged, survivor)):
        change_record(customer, ChangeAction.SPLIT, actor=actor, merge=record.pk, other=other.pk)
    transaction.on_commit(
        lambda: customer_split.send(sender=MergeRecord, record=record), robust=True
    )
    return record


# --- Suggestions --------------------------------------------------------------------------


def _pair(a: Customer, b: Customer) -> tuple[int, int]:
    return (a.pk, b.pk) if a.pk < b.pk else (b.pk, a.pk)


def _pair_suggestions(a: Customer, b: Customer):
    low, high = _pair(a, b)
    return MergeSuggestion.objects.filter(customer_id=low, other_id=high)


def customers_kept_apart(a: Customer, b: Customer) -> bool:
    """True when an agent dismissed a suggestion for this pair or undid their merge."""
    return _pair_suggestions(a, b).filter(status=SuggestionStatus.DISMISSED).exists()


def _keep_apart(a: Customer, b: Customer, *, actor: User | None) -> None:
    low, high = _pair(a, b)
    MergeSuggestion.objects.update_or_create(
        customer_id=low,
        other_id=high,
        defaults={
            "status": SuggestionStatus.DISMISSED,
            "resolved_at": timezone.now(),
            "resolved_by": actor if actor is not None and actor.pk else None,
        },
        create_defaults={
            "status": SuggestionStatus.DISMISSED,
            "resolved_at": timezone.now(),
            "resolved_by": actor if actor is not None and actor.pk else None,
            "evidence": {"reason": "merge_undone"},
        },
    )


def merge_suggest(a: Customer, b: Customer, *, evidence: dict) -> MergeSuggestion | None:
    """Records that `a` and `b` may be one person, unless that pair was already suggested
    (the first suggestion, and an agent's decision on it, stay)."""
    if a.pk == b.pk:
        return None
    low, high = _pair(a, b)
    try:
        with transaction.atomic():
            suggestion = MergeSuggestion.objects.create(
                customer_id=low, other_id=high, evidence=evidence
            )
    except IntegrityError:
        return None
    for customer, other in ((a, b), (b, a)):
        change_record(customer, ChangeAction.SUGGESTED, other=other.pk, evidence=evidence)
    return suggestion


def merge_suggestions_for(customer: Customer):
    """Pending suggestions involving the customer or anyone merged into them."""
    ids = [customer.pk, *customer.merged_customers.values_list("pk", flat=True)]
    return (
        MergeSuggestion.objects.filter(status=SuggestionStatus.PENDING)
        .filter(Q(customer_id__in=ids) | Q(other_id__in=ids))
        .select_related("customer", "other")
    )


@transaction.atomic
def merge_suggestion_confirm(*, suggestion: MergeSuggestion, actor: User) -> MergeRecord:
    """Merges the suggested pair (as they are now): the older customer is kept."""
    suggestion = MergeSuggestion.objects.select_for_update().get(pk=suggestion.pk)
    if suggestion.status != SuggestionStatus.PENDING:
        raise MergeRefused(_("This suggestion was already handled."))
    first, second = customer_root(suggestion.customer), customer_root(suggestion.other)
    if first.pk == second.pk:
        raise MergeRefused(_("These customers were already merged."))
    survivor, merged = sorted((first, second), key=lambda c: (c.created_at, c.pk))
    record = customer_merge(
        survivor=survivor,
        merged=merged,
        actor=actor,
        evidence={**suggestion.evidence, "suggestion": suggestion.pk},
    )
    MergeSuggestion.objects.filter(pk=suggestion.pk).update(
        status=SuggestionStatus.MERGED, resolved_at=timezone.now(), resolved_by=actor
    )
    return record


@transaction.atomic
def merge_suggestion_dismiss(*, suggestion: MergeSuggestion, actor: User) -> None:
    suggestion = MergeSuggestion.objects.select_for_update().get(pk=suggestion.pk)
    if suggestion.status != SuggestionStatus.PENDING:
        raise MergeRefused(_("This suggestion was already handled."))
    suggestion.status = SuggestionStatus.DISMISSED
    suggestion.resolved_at = timezone.now()
    suggestion.resolved_by = actor
    suggestion.save(update_fields=["status", "resolved_at", "resolved_by"])
    for customer, other in (
        (suggestion.customer, suggestion.other),
        (suggestion.other, suggestion.customer),
    ):
        change_record(customer, ChangeAction.SUGGESTION_DISMISSED, actor=actor, other=other.pk)
