"""Reads of customers. Who may see which customer is decided by `inbox.selectors.customer_list`
(through the conversations a user may see); these functions narrow a queryset given to them."""

import re

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, Lookup, Q, QuerySet
from django.db.models.functions import Upper
from django.db.models.lookups import Contains, StartsWith

from .enums import IdentityKind
from .models import Customer, Identity
from .normalization import InvalidIdentity, email_normalize, phone_normalize

PHONE_LIKE = re.compile(r"^\+?[\d\s().\-]{5,}$")
# Below this many characters a name matches from its start (a prefix index serves it, e.g. a
# Chinese family name); from it on, anywhere (trigrams: `customer_name_trgm_idx`).
NAME_CONTAINS_FROM = 3


def identity_find(kind: str, value: str) -> Identity | None:
    """One query, one index scan on the unique (kind, value), with its customer joined;
    `value` must be normalised."""
    try:
        return Identity.objects.select_related("customer").get(kind=kind, value=value)
    except Identity.DoesNotExist:
        return None


class _AnyOf(Lookup):
    """`lhs = ANY(rhs)`: with `ArraySubquery` on the right, the subquery runs once, before
    the outer query (an InitPlan), and the outer query can use the primary-key index for
    it, even inside an OR, which `pk IN (subquery)` cannot."""

    lookup_name = "_any_of"  # used directly, never registered

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs_sql} = ANY({rhs_sql})", (*lhs_params, *rhs_params)


def _identity_condition(q: str, region: str | None) -> Q:
    """Identities `q` stands for: always its exact value, of any kind; an email (exactly,
    normalised; part of one when it is not a whole address); a phone number, normalised in
    `region` and as a run of digits in any stored phone or WhatsApp id."""
    # The kinds are listed so that the unique (kind, value) index serves a lookup by value.
    condition = Q(kind__in=IdentityKind.values, value=q)
    if "@" in q:
        try:
            condition |= Q(kind=IdentityKind.EMAIL, value=email_normalize(q))
        except InvalidIdentity:
            condition |= Q(kind=IdentityKind.EMAIL, value__contains=q.lower())
    elif PHONE_LIKE.match(q):
        digits = re.sub(r"\D", "", q)
        condition |= Q(kind__in=[IdentityKind.PHONE, IdentityKind.WHATSAPP], value__contains=digits)
        try:
            phone = phone_normalize(q, region)
        except InvalidIdentity:
            pass
        else:
            condition |= Q(kind=IdentityKind.PHONE, value=phone)
            condition |= Q(kind=IdentityKind.WHATSAPP, value=phone[1:])
    return condition


def customer_search(customers: QuerySet[Customer], q: str, *, region: str | None = None):
    """Customers matching `q`: a phone number in any format, an email, any identity value, or
    part of the name (its start for one or two characters).

    One query, indexed throughout: the matching identities' customer ids are collected first
    (an InitPlan on the identity indexes) and OR-ed with the name condition, so that the
    primary-key index and a name index combine (a BitmapOr), or, for a common name and an
    ordered, limited page, the planner walks the ordering's index instead."""
    q = q.strip()
    if not q:
        return customers
    identities = Identity.objects.filter(_identity_condition(q, region)).values("customer_id")
    by_identity = _AnyOf(F("pk"), ArraySubquery(identities))
    name = q.upper()
    name_lookup = Contains if len(name) >= NAME_CONTAINS_FROM else StartsWith
    by_name = name_lookup(Upper("display_name"), name)
    return customers.filter(Q(by_identity) | Q(by_name))
