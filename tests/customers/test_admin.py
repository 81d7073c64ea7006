import csv
import io

import pytest
from django.urls import reverse

from customers.enums import IdentityKind
from customers.models import Customer, Identity, MergeRecord
from customers.services import IdentityClaim, customer_merge, customer_resolve, merge_suggest
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def test_supervisors_see_the_merge_history_and_undo_from_it(client, supervisor):
    kept, merged = CustomerFactory(display_name="Kept"), CustomerFactory(display_name="Gone")
    record = customer_merge(survivor=kept, merged=merged, evidence={"reason": "agent"})
    client.force_login(supervisor)
    page = client.get(reverse("admin:customers_mergerecord_changelist"))
    assert page.status_code == 200
    assert "Kept" in page.text and "Gone" in page.text
    # History can be read, not edited.
    detail = client.get(reverse("admin:customers_mergerecord_change", args=[record.pk]))
    assert (
        detail.status_code == 200 and 'type="submit"' not in detail.text.split("submit-row")[-1][:0]
    )
    assert client.get(reverse("admin:customers_mergerecord_add")).status_code == 403
    response = client.post(
        reverse("admin:customers_mergerecord_changelist"),
        {"action": "undo", "_selected_action": [record.pk]},
        follow=True,
    )
    assert "1 merge undone." in response.text
    record.refresh_from_db()
    assert record.undone_by == supervisor
    merged.refresh_from_db()
    assert merged.merged_into is None


def test_agents_cannot_open_the_merge_history(client, agent):
    client.force_login(agent)
    response = client.get(reverse("admin:customers_mergerecord_changelist"))
    assert response.status_code in (302, 403)


def test_suggestions_are_confirmed_from_the_admin(client, supervisor):
    a, b = CustomerFactory(), CustomerFactory()
    suggestion = merge_suggest(a, b, evidence={"kind": "email", "value": "x@example.com"})
    client.force_login(supervisor)
    response = client.post(
        reverse("admin:customers_mergesuggestion_changelist"),
        {"action": "confirm", "_selected_action": [suggestion.pk]},
        follow=True,
    )
    assert "1 pair merged." in response.text
    assert MergeRecord.objects.get().actor == supervisor


def test_the_admin_search_finds_a_phone_written_another_way(client, supervisor):
    customer = customer_resolve(
        [IdentityClaim(IdentityKind.PHONE, "+8613800138000", verified=True)],
        profile={"display_name": "Phone Person"},
    ).customer
    CustomerFactory(display_name="Someone Else")
    client.force_login(supervisor)
    response = client.get(
        reverse("admin:customers_customer_changelist"), {"q": "+86 138 0013 8000"}
    )
    assert "Phone Person" in response.text and "Someone Else" not in response.text
    assert customer.pk


def test_attribute_values_are_validated_in_the_admin_form(client, supervisor):
    from customers.models import AttributeDefinition

    AttributeDefinition.objects.create(key="orders", label="Orders", type="number")
    customer = CustomerFactory()
    client.force_login(supervisor)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    form = {
        "display_name": "X",
        "lead_status": "none",
        "attributes": '{"orders": "many"}',
        "identities-TOTAL_FORMS": 0,
        "identities-INITIAL_FORMS": 0,
        "notes-TOTAL_FORMS": 0,
        "notes-INITIAL_FORMS": 0,
        "changes-TOTAL_FORMS": 0,
        "changes-INITIAL_FORMS": 0,
    }
    response = client.post(url, form)
    assert response.status_code == 200
    assert "Must be a number." in response.text
    form["attributes"] = '{"orders": "12"}'
    response = client.post(url, form)
    assert response.status_code == 302, response.text[:3000]
    customer.refresh_from_db()
    assert customer.attributes == {"orders": 12}


def test_csv_import_previews_then_imports(client, supervisor):
    client.force_login(supervisor)
    url = reverse("admin:customers_customer_import")
    assert client.get(url).status_code == 200
    upload = io.BytesIO(b"name,email\nAnn,ann@example.com\nBad,nope\n")
    upload.name = "customers.csv"
    preview = client.post(url, {"file": upload})
    assert preview.status_code == 200
    assert "Preview: nothing has been saved yet" in preview.text
    assert "1 to create" in preview.text and "1 with errors" in preview.text
    assert not Customer.objects.exists()
    token = preview.context["token"]
    done = client.post(url, {"token": token})
    assert "Imported" in done.text
    assert Identity.objects.get(value="ann@example.com").customer.display_name == "Ann"


def test_a_file_that_cannot_be_imported_is_explained(client, supervisor):
    client.force_login(supervisor)
    upload = io.BytesIO(b"name,fax\nA,1\n")
    upload.name = "customers.csv"
    response = client.post(reverse("admin:customers_customer_import"), {"file": upload})
    assert "Unknown columns: fax" in response.text


def test_export_writes_every_active_customer(client, supervisor):
    kept, merged = CustomerFactory(display_name="Kept"), CustomerFactory(display_name="Gone")
    customer_merge(survivor=kept, merged=merged)
    client.force_login(supervisor)
    response = client.get(reverse("admin:customers_customer_export"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    assert [row["id"] for row in rows] == [str(kept.uuid)]
