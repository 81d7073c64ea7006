import threading

import pytest
from django.db import connection

from customers.enums import CaptureVia, ChangeAction, IdentityKind, LeadStatus, Verification
from customers.models import Customer, Identity, MergeRecord, MergeSuggestion
from customers.normalization import InvalidIdentity
from customers.services import (
    IdentityClaim,
    customer_identities_add,
    customer_merge_undo,
    customer_resolve,
)
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def whatsapp(number: str) -> list[IdentityClaim]:
    """What a WhatsApp event proves: the WhatsApp id, and the phone number behind it."""
    return [
        IdentityClaim(IdentityKind.WHATSAPP, number, verified=True),
        IdentityClaim(IdentityKind.PHONE, "+" + number, verified=True),
    ]


class Channel:
    """Stands in for a ChannelAccount: resolution reads only its kind and settings."""

    pk = None

    def __init__(self, kind="whatsapp", region=None):
        self.kind = kind
        self.settings = {"default_region": region} if region else {}


def test_a_returning_customer_is_found_in_a_few_queries(django_assert_max_num_queries):
    first = customer_resolve(whatsapp("8613800138000"), channel=Channel())
    # A savepoint, the lock, the identities, their customer (read once for both), the
    # customer locked for its profile, that profile written, the savepoint released. Each
    # identity's owner used to be read again (11 queries), and every column written.
    with django_assert_max_num_queries(7) as captured:
        again = customer_resolve(
            whatsapp("8613800138000"), channel=Channel(), profile={"display_name": "Li"}
        )
    assert again.customer.pk == first.customer.pk and not again.created
    update = next(q["sql"] for q in captured if q["sql"].startswith('UPDATE "customers_customer"'))
    assert '"display_name"' in update and '"uuid"' not in update
    again.customer.refresh_from_db()
    assert again.customer.display_name == "Li" and again.customer.country == "CN"


def test_a_new_person_becomes_one_customer_with_every_identity():
    resolution = customer_resolve(whatsapp("8613800138000"), channel=Channel())
    assert resolution.created
    customer = resolution.customer
    assert {(i.kind, i.value, i.verified) for i in customer.identities.all()} == {
        (IdentityKind.WHATSAPP, "8613800138000", True),
        (IdentityKind.PHONE, "+8613800138000", True),
    }
    assert resolution.identity.kind == IdentityKind.WHATSAPP
    assert customer.country == "CN"  # read from the phone number
    assert customer.first_seen_at and customer.last_seen_at
    assert customer.changes.filter(action=ChangeAction.CREATED).exists()


def test_the_same_person_again_is_found_by_any_identity_in_any_format():
    first = customer_resolve(whatsapp("8613800138000"), channel=Channel()).customer
    again = customer_resolve(
        [IdentityClaim(IdentityKind.PHONE, "138 0013 8000", verified=True)],
        channel=Channel("telegram", region="CN"),
    )
    assert again.customer.pk == first.pk
    assert not again.created
    assert Customer.objects.count() == 1


def test_values_are_normalised_before_matching():
    first = customer_resolve([IdentityClaim(IdentityKind.EMAIL, "Ann@Example.com ")]).customer
    again = customer_resolve([IdentityClaim(IdentityKind.EMAIL, "ann@example.COM")]).customer
    assert again.pk == first.pk
    assert Identity.objects.get().value == "ann@example.com"


def test_an_invalid_value_is_refused_and_nothing_is_stored():
    with pytest.raises(InvalidIdentity):
        customer_resolve(
            [
                IdentityClaim(IdentityKind.TELEGRAM, "42", verified=True),
                IdentityClaim(IdentityKind.PHONE, "not a phone"),
            ]
        )
    assert not Customer.objects.exists()


def test_the_profile_fills_empty_fields_only():
    customer = customer_resolve(
        whatsapp("8613800138000"), profile={"display_name": "Wang Fang", "language": "zh"}
    ).customer
    customer.display_name = "Ms Wang (VIP)"
    customer.save()
    again = customer_resolve(whatsapp("8613800138000"), profile={"display_name": "wf"}).customer
    assert again.display_name == "Ms Wang (VIP)"
    assert again.language == "zh"


# --- Automatic merge versus suggestion ----------------------------------------------------


def test_verified_evidence_on_both_sides_merges_automatically():
    # Known on Telegram, where they shared their (verified) phone number.
    telegram = customer_resolve(
        [
            IdentityClaim(IdentityKind.TELEGRAM, "777", verified=True),
            IdentityClaim(IdentityKind.PHONE, "+8613800138000", verified=True),
        ]
    ).customer
    # Now WhatsApp, a phone-bound channel, proves the same number.
    other = CustomerFactory()
    Identity.objects.create(
        customer=other, kind=IdentityKind.WHATSAPP, value="8613800138000", verified=True
    )
    resolution = customer_resolve(whatsapp("8613800138000"))
    assert len(resolution.merges) == 1
    record = resolution.merges[0]
    assert record.automatic and record.actor is None
    assert record.evidence["reason"] == "verified_match"
    # The older customer is kept; the other one points at it.
    assert resolution.customer.pk == telegram.pk
    other.refresh_from_db()
    assert other.merged_into_id == telegram.pk
    assert set(telegram.identities.values_list("kind", flat=True)) == {
        IdentityKind.TELEGRAM,
        IdentityKind.PHONE,
        IdentityKind.WHATSAPP,
    }


