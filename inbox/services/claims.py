"""The claim lock: while a claim runs, only its holder may reply to the customer.

A claim is two columns on the conversation (`claimed_by`, `claimed_until`); it expires by
itself (nothing sweeps it: an expired claim is simply ignored), its holder can release or
renew it, and a supervisor can break it (the holder is told)."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .. import realtime
from ..enums import NotificationKind
from ..models import Conversation
from ..selectors import SEE_ALL_ROLES, with_list_fields
from .notifications import notification_create

CLAIM_DEFAULT_MINUTES = 15
CLAIM_MAX_MINUTES = 240


class ClaimConflict(Exception):
    """Someone else holds an unexpired claim on the conversation."""

    code = "claimed"

    def __init__(self, holder: User, until: datetime.datetime):
        self.holder = holder
        self.until = until
        self.message = _("%(name)s is working on this conversation until %(time)s.") % {
            "name": holder.display_name or holder.email,
            "time": timezone.localtime(until).strftime("%H:%M"),
        }
        super().__init__(self.message)


def push_conversation_fresh(conversation_id: int) -> None:
    """Pushes the conversation as committed (with its tags and claim), after commit."""

    def push() -> None:
        fresh = with_list_fields(Conversation.objects.filter(pk=conversation_id)).first()
        if fresh is not None:
            realtime.push_conversation_updated(fresh)

    transaction.on_commit(push, robust=True)


def _locked(conversation: Conversation) -> Conversation:
    return (
        Conversation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("claimed_by")
        .get(pk=conversation.pk)
    )


def claim_blocking(
    *, conversation: Conversation, user: User, now: datetime.datetime | None = None
) -> Conversation | None:
    """The conversation (read now, with `claimed_by`) when someone other than `user`
    holds an unexpired claim on it, else None."""
    now = now or timezone.now()
    return (
        Conversation.objects.filter(pk=conversation.pk, claimed_until__gt=now)
        .exclude(claimed_by__isnull=True)
        .exclude(claimed_by=user)
        .select_related("claimed_by")
        .only("pk", "claimed_by", "claimed_until")
        .first()
    )


@transaction.atomic
def conversation_claim(
    *,
    conversation: Conversation,
    user: User,
    minutes: int = CLAIM_DEFAULT_MINUTES,
    now: datetime.datetime | None = None,
) -> Conversation:
    """Claims the conversation for `user` for `minutes` (claiming again renews it).
    Raises ClaimConflict when someone else holds an unexpired claim."""
    now = now or timezone.now()
    if not 1 <= minutes <= CLAIM_MAX_MINUTES:
        raise ValidationError(
            {"minutes": [_("Claim for 1 to %(max)d minutes.") % {"max": CLAIM_MAX_MINUTES}]}
        )
    locked = _locked(conversation)
    if (
        locked.claimed_by_id not in (None, user.pk)
        and locked.claimed_until
        and locked.claimed_until > now
    ):
        raise ClaimConflict(locked.claimed_by, locked.claimed_until)
    locked.claimed_by = user
    locked.claimed_until = now + datetime.timedelta(minutes=minutes)
    locked.save(update_fields=["claimed_by", "claimed_until", "updated_at"])
    push_conversation_fresh(locked.pk)
    return locked


@transaction.atomic
def conversation_release(
    *, conversation: Conversation, user: User, now: datetime.datetime | None = None
) -> Conversation:
    """Ends `user`'s claim. Someone else's unexpired claim is not theirs to release
    (ClaimConflict); a supervisor breaks it instead."""
    now = now or timezone.now()
    locked = _locked(conversation)
    if locked.claimed_by_id is None:
        return locked
    if locked.claimed_by_id != user.pk and locked.claimed_until and locked.claimed_until > now:
        raise ClaimConflict(locked.claimed_by, locked.claimed_until)
    locked.claimed_by = None
    locked.claimed_until = None
    locked.save(update_fields=["claimed_by", "claimed_until", "updated_at"])
    push_conversation_fresh(locked.pk)
    return locked


@transaction.atomic
def conversation_claim_break(
    *, conversation: Conversation, supervisor: User, now: datetime.datetime | None = None
) -> Conversation:
    """A supervisor or admin ends someone's claim; the holder is notified
    (NotificationKind.LOCK_BROKEN) when the claim was still running."""
    if supervisor.role not in SEE_ALL_ROLES:
        raise PermissionDenied(_("Only supervisors and admins can break a claim."))
    now = now or timezone.now()
    locked = _locked(conversation)
    holder, until = locked.claimed_by, locked.claimed_until
    if holder is None:
        return locked
    locked.claimed_by = None
    locked.claimed_until = None
    locked.save(update_fields=["claimed_by", "claimed_until", "updated_at"])
    if until and until > now:
        notification_create(
            user=holder,
            kind=NotificationKind.LOCK_BROKEN,
            text=_("%(name)s broke your claim on the conversation with %(customer)s.")
            % {"name": supervisor.display_name or supervisor.email, "customer": locked.customer},
            conversation=locked,
            actor=supervisor,
        )
    push_conversation_fresh(locked.pk)
    return locked
