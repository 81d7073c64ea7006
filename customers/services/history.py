from accounts.models import User

from ..enums import ChangeAction
from ..models import Customer, CustomerChange


def change_record(
    customer: Customer, action: ChangeAction, *, actor: User | None = None, **data
) -> CustomerChange:
    """One line of the customer's history."""
    return CustomerChange.objects.create(
        customer=customer,
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        data=data,
    )
