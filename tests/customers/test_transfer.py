import csv
import io

import pytest

from customers.enums import AttributeType, IdentityKind, Verification
from customers.models import AttributeDefinition, Customer, Identity
from customers.services import (
    IdentityClaim,
    ImportRefused,
    customer_identities_add,
    customer_resolve,
    customers_export_lines,
    customers_import,
)
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def csv_bytes(*rows: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def test_a_dry_run_previews_exactly_and_stores_nothing(agent):
    AttributeDefinition.objects.create(
        key="plan", label="Plan", type=AttributeType.LIST, options=["Gold"]
    )
    existing = CustomerFactory(display_name="Old name")
    customer_identities_add(
        customer=existing, identities=[IdentityClaim(IdentityKind.EMAIL, "ann@example.com")]
    )
    data = csv_bytes(
        ["name", "email", "phone", "tags", "attr:plan"],
        ["Ann", "ANN@example.com", "", "vip", "Gold"],  # updates by email
        ["Bo", "bo@example.com", "+44 20 7946 0958", "", ""],  # creates
        ["Cy", "not-an-email", "", "", ""],  # bad email
        ["Di", "", "+8613800138000", "", "Platinum"],  # not an option
        ["", "", "", "", ""],  # nothing to go on
    )
    preview = customers_import(data=data, actor=agent, dry_run=True).as_dict()
    assert (preview["created"], preview["updated"], preview["failed"]) == (1, 1, 3)
    errors = {row["row"]: row["errors"] for row in preview["rows"] if row["action"] == "error"}
    assert "email" in errors[4]
    assert "attributes" in errors[5] and "Gold" in " ".join(errors[5]["attributes"])
    assert "row" in errors[6]
    # Nothing was stored by the preview.
    assert Customer.objects.count() == 1
    existing.refresh_from_db()
    assert existing.display_name == "Old name"

    result = customers_import(data=data, actor=agent, dry_run=False).as_dict()
    assert (result["created"], result["updated"], result["failed"]) == (1, 1, 3)
    existing.refresh_from_db()
    assert existing.display_name == "Ann"
    assert existing.attributes == {"plan": "Gold"}
    assert list(existing.tags.values_list("name", flat=True)) == ["vip"]
    bo = Identity.objects.get(value="bo@example.com").customer
    assert bo.identities.get(kind=IdentityKind.PHONE).value == "+442079460958"
    assert bo.identities.get(kind=IdentityKind.PHONE).verification == Verification.IMPORT


def test_a_row_whose_identities_belong_to_two_customers_is_refused(agent):
    customer_resolve([IdentityClaim(IdentityKind.EMAIL, "a@example.com", verified=True)])
    customer_resolve([IdentityClaim(IdentityKind.PHONE, "+8613800138000", verified=True)])
    result = customers_import(
        data=csv_bytes(["email", "phone"], ["a@example.com", "+8613800138000"]),
        actor=agent,
        dry_run=False,
    ).as_dict()
    assert result["failed"] == 1
    assert "identities" in result["rows"][0]["errors"]
    assert Customer.objects.active().count() == 2


def test_an_exported_file_imports_unchanged(agent):
    AttributeDefinition.objects.create(key="orders", label="Orders", type=AttributeType.NUMBER)
    customer = customer_resolve(
        [
            IdentityClaim(IdentityKind.WHATSAPP, "8613800138000", verified=True),
            IdentityClaim(IdentityKind.PHONE, "+8613800138000", verified=True),
            IdentityClaim(IdentityKind.EMAIL, "=cmd@example.com", verified=True),
        ],
        profile={"display_name": '=HYPERLINK("http://evil")'},
    ).customer
    customer.attributes = {"orders": 3}
    customer.save()
    exported = "".join(customers_export_lines(Customer.objects.all())).encode()
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))
    header, row = rows[0], rows[1]
    cell = dict(zip(header, row, strict=True))
    # Formulas are defused for spreadsheets; phone numbers stay as they are.
    assert cell["name"].startswith("'=")
    assert cell["phone"] == "+8613800138000"
    assert cell["attr:orders"] == "3"
    result = customers_import(data=exported, actor=agent, dry_run=False).as_dict()
    assert result["unchanged"] == 1, result
    customer.refresh_from_db()
    assert customer.display_name == '=HYPERLINK("http://evil")'


def test_files_that_cannot_be_imported_say_why(agent):
    with pytest.raises(ImportRefused, match="Unknown columns: fax"):
        customers_import(data=csv_bytes(["name", "fax"], ["A", "1"]), actor=agent, dry_run=True)
    with pytest.raises(ImportRefused, match="empty"):
        customers_import(data=b"", actor=agent, dry_run=True)
    with pytest.raises(ImportRefused, match="UTF-8"):
        customers_import(data=b"name\n\xff\xfe\xfa\xfb", actor=agent, dry_run=True)


def test_a_spreadsheet_saved_as_gb18030_with_a_bom_imports(agent):
    data = "name,phone\n张伟,13800138000\n".encode("gb18030")
    result = customers_import(data=data, actor=agent, dry_run=False).as_dict()
    # No region to read a local number in: the row says so.
    assert result["failed"] == 1 and "country code" in " ".join(
        result["rows"][0]["errors"]["phone"]
    )
    data = "\ufeffname,phone\n张伟,+86 138 0013 8000\n".encode()
    result = customers_import(data=data, actor=agent, dry_run=False).as_dict()
    assert result["created"] == 1
    assert Identity.objects.get(kind=IdentityKind.PHONE).customer.display_name == "张伟"
