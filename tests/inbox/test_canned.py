import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from customers.enums import IdentityKind
from inbox.models import CannedReply
from inbox.services.canned import canned_create, canned_list, canned_render, canned_update
from tests.factories.accounts import AgentFactory
from tests.factories.customers import CustomerFactory, IdentityFactory
from tests.factories.inbox import ConversationFactory, InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(agent):
    inbox = InboxFactory(name="Support")
    inbox.members.add(agent)
    customer = CustomerFactory(display_name="Lin Wei")
    IdentityFactory(customer=customer, kind=IdentityKind.EMAIL, value="lin@example.com")
    IdentityFactory(customer=customer, kind=IdentityKind.PHONE, value="+8613800000000")
    return ConversationFactory(inbox=inbox, customer=customer)


def test_render_fills_the_known_variables_and_leaves_others_as_typed(conversation, agent):
    agent.display_name = "Ana Lima"
    canned = CannedReply(
        shortcut="hi",
        body=(
            "Hi {{customer.first_name}} ({{ customer.email }}, {{customer.phone}}), "
            "{{agent.name}} here from {{inbox.name}}. Ref {{conversation.id}}. "
            "{{customer.password}} {{ unknown }} {customer.name}"
        ),
    )
    text = canned_render(canned=canned, conversation=conversation, agent=agent)
    assert text == (
        "Hi Lin (lin@example.com, +8613800000000), Ana Lima here from Support. "
        f"Ref {conversation.uuid}. {{{{customer.password}}}} {{{{ unknown }}}} {{customer.name}}"
    )


def test_a_malicious_customer_name_is_inserted_as_text_once(conversation, agent):
    agent.display_name = "Ana"
    customer = conversation.customer
    customer.display_name = "{{agent.name}} <script>alert(1)</script> {{customer.email}}"
    customer.save()
    canned = CannedReply(shortcut="x", body="Dear {{customer.name}}, {{agent.name}}")
    text = canned_render(canned=canned, conversation=conversation, agent=agent)
    assert text == ("Dear {{agent.name}} <script>alert(1)</script> {{customer.email}}, Ana")


def test_list_shows_shared_and_own_and_searches(agent, supervisor):
    mine = canned_create(user=agent, shortcut="/thanks", title="Thank you", body="Thanks!")
    shared = canned_create(
        user=supervisor, shortcut="refund", title="Refunds", body="…", shared=True
    )
    other = canned_create(user=AgentFactory(), shortcut="secret", body="not yours")
    assert mine.shortcut == "thanks" and shared.owner is None
    assert set(canned_list(user=agent)) == {mine, shared}
    assert list(canned_list(user=agent, q="/REF")) == [shared]
    assert list(canned_list(user=agent, q="thank you")) == [mine]
    assert other not in canned_list(user=agent)


def test_only_supervisors_manage_shared_replies_and_shortcuts_are_unique(agent, supervisor):
    with pytest.raises(PermissionDenied):
        canned_create(user=agent, shortcut="x", body="y", shared=True)
    shared = canned_create(user=supervisor, shortcut="x", body="y", shared=True)
    with pytest.raises(PermissionDenied):
        canned_update(canned=shared, user=agent, body="changed")
    canned_update(canned=shared, user=supervisor, body="changed")
    with pytest.raises(ValidationError):
        canned_create(user=supervisor, shortcut="x", body="again", shared=True)
    # A personal shortcut may repeat a shared one, once per owner.
    canned_create(user=agent, shortcut="x", body="mine")
    with pytest.raises(ValidationError):
        canned_create(user=agent, shortcut="x", body="twice")
    with pytest.raises(ValidationError):
        canned_create(user=agent, shortcut="has space", body="bad")


def test_canned_api(conversation, agent, supervisor, api_client):
    shared = canned_create(
        user=supervisor, shortcut="hello", body="Hi {{customer.name}}", shared=True
    )
    api_client.force_authenticate(agent)
    response = api_client.post(
        "/api/v1/canned-replies/", {"shortcut": "bye", "body": "Bye {{agent.name}}"}, format="json"
    )
    assert response.status_code == 201, response.content
    mine = response.json()["id"]
    assert response.json()["shared"] is False
    response = api_client.post(
        "/api/v1/canned-replies/", {"shortcut": "s", "body": "b", "shared": True}, format="json"
    )
    assert response.status_code == 403
    assert (
        api_client.post(
            "/api/v1/canned-replies/", {"shortcut": "bye", "body": "x"}, format="json"
        ).status_code
        == 400
    )

    listed = api_client.get("/api/v1/canned-replies/", {"q": "hel"}).json()
    assert [c["shortcut"] for c in listed] == ["hello"]
    assert (
        api_client.patch(
            f"/api/v1/canned-replies/{shared.pk}/", {"body": "x"}, format="json"
        ).status_code
        == 403
    )
    response = api_client.patch(
        f"/api/v1/canned-replies/{mine}/", {"title": "Farewell"}, format="json"
    )
    assert response.status_code == 200 and response.json()["title"] == "Farewell"

    rendered = api_client.get(
        f"/api/v1/canned-replies/{shared.pk}/render/", {"conversation": str(conversation.uuid)}
    )
    assert rendered.status_code == 200 and rendered.json() == {"text": "Hi Lin Wei"}
    bad = api_client.get(f"/api/v1/canned-replies/{shared.pk}/render/", {"conversation": "nope"})
    assert bad.status_code == 400
    hidden = ConversationFactory()  # not in the agent's inbox
    response = api_client.get(
        f"/api/v1/canned-replies/{shared.pk}/render/", {"conversation": str(hidden.uuid)}
    )
    assert response.status_code == 404

    others = canned_create(user=AgentFactory(), shortcut="theirs", body="x")
    assert api_client.delete(f"/api/v1/canned-replies/{others.pk}/").status_code == 404
    assert api_client.delete(f"/api/v1/canned-replies/{mine}/").status_code == 204
    assert not CannedReply.objects.filter(pk=mine).exists()
