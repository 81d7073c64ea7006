"""CSV import (upsert by identity, with a dry run that runs the real import and rolls it
back) and export, in one column layout so that an exported file imports unchanged."""

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User

from ..enums import IdentityKind, Verification
from ..models import AttributeDefinition, Customer
from ..normalization import InvalidIdentity, identity_normalize
from .identities import IdentityClaim, customer_identities_add, identities_matching
from .profile import customer_tag_add, customer_update

MAX_IMPORT_BYTES = 5 * 2**20
MAX_IMPORT_ROWS = 20_000
PROFILE_COLUMNS = ("name", "language", "country", "timezone", "lead_status")
IDENTITY_COLUMNS = tuple(kind for kind in IdentityKind.values if kind != IdentityKind.WEB_VISITOR)
ATTRIBUTE_PREFIX = "attr:"
MULTI_SEPARATOR = ";"
# Cells a spreadsheet would run as a formula are written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ImportRefused(Exception):
    """The file as a whole cannot be imported; the message says why."""


@dataclass
class RowResult:
    row: int  # the line number in the file (the header is line 1)
    action: str  # "create", "update", "unchanged" or "error"
    customer: str | None = None
    errors: dict = field(default_factory=dict)


@dataclass
class ImportResult:
    dry_run: bool
    rows: list[RowResult]

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "created": self.count("create"),
            "updated": self.count("update"),
            "unchanged": self.count("unchanged"),
            "failed": self.count("error"),
            "rows": [row.__dict__ for row in self.rows],
        }


class _DryRun(Exception):
    pass


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRefused(_("The file is not UTF-8 (or GB18030) text."))


def _unescape(cell: str) -> str:
    cell = cell.strip()
    if cell.startswith("'") and cell[1:2] in FORMULA_STARTS:
        return cell[1:]
    return cell