def test_an_unverified_match_only_suggests_a_merge():
    known = customer_resolve(
        [IdentityClaim(IdentityKind.EMAIL, "ann@example.com", verified=True)],
        channel=Channel("email"),
    ).customer
    visitor = customer_resolve(
        [IdentityClaim(IdentityKind.WEB_VISITOR, "v1", verified=True)], channel=Channel("web")
    ).customer
    resolution = customer_identities_add(
        customer=visitor,
        identities=[IdentityClaim(IdentityKind.EMAIL, "ANN@example.com")],
        channel=Channel("web"),
        captured_via=CaptureVia.PRECHAT,
    )
    assert resolution.customer.pk == visitor.pk
    assert resolution.merges == []
    # The email stays with the customer who proved it.
    assert Identity.objects.get(kind=IdentityKind.EMAIL).customer_id == known.pk
    suggestion = MergeSuggestion.objects.get()
    assert {suggestion.customer_id, suggestion.other_id} == {known.pk, visitor.pk}
    assert suggestion.evidence == {
        "kind": "email",
        "value": "ann@example.com",
        "reason": "unverified_match",
        "channel": "web",
        "via": "prechat",
    }
    # Typing a contact detail still makes the visitor a lead.
    visitor.refresh_from_db()
    assert visitor.lead_status == LeadStatus.NEW
    assert visitor.lead_via == CaptureVia.PRECHAT


def test_a_verified_claim_takes_over_an_identity_that_was_only_typed():
    typist = CustomerFactory()
    customer_identities_add(
        customer=typist, identities=[IdentityClaim(IdentityKind.EMAIL, "victim@example.com")]
    )
    resolution = customer_resolve(
        [
            IdentityClaim(
                IdentityKind.EMAIL,
                "victim@example.com",
                verified=True,
                verification=Verification.CHANNEL,
            )
        ],
        channel=Channel("email"),
    )
    assert resolution.created  # the real owner is a new customer, not the typist
    email = Identity.objects.get(kind=IdentityKind.EMAIL)
    assert email.customer_id == resolution.customer.pk and email.verified
    assert MergeSuggestion.objects.get().evidence["reason"] == "verified_over_typed"
    assert resolution.merges == []


def test_a_pair_kept_apart_is_never_merged_or_suggested_again():
    a = customer_resolve([IdentityClaim(IdentityKind.TELEGRAM, "1", verified=True)]).customer
    b = customer_resolve([IdentityClaim(IdentityKind.LINE, "U1", verified=True)]).customer
    record = customer_resolve(
        [
            IdentityClaim(IdentityKind.TELEGRAM, "1", verified=True),
            IdentityClaim(IdentityKind.LINE, "U1", verified=True),
        ]
    ).merges[0]
    customer_merge_undo(record=record, actor=None)
    again = customer_resolve(
        [
            IdentityClaim(IdentityKind.TELEGRAM, "1", verified=True),
            IdentityClaim(IdentityKind.LINE, "U1", verified=True),
        ]
    )
    assert again.merges == [] and again.suggestions == []
    assert MergeRecord.objects.count() == 1
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.merged_into_id is None and b.merged_into_id is None


# --- Lead capture -------------------------------------------------------------------------


def test_a_lead_is_captured_once_with_its_first_time_channel_and_source():
    customer = customer_resolve(
        [IdentityClaim(IdentityKind.WEB_VISITOR, "v9", verified=True)], channel=Channel("web")
    ).customer
    customer.last_touch = {"channel": "web", "utm_source": "google"}
    customer.save()
    customer_identities_add(
        customer=customer,
        identities=[IdentityClaim(IdentityKind.PHONE, "+8613800138000")],
        channel=Channel("web"),
        captured_via=CaptureVia.PRECHAT,
    )
    customer.refresh_from_db()
    first_time = customer.lead_captured_at
    assert first_time is not None
    assert (customer.lead_via, customer.lead_channel) == (CaptureVia.PRECHAT, "web")
    assert customer.lead_source == {"channel": "web", "utm_source": "google"}
    customer_identities_add(
        customer=customer,
        identities=[IdentityClaim(IdentityKind.EMAIL, "x@example.com")],
        captured_via=CaptureVia.AGENT,
    )
    customer.refresh_from_db()
    assert customer.lead_captured_at == first_time
    assert customer.lead_via == CaptureVia.PRECHAT
    assert customer.changes.filter(action=ChangeAction.LEAD_CAPTURED).count() == 1


def test_identities_that_are_not_contact_details_do_not_make_a_lead():
    customer = customer_resolve(
        [IdentityClaim(IdentityKind.WEB_VISITOR, "v10", verified=True)],
        captured_via=CaptureVia.PRECHAT,
    ).customer
    assert customer.lead_captured_at is None


# --- The race -----------------------------------------------------------------------------


def race(count: int, work) -> list:
    """Runs `work(i)` in `count` threads released at the same moment, each on its own
    database connection; returns results (or exceptions) in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as error:  # reported by the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_simultaneous_webhooks_for_one_new_person_create_one_customer():
    def webhook(index: int):
        claims = whatsapp("8613800138000")
        # Half the events list the identities the other way round: no deadlock either way.
        return customer_resolve(claims if index % 2 else claims[::-1]).customer.pk

    results = race(8, webhook)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert Customer.objects.count() == 1
    assert Identity.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_simultaneous_events_joining_two_known_customers_merge_them_once():
    customer_resolve([IdentityClaim(IdentityKind.TELEGRAM, "5", verified=True)])
    customer_resolve([IdentityClaim(IdentityKind.LINE, "U5", verified=True)])

    def event(index: int):
        return customer_resolve(
            [
                IdentityClaim(IdentityKind.TELEGRAM, "5", verified=True),
                IdentityClaim(IdentityKind.LINE, "U5", verified=True),
            ]
        ).customer.pk

    results = race(6, event)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert MergeRecord.objects.count() == 1
    assert Customer.objects.active().count() == 1
