"""The website widget as a channel: visitor sessions, their one conversation per
channel, and whether anyone is there to answer."""

import datetime
import uuid
import zoneinfo
from dataclasses import dataclass

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.enums import Role
from accounts.models import User
from customers.enums import IdentityKind
from customers.models import Customer, Identity
from inbox.files import AttachmentUpload
from inbox.models import Conversation, Message
from inbox.presence import any_agent_present
from inbox.services import conversation_create, message_receive

from ..models import ChannelAccount, WidgetConfig
from .validators import WEEKDAYS, parse_origins

TOKEN_SALT = "widget.visitor"  # noqa: S105 (a signing namespace, not a secret)
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


@dataclass(frozen=True)
class VisitorSession:
    channel: ChannelAccount
    identity: Identity
    token: str

    @property
    def customer(self) -> Customer:
        return self.identity.customer


def widget_config_get(channel: ChannelAccount) -> WidgetConfig:
    """The channel's widget settings; the defaults (unsaved) until an admin saves some."""
    try:
        return channel.widget
    except WidgetConfig.DoesNotExist:
        return WidgetConfig(channel=channel)


def widget_channel_get(public_key: str) -> ChannelAccount | None:
    return (
        ChannelAccount.objects.select_related("inbox", "widget")
        .filter(public_key=public_key, kind="web", is_active=True)
        .first()
    )


def widget_allowed_origins(config: WidgetConfig) -> list[str]:
    return parse_origins(config.allowed_origins)


# --- Visitor sessions ---------------------------------------------------------------------


def visitor_token_issue(*, channel: ChannelAccount, identity: Identity) -> str:
    return signing.dumps({"c": channel.pk, "v": identity.value}, salt=TOKEN_SALT, compress=True)


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
    return VisitorSession(channel=channel, identity=identity, token=token)


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
    next conversation's source; `profile` holds what the pre-chat form asked."""
    now = timezone.now()
    if session is None:
        customer = Customer.objects.create(first_seen_at=now, last_seen_at=now)
        identity = Identity.objects.create(
            customer=customer, kind=IdentityKind.WEB_VISITOR, value=uuid.uuid4().hex
        )
        session = VisitorSession(
            channel=channel,
            identity=identity,
            token=visitor_token_issue(channel=channel, identity=identity),
        )
    identity = session.identity
    customer = identity.customer
    customer.last_seen_at = now
    if language := context.get("language"):
        customer.language = customer.language or language[:16]
    if tz := context.get("timezone"):
        customer.timezone = customer.timezone or tz[:64]
    if profile:
        identity.details = {**identity.details, "prechat": profile}
        if profile.get("name"):
            customer.display_name = profile["name"][:200]
    identity.details = {**identity.details, "context": _clean_context(context)}
    identity.save(update_fields=["details", "updated_at"])
    customer.save()
    return session


def _clean_context(context: dict) -> dict:
    return {
        key: str(context[key])[:2000] for key in CONTEXT_KEYS if context.get(key) not in (None, "")
    }


@transaction.atomic
def visitor_user_set(*, session: VisitorSession, user: dict) -> None:
    """Stores what the website says about its signed-in user (`Switchboard('setUser')`).
    Unverified until the identity checks the hash; shown to agents as reported."""
    identity = Identity.objects.select_for_update().get(pk=session.identity.pk)
    identity.details = {
        **identity.details,
        "user": user,
        "user_reported_at": timezone.now().isoformat(),
    }
    identity.save(update_fields=["details", "updated_at"])
    customer = identity.customer
    if user.get("name") and not customer.display_name:
        customer.display_name = user["name"][:200]
        customer.save(update_fields=["display_name", "updated_at"])


def visitor_conversation_get(*, session: VisitorSession) -> Conversation | None:
    """The visitor's conversation on this channel: the latest one, which a new message
    reopens."""
    return (
        Conversation.objects.filter(identity=session.identity, inbox=session.channel.inbox_id)
        .order_by("-created_at")
        .first()
    )


@transaction.atomic
def visitor_message_send(
    *,
    session: VisitorSession,
    body: str,
    client_id: str | None,
    attachments: list[AttachmentUpload] | tuple = (),
) -> tuple[Message, bool]:
    """A visitor's message, into their conversation (started on the first message)."""
    # Serialises a visitor's sends, so two first messages cannot start two conversations.
    identity = Identity.objects.select_for_update().get(pk=session.identity.pk)
    conversation = visitor_conversation_get(session=session)
    if conversation is None:
        conversation = conversation_create(
            inbox=session.channel.inbox,
            customer=identity.customer,
            identity=identity,
            source={"channel": session.channel.kind, **identity.details.get("context", {})},
        )
    Customer.objects.filter(pk=identity.customer_id).update(last_seen_at=timezone.now())
    return message_receive(
        conversation=conversation, body=body, client_id=client_id, attachments=attachments
    )


# --- Availability -------------------------------------------------------------------------


def widget_is_within_hours(config: WidgetConfig, now: datetime.datetime | None = None) -> bool:
    if not config.business_hours:
        return True
    local = (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(config.timezone))
    day = WEEKDAYS[local.weekday()]
    clock = local.strftime("%H:%M")
    return any(start <= clock < end for start, end in config.business_hours.get(day, []))


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
