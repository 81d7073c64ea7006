"""The website widget as a channel: visitor sessions, what each may see, identity
verification (`setUser` with an HMAC), lead capture, and whether anyone is there to
answer."""

import datetime
import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from functools import partial

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.enums import Role
from accounts.models import User
from customers.enums import CaptureVia, IdentityKind, Verification
from customers.models import Customer, Identity
from customers.normalization import identity_normalize
from customers.services import (
    IdentityClaim,
    customer_identities_add,
    customer_resolve,
    customer_root,
    customers_kept_apart,
)
from inbox import realtime
from inbox.enums import ConversationStatus
from inbox.files import AttachmentUpload
from inbox.models import Conversation, CsatResponse, Message
from inbox.presence import any_agent_present
from inbox.services import conversation_create, message_receive
from inbox.services.assignment import queue_position
from inbox.services.business_hours import hours_is_open
from inbox.services.csat import csat_awaited_question, csat_submit

from ..models import ChannelAccount, WidgetConfig, new_identity_secret
from .validators import parse_origins

logger = logging.getLogger(__name__)

TOKEN_SALT = "widget.visitor"  # noqa: S105 (a signing namespace, not a secret)
# The key of the visitor identity's details that names the web user it was verified as.
VERIFIED_USER = "verified_user"
# What the widget reports about the page a visitor is on (all optional, all text).
CONTEXT_KEYS = (
    "page_url",
    "page_title",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "language",
    "user_agent",
    "timezone",
)
# Contact details a visitor or the website may give, as identity kinds.
CONTACT_FIELDS = {"email": IdentityKind.EMAIL, "phone": IdentityKind.PHONE}


@dataclass(frozen=True)
class VisitorSession:
    """A widget session: the browser's own visitor identity and, once the website proved
    who its signed-in user is (`setUser` with a valid hash), that user's web_user identity.
    A session sees the conversations that run on these two identities, and no others."""

    channel: ChannelAccount
    identity: Identity
    token: str
    user_identity: Identity | None = None

    @property
    def customer(self) -> Customer:
        return self.identity.customer

    @property
    def visible_identity_ids(self) -> list[int]:
        ids = [self.identity.pk]
        if self.user_identity is not None:
            ids.append(self.user_identity.pk)
        return ids


class VisitorUserRefused(Exception):
    """`setUser` refused: `code` is the API error code, the message says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def widget_config_get(channel: ChannelAccount) -> WidgetConfig:
    """The channel's widget settings; the defaults (unsaved) until an admin saves some."""
    try:
        return channel.widget
    except WidgetConfig.DoesNotExist:
        return WidgetConfig(channel=channel)


def widget_config_stored(channel: ChannelAccount) -> WidgetConfig:
    """The channel's widget settings, saved with their defaults if an admin never saved
    any, so that the identity secret stays the same from one request to the next."""
    config, _created = WidgetConfig.objects.get_or_create(channel=channel)
    return config


def widget_channel_get(public_key: str) -> ChannelAccount | None:
    return (
        ChannelAccount.objects.select_related("inbox", "widget")
        .filter(public_key=public_key, kind="web", is_active=True)
        .first()
    )


def widget_allowed_origins(config: WidgetConfig) -> list[str]:
    return parse_origins(config.allowed_origins)


def widget_identity_secret_regenerate(channel: ChannelAccount) -> WidgetConfig:
    """A new identity secret for a website channel: hashes made with the old one are
    refused from now on."""
    config = widget_config_stored(channel)
    config.identity_secret = new_identity_secret()
    config.save(update_fields=["identity_secret", "updated_at"])
    return config


# --- Identity verification ----------------------------------------------------------------


def user_hash(secret: str, user_id: str) -> str:
    """HMAC-SHA256 of the user id with the channel's identity secret, as lower-case hex:
    what the website's server computes for `Switchboard('setUser', {id, hash})`."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def user_hash_valid(secret: str, user_id: str, given: str) -> bool:
    """Compared in constant time (as bytes: the given hash may hold any character)."""
    expected = user_hash(secret, user_id).encode()
    return hmac.compare_digest(expected, given.strip().lower().encode())


# --- Visitor sessions ---------------------------------------------------------------------


def visitor_token_issue(*, channel: ChannelAccount, identity: Identity) -> str:
    return signing.dumps({"c": channel.pk, "v": identity.value}, salt=TOKEN_SALT, compress=True)


def _bound_user_identity(identity: Identity) -> Identity | None:
    """The web_user identity the visitor was verified as, while it belongs to the visitor's
    customer (an agent undoing the merge that joined them ends it)."""
    value = identity.details.get(VERIFIED_USER)
    if not value:
        return None
    return Identity.objects.filter(
        kind=IdentityKind.WEB_USER, value=str(value), verified=True, customer=identity.customer_id
    ).first()


def _session(channel: ChannelAccount, identity: Identity, token: str) -> VisitorSession:
    return VisitorSession(
        channel=channel,
        identity=identity,
        token=token,
        user_identity=_bound_user_identity(identity),
    )


def visitor_session_get(*, channel: ChannelAccount, token: str) -> VisitorSession | None:
    """The session a token stands for, or None if it is forged, for another channel, or its
    visitor no longer exists."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") != channel.pk:
        return None
    identity = (
        Identity.objects.select_related("customer")
        .filter(kind=IdentityKind.WEB_VISITOR, value=str(data.get("v", "")))
        .first()
    )
    if identity is None or identity.customer.is_blocked:
        return None
    return _session(channel, identity, token)


