import datetime

import pytest
from django.utils import timezone

from customers.enums import AttributeType, ChangeAction, IdentityKind, LeadStatus, SuggestionStatus
from customers.models import AttributeDefinition, Customer, CustomerChange, MergeSuggestion
from customers.services import (
    IdentityClaim,
    MergeRefused,
    customer_identities_add,
    customer_merge,
    customer_merge_undo,
    customer_note_add,
    customer_tag_add,
    customer_update,
    merge_suggest,
    merge_suggestion_confirm,
    merge_suggestion_dismiss,
    merge_suggestions_for,
)
from tests.factories.accounts import AgentFactory
from tests.factories.customers import CustomerFactory
from tests.factories.inbox import ConversationFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def state(customer: Customer) -> dict:
    """Everything a merge may touch, as plain data."""
    customer.refresh_from_db()
    fields = {
        f.name: getattr(customer, f.attname)
        for f in Customer._meta.concrete_fields
        if f.name != "updated_at"
    }
    return {
        "fields": fields,
        "tags": sorted(customer.tags.values_list("name", flat=True)),
        "identities": sorted(customer.identities.values_list("kind", "value", "verified")),
        "conversations": sorted(customer.conversations.values_list("pk", flat=True)),
        "notes": sorted(customer.notes.values_list("body", flat=True)),
        "history": sorted(
            customer.changes.exclude(
                action__in=[ChangeAction.MERGED, ChangeAction.SPLIT, ChangeAction.MERGE_CONFLICT]
            ).values_list("pk", flat=True)
        ),
    }


@pytest.fixture
def pair():
    """Two profiles of one person, each with its own identities, conversations, tags, notes,
    attributes and lead data, some of them conflicting."""
    agent = AgentFactory()
    AttributeDefinition.objects.create(key="plan", label="Plan", type=AttributeType.TEXT)
    AttributeDefinition.objects.create(key="orders", label="Orders", type=AttributeType.NUMBER)
    AttributeDefinition.objects.create(key="vip", label="VIP", type=AttributeType.BOOLEAN)
    old = CustomerFactory(
        display_name="Wang Fang",
        language="zh",
        country="CN",
        first_seen_at=NOW - datetime.timedelta(days=30),
        last_seen_at=NOW - datetime.timedelta(days=10),
        first_touch={"channel": "web", "utm_source": "google", "at": "2026-01-01T00:00:00+00:00"},
        last_touch={"channel": "web", "utm_source": "google", "at": "2026-01-01T00:00:00+00:00"},
    )
    new = CustomerFactory(
        display_name="Fang W.",
        timezone="Asia/Shanghai",
        first_seen_at=NOW - datetime.timedelta(days=2),
        last_seen_at=NOW - datetime.timedelta(hours=1),
        lead_status=LeadStatus.QUALIFIED,
        lead_captured_at=NOW - datetime.timedelta(days=2),
        lead_via="prechat",
        lead_channel="web",
        first_touch={"channel": "whatsapp", "ad_id": "ad-7", "at": "2026-06-01T00:00:00+00:00"},
        last_touch={"channel": "whatsapp", "ad_id": "ad-7", "at": "2026-06-01T00:00:00+00:00"},
    )
    customer_update(customer=old, actor=agent, data={"attributes": {"plan": "Gold", "vip": True}})
    customer_update(customer=new, actor=agent, data={"attributes": {"plan": "Silver", "orders": 3}})
    customer_identities_add(
        customer=old, identities=[IdentityClaim(IdentityKind.EMAIL, "fang@example.com")]
    )
    customer_identities_add(
        customer=new,
        identities=[IdentityClaim(IdentityKind.WHATSAPP, "8613800138000", verified=True)],
    )
    customer_tag_add(customer=old, name="vip", actor=agent)
    customer_tag_add(customer=new, name="vip", actor=agent)
    customer_tag_add(customer=new, name="coffee", actor=agent)
    customer_note_add(customer=old, author=agent, body="Prefers email")
    customer_note_add(customer=new, author=agent, body="Asked about beans")
    ConversationFactory(customer=old)
    ConversationFactory(customer=new)
    ConversationFactory(customer=new)
    return {"old": old, "new": new, "agent": agent}


def test_a_merge_moves_everything_and_the_newer_value_wins(pair):
    old, new, agent = pair["old"], pair["new"], pair["agent"]
    record = customer_merge(survivor=old, merged=new, actor=agent, evidence={"reason": "agent"})
    old.refresh_from_db()
    new.refresh_from_db()
    assert new.merged_into_id == old.pk
    assert old.identities.count() == 2
    assert old.conversations.count() == 3
    assert sorted(old.tags.values_list("name", flat=True)) == ["coffee", "vip"]
    assert sorted(old.notes.values_list("body", flat=True)) == [
        "Asked about beans",
        "Prefers email",
    ]
    # `new` was seen more recently: its values win where both have one.
    assert old.display_name == "Fang W."
    assert old.attributes == {"plan": "Silver", "vip": True, "orders": 3}
    # Values only one side had are kept.
    assert (old.language, old.country, old.timezone) == ("zh", "CN", "Asia/Shanghai")
    assert old.lead_status == LeadStatus.QUALIFIED
    # Times and touches: the earliest first, the latest last.
    assert old.first_seen_at == NOW - datetime.timedelta(days=30)
    assert old.last_seen_at == NOW - datetime.timedelta(hours=1)
    assert old.first_touch["utm_source"] == "google"
    assert old.last_touch["ad_id"] == "ad-7"
    # The replaced values stay in history.
    conflicts = {
        c.data["field"]: c.data for c in old.changes.filter(action=ChangeAction.MERGE_CONFLICT)
    }
    assert conflicts["display_name"]["replaced"] == "Wang Fang"
    assert conflicts["attributes.plan"] == {
        "field": "attributes.plan",
        "kept": "Silver",
        "replaced": "Gold",
    }
    assert record.actor == agent and not record.automatic
    assert old.changes.filter(action=ChangeAction.MERGED).exists()


