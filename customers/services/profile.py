"""A customer's profile: fields, custom attributes, tags, notes, lead capture and
attribution. Every change is recorded in the customer's history with who and when."""

import datetime
import math
import zoneinfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from ..enums import AttributeType, CaptureVia, ChangeAction, LeadStatus
from ..models import AttributeDefinition, Customer, CustomerNote, Tag
from .history import change_record

# Fields an agent or an integration may change directly.
EDITABLE_FIELDS = (
    "display_name",
    "avatar_url",
    "language",
    "country",
    "timezone",
    "lead_status",
    "is_blocked",
)
MAX_TEXT_ATTRIBUTE = 1000


def _validate_field(name: str, value):
    if name == "display_name":
        value = str(value or "").strip()
        if len(value) > 200:
            raise ValidationError(_("At most 200 characters."))
    elif name == "avatar_url":
        value = str(value or "").strip()
        if value:
            URLValidator(schemes=["https", "http"])(value)
    elif name == "language":
        value = str(value or "").strip()
        if len(value) > 16:
            raise ValidationError(_("Use a language code such as en or zh-Hans."))
    elif name == "country":
        value = str(value or "").strip().upper()
        if value and value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError(_("Use a two-letter country or region code such as CN or GB."))
    elif name == "timezone":
        value = str(value or "").strip()
        if value and value not in zoneinfo.available_timezones():
            raise ValidationError(_("Use a time zone name such as Asia/Shanghai."))
    elif name == "lead_status" and value not in LeadStatus.values:
        raise ValidationError(_("Unknown lead status."))
    elif name == "is_blocked" and not isinstance(value, bool):
        raise ValidationError(_("Must be true or false."))
    return value


def attribute_value_clean(definition: AttributeDefinition, value):
    """`value` in the form stored for the attribute's type; ValidationError if it does not fit.
    Numbers may come as text (from CSV), booleans as true/false/yes/no/1/0."""
    kind = definition.type
    if kind == AttributeType.TEXT:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValidationError(_("Must be text."))
        value = str(value).strip()
        if len(value) > MAX_TEXT_ATTRIBUTE:
            raise ValidationError(_("At most 1000 characters."))
        return value
    if kind == AttributeType.NUMBER:
        if isinstance(value, bool):
            raise ValidationError(_("Must be a number."))
        try:
            number = float(value) if not isinstance(value, int) else value
        except (TypeError, ValueError):
            raise ValidationError(_("Must be a number.")) from None
        if isinstance(number, float):
            if not math.isfinite(number):
                raise ValidationError(_("Must be a number."))
            if number.is_integer() and abs(number) < 2**53:
                number = int(number)
        return number
    if kind == AttributeType.DATE:
        try:
            return datetime.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValidationError(_("Must be a date as YYYY-MM-DD.")) from None
    if kind == AttributeType.LIST:
        if str(value) not in definition.options:
            raise ValidationError(
                _("Must be one of: %(options)s.") % {"options": ", ".join(definition.options)}
            )
        return str(value)
    if kind == AttributeType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        raise ValidationError(_("Must be true or false."))
    if kind == AttributeType.LINK:
        value = str(value).strip()
        URLValidator(schemes=["https", "http"])(value)
        return value
    raise ValidationError(_("Unknown attribute type."))


def attributes_clean(changes: dict) -> dict:
    """Validated attribute changes; a None value removes the attribute."""
    if not isinstance(changes, dict):
        raise ValidationError({"attributes": [_("Must be an object of key: value.")]})
    definitions = {d.key: d for d in AttributeDefinition.objects.filter(key__in=list(changes))}
    cleaned, errors = {}, {}
    for key, value in changes.items():
        definition = definitions.get(key)
        if value is None or value == "":
            cleaned[key] = None  # removal, allowed even after the definition was deleted
        elif definition is None:
            errors[key] = [_("No custom attribute has this key.")]
        else:
            try:
                cleaned[key] = attribute_value_clean(definition, value)
            except ValidationError as error:
                errors[key] = error.messages
    if errors:
        raise ValidationError(
            {"attributes": [f"{key}: {' '.join(m)}" for key, m in errors.items()]}
        )
    return cleaned


