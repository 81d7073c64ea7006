"""Identity values in one canonical form, so the unique constraint on (kind, value) means
"the same person": phones in E.164, emails trimmed and lower-cased."""

import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from .enums import IdentityKind

MAX_VALUE_LENGTH = 255


class InvalidIdentity(ValueError):
    """A value that cannot be an identity of its kind; the message says why."""


def phone_normalize(raw: str, region: str | None = None) -> str:
    """E.164 (`+8613800138000`). A number without a country code is read in `region`
    (the channel's default), else `PHONE_DEFAULT_REGION`."""
    text = str(raw).strip()
    region = (region or settings.PHONE_DEFAULT_REGION or "").upper() or None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        if region is None and not text.startswith("+"):
            raise InvalidIdentity(
                _("“%(value)s” is not a valid phone number: add the country code, e.g. +44.")
                % {"value": text[:40]}
            )
        raise InvalidIdentity(_("“%(value)s” is not a valid phone number.") % {"value": text[:40]})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_region(e164: str) -> str:
    """The country or region a normalised phone number belongs to ("" when unknown)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or ""
    except phonenumbers.NumberParseException:
        return ""


def email_normalize(raw: str) -> str:
    value = str(raw).strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise InvalidIdentity(
            _("“%(value)s” is not a valid email address.") % {"value": value[:60]}
        ) from None
    return value


WHATSAPP_BSUID = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9.]{4,200}$")


def identity_normalize(kind: str, raw: str, *, region: str | None = None) -> str:
    if kind not in IdentityKind.values:
        raise InvalidIdentity(_("Unknown identity kind “%(kind)s”.") % {"kind": str(kind)[:32]})
    if kind == IdentityKind.PHONE:
        return phone_normalize(raw, region)
    if kind == IdentityKind.EMAIL:
        return email_normalize(raw)
    if kind == IdentityKind.WHATSAPP:
        # A customer who hides their number is known by a business-scoped user id
        # ("US.13491208655302741918"), kept as given.
        if WHATSAPP_BSUID.match(str(raw).strip()):
            return str(raw).strip()
        # Otherwise a WhatsApp id is the phone number's digits, without "+".
        digits = "".join(ch for ch in str(raw) if ch.isdigit())
        if not 6 <= len(digits) <= 15:
            raise InvalidIdentity(_("A WhatsApp id is a phone number's 6 to 15 digits."))
        return digits
    value = str(raw).strip()
    if not value:
        raise InvalidIdentity(_("An identity needs a value."))
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidIdentity(_("An identity is at most 255 characters long."))
    return value
