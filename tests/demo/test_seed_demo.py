from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from ai_agent.models import AiProfile, KnowledgeDocument
from ai_agent.services.handoff import ai_first_line
from ai_agent.services.pipeline import ai_respond
from customers.models import Customer, Identity
from demo.services import DEMO_PASSWORD
from inbox.enums import Handler, MessageDirection, SenderType
from inbox.models import Conversation, Message
from inbox.services import message_append

pytestmark = pytest.mark.django_db


def _counts():
    return (
        User.objects.count(),
        Customer.objects.count(),
        Conversation.objects.count(),
        Message.objects.count(),
    )


def test_seed_demo_is_idempotent_and_prints_the_logins():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = _counts()
    call_command("seed_demo", stdout=StringIO())
    assert _counts() == first
    assert first[0] == 4 and first[2] >= 4
    assert "agent1@example.com" in out.getvalue() and DEMO_PASSWORD in out.getvalue()


def test_demo_users_sign_in_with_their_roles(client):
    call_command("seed_demo", stdout=StringIO())
    roles = {user.email: user.role.value for user in User.objects.all()}
    assert roles == {
        "admin@example.com": "admin",
        "supervisor@example.com": "supervisor",
        "agent1@example.com": "agent",
        "agent2@example.com": "agent",
    }
    response = client.post(
        "/accounts/login/", {"login": "agent1@example.com", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302


def test_hostile_names_and_messages_are_shown_as_text(client):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(User.objects.get(email="supervisor@example.com"))
    # The console draws names and messages as text in the browser (tests/live/test_e2e_chat).
    for path in (
        "/admin/customers/customer/",
        f"/admin/inbox/conversation/{Conversation.objects.get(customer__display_name='<script>alert(1)</script>').pk}/change/",
    ):
        page = client.get(path).content.decode()
        assert "<script>alert(1)</script>" not in page, path
        assert "<img src=x onerror" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(path).content.decode()


def test_the_demo_shows_leads_attribution_and_a_merge_suggestion():
    from customers.models import MergeSuggestion

    call_command("seed_demo", stdout=StringIO())
    wang = Customer.objects.get(display_name="王芳")
    assert wang.lead_via == "prechat" and wang.lead_captured_at is not None
    assert wang.first_touch["utm_campaign"] == "spring-sale"
    assert wang.attributes == {"plan": "Gold", "orders": 12}
    suggestion = MergeSuggestion.objects.get()
    names = {suggestion.customer.display_name, suggestion.other.display_name}
    assert names == {"Aiko Tanaka", "Aiko Tanaka (CRM)"}


def test_the_demo_ai_answers_the_website_from_its_knowledge_base(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    assert set(KnowledgeDocument.objects.values_list("status", flat=True)) == {"ready"}
    profile = AiProfile.objects.get(name="Bean")
    identity = Identity.objects.create(
        customer=Customer.objects.create(), kind="web_visitor", value="demo-visitor"
    )
    conversation = Conversation.objects.create(
        inbox=profile.inboxes.get(), customer=identity.customer, identity=identity
    )
    assert ai_first_line(conversation, timezone.now())
    Conversation.objects.filter(pk=conversation.pk).update(
        handler=Handler.AI, routed_at=timezone.now()
    )
    message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body="运费是多少？",
    )

    run = ai_respond(conversation.pk)

    assert run.outcome == "answered"
    assert "99元包邮" in run.reply.body and "faq" in run.reply.body  # with its source
