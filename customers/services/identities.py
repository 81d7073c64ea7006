"""Finding the customer behind an event's identities, and attaching identities to customers.

The rules (docs/customers.md explains them for users):
- An identity is matched by (kind, normalised value), which the database keeps unique.
- A claim the source verified (a WhatsApp id from WhatsApp, an HMAC-signed web user id)
  that matches a verified identity of another customer merges the two automatically.
- Anything weaker (a typed email, an unverified claim) never joins two customers: it
  records a merge suggestion for agents, and the identity stays where it is.
- A verified claim outranks a typed one: it takes the identity over, and the customer who
  typed it gets a suggestion instead.
Concurrent resolutions of the same identities are serialised by a transaction-level
advisory lock per (kind, value), so two webhooks for one new person create one customer."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from ..enums import CONTACT_KINDS, CaptureVia, ChangeAction, IdentityKind, Verification
from ..models import Customer, Identity, MergeRecord, MergeSuggestion
from ..normalization import InvalidIdentity, identity_normalize, phone_region
from .history import change_record
from .merging import customer_merge, customer_root, customers_kept_apart, merge_suggest
from .profile import customer_lead_capture

# Profile fields a source may fill in when they are empty (never overwriting an agent).
PROFILE_FIELDS = {"display_name": 200, "avatar_url": 500, "language": 16, "timezone": 64}


@dataclass(frozen=True)
class IdentityClaim:
    """What an event says about who the customer is. `verified` means the source proved it
    (the channel itself, a signature); typed-in values are never verified."""

    kind: str
    value: str
    verified: bool = False
    verification: str = ""
    details: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.value)


@dataclass
class Resolution:
    customer: Customer
    # The stored identities of the claims that now belong to the customer, in claim order.
    identities: list[Identity]
    created: bool = False
    merges: list[MergeRecord] = field(default_factory=list)
    suggestions: list[MergeSuggestion] = field(default_factory=list)

    @property
    def identity(self) -> Identity | None:
        """The first claim's identity: the one the event came from."""
        return self.identities[0] if self.identities else None


def _region(channel) -> str | None:
    return (getattr(channel, "settings", None) or {}).get("default_region") or None


def claims_normalize(claims: Sequence[IdentityClaim], *, channel=None) -> list[IdentityClaim]:
    """Claims with normalised values, the first of each (kind, value) kept.
    Raises InvalidIdentity for a value that cannot be normalised."""
    seen, result = set(), []
    for claim in claims:
        value = identity_normalize(claim.kind, claim.value, region=_region(channel))
        if (claim.kind, value) in seen:
            continue
        seen.add((claim.kind, value))
        verification = claim.verification or (Verification.CHANNEL if claim.verified else "")
        result.append(IdentityClaim(claim.kind, value, claim.verified, verification, claim.details))
    return result


def _lock_key(kind: str, value: str) -> int:
    digest = hashlib.blake2b(f"identity\0{kind}\0{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_identities(claims: Sequence[IdentityClaim]) -> None:
    """Holds, until the transaction ends, a lock on each claimed (kind, value), taken in one
    order so that two resolutions never wait on each other in a cycle."""
    keys = sorted({_lock_key(*claim.key) for claim in claims})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [keys])


def identities_matching(claims: Sequence[IdentityClaim]) -> dict[tuple[str, str], Identity]:
    """The stored identities of `claims` (normalised), by (kind, value), in one query."""
    if not claims:
        return {}  # an empty Q() would match every identity
    condition = Q()
    for claim in claims:
        condition |= Q(kind=claim.kind, value=claim.value)
    return {(i.kind, i.value): i for i in Identity.objects.filter(condition)}


def _owner(identity: Identity, owners: dict[int, Customer]) -> Customer:
    """The identity's customer as it lives on now. `owners` holds the customers already read
    in this resolution; a merge empties it (the merged customer now leads to its survivor)."""
    if identity.customer_id not in owners:
        owners[identity.customer_id] = customer_root(Customer.objects.get(pk=identity.customer_id))
    return owners[identity.customer_id]