def _visitor_new(*, channel: ChannelAccount, context: dict, name: str = "") -> VisitorSession:
    """A new anonymous visitor: a customer of their own, found by nothing but the visitor
    id the channel gave them."""
    resolution = customer_resolve(
        [
            IdentityClaim(
                IdentityKind.WEB_VISITOR,
                uuid.uuid4().hex,
                verified=True,
                verification=Verification.CHANNEL,
                details={"context": context},
            )
        ],
        channel=channel,
        profile={
            "display_name": name,
            "language": context.get("language", ""),
            "timezone": context.get("timezone", ""),
        },
    )
    identity = resolution.identity
    identity.customer = resolution.customer
    return VisitorSession(
        channel=channel,
        identity=identity,
        token=visitor_token_issue(channel=channel, identity=identity),
    )


def _locked(identity: Identity) -> Identity:
    return Identity.objects.select_for_update().select_related("customer").get(pk=identity.pk)


def _contact_claims(values: dict) -> list[IdentityClaim]:
    """Typed contact details as unverified claims: they never join two customers."""
    return [
        IdentityClaim(kind, values[field])
        for field, kind in CONTACT_FIELDS.items()
        if values.get(field)
    ]


def _name_fill(customer: Customer, name: str) -> None:
    if name:
        Customer.objects.filter(pk=customer.pk, display_name="").update(
            display_name=name[:200], updated_at=timezone.now()
        )


def _identities_add(
    *, identity: Identity, claims: list[IdentityClaim], via: CaptureVia, channel: ChannelAccount
):
    """Attaches `claims` to the visitor's customer. A contact detail makes them a lead,
    once, with the page they were on as the lead's source."""
    return customer_identities_add(
        customer=identity.customer,
        identities=claims,
        channel=channel,
        captured_via=via,
        source={"channel": channel.kind, **identity.details.get("context", {})},
    )


@transaction.atomic
def visitor_session_start(
    *,
    channel: ChannelAccount,
    session: VisitorSession | None,
    context: dict,
    profile: dict | None = None,
) -> VisitorSession:
    """Continues `session` (from `visitor_session_get`), or starts a new anonymous visitor
    when it is None. `context` (page, referrer, UTM, language, user agent) is kept for the
    next conversation's source; `profile` holds what the pre-chat form asked. A typed email
    or phone is an unverified claim: if it belongs to another customer it stays theirs (a
    merge suggestion for agents), and it never shows this visitor anyone's history."""
    context = _clean_context(context)
    profile = profile or {}
    if session is None:
        session = _visitor_new(channel=channel, context=context, name=profile.get("name", ""))
    identity = _locked(session.identity)
    customer = identity.customer
    customer.last_seen_at = timezone.now()
    customer.language = customer.language or context.get("language", "")[:16]
    customer.timezone = customer.timezone or context.get("timezone", "")[:64]
    customer.display_name = customer.display_name or profile.get("name", "")[:200]
    customer.save(
        update_fields=["last_seen_at", "language", "timezone", "display_name", "updated_at"]
    )
    if profile:
        identity.details = {**identity.details, "prechat": profile}
    identity.details = {**identity.details, "context": context}
    identity.save(update_fields=["details", "updated_at"])
    if claims := _contact_claims(profile):
        _identities_add(identity=identity, claims=claims, via=CaptureVia.PRECHAT, channel=channel)
        identity = _locked(identity)  # and its customer, now a lead
    return _session(channel, identity, session.token)


def _clean_context(context: dict) -> dict:
    return {
        key: str(context[key])[:2000] for key in CONTEXT_KEYS if context.get(key) not in (None, "")
    }