@transaction.atomic
def customer_update(*, customer: Customer, actor: User | None, data: dict) -> Customer:
    """Changes the given fields and attributes (partial update); each change is recorded."""
    customer = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
    errors, cleaned = {}, {}
    for name, value in data.items():
        if name == "attributes":
            continue
        if name not in EDITABLE_FIELDS:
            errors[name] = [_("This field cannot be changed.")]
            continue
        try:
            cleaned[name] = _validate_field(name, value)
        except ValidationError as error:
            errors[name] = error.messages
    attributes = {}
    if "attributes" in data:
        try:
            attributes = attributes_clean(data["attributes"])
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    changed = False
    for name, value in cleaned.items():
        old = getattr(customer, name)
        if old != value:
            changed = True
            setattr(customer, name, value)
            change_record(
                customer, ChangeAction.UPDATED, actor=actor, field=name, old=old, new=value
            )
    for key, value in attributes.items():
        old = customer.attributes.get(key)
        if old == value:
            continue
        changed = True
        if value is None:
            customer.attributes.pop(key, None)
        else:
            customer.attributes[key] = value
        change_record(
            customer,
            ChangeAction.UPDATED,
            actor=actor,
            field=f"attributes.{key}",
            old=old,
            new=value,
        )
    if changed:
        customer.save()
    return customer


# --- Tags ---------------------------------------------------------------------------------


def tag_get_or_create(name: str) -> Tag:
    name = " ".join(str(name).split())
    if not name or len(name) > 50:
        raise ValidationError({"tag": [_("A tag is 1 to 50 characters long.")]})
    tag = Tag.objects.filter(name__iexact=name).first()
    if tag is None:
        Tag.objects.bulk_create([Tag(name=name)], ignore_conflicts=True)
        tag = Tag.objects.get(name__iexact=name)
    return tag


@transaction.atomic
def customer_tag_add(*, customer: Customer, name: str, actor: User | None) -> Tag:
    tag = tag_get_or_create(name)
    if not customer.tags.filter(pk=tag.pk).exists():
        customer.tags.add(tag)
        change_record(customer, ChangeAction.TAG_ADDED, actor=actor, tag=tag.name)
    return tag


@transaction.atomic
def customer_tag_remove(*, customer: Customer, tag: Tag, actor: User | None) -> None:
    if customer.tags.filter(pk=tag.pk).exists():
        customer.tags.remove(tag)
        change_record(customer, ChangeAction.TAG_REMOVED, actor=actor, tag=tag.name)


# --- Notes --------------------------------------------------------------------------------


@transaction.atomic
def customer_note_add(*, customer: Customer, author: User, body: str) -> CustomerNote:
    body = str(body).strip()
    if not body:
        raise ValidationError({"body": [_("A note needs some text.")]})
    if len(body) > 5000:
        raise ValidationError({"body": [_("A note is at most 5000 characters long.")]})
    note = CustomerNote.objects.create(customer=customer, author=author, body=body)
    change_record(customer, ChangeAction.NOTE_ADDED, actor=author, note=note.pk)
    return note


@transaction.atomic
def customer_note_delete(*, note: CustomerNote, actor: User) -> None:
    change_record(
        note.customer, ChangeAction.NOTE_DELETED, actor=actor, note=note.pk, text=note.body[:200]
    )
    note.delete()


# --- Lead capture and attribution ---------------------------------------------------------


def customer_lead_capture(
    *,
    customer: Customer,
    via: CaptureVia,
    channel_kind: str = "",
    source: dict | None = None,
    actor: User | None = None,
) -> bool:
    """Makes the customer a lead, once: the first capture's time, channel and source stay.
    True when this call made them a lead. One UPDATE guarded by `lead_captured_at IS NULL`,
    so two captures at the same moment still record one."""
    now = timezone.now()
    source = source if source is not None else customer.last_touch
    captured = Customer.objects.filter(pk=customer.pk, lead_captured_at__isnull=True).update(
        lead_captured_at=now,
        lead_via=via,
        lead_channel=channel_kind or source.get("channel", ""),
        lead_source=source,
        lead_status=Case(
            When(lead_status=LeadStatus.NONE, then=Value(LeadStatus.NEW)),
            default=F("lead_status"),
        ),
        updated_at=now,
    )
    if captured:
        customer.refresh_from_db()
        change_record(customer, ChangeAction.LEAD_CAPTURED, actor=actor, via=via)
    return bool(captured)


def customer_touch(*, customer: Customer, source: dict) -> None:
    """Records a conversation's source as the customer's last touch, and as the first
    touch if they had none."""
    touch = {**source, "at": timezone.now().isoformat()}
    Customer.objects.filter(pk=customer.pk).filter(Q(first_touch={})).update(first_touch=touch)
    Customer.objects.filter(pk=customer.pk).update(last_touch=touch)