def _rows(data: bytes) -> tuple[list[str], list[dict]]:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRefused(_("The file is larger than 5 MB; split it."))
    reader = csv.DictReader(io.StringIO(_decode(data), newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    if not header:
        raise ImportRefused(_("The file is empty."))
    reader.fieldnames = header
    known = set(PROFILE_COLUMNS) | set(IDENTITY_COLUMNS) | {"id", "tags"}
    keys = set(AttributeDefinition.objects.values_list("key", flat=True))
    unknown = [
        name
        for name in header
        if name not in known
        and not (name.startswith(ATTRIBUTE_PREFIX) and name[len(ATTRIBUTE_PREFIX) :] in keys)
        and name not in EXPORT_ONLY_COLUMNS
    ]
    if unknown:
        raise ImportRefused(
            _("Unknown columns: %(columns)s.") % {"columns": ", ".join(unknown[:10])}
        )
    rows = []
    for number, row in enumerate(reader, start=2):
        if number - 1 > MAX_IMPORT_ROWS:
            raise ImportRefused(_("At most 20,000 rows per file."))
        rows.append({"_line": number, **{k: _unescape(v or "") for k, v in row.items() if k}})
    return header, rows


def _claims(row: dict, errors: dict) -> list[IdentityClaim]:
    claims = []
    for kind in IDENTITY_COLUMNS:
        for raw in filter(None, (v.strip() for v in row.get(kind, "").split(MULTI_SEPARATOR))):
            try:
                value = identity_normalize(kind, raw)
            except InvalidIdentity as error:
                errors.setdefault(kind, []).append(str(error))
                continue
            # The company's own records: trusted like a channel, so a later WhatsApp message
            # from an imported number finds this customer.
            claims.append(
                IdentityClaim(kind, value, verified=True, verification=Verification.IMPORT)
            )
    return claims


def _target(row: dict, claims: list[IdentityClaim], errors: dict) -> Customer | None:
    owners = {identity.customer_id for identity in identities_matching(claims).values()}
    target = None
    if row.get("id"):
        target = Customer.objects.active().filter(uuid=_uuid_or_none(row["id"])).first()
        if target is None:
            errors["id"] = [_("No customer has this id.")]
            return None
    if len(owners - ({target.pk} if target else set())) > (0 if target else 1):
        errors["identities"] = [
            _("These identities belong to different customers; merge them first.")
        ]
        return None
    if target is None and owners:
        target = Customer.objects.get(pk=owners.pop())
    return target


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _profile(row: dict) -> dict:
    data = {}
    for column in PROFILE_COLUMNS:
        if row.get(column):
            data["display_name" if column == "name" else column] = row[column]
    attributes = {
        name[len(ATTRIBUTE_PREFIX) :]: value
        for name, value in row.items()
        if name.startswith(ATTRIBUTE_PREFIX) and value
    }
    if attributes:
        data["attributes"] = attributes
    return data


def _import_row(row: dict, actor: User | None) -> RowResult:
    errors: dict = {}
    claims = _claims(row, errors)
    target = _target(row, claims, errors) if not errors else None
    result = RowResult(row=row["_line"], action="error", errors=errors)
    if errors:
        return result
    data = _profile(row)
    if target is None and not claims and not data.get("display_name"):
        result.errors = {"row": [_("A row needs a name or at least one identity.")]}
        return result
    try:
        with transaction.atomic():
            created = target is None
            customer = target or Customer.objects.create()
            # Every change is written to the customer's history, so new history = changed.
            history_before = customer.changes.count()
            if data:
                customer = customer_update(customer=customer, actor=actor, data=data)
            if claims:
                customer_identities_add(customer=customer, identities=claims, actor=actor)
            for name in filter(
                None, (t.strip() for t in row.get("tags", "").split(MULTI_SEPARATOR))
            ):
                customer_tag_add(customer=customer, name=name, actor=actor)
            changed = customer.changes.count() > history_before
    except ValidationError as error:
        result.errors = (
            error.message_dict if hasattr(error, "error_dict") else {"row": error.messages}
        )
        return result
    result.customer = str(customer.uuid)
    result.action = "create" if created else ("update" if changed else "unchanged")
    return result


def customers_import(*, data: bytes, actor: User | None, dry_run: bool) -> ImportResult:
    """Imports a CSV file row by row: a row updates the customer its identities (or `id`)
    point to, or creates one. A bad row is reported and skipped; the others are imported.
    A dry run does all of it and rolls it back, so the preview is exactly what would happen."""
    _header, rows = _rows(data)
    results: list[RowResult] = []
    try:
        with transaction.atomic():
            for row in rows:
                results.append(_import_row(row, actor))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return ImportResult(dry_run=dry_run, rows=results)


# --- Export -------------------------------------------------------------------------------

EXPORT_ONLY_COLUMNS = (
    "lead_captured_at",
    "lead_via",
    "lead_channel",
    "first_touch_channel",
    "first_touch_utm_source",
    "first_touch_utm_campaign",
    "last_touch_channel",
    "first_seen_at",
    "last_seen_at",
    "created_at",
)


def _escape(value) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not (text[:1] == "+" and text[1:].isdigit()):
        return "'" + text
    return text


def export_header() -> list[str]:
    keys = AttributeDefinition.objects.values_list("key", flat=True)
    return [
        "id",
        *PROFILE_COLUMNS,
        *IDENTITY_COLUMNS,
        "tags",
        *(ATTRIBUTE_PREFIX + key for key in keys),
        *EXPORT_ONLY_COLUMNS,
    ]


def _export_row(customer: Customer, header: list[str]) -> list[str]:
    identities: dict[str, list[str]] = {}
    for identity in customer.identities.all():
        identities.setdefault(identity.kind, []).append(identity.value)
    values = {
        "id": customer.uuid,
        "name": customer.display_name,
        "language": customer.language,
        "country": customer.country,
        "timezone": customer.timezone,
        "lead_status": customer.lead_status,
        "tags": MULTI_SEPARATOR.join(tag.name for tag in customer.tags.all()),
        "lead_captured_at": customer.lead_captured_at and customer.lead_captured_at.isoformat(),
        "lead_via": customer.lead_via,
        "lead_channel": customer.lead_channel,
        "first_touch_channel": customer.first_touch.get("channel"),
        "first_touch_utm_source": customer.first_touch.get("utm_source"),
        "first_touch_utm_campaign": customer.first_touch.get("utm_campaign"),
        "last_touch_channel": customer.last_touch.get("channel"),
        "first_seen_at": customer.first_seen_at and customer.first_seen_at.isoformat(),
        "last_seen_at": customer.last_seen_at and customer.last_seen_at.isoformat(),
        "created_at": customer.created_at.isoformat(),
    }
    for kind in IDENTITY_COLUMNS:
        values[kind] = MULTI_SEPARATOR.join(identities.get(kind, []))
    for key, value in customer.attributes.items():
        values[ATTRIBUTE_PREFIX + key] = value
    return [_escape(values.get(name)) for name in header]


class _Echo:
    def write(self, value: str) -> str:
        return value


def customers_export_lines(customers: Iterable[Customer]) -> Iterator[str]:
    """CSV lines (header first) for streaming; `customers` should prefetch identities and tags."""
    header = export_header()
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)  # the BOM makes Excel read UTF-8
    for customer in customers:
        yield writer.writerow(_export_row(customer, header))
