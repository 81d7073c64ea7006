"""Reads of customers. Who may see which customer is decided by `inbox.selectors.customer_list`
(through the conversations a user may see); these functions narrow a queryset given to them."""

import re

from django.db.models import Q, QuerySet
from django.db.models.functions import Upper

from .enums import IdentityKind
from .models import Customer, Identity
from .normalization import InvalidIdentity, email_normalize, phone_normalize

PHONE_LIKE = re.compile(r"^\+?[\d\s().\-]{5,}$")


def identity_find(kind: str, value: str) -> Identity | None:
    """One indexed lookup on the unique (kind, value); `value` must be normalised."""
    return Identity.objects.select_related("customer").filter(kind=kind, value=value).first()


def customer_search(customers: QuerySet[Customer], q: str, *, region: str | None = None):
    """Customers matching `q`: a phone number in any format, an email, any identity value, or
    part of the name."""
    q = q.strip()
    if not q:
        return customers
    identities = Identity.objects.filter(value=q)
    if "@" in q:
        try:
            identities = Identity.objects.filter(kind=IdentityKind.EMAIL, value=email_normalize(q))
        except InvalidIdentity:
            identities = Identity.objects.filter(kind=IdentityKind.EMAIL, value__contains=q.lower())
    elif PHONE_LIKE.match(q):
        digits = re.sub(r"\D", "", q)
        condition = Q(kind__in=[IdentityKind.PHONE, IdentityKind.WHATSAPP], value__contains=digits)
        try:
            phone = phone_normalize(q, region)
            condition |= Q(kind=IdentityKind.PHONE, value=phone)
            condition |= Q(kind=IdentityKind.WHATSAPP, value=phone[1:])
        except InvalidIdentity:
            pass
        identities = Identity.objects.filter(condition)
    by_identity = Q(pk__in=identities.values("customer_id"))
    name = q.upper()
    by_name = Q(name_upper__startswith=name) if len(name) < 3 else Q(name_upper__contains=name)
    return customers.annotate(name_upper=Upper("display_name")).filter(by_identity | by_name)
