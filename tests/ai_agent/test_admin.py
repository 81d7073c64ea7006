"""The back office of the AI agent: documents uploaded and indexed, profiles, tools and the
run log with its totals."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ai_agent.enums import DocumentStatus
from ai_agent.models import AgentRun, AgentTool, AiProfile, KnowledgeDocument
from tests.ai_agent.conftest import FAQ_CSV
from tests.factories.ai import KnowledgeBaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_an_uploaded_document_is_indexed_in_the_background(
    admin_client, eager_tasks, django_capture_on_commit_callbacks
):
    base = KnowledgeBaseFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/ai_agent/knowledgedocument/add/",
            {
                "knowledge_base": base.pk,
                "title": "",
                "url": "",
                "is_active": "on",
                "file": SimpleUploadedFile("faq.csv", FAQ_CSV.encode(), "text/csv"),
            },
        )

    assert response.status_code == 302, response.content.decode()[:2000]
    document = KnowledgeDocument.objects.get()
    assert (document.title, document.filename) == ("faq.csv", "faq.csv")
    assert document.status == DocumentStatus.READY
    assert document.chunk_count == 4
    listing = admin_client.get("/admin/ai_agent/knowledgedocument/")
    assert "Ready" in listing.content.decode()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"url": ""}, "Give either a file or a web page address"),
        ({"file": SimpleUploadedFile("virus.exe", b"MZ")}, "Upload a"),
        (
            {"url": "https://example.com/faq", "file": SimpleUploadedFile("a.md", b"# A")},
            "Give either a file or a web page address",
        ),
    ],
    ids=["neither", "wrong-type", "both"],
)
def test_a_document_needs_one_readable_source(admin_client, fields, error):
    base = KnowledgeBaseFactory()
    data = {"knowledge_base": base.pk, "title": "", "url": "", "is_active": "on", **fields}
    response = admin_client.post("/admin/ai_agent/knowledgedocument/add/", data)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not KnowledgeDocument.objects.exists()


def test_a_failed_document_shows_why_in_the_list(admin_client):
    base = KnowledgeBaseFactory()
    KnowledgeDocument.objects.create(
        knowledge_base=base,
        url="https://example.com/x",
        status=DocumentStatus.FAILED,
        error="The server answered 404 <script>",
    )
    page = admin_client.get("/admin/ai_agent/knowledgedocument/").content.decode()
    assert "The server answered 404 &lt;script&gt;" in page  # escaped, never markup


def test_a_profiles_api_key_is_never_sent_back_and_kept_when_left_empty(admin_client):
    profile = AiProfile.objects.create(name="Ava", api_key="sk-very-secret")
    page = admin_client.get(f"/admin/ai_agent/aiprofile/{profile.pk}/change/").content.decode()
    assert "sk-very-secret" not in page
    assert "Offline engine" in admin_client.get("/admin/ai_agent/aiprofile/").content.decode()


def test_a_tool_with_an_invalid_schema_is_refused(admin_client):
    response = admin_client.post(
        "/admin/ai_agent/agenttool/add/",
        {
            "name": "order_status",
            "description": "Order status",
            "method": "GET",
            "url": "https://shop.example.com/orders/{order_number}",
            "input_schema": '{"type": "array"}',
            "timeout": "5",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "must describe an object" in response.content.decode()
    assert not AgentTool.objects.exists()


def test_the_run_log_totals_tokens_and_cost(admin_client, profile, chat):
    chat.say("How long does shipping take?")
    AgentRun.objects.update(prompt_tokens=1200, completion_tokens=80, cost="0.0042")

    page = admin_client.get("/admin/ai_agent/agentrun/").content.decode()

    assert "1 runs · 1200 input tokens · 80 output tokens · cost 0.004200" in page