def _evidence(claim: IdentityClaim, reason: str, channel, via: str | None = None) -> dict:
    evidence = {
        "kind": claim.kind,
        "value": claim.value,
        "reason": reason,
        "channel": getattr(channel, "kind", ""),
    }
    if via:
        evidence["via"] = via  # where it was typed: the pre-chat form, an agent, ...
    return evidence


def _fill_profile(
    customer: Customer, profile: dict | None, identities: list[Identity]
) -> list[str]:
    """Fills the customer's empty profile fields; returns the names of those it filled."""
    filled = []
    for name, length in PROFILE_FIELDS.items():
        value = str((profile or {}).get(name) or "").strip()[:length]
        if value and not getattr(customer, name):
            setattr(customer, name, value)
            filled.append(name)
    phones = [i.value for i in identities if i.kind == IdentityKind.PHONE]
    if not customer.country and phones and (country := phone_region(phones[0])):
        customer.country = country
        filled.append("country")
    return filled


def _attach(
    *,
    claims: Sequence[IdentityClaim],
    customer: Customer | None,
    channel,
    actor: User | None,
    captured_via: CaptureVia | None,
    profile: dict | None,
    seen: bool,
    source: dict | None = None,
) -> Resolution:
    claims = claims_normalize(claims, channel=channel)
    if not claims and customer is None:
        raise InvalidIdentity(_("At least one identity is needed to find a customer."))
    _lock_identities(claims)
    existing = identities_matching(claims)
    resolution = Resolution(customer=customer, identities=[])  # type: ignore[arg-type]
    owners: dict[int, Customer] = {}
    if customer is None:
        # The first claim matched in a way we trust decides the customer.
        for claim in claims:
            found = existing.get(claim.key)
            if found is not None and (found.verified or not claim.verified):
                customer = _owner(found, owners)
                break
    now = timezone.now()
    if customer is None:
        customer = Customer.objects.create(first_seen_at=now, last_seen_at=now)
        resolution.created = True
        change_record(
            customer, ChangeAction.CREATED, actor=actor, channel=getattr(channel, "kind", "")
        )

    for claim in claims:
        found = existing.get(claim.key)
        if found is None:
            identity = Identity.objects.create(
                customer=customer,
                kind=claim.kind,
                value=claim.value,
                verified=claim.verified,
                verification=claim.verification if claim.verified else "",
                channel=channel if getattr(channel, "pk", None) else None,
                details=claim.details,
            )
            change_record(
                customer,
                ChangeAction.IDENTITY_ADDED,
                actor=actor,
                kind=claim.kind,
                value=claim.value,
            )
            resolution.identities.append(identity)
            continue
        owner = _owner(found, owners)
        if owner.pk == customer.pk:
            if claim.verified and not found.verified:
                found.verified, found.verification = True, claim.verification
                found.save(update_fields=["verified", "verification", "updated_at"])
                change_record(
                    customer,
                    ChangeAction.IDENTITY_VERIFIED,
                    actor=actor,
                    kind=found.kind,
                    value=found.value,
                )
            resolution.identities.append(found)
        elif claim.verified and found.verified:
            if customers_kept_apart(customer, owner):
                continue  # an agent said they are different people
            survivor, merged = sorted((customer, owner), key=lambda c: (c.created_at, c.pk))
            record = customer_merge(
                survivor=survivor,
                merged=merged,
                actor=actor,
                automatic=actor is None,
                evidence=_evidence(claim, "verified_match", channel),
            )
            resolution.merges.append(record)
            customer = record.survivor
            owners.clear()
            found.refresh_from_db()
            resolution.identities.append(found)
        elif claim.verified:
            # A verified claim takes over an identity someone only typed.
            found.customer, found.verified, found.verification = customer, True, claim.verification
            found.save(update_fields=["customer", "verified", "verification", "updated_at"])
            change_record(
                owner,
                ChangeAction.IDENTITY_REMOVED,
                actor=actor,
                kind=found.kind,
                value=found.value,
                reason="verified_elsewhere",
            )
            change_record(
                customer,
                ChangeAction.IDENTITY_ADDED,
                actor=actor,
                kind=found.kind,
                value=found.value,
            )
            resolution.identities.append(found)
            if not customers_kept_apart(customer, owner):
                suggestion = merge_suggest(
                    customer, owner, evidence=_evidence(claim, "verified_over_typed", channel)
                )
                if suggestion:
                    resolution.suggestions.append(suggestion)
        elif not customers_kept_apart(customer, owner):
            suggestion = merge_suggest(
                customer,
                owner,
                evidence=_evidence(claim, "unverified_match", channel, captured_via),
            )
            if suggestion:
                resolution.suggestions.append(suggestion)

    customer = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
    changed = _fill_profile(customer, profile, resolution.identities)
    if seen:
        customer.last_seen_at = now
        customer.first_seen_at = customer.first_seen_at or now
        changed += ["last_seen_at", "first_seen_at"]
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    resolution.customer = customer
    if captured_via and any(claim.kind in CONTACT_KINDS for claim in claims):
        customer_lead_capture(
            customer=customer,
            via=captured_via,
            source=source,
            channel_kind=getattr(channel, "kind", ""),
            actor=actor,
        )
        customer.refresh_from_db()
    return resolution


