"""Validators shared by the apps' settings forms."""

import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(tz)s” is not a known time zone."), params={"tz": value})
