"""`identity_find` and `customer_search` on a handful of customers: what each kind of query
finds, that each is one query, and that the result stays an ordinary queryset. How fast they
are at 1M customers is bench/customer_search.py's business."""

import pytest

from customers.enums import IdentityKind
from customers.models import Customer, Identity
from customers.selectors import customer_search, identity_find
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def customer(name: str, *identities: tuple[str, str], **fields) -> Customer:
    created = CustomerFactory(display_name=name, **fields)
    for kind, value in identities:
        Identity.objects.create(customer=created, kind=kind, value=value)
    return created


@pytest.fixture
def people():
    return {
        "wang_wei": customer(
            "王伟",
            (IdentityKind.PHONE, "+8613800138000"),
            (IdentityKind.WECHAT_ID, "wangwei_88"),
        ),
        "wang_fang": customer("王芳", (IdentityKind.EMAIL, "wangfang@163.com")),
        "wang_wei_other_family": customer("汪伟"),
        "ouyang": customer("欧阳娜娜", (IdentityKind.WEB_VISITOR, "3f2a9c1e-visitor")),
        "maria": customer(
            "Maria Garcia",
            (IdentityKind.PHONE, "+14155552671"),
            (IdentityKind.WHATSAPP, "14155552671"),
        ),
        "jose": customer(
            "José Martínez",
            (IdentityKind.EMAIL, "jose.martinez@example.com"),
            (IdentityKind.TELEGRAM, "123456789"),
        ),
        "john": customer("John Smith", (IdentityKind.PHONE, "+447911123456")),
        "nameless": customer("", (IdentityKind.EMAIL, "garcia.fan@example.org")),
    }


def found(q: str, region: str | None = None, customers=None) -> set[str]:
    """Names of the customers `q` finds (the nameless one as "<nameless>")."""
    customers = Customer.objects.all() if customers is None else customers
    return {c.display_name or "<nameless>" for c in customer_search(customers, q, region=region)}


# --- identity_find ---------------------------------------------------------------------


def test_identity_find_is_one_query_with_its_customer(people, django_assert_num_queries):
    with django_assert_num_queries(1):
        identity = identity_find(IdentityKind.PHONE, "+8613800138000")
        assert identity.customer.display_name == "王伟"  # joined: no second query


def test_identity_find_misses_in_one_query(people, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert identity_find(IdentityKind.PHONE, "+8613900139000") is None
    # The kind is part of the key: WhatsApp ids are digits, phones E.164.
    assert identity_find(IdentityKind.WHATSAPP, "+14155552671") is None
    assert identity_find(IdentityKind.WHATSAPP, "14155552671").customer == people["maria"]


# --- customer_search: each kind of query ------------------------------------------------


@pytest.mark.parametrize(
    ("q", "region"),
    [
        ("138 0013 8000", "CN"),  # as written in China
        ("13800138000", "CN"),
        ("+86 138-0013-8000", None),  # international needs no region
        ("0086 138 0013 8000", None),
    ],
)
def test_a_phone_number_in_any_format(people, q, region):
    assert found(q, region) == {"王伟"}


def test_a_local_number_is_read_in_the_region_given(people):
    assert found("(415) 555-2671", "US") == {"Maria Garcia"}  # phone and WhatsApp id
    assert found("07911 123456", "GB") == {"John Smith"}  # the trunk 0 is not in E.164


def test_a_run_of_digits_finds_phones_and_whatsapp_ids(people):
    assert found("00138000") == {"王伟"}
    assert found("555-2671") == {"Maria Garcia"}
    assert found("99999999") == set()


def test_an_email_in_any_case(people):
    assert found(" Jose.Martinez@Example.COM ") == {"José Martínez"}
    assert found("nobody@example.com") == set()


def test_part_of_an_email_address(people):
    assert found("jose.martinez@ex") == {"José Martínez"}
    assert found("@163") == {"王芳"}


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ("garc", {"Maria Garcia"}),  # start of a word
        ("ARCI", {"Maria Garcia"}),  # inside it, any case
        ("josé mart", {"José Martínez"}),
        ("smith", {"John Smith"}),
        ("Ma", {"Maria Garcia"}),  # one or two characters: the name's start only
        ("Ga", set()),
    ],
)
def test_part_of_a_latin_name(people, q, names):
    assert found(q) == names


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ("王", {"王伟", "王芳"}),  # a family name
        ("王伟", {"王伟"}),  # not 汪伟
        ("欧阳", {"欧阳娜娜"}),  # a two-character family name
        ("伟", set()),  # one or two characters match from the start only
        ("阳娜娜", {"欧阳娜娜"}),  # three or more: anywhere (trigrams work for Chinese)
    ],
)
def test_part_of_a_chinese_name(people, q, names):
    assert found(q) == names


def test_any_identity_value_exactly(people):
    assert found("3f2a9c1e-visitor") == {"欧阳娜娜"}
    assert found("wangwei_88") == {"王伟"}
    # Digits only, yet a Telegram id, not a phone number.
    assert found("123456789") == {"José Martínez"}


def test_a_query_finds_names_and_identities_together(people):
    customer("Buyer of order 123456789")
    assert found("123456789") == {"José Martínez", "Buyer of order 123456789"}


def test_only_an_address_with_at_searches_inside_emails(people):
    assert found("garcia") == {"Maria Garcia"}  # not the nameless garcia.fan@example.org
    assert found("garcia.fan@") == {"<nameless>"}


def test_like_wildcards_are_taken_literally(people):
    assert found("%%%") == set()
    assert found("_") == set()


def test_an_empty_query_leaves_the_queryset_alone(people):
    customers = Customer.objects.filter(display_name__startswith="王")
    assert customer_search(customers, "   ") is customers


# --- customer_search: one query, and still a queryset --------------------------------------


def test_a_search_is_one_query(people, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert len(list(customer_search(Customer.objects.all(), "138 0013 8000", region="CN")))


def test_the_result_narrows_the_given_queryset_and_can_be_refined(people):
    merged = customer("王伟", (IdentityKind.EMAIL, "old.wang@example.com"))
    merged.merged_into = people["wang_wei"]
    merged.save()
    assert found("王伟") == {"王伟"}
    assert customer_search(Customer.objects.all(), "王伟").count() == 2
    active = customer_search(Customer.objects.active(), "王伟")
    assert list(active) == [people["wang_wei"]]
    # An identity of a customer outside the given queryset does not bring it in.
    assert not customer_search(Customer.objects.active(), "old.wang@example.com").exists()

    page = customer_search(Customer.objects.active(), "王").order_by("-created_at", "-id")
    assert [c.display_name for c in page[:2]] == ["王芳", "王伟"]  # newest first
    assert list(page.filter(identities__kind=IdentityKind.EMAIL)) == [people["wang_fang"]]
    assert set(page.values_list("display_name", flat=True)) == {"王伟", "王芳"}