@transaction.atomic
def customer_resolve(
    identities: Sequence[IdentityClaim],
    *,
    channel=None,
    profile: dict | None = None,
    captured_via: CaptureVia | None = None,
) -> Resolution:
    """The customer an inbound event comes from: found by any of its identities, created
    if none matches. New identities are attached, verified matches across customers merge
    them, weaker ones become suggestions. List the identity the event came from (the
    channel's own id) first. `profile` fills empty fields (name, avatar, language, time
    zone). Raises InvalidIdentity for a value that cannot be normalised."""
    return _attach(
        claims=identities,
        customer=None,
        channel=channel,
        actor=None,
        captured_via=captured_via,
        profile=profile,
        seen=True,
    )


@transaction.atomic
def customer_identities_add(
    *,
    customer: Customer,
    identities: Sequence[IdentityClaim],
    channel=None,
    actor: User | None = None,
    captured_via: CaptureVia | None = None,
    source: dict | None = None,
) -> Resolution:
    """Attaches identities to a known customer: a pre-chat form, an agent, the AI agent or
    an import. An identity that belongs to someone else stays theirs and becomes a merge
    suggestion (or, if both sides are verified, a merge). Capturing a contact detail (phone,
    email, messaging id) makes the customer a lead; `source` is where they were (e.g. the
    widget's page and UTM), else their latest conversation's source."""
    return _attach(
        claims=identities,
        customer=customer_root(customer),
        channel=channel,
        actor=actor,
        captured_via=captured_via,
        profile=None,
        seen=False,
        source=source,
    )


@transaction.atomic
def customer_identity_remove(*, identity: Identity, actor: User | None) -> None:
    """Removes an identity; refused while conversations run on it (their replies go there)."""
    try:
        with transaction.atomic():
            identity.delete()
    except ProtectedError:
        raise ValidationError(
            _("Conversations run on this identity, so it cannot be removed.")
        ) from None
    change_record(
        identity.customer,
        ChangeAction.IDENTITY_REMOVED,
        actor=actor,
        kind=identity.kind,
        value=identity.value,
    )


@transaction.atomic
def identity_details_update(*, identity: Identity, details: dict) -> Identity:
    """Merges what a channel says about an identity (e.g. that the customer unfollowed the
    account) into its details."""
    locked = Identity.objects.select_for_update(no_key=True).get(pk=identity.pk)
    locked.details = {**locked.details, **details}
    locked.save(update_fields=["details"])
    return locked
