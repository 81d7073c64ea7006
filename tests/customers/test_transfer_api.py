import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.enums import IdentityKind
from customers.models import Identity
from customers.services import IdentityClaim, customer_resolve
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/customers/export/"
IMPORT = "/api/v1/customers/import/"


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("customers.csv", text.encode(), content_type="text/csv")


def test_agents_may_neither_export_nor_import(api_client, agent):
    api_client.force_authenticate(agent)
    assert api_client.get(EXPORT).status_code == 403
    response = api_client.post(IMPORT, {"file": upload("name\nA\n")}, format="multipart")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_anonymous_requests_are_refused(api_client):
    assert api_client.get(EXPORT).status_code in (401, 403)
    assert api_client.post(IMPORT, {}, format="multipart").status_code in (401, 403)


def test_export_applies_the_list_filters(api_client, supervisor):
    customer_resolve(
        [IdentityClaim(IdentityKind.EMAIL, "ann@example.com", verified=True)],
        profile={"display_name": "Ann"},
    )
    CustomerFactory(display_name="Bob")
    api_client.force_authenticate(supervisor)
    response = api_client.get(EXPORT, {"q": "ann@example.com"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="customers-')
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(row["name"], row["email"]) for row in rows] == [("Ann", "ann@example.com")]
    assert api_client.get(EXPORT, {"last_seen_after": "yesterday"}).status_code == 400


def test_import_is_a_dry_run_unless_asked(api_client, supervisor):
    api_client.force_authenticate(supervisor)
    text = "name,email\nAnn,ann@example.com\nBad,nope\n"
    preview = api_client.post(IMPORT, {"file": upload(text)}, format="multipart")
    assert preview.status_code == 200
    body = preview.json()
    assert body["dry_run"] is True
    assert (body["created"], body["failed"]) == (1, 1)
    assert body["rows"][1]["row"] == 3 and "email" in body["rows"][1]["errors"]
    assert not Identity.objects.exists()
    done = api_client.post(
        IMPORT, {"file": upload(text), "dry_run": "false"}, format="multipart"
    ).json()
    assert done["dry_run"] is False and done["created"] == 1
    assert Identity.objects.get().customer.display_name == "Ann"


def test_an_unreadable_file_is_a_clear_400(api_client, supervisor):
    api_client.force_authenticate(supervisor)
    response = api_client.post(IMPORT, {"file": upload("name,fax\nA,1\n")}, format="multipart")
    assert response.status_code == 400
    assert "Unknown columns: fax" in response.json()["error"]["details"]["file"][0]
    assert api_client.post(IMPORT, {}, format="multipart").status_code == 400
