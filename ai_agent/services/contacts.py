"""Contact details the customer gives in the chat become identities of their profile
(through the identity services, so a detail that belongs to someone else becomes a merge
suggestion, never a silent merge) and make them a lead."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from customers.enums import CaptureVia, IdentityKind
from customers.models import AttributeDefinition
from customers.normalization import InvalidIdentity
from customers.services.identities import IdentityClaim, customer_identities_add
from customers.services.profile import customer_update
from inbox.models import Conversation

from ..offline.entities import ContactDetails

logger = logging.getLogger(__name__)

COMPANY_ATTRIBUTE = "company"


def contacts_store(*, conversation: Conversation, details: ContactDetails) -> list[str]:
    """Stores what `details` found; returns the kinds stored (for the run log)."""
    if details.is_empty():
        return []
    claims = [
        *(IdentityClaim(kind=IdentityKind.PHONE, value=value) for value in details.phones),
        *(IdentityClaim(kind=IdentityKind.EMAIL, value=value) for value in details.emails),
        *(IdentityClaim(kind=IdentityKind.WECHAT_ID, value=value) for value in details.wechat_ids),
    ]
    stored = []
    customer = conversation.customer
    for claim in claims:
        try:
            with transaction.atomic():
                customer_identities_add(
                    customer=customer,
                    identities=[claim],
                    channel=getattr(conversation.inbox, "channel", None),
                    captured_via=CaptureVia.AI,
                    source=conversation.source or None,
                )
            stored.append(claim.kind)
        except (InvalidIdentity, ValidationError):
            continue  # a detail the rules misread: nothing is stored
    changes: dict = {}
    if details.name and not customer.display_name:
        changes["display_name"] = details.name
    if (
        details.company
        and AttributeDefinition.objects.filter(key=COMPANY_ATTRIBUTE).exists()
        and not (customer.attributes or {}).get(COMPANY_ATTRIBUTE)
    ):
        changes["attributes"] = {COMPANY_ATTRIBUTE: details.company}
    if changes:
        try:
            customer_update(customer=customer, actor=None, data=changes)
            stored += [key for key in ("display_name", "attributes") if key in changes]
        except ValidationError:
            logger.info("AI contact details not stored on customer %s", customer.pk)
    return stored