def test_undo_restores_both_customers_exactly(pair):
    old, new, agent = pair["old"], pair["new"], pair["agent"]
    before = {"old": state(old), "new": state(new)}
    record = customer_merge(survivor=old, merged=new, actor=agent)
    assert state(old) != before["old"]
    customer_merge_undo(record=record, actor=agent)
    assert state(old) == before["old"]
    assert state(new) == before["new"]
    record.refresh_from_db()
    assert record.undone_at is not None and record.undone_by == agent
    assert old.changes.filter(action=ChangeAction.SPLIT).exists()
    assert new.changes.filter(action=ChangeAction.SPLIT).exists()


def test_undo_keeps_what_changed_after_the_merge(pair):
    old, new, agent = pair["old"], pair["new"], pair["agent"]
    record = customer_merge(survivor=old, merged=new, actor=agent)
    customer_update(customer=old, actor=agent, data={"display_name": "Fang Wang (edited)"})
    later = ConversationFactory(customer=old)
    customer_merge_undo(record=record, actor=agent)
    old.refresh_from_db()
    assert old.display_name == "Fang Wang (edited)"  # an edit since the merge is not undone
    assert old.attributes == {"plan": "Gold", "vip": True}  # untouched since: restored
    assert later.pk in old.conversations.values_list("pk", flat=True)
    assert new.conversations.count() == 2


def test_merges_are_refused_when_they_make_no_sense(pair):
    old, new, agent = pair["old"], pair["new"], pair["agent"]
    with pytest.raises(MergeRefused):
        customer_merge(survivor=old, merged=old, actor=agent)
    record = customer_merge(survivor=old, merged=new, actor=agent)
    with pytest.raises(MergeRefused):
        customer_merge(survivor=new, merged=old, actor=agent)
    customer_merge_undo(record=record, actor=agent)
    with pytest.raises(MergeRefused, match="already undone"):
        customer_merge_undo(record=record, actor=agent)


def test_an_earlier_merge_is_undone_only_after_a_later_one(pair):
    old, new, agent = pair["old"], pair["new"], pair["agent"]
    first = customer_merge(survivor=old, merged=new, actor=agent)
    third = CustomerFactory()
    second = customer_merge(survivor=third, merged=old, actor=agent)
    with pytest.raises(MergeRefused, match="undo that merge first"):
        customer_merge_undo(record=first, actor=agent)
    customer_merge_undo(record=second, actor=agent)
    customer_merge_undo(record=first, actor=agent)
    assert Customer.objects.active().filter(pk__in=[old.pk, new.pk, third.pk]).count() == 3


def test_a_suggestion_is_confirmed_into_a_merge_that_keeps_the_older_customer(pair):
    old, new, agent = pair["old"], pair["new"], pair["agent"]
    suggestion = merge_suggest(new, old, evidence={"kind": "email", "reason": "unverified_match"})
    assert (suggestion.customer_id, suggestion.other_id) == (old.pk, new.pk)
    assert list(merge_suggestions_for(new)) == [suggestion]
    # Suggesting the same pair again adds nothing.
    assert merge_suggest(old, new, evidence={}) is None
    record = merge_suggestion_confirm(suggestion=suggestion, actor=agent)
    assert record.survivor_id == old.pk and record.evidence["suggestion"] == suggestion.pk
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.MERGED and suggestion.resolved_by == agent
    with pytest.raises(MergeRefused):
        merge_suggestion_confirm(suggestion=suggestion, actor=agent)


def test_a_dismissed_suggestion_stays_dismissed(pair):
    old, new, agent = pair["old"], pair["new"], pair["agent"]
    suggestion = merge_suggest(old, new, evidence={"reason": "unverified_match"})
    merge_suggestion_dismiss(suggestion=suggestion, actor=agent)
    assert merge_suggest(old, new, evidence={}) is None
    assert MergeSuggestion.objects.get().status == SuggestionStatus.DISMISSED
    assert list(merge_suggestions_for(old)) == []
    assert CustomerChange.objects.filter(action=ChangeAction.SUGGESTION_DISMISSED).count() == 2


def test_the_earliest_lead_capture_survives_a_merge(pair):
    old, new, agent = pair["old"], pair["new"], pair["agent"]
    old.lead_captured_at = NOW - datetime.timedelta(days=20)
    old.lead_via = "agent"
    old.lead_channel = "email"
    old.save()
    customer_merge(survivor=new, merged=old, actor=agent)
    new.refresh_from_db()
    assert new.lead_captured_at == NOW - datetime.timedelta(days=20)
    assert (new.lead_via, new.lead_channel) == ("agent", "email")