def _someone_else(identity: Identity, user_value: str) -> bool:
    """Whether the visitor's customer is known to be another person than the web user
    `user_value`: they have another verified web user id, or an agent kept them apart from
    the customer who has this one."""
    customer = identity.customer
    if customer.identities.filter(kind=IdentityKind.WEB_USER).exclude(value=user_value).exists():
        return True
    owner = Identity.objects.filter(kind=IdentityKind.WEB_USER, value=user_value).first()
    if owner is None or owner.customer_id == customer.pk:
        return False
    return customers_kept_apart(customer, customer_root(owner.customer))


def _refused(code: str, message: str, session: VisitorSession, user_id: str, why: str):
    # Never the secret or the hash: the channel, the visitor and the claimed user id.
    logger.warning(
        "Widget setUser refused (%s): channel %s, visitor identity %s, user id %r",
        why,
        session.channel.pk,
        session.identity.pk,
        user_id[:255],
    )
    return VisitorUserRefused(code, message)


def visitor_user_set(*, session: VisitorSession, user: dict) -> tuple[VisitorSession, bool]:
    """What the website says about its signed-in user (`Switchboard('setUser', {...})`).

    With `hash` = HMAC-SHA256(identity secret, id): the id becomes a verified web_user
    identity of the visitor's customer (merging with the customer who already has it) and
    the session sees that user's conversations. A wrong hash, or none while the channel
    requires verification, raises VisitorUserRefused and stores nothing. Without a hash the
    data is kept as reported, and email and phone are unverified claims.

    A visitor verified as one user who reports another starts a fresh visitor, so that a
    shared computer never shows one user's history to the next; so does a verified user
    whom an agent kept apart from this visitor's customer. Returns the session (a new one
    then, with a new token) and whether what it sees changed."""
    channel = session.channel
    user = dict(user)
    given = user.pop("hash", "")
    user_id = user.get("id", "")
    # Saved outside the transaction below: a refusal must not roll back the channel's secret.
    config = widget_config_stored(channel)
    if given:
        if not user_hash_valid(config.identity_secret, user_id, given):
            raise _refused(
                "invalid_user_hash",
                _(
                    "The user hash does not match this user id: compute it on your server "
                    "as HMAC-SHA256 of the user id with this widget's identity secret."
                ),
                session,
                user_id,
                "wrong hash",
            )
    elif config.require_verified_user:
        raise _refused(
            "user_verification_required",
            _("This widget accepts only verified users: send the user's hash with the id."),
            session,
            user_id,
            "no hash",
        )
    with transaction.atomic():
        return _visitor_user_store(session=session, user=user, verified=bool(given))


def _visitor_user_store(
    *, session: VisitorSession, user: dict, verified: bool
) -> tuple[VisitorSession, bool]:
    channel = session.channel
    identity = _locked(session.identity)
    user_value = identity_normalize(IdentityKind.WEB_USER, user["id"]) if user.get("id") else ""
    bound = identity.details.get(VERIFIED_USER, "")
    sees_user = _bound_user_identity(identity)
    fresh = bool(user_value) and (
        (bound and bound != user_value)
        or (verified and sees_user is None and _someone_else(identity, user_value))
    )
    if fresh:
        session = _visitor_new(channel=channel, context=identity.details.get("context", {}))
        identity, sees_user = _locked(session.identity), None

    identity.details = {
        **identity.details,
        "user": user,
        "user_reported_at": timezone.now().isoformat(),
    }
    identity.save(update_fields=["details", "updated_at"])
    claims = _contact_claims(user)
    if verified:
        claims.insert(
            0,
            IdentityClaim(
                IdentityKind.WEB_USER, user["id"], verified=True, verification=Verification.HMAC
            ),
        )
    if claims:
        _identities_add(
            identity=identity, claims=claims, via=CaptureVia.WEBSITE_USER, channel=channel
        )
        identity = _locked(identity)  # a merge may have moved it to another customer
    if verified and identity.details.get(VERIFIED_USER) != user_value:
        identity.details = {**identity.details, VERIFIED_USER: user_value}
        identity.save(update_fields=["details", "updated_at"])
    _name_fill(customer_root(identity.customer), user.get("name", ""))
    identity.customer.refresh_from_db()
    session = _session(channel, identity, session.token)
    changed = fresh or (sees_user is None and session.user_identity is not None)
    if changed and not fresh:
        # Open sockets of this visitor (other tabs too) join the verified user's group.
        transaction.on_commit(
            partial(
                realtime.push_visitor_session_changed,
                identity_id=identity.pk,
                inbox_id=channel.inbox_id,
            ),
            robust=True,
        )
    return session, changed


