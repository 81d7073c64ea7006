"""Routing: where a new conversation goes. Runs once per conversation, on its first
customer message (so that the language is known): it detects the language, fills in the
customer's country, tries the active routing rules in order, applies the first that
matches (team, skills needed, priority, or an agent) and then assigns the conversation
within its team, or queues it."""

import datetime
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial

import iptocc
import phonenumbers
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.utils import timezone

from customers.enums import IdentityKind
from customers.models import Customer, Identity

from .. import realtime
from ..enums import Handler, HoursCondition, MessageDirection
from ..models import Conversation, RoutingRule
from .assignment import conversation_assign, conversation_autoassign
from .business_hours import hours_is_open
from .language import language_detect

# The customer's first messages read for the language (one word is often not enough).
LANGUAGE_MESSAGES = 3
PHONE_KINDS = (IdentityKind.PHONE, IdentityKind.WHATSAPP)
IP_KEYS = ("ip", "ip_address", "remote_addr")


def country_from_phone(value: str) -> str:
    """The ISO region of an international phone number ("" when unknown)."""
    digits = value.strip()
    if not digits:
        return ""
    try:
        number = phonenumbers.parse(digits if digits.startswith("+") else f"+{digits}")
    except phonenumbers.NumberParseException:
        return ""
    region = phonenumbers.region_code_for_number(number)
    return "" if not region or region == "ZZ" else region


def country_from_ip(value: str) -> str:
    """The ISO country of a public IP address, from the database shipped with `iptocc`."""
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return ""
    if not address.is_global:
        return ""
    return iptocc.country_code(str(address)) or ""


def customer_country_guess(*, conversation: Conversation) -> str:
    """The customer's country from a phone number they write from, else from an IP address
    the conversation's source or an identity's details carry."""
    identities = list(Identity.objects.filter(customer_id=conversation.customer_id))
    identities.sort(key=lambda identity: identity.pk != conversation.identity_id)
    for identity in identities:
        if identity.kind in PHONE_KINDS and (country := country_from_phone(identity.value)):
            return country
    places = [conversation.source or {}] + [identity.details or {} for identity in identities]
    for place in places:
        for key in IP_KEYS:
            value = place.get(key) if isinstance(place, dict) else None
            if value and (country := country_from_ip(value)):
                return country
    return ""


# The AI agent answers first where it serves: `ai_agent` registers this hook at start-up
# (the inbox does not import it). Called under the conversation's lock during routing, it
# returns True when the AI takes the conversation (no agent is assigned then).
_first_line: Callable[[Conversation, datetime.datetime], bool] | None = None


def first_line_register(hook: Callable[[Conversation, datetime.datetime], bool] | None) -> None:
    global _first_line
    _first_line = hook


@dataclass
class RoutingFacts:
    """What rules are tested against, read once per conversation."""

    conversation: Conversation
    now: datetime.datetime
    channel_kind: str = ""
    country: str = ""
    tag_ids: set = field(default_factory=set)
    attributes: dict = field(default_factory=dict)

    @cached_property
    def inside_hours(self) -> bool:
        return hours_is_open(schedule=self.conversation.inbox.business_hours, at=self.now)


def channel_kind(conversation: Conversation) -> str:
    """The kind of channel feeding the conversation's inbox ("" without one)."""
    try:
        return conversation.inbox.channel.kind
    except ObjectDoesNotExist:
        return ""


def rule_matches(rule: RoutingRule, facts: RoutingFacts) -> bool:
    """Whether every condition the rule sets holds (an empty condition matches anything)."""
    conversation = facts.conversation
    if rule.channel_kinds and facts.channel_kind not in rule.channel_kinds:
        return False
    inbox_ids = {inbox.pk for inbox in rule.inboxes.all()}
    if inbox_ids and conversation.inbox_id not in inbox_ids:
        return False
    if rule.countries and facts.country.upper() not in {c.upper() for c in rule.countries}:
        return False
    if rule.languages:
        language = conversation.language.lower().split("-")[0]
        if not language or language not in {code.lower().split("-")[0] for code in rule.languages}:
            return False
    tag_ids = {tag.pk for tag in rule.tags.all()}
    if tag_ids and not tag_ids & facts.tag_ids:
        return False
    for key, value in (rule.attributes or {}).items():
        if key not in facts.attributes or facts.attributes[key] != value:
            return False
    if rule.hours == HoursCondition.INSIDE and not facts.inside_hours:
        return False
    if rule.hours == HoursCondition.OUTSIDE and facts.inside_hours:
        return False
    return rule.min_priority is None or conversation.priority >= rule.min_priority


def routing_rule_for(*, conversation: Conversation, now: datetime.datetime) -> RoutingRule | None:
    """The first active rule, in order, that matches the conversation."""
    customer = conversation.customer
    facts = RoutingFacts(
        conversation=conversation,
        now=now,
        channel_kind=channel_kind(conversation),
        country=customer.country,
        tag_ids=set(customer.tags.values_list("pk", flat=True)),
        attributes=customer.attributes if isinstance(customer.attributes, dict) else {},
    )
    rules = RoutingRule.objects.filter(is_active=True).prefetch_related("inboxes", "tags")
    for rule in rules.order_by("position", "pk"):
        if rule_matches(rule, facts):
            return rule
    return None


def conversation_route(*, conversation: Conversation, now: datetime.datetime | None = None):
    """Routes the conversation once (a second call does nothing) and assigns it; returns
    the rule applied, or None."""
    now = now or timezone.now()
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("inbox__business_hours", "customer")
            .get(pk=conversation.pk)
        )
        if conversation.routed_at is not None:
            return None
        if not conversation.language:
            first = conversation.messages.filter(
                direction=MessageDirection.INBOUND, private=False
            ).order_by("seq")[:LANGUAGE_MESSAGES]
            conversation.language = language_detect(" ".join(m.body for m in first))
        customer = conversation.customer
        if not customer.country and (country := customer_country_guess(conversation=conversation)):
            # Only where still empty: never overwrite what someone set meanwhile.
            Customer.objects.filter(pk=customer.pk, country="").update(country=country)
            customer.country = country
        rule = routing_rule_for(conversation=conversation, now=now)
        if rule is not None:
            if rule.team_id:
                conversation.team_id = rule.team_id
            if rule.required_skills:
                conversation.required_skills = list(rule.required_skills)
            if rule.set_priority is not None:
                conversation.priority = rule.set_priority
        conversation.routed_at = now
        conversation.save(
            update_fields=[
                "language",
                "team",
                "required_skills",
                "priority",
                "routed_at",
                "updated_at",
            ]
        )
        transaction.on_commit(
            partial(realtime.push_conversation_updated, conversation), robust=True
        )
        if (
            conversation.assignee_id is None
            and conversation.handler == Handler.HUMAN
            and not (rule is not None and (rule.skip_ai or rule.agent_id))
            and _first_line is not None
            and _first_line(conversation, now)
        ):
            conversation.handler = Handler.AI
            conversation.save(update_fields=["handler", "updated_at"])
        if conversation.assignee_id is None and conversation.handler == Handler.HUMAN:
            if rule is not None and rule.agent_id:
                conversation_assign(conversation=conversation, agent=rule.agent, now=now)
            else:
                conversation_autoassign(conversation=conversation, now=now)
    return rule
