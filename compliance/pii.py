"""Personal data in free text: find it, and mask it before the text leaves for a model provider.

Kinds: "email", "phone", "id_card" (a mainland resident identity number), "bank_card" and
"ip". Long digit runs are everywhere in customer service (order numbers, tracking numbers,
timestamps), so a run is only an identity number when its check digit and birth date hold,
and only a card number when it passes Luhn and starts like a real card.

Text is read after NFKC normalisation (customers type full-width digits, "+" and "@"),
but every match carries offsets and the value as written in the original text."""

import datetime
import ipaddress
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import phonenumbers

KINDS = ("email", "phone", "id_card", "bank_card", "ip")

# When two kinds claim the same characters, the earlier kind wins: an identity number
# with a valid check digit is not also a phone number.
_PRIORITY = ("email", "id_card", "bank_card", "ip", "phone")

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9-])"
)
# 6-digit area, 8-digit birth date, 3-digit sequence, check character; spaces allowed
# between the parts because people copy it that way from a card.
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{6}[ -]?\d{8}[ -]?\d{3}[0-9Xx](?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# First two digits: provinces, plus 71 (Taiwan) and 81-83 (Hong Kong, Macao and Taiwan
# residence permits).
_ID_PROVINCES = frozenset().union(
    range(11, 16), range(21, 24), range(31, 38), range(41, 47), range(50, 55), range(61, 66)
) | {71, 81, 82, 83}
# Digits grouped by single spaces or dashes ("6222 0212 3456 7890 123"); letters glued to
# the run ("SO-99812", "A12345") make it a code, not a card.
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d+(?:[ -]\d+)*(?![0-9A-Za-z])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
# A mainland mobile number needs no region to be recognised: 1[3-9] and 11 digits, written
# whole or in groups ("138 0013 8000"), optionally after +86 or 0086.
_CN_MOBILE = re.compile(
    r"(?<![0-9A-Za-z+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d){8}(?![0-9A-Za-z])"
)
_PLACEHOLDER = re.compile(r"[\[【［]\s*(EMAIL|PHONE|ID_CARD|BANK_CARD|IP)_(\d+)\s*[\]】］]", re.I)


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int
    value: str  # as written: text[start:end]


def pii_find(text: str, *, default_region: str = "") -> list[PiiMatch]:
    """Every piece of personal data in `text`, in order, never overlapping. National phone
    numbers are read in `default_region`; without one only international numbers (+44 ...)
    and mainland mobiles are found."""
    normalized, origins = _normalize_with_origins(text)
    region = default_region.upper() or None
    found: dict[str, list[tuple[int, int]]] = {
        "email": [m.span() for m in _EMAIL.finditer(normalized)],
        "id_card": [m.span() for m in _ID_CARD.finditer(normalized) if id_card_is_valid(m[0])],
        "bank_card": _bank_card_spans(normalized),
        "ip": _ip_spans(normalized),
        "phone": _phone_spans(normalized, region),
    }
    taken: list[tuple[int, int, str]] = []
    for kind in _PRIORITY:
        for start, end in found[kind]:
            if all(end <= other_start or start >= other_end for other_start, other_end, _ in taken):
                taken.append((start, end, kind))
    matches = []
    for start, end, kind in sorted(taken):
        original_start, original_end = origins[start], origins[end]
        matches.append(
            PiiMatch(kind, original_start, original_end, text[original_start:original_end])
        )
    return matches


def pii_mask(
    text: str,
    *,
    kinds: Collection[str] | None = None,
    default_region: str = "",
    mapping: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """`text` with each match of `kinds` (all by default) replaced by a placeholder such as
    "[PHONE_1]", and {placeholder: original}. The same number or address written twice, even
    differently ("138 0013 8000", "13800138000"), gets one placeholder, so a model can tell
    they are the same; unmasking writes it back as first written. Pass the `mapping` of
    earlier messages of the conversation to keep their placeholders."""
    wanted = set(KINDS if kinds is None else kinds)
    if unknown := wanted - set(KINDS):
        raise ValueError(f"Unknown PII kinds: {', '.join(sorted(unknown))}")
    placeholders = dict(mapping or {})
    by_value = {
        _canonical(_placeholder_kind(placeholder), original, default_region): placeholder
        for placeholder, original in placeholders.items()
    }
    pieces = []
    position = 0
    for match in pii_find(text, default_region=default_region):
        if match.kind not in wanted:
            continue
        key = _canonical(match.kind, match.value, default_region)
        placeholder = by_value.get(key)
        if placeholder is None:
            placeholder = _new_placeholder(match.kind, placeholders, text)
            placeholders[placeholder] = match.value
            by_value[key] = placeholder
        pieces += [text[position : match.start], placeholder]
        position = match.end
    pieces.append(text[position:])
    return "".join(pieces), placeholders


def pii_unmask(text: str, mapping: Mapping[str, str]) -> str:
    """Puts the originals back where a model's reply repeats a placeholder, also when it
    changed the case or wrote full-width brackets; unknown placeholders stay as they are."""
    canonical = {placeholder.upper(): original for placeholder, original in mapping.items()}

    def original(match: re.Match) -> str:
        return canonical.get(f"[{match[1].upper()}_{match[2]}]", match[0])

    return _PLACEHOLDER.sub(original, text)


def phone_e164(raw: str, *, default_region: str = "") -> str:
    """`raw` as E.164 ("+8613800138000"), or "" when it is not a valid number. National
    numbers are read in `default_region`; a mainland mobile (1[3-9], 11 digits) is +86
    without one."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+"):
        regions = [None]
    else:
        regions = [default_region.upper() or None]
        if _CN_MOBILE.fullmatch(text):
            regions.append("CN")
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return ""


def id_card_is_valid(value: str) -> bool:
    """A mainland resident identity number: 18 characters, a known province, a real birth
    date that is not in the future, and the ISO 7064 MOD 11-2 check character."""
    chars = re.sub(r"[ -]", "", unicodedata.normalize("NFKC", value)).upper()
    if not re.fullmatch(r"\d{17}[0-9X]", chars) or int(chars[:2]) not in _ID_PROVINCES:
        return False
    try:
        born = datetime.date(int(chars[6:10]), int(chars[10:12]), int(chars[12:14]))
    except ValueError:
        return False
    if not datetime.date(1900, 1, 1) <= born <= datetime.date.today():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(chars, _ID_WEIGHTS, strict=False))
    return _ID_CHECK[total % 11] == chars[17]


def bank_card_is_valid(value: str) -> bool:
    """13 to 19 digits that pass Luhn and start like a payment card (2221-2720, 3, 4, 5, 6,
    or 9 for domestic Chinese cards): timestamps (1...) and date-led order numbers (20...)
    do not."""
    digits = re.sub(r"[ -]", "", value)
    if not (digits.isdigit() and 13 <= len(digits) <= 19):
        return False
    if digits[0] not in "234569" or (digits[0] == "2" and not 2221 <= int(digits[:4]) <= 2720):
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value_of = int(digit) * (2 if index % 2 else 1)
        total += value_of - 9 if value_of > 9 else value_of
    return total % 10 == 0


def _normalize_with_origins(text: str) -> tuple[str, list[int]]:
    """NFKC of `text`, and for each of its characters (plus the end) the offset in `text`
    it came from, so matches found in the normalised text map back to what was written."""
    pieces = []
    origins = []
    for offset, char in enumerate(text):
        normalized = unicodedata.normalize("NFKC", char)
        pieces.append(normalized)
        origins += [offset] * len(normalized)
    origins.append(len(text))
    return "".join(pieces), origins


def _bank_card_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for run in _DIGIT_RUN.finditer(text):
        if bank_card_is_valid(run[0]):
            spans.append(run.span())
            continue
        # Groups that do not make a card together may hold one alone ("2024-11-22 6222...").
        for part in re.finditer(r"\d+", run[0]):
            if bank_card_is_valid(part[0]):
                spans.append((run.start() + part.start(), run.start() + part.end()))
    return spans


def _ip_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _IPV4.finditer(text):
        if _is_ip(match[0]):
            spans.append(match.span())
    for match in _IPV6.finditer(text):
        # Two groups at least, with a digit: "::" alone and times ("12:30:45") are not.
        groups = [group for group in match[0].split(":") if group]
        if len(groups) >= 2 and re.search(r"\d", match[0]) and _is_ip(match[0]):
            spans.append(match.span())
    return spans


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _phone_spans(text: str, region: str | None) -> list[tuple[int, int]]:
    spans = [
        (match.start, match.end)
        for match in phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.VALID
        )
    ]
    for match in _CN_MOBILE.finditer(text):
        start, end = match.span()
        overlaps = any(start < other_end and end > other_start for other_start, other_end in spans)
        if not overlaps and phone_e164(match[0]):
            spans.append((start, end))
    return spans


def _canonical(kind: str, value: str, default_region: str) -> tuple[str, str]:
    """What makes two matches the same person's data, whatever the spelling."""
    text = unicodedata.normalize("NFKC", value).strip()
    if kind == "phone":
        text = phone_e164(text, default_region=default_region) or text
    elif kind == "email":
        text = text.lower()
    elif kind in ("id_card", "bank_card"):
        text = re.sub(r"[ -]", "", text).upper()
    elif kind == "ip" and _is_ip(text):
        text = str(ipaddress.ip_address(text))
    return kind, text


def _placeholder_kind(placeholder: str) -> str:
    match = _PLACEHOLDER.fullmatch(placeholder)
    return match[1].lower() if match else ""


def _new_placeholder(kind: str, taken: Mapping[str, str], text: str) -> str:
    """The next free number for `kind`, skipping any placeholder-like text the customer
    typed, so unmasking never rewrites their own words."""
    number = 1
    while True:
        placeholder = f"[{kind.upper()}_{number}]"
        if placeholder not in taken and placeholder not in text:
            return placeholder
        number += 1