@transaction.atomic
def visitor_contact_leave(*, session: VisitorSession, contact: dict) -> None:
    """The lead form (shown while nobody is there to answer): a name and an email or phone
    to be reached at. Unverified claims, like the pre-chat form's."""
    identity = _locked(session.identity)
    identity.details = {**identity.details, "lead_form": contact}
    identity.save(update_fields=["details", "updated_at"])
    _identities_add(
        identity=identity,
        claims=_contact_claims(contact),
        via=CaptureVia.LEAD_FORM,
        channel=session.channel,
    )
    _name_fill(customer_root(identity.customer), contact.get("name", ""))


def visitor_conversation_get(*, session: VisitorSession) -> Conversation | None:
    """The session's conversation on this channel: the latest that runs on its visitor
    identity or on the web user it was verified as (never one of the customer's other
    conversations); a new message reopens it."""
    return (
        Conversation.objects.filter(
            identity__in=session.visible_identity_ids, inbox=session.channel.inbox_id
        )
        .order_by("-created_at")
        .first()
    )


# How stale `last_seen_at` may get while a visitor chats: it feeds lists and filters by the
# minute, and writing the customer's row on every message would cost a query each.
LAST_SEEN_PRECISION = datetime.timedelta(minutes=1)


def _customer_seen(customer: Customer) -> None:
    now = timezone.now()
    if customer.last_seen_at is None or now - customer.last_seen_at >= LAST_SEEN_PRECISION:
        Customer.objects.filter(pk=customer.pk).update(last_seen_at=now)
        customer.last_seen_at = now


@transaction.atomic
def visitor_message_send(
    *,
    session: VisitorSession,
    body: str,
    client_id: str | None,
    attachments: list[AttachmentUpload] | tuple = (),
) -> tuple[Message, bool]:
    """A visitor's message, into their conversation (started on the first message). A
    verified session's new conversation runs on the web user's identity, so the same user
    continues it from another device."""
    conversation = visitor_conversation_get(session=session)
    if conversation is None:
        # Serialises a visitor's first sends (and a verified user's, across devices), so two
        # first messages cannot start two conversations; later ones are serialised by
        # message_append's lock on the conversation.
        identity = _locked(session.identity)
        runs_on = _locked(session.user_identity) if session.user_identity else identity
        conversation = visitor_conversation_get(session=session)
        if conversation is None:
            conversation = conversation_create(
                inbox=session.channel.inbox,
                customer=runs_on.customer,
                identity=runs_on,
                source={"channel": session.channel.kind, **identity.details.get("context", {})},
            )
    _customer_seen(session.identity.customer)
    return message_receive(
        conversation=conversation, body=body, client_id=client_id, attachments=attachments
    )


# --- Availability -------------------------------------------------------------------------


def widget_is_within_hours(config: WidgetConfig, now: datetime.datetime | None = None) -> bool:
    """Whether the channel's inbox is within its business hours (an inbox without any is
    always open)."""
    return hours_is_open(schedule=config.channel.inbox.business_hours, at=now or timezone.now())


def widget_agents_online(channel: ChannelAccount) -> bool:
    """Whether anyone who may answer this channel's inbox has the console open."""
    user_ids = (
        User.objects.filter(is_active=True)
        .filter(
            Q(inboxes=channel.inbox_id)
            | Q(teams__inboxes=channel.inbox_id)
            | Q(groups__name__in=[Role.ADMIN, Role.SUPERVISOR])
            | Q(is_superuser=True)
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    return any_agent_present(user_ids=list(user_ids))


def widget_availability(channel: ChannelAccount, config: WidgetConfig) -> dict:
    within_hours = widget_is_within_hours(config)
    online = within_hours and widget_agents_online(channel)
    return {"online": online, "within_hours": within_hours}


# --- Rating (CSAT) and the queue position -------------------------------------------------


def visitor_csat_submit(
    *, session: VisitorSession, rating: int, comment: str = ""
) -> CsatResponse | None:
    """The visitor's rating of their conversation, while its request is open (None when no
    rating was asked, or it was asked more than 24 hours ago)."""
    conversation = visitor_conversation_get(session=session)
    if conversation is None:
        return None
    return csat_submit(conversation=conversation, rating=rating, comment=comment)


def widget_csat_question(conversation: Conversation) -> str | None:
    """The rating question while the widget awaits a rating, else None."""
    return csat_awaited_question(conversation=conversation)


def widget_queue_position(conversation: Conversation) -> int | None:
    """The conversation's place in its team's queue (1: next) while it waits for an agent;
    None when it is not waiting. The widget re-reads it on its heartbeat."""
    if (
        conversation.queued_at is None
        or conversation.assignee_id is not None
        or conversation.status == ConversationStatus.RESOLVED
    ):
        return None
    return queue_position(conversation=conversation)
