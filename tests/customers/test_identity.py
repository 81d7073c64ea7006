import pytest
from django.db import IntegrityError

from customers.enums import IdentityKind
from customers.models import Identity
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def test_the_database_refuses_one_identity_for_two_customers():
    Identity.objects.create(
        customer=CustomerFactory(), kind=IdentityKind.PHONE, value="+8613800138000"
    )
    with pytest.raises(IntegrityError):
        Identity.objects.create(
            customer=CustomerFactory(), kind=IdentityKind.PHONE, value="+8613800138000"
        )


def test_the_same_value_may_exist_under_different_kinds():
    customer = CustomerFactory()
    Identity.objects.create(customer=customer, kind=IdentityKind.PHONE, value="+8613800138000")
    Identity.objects.create(customer=customer, kind=IdentityKind.WHATSAPP, value="+8613800138000")
    assert customer.identities.count() == 2
