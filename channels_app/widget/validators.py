"""Validation of the widget settings admins type in."""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def validate_color(value: str) -> None:
    if not _COLOR.match(value or ""):
        raise ValidationError(_("Enter a colour as #rrggbb, for example #2563eb."))


def parse_origins(text: str) -> list[str]:
    """One origin per line (`https://shop.example.com`), normalised; blank lines ignored."""
    origins = []
    for line in (text or "").splitlines():
        line = line.strip().rstrip("/")
        if not line:
            continue
        parts = urlsplit(line)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
            raise ValidationError(
                _("“%(origin)s” is not a website origin such as https://shop.example.com."),
                params={"origin": line},
            )
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return origins


def validate_origins(text: str) -> None:
    parse_origins(text)


def validate_business_hours(value) -> None:
    """{"mon": [["09:00", "18:00"]], ...}; a day left out is closed; {} means always open.
    The widget's own hours are gone (the inbox's business hours replaced them); kept for
    the migrations that refer to it."""
    if not isinstance(value, dict):
        raise ValidationError(_("Business hours must be an object keyed by weekday."))
    for day, ranges in value.items():
        if day not in WEEKDAYS:
            raise ValidationError(
                _("Unknown weekday “%(day)s”; use %(days)s."),
                params={"day": day, "days": ", ".join(WEEKDAYS)},
            )
        if not isinstance(ranges, list):
            raise ValidationError(_("Each weekday needs a list of [start, end] pairs."))
        for pair in ranges:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(t, str) and _TIME.match(t) for t in pair)
                or pair[0] >= pair[1]
            ):
                raise ValidationError(
                    _('%(day)s: %(pair)s is not a range such as ["09:00", "18:00"].'),
                    params={"day": day, "pair": pair},
                )


def validate_content_types(value: str) -> None:
    for item in (value or "").split(","):
        item = item.strip()
        if item and not re.match(r"^[a-z]+/[a-z0-9.+-]+$", item):
            raise ValidationError(
                _("“%(type)s” is not a file type such as image/png."), {"type": item}
            )
        if item == "image/svg+xml":
            raise ValidationError(_("SVG images can carry scripts and cannot be allowed."))
