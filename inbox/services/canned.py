"""Canned replies: personal ones and shared ones, inserted in the console by typing `/`,
with a fixed set of variables such as {{customer.name}} filled in."""

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from accounts.models import User
from customers.enums import IdentityKind

from ..models import CannedReply, Conversation
from ..selectors import SEE_ALL_ROLES

# {{ customer.name }}: a name from this list, spaces allowed inside the braces.
VARIABLE_PATTERN = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")
VARIABLES = (
    "customer.name",
    "customer.first_name",
    "customer.email",
    "customer.phone",
    "agent.name",
    "agent.first_name",
    "agent.email",
    "conversation.id",
    "inbox.name",
)


def canned_list(*, user: User, q: str = "") -> QuerySet[CannedReply]:
    """The shared canned replies and the user's own, by shortcut; `q` searches the
    shortcut and the title."""
    replies = CannedReply.objects.filter(Q(owner__isnull=True) | Q(owner=user))
    if q := q.strip().lstrip("/"):
        replies = replies.filter(Q(shortcut__icontains=q) | Q(title__icontains=q))
    return replies.order_by("shortcut", "owner_id")


def canned_can_manage(*, canned: CannedReply, user: User) -> bool:
    if canned.owner_id is None:
        return user.role in SEE_ALL_ROLES
    return canned.owner_id == user.pk


def _save(canned: CannedReply) -> CannedReply:
    canned.full_clean(exclude=["owner"], validate_constraints=False)
    try:
        with transaction.atomic():
            canned.save()
    except IntegrityError:
        raise ValidationError(
            {"shortcut": [_("There is already a canned reply /%(s)s.") % {"s": canned.shortcut}]}
        ) from None
    return canned


def canned_create(
    *, user: User, shortcut: str, body: str, title: str = "", shared: bool = False
) -> CannedReply:
    """A personal canned reply, or a shared one (supervisors and admins only)."""
    if shared and user.role not in SEE_ALL_ROLES:
        raise PermissionDenied(_("Only supervisors and admins manage shared canned replies."))
    return _save(
        CannedReply(
            shortcut=shortcut.strip().lstrip("/"),
            title=title.strip(),
            body=body,
            owner=None if shared else user,
        )
    )


def canned_update(*, canned: CannedReply, user: User, **fields) -> CannedReply:
    if not canned_can_manage(canned=canned, user=user):
        raise PermissionDenied(_("You can only change your own canned replies."))
    for name in ("shortcut", "title", "body"):
        if name in fields:
            value = fields[name]
            setattr(canned, name, value.strip().lstrip("/") if name == "shortcut" else value)
    return _save(canned)


def canned_delete(*, canned: CannedReply, user: User) -> None:
    if not canned_can_manage(canned=canned, user=user):
        raise PermissionDenied(_("You can only delete your own canned replies."))
    canned.delete()


def _first_name(name: str) -> str:
    return name.split()[0] if name.split() else ""


def canned_variables(*, conversation: Conversation, agent: User) -> dict[str, str]:
    customer = conversation.customer
    identities = {
        kind: value
        for kind, value in customer.identities.filter(
            kind__in=[IdentityKind.EMAIL, IdentityKind.PHONE]
        )
        .order_by("-pk")
        .values_list("kind", "value")
    }
    customer_name = customer.display_name
    agent_name = agent.display_name or agent.get_short_name()
    return {
        "customer.name": customer_name,
        "customer.first_name": _first_name(customer_name),
        "customer.email": identities.get(IdentityKind.EMAIL, ""),
        "customer.phone": identities.get(IdentityKind.PHONE, ""),
        "agent.name": agent_name,
        "agent.first_name": _first_name(agent_name),
        "agent.email": agent.email,
        "conversation.id": str(conversation.uuid),
        "inbox.name": conversation.inbox.name,
    }


def canned_render(*, canned: CannedReply, conversation: Conversation, agent: User) -> str:
    """The canned reply's text with its variables filled in, in one pass over the text
    as written: a value is inserted as it is and never read again, so a customer whose
    name contains "{{agent.name}}" or HTML gets exactly that text. Unknown variables are
    left as typed. Plain substitution, no template engine: nothing is evaluated."""
    values = canned_variables(conversation=conversation, agent=agent)

    def fill(match: re.Match) -> str:
        return values.get(match[1], match[0])

    return VARIABLE_PATTERN.sub(fill, canned.body)
