from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.services import api_token_create
from customers.enums import CaptureVia, ChangeAction, IdentityKind, LeadStatus, SuggestionStatus
from customers.models import (
    Customer,
    CustomerChange,
    CustomerNote,
    Identity,
    MergeRecord,
    MergeSuggestion,
    Tag,
)
from customers.services import customer_merge, customer_tag_add, merge_suggest
from tests.factories.accounts import AgentFactory, SupervisorFactory
from tests.factories.channels import WebChannelFactory
from tests.factories.customers import (
    AttributeDefinitionFactory,
    CustomerFactory,
    CustomerNoteFactory,
    IdentityFactory,
    TagFactory,
)
from tests.factories.inbox import ConversationFactory, InboxFactory

pytestmark = pytest.mark.django_db

EVIDENCE = {"kind": "email", "value": "ann@example.com", "reason": "unverified_match"}


@pytest.fixture
def inbox(agent):
    """An inbox the `agent` works in."""
    inbox = InboxFactory()
    inbox.members.add(agent)
    return inbox


def seen_in(inbox, **fields) -> Customer:
    """A customer with a conversation in `inbox`."""
    customer = CustomerFactory(**fields)
    ConversationFactory(inbox=inbox, customer=customer)
    return customer


def url(name: str, customer: Customer | None = None, **kwargs) -> str:
    if customer is not None:
        kwargs["uuid"] = customer.uuid
    return reverse(name, kwargs=kwargs)


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def listed(api_client, **params) -> list[str]:
    response = api_client.get(url("api-customer-list"), params)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- The list, its filters and search -----------------------------------------------------


def test_the_list_shows_visible_customers_most_recently_seen_first(api_client, agent, inbox):
    now = timezone.now()
    old = seen_in(inbox, last_seen_at=now - timedelta(days=2))
    new = seen_in(inbox, last_seen_at=now - timedelta(hours=1))
    never_seen = seen_in(inbox)  # sorts by when it was created: just now
    CustomerFactory(last_seen_at=now)  # no conversation the agent may see
    merged_away = seen_in(inbox)
    customer_merge(survivor=old, merged=merged_away)
    api_client.force_authenticate(agent)

    assert listed(api_client) == [str(never_seen.uuid), str(new.uuid), str(old.uuid)]

    first = api_client.get(url("api-customer-list"), {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = api_client.get(first["next"]).json()
    assert [row["id"] for row in first["results"] + second["results"]] == listed(api_client)
    assert second["next"] is None


def test_a_customer_in_the_list_has_the_documented_shape(api_client, supervisor):
    channel = WebChannelFactory(name="Shop")
    customer = CustomerFactory(
        display_name="",
        attributes={"plan": "Gold"},
        lead_status=LeadStatus.NEW,
        lead_captured_at=timezone.now(),
        lead_via=CaptureVia.PRECHAT,
        lead_channel="web",
        lead_source={"utm_source": "google"},
        first_touch={"channel": "web"},
    )
    IdentityFactory(
        customer=customer, kind=IdentityKind.WEB_VISITOR, value="v-123", channel=channel
    )
    customer_tag_add(customer=customer, name="VIP", actor=None)
    api_client.force_authenticate(supervisor)

    row = api_client.get(url("api-customer-list")).json()["results"][0]

    assert set(row) == {
        "id",
        "name",
        "display_name",
        "avatar_url",
        "language",
        "country",
        "timezone",
        "lead_status",
        "lead",
        "tags",
        "identities",
        "attributes",
        "first_touch",
        "last_touch",
        "first_seen_at",
        "last_seen_at",
        "is_blocked",
        "created_at",
        "updated_at",
    }
    assert row["id"] == str(customer.uuid)
    assert row["name"] == f"Customer #{customer.pk}"
    assert row["lead"]["via"] == "prechat" and row["lead"]["source"] == {"utm_source": "google"}
    assert row["lead"]["captured_at"]
    assert row["tags"] == [{"id": Tag.objects.get().pk, "name": "VIP", "color": "#64748b"}]
    (identity,) = row["identities"]
    assert identity["kind"] == "web_visitor" and identity["kind_label"] == "Web visitor id"
    assert identity["channel"] == {"kind": "web", "name": "Shop"}
    assert identity["verified"] is False and identity["verification"] == ""
    assert row["attributes"] == {"plan": "Gold"} and row["first_touch"] == {"channel": "web"}


def test_the_list_takes_as_many_queries_for_many_customers_as_for_few(api_client, supervisor):
    channel = WebChannelFactory()

    def add_customers(count):
        for _n in range(count):
            customer = CustomerFactory()
            IdentityFactory(customer=customer)
            IdentityFactory(
                customer=customer,
                kind=IdentityKind.WEB_VISITOR,
                value=f"v{customer.pk}",
                channel=channel,
            )
            customer.tags.add(TagFactory(), TagFactory())

    api_client.force_authenticate(supervisor)
    add_customers(2)
    api_client.get(url("api-customer-list"))  # the role is read once per user object
    with CaptureQueriesContext(connection) as few:
        api_client.get(url("api-customer-list"))
    add_customers(8)
    with CaptureQueriesContext(connection) as many:
        response = api_client.get(url("api-customer-list"))
    assert len(response.json()["results"]) == 10
    assert len(many) == len(few)


def test_the_list_filters(api_client, supervisor):
    now = timezone.now()
    ann = CustomerFactory(
        lead_status=LeadStatus.NEW,
        last_seen_at=now - timedelta(days=3),
        first_touch={"utm_source": "Google", "channel": "web"},
    )
    customer_tag_add(customer=ann, name="VIP", actor=None)
    IdentityFactory(customer=ann, kind=IdentityKind.WHATSAPP, value="8613800138000")
    bob = CustomerFactory(
        last_seen_at=now - timedelta(hours=1),
        last_touch={"utm_source": "newsletter", "channel": "telegram"},
    )
    IdentityFactory(
        customer=bob, kind=IdentityKind.WEB_VISITOR, value="v-1", channel=WebChannelFactory()
    )
    IdentityFactory(customer=bob, kind=IdentityKind.EMAIL, value="bob@example.com")
    api_client.force_authenticate(supervisor)

    def found(**params):
        return set(listed(api_client, **params))

    ann_id, bob_id = str(ann.uuid), str(bob.uuid)
    assert found() == {ann_id, bob_id}
    assert found(tag="vip") == {ann_id}
    assert found(tag="nope") == set()
    assert found(lead_status="new") == {ann_id}
    assert found(channel="whatsapp") == {ann_id}  # an identity kind
    assert found(channel="web") == {bob_id}  # the kind of an identity's channel
    assert found(source="google") == {ann_id}
    assert found(source="newsletter") == {bob_id}
    assert found(source="telegram") == {bob_id}
    assert found(last_seen_after=(now - timedelta(days=1)).isoformat()) == {bob_id}
    assert found(last_seen_before=(now - timedelta(days=1)).isoformat()) == {ann_id}
    assert found(last_seen_after=(now - timedelta(days=4)).date().isoformat()) == {ann_id, bob_id}
    assert found(identity="email: Bob@Example.com ") == {bob_id}
    assert found(identity="whatsapp:+86 138 0013 8000") == {ann_id}
    assert found(identity="email:ann@example.com") == set()
    assert found(tag="VIP", source="newsletter") == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"last_seen_after": "yesterday"}, "last_seen_after"),
        ({"last_seen_before": "2025-13-40T99:00"}, "last_seen_before"),
        ({"lead_status": "hot"}, "lead_status"),
        ({"identity": "bob@example.com"}, "identity"),
        ({"identity": "phone:12"}, "identity"),
        ({"identity": "fax:123"}, "identity"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(api_client, supervisor, params, field):
    api_client.force_authenticate(supervisor)
    response = api_client.get(url("api-customer-list"), params)
    details = error_of(response, 400, "invalid")["details"]
    assert list(details) == [field]
    assert details[field][0]


def test_a_bad_date_says_which_format_to_use(api_client, supervisor):
    api_client.force_authenticate(supervisor)
    response = api_client.get(url("api-customer-list"), {"last_seen_after": "last week"})
    message = error_of(response, 400, "invalid")["details"]["last_seen_after"][0]
    assert "YYYY-MM-DD" in message


def test_search_finds_phones_in_any_format_emails_in_any_case_names_and_ids(
    api_client, supervisor, settings
):
    settings.PHONE_DEFAULT_REGION = "CN"
    li = CustomerFactory(display_name="Li Wei")
    IdentityFactory(customer=li, kind=IdentityKind.PHONE, value="+8613800138000")
    ann = CustomerFactory(display_name="Ann Smith")
    IdentityFactory(customer=ann, kind=IdentityKind.EMAIL, value="ann.smith@example.com")
    IdentityFactory(customer=ann, kind=IdentityKind.TELEGRAM, value="tg-99812")
    zhang = CustomerFactory(display_name="张伟")
    api_client.force_authenticate(supervisor)

    for phone in ["+86 138 0013 8000", "008613800138000", "13800138000", "138-0013-8000"]:
        assert listed(api_client, q=phone) == [str(li.uuid)], phone
    assert listed(api_client, q="ANN.Smith@Example.COM") == [str(ann.uuid)]
    assert listed(api_client, q="smi") == [str(ann.uuid)]
    assert listed(api_client, q="wei") == [str(li.uuid)]
    assert listed(api_client, q="张") == [str(zhang.uuid)]
    assert listed(api_client, q="tg-99812") == [str(ann.uuid)]
    assert listed(api_client, q="nobody@example.com") == []


# --- One customer -------------------------------------------------------------------------


def test_the_detail_shows_pending_suggestions_and_merges(api_client, agent, inbox):
    ann = seen_in(inbox, display_name="Ann")
    old_twin = seen_in(inbox, display_name="Old Ann")
    twin = seen_in(inbox, display_name="Ann B", last_seen_at=timezone.now())
    suggestion = merge_suggest(ann, old_twin, evidence=EVIDENCE)
    # The suggested customer was merged into another since: `other` is where they live now.
    customer_merge(survivor=twin, merged=old_twin)
    # Seen less recently than Ann, so Ann's name wins the merge.
    absorbed = seen_in(inbox, display_name="Ann (email)", last_seen_at=timezone.now())
    ann.last_seen_at = timezone.now()
    ann.save()
    record = customer_merge(survivor=ann, merged=absorbed, actor=agent, evidence={"x": 1})
    api_client.force_authenticate(agent)

    data = api_client.get(url("api-customer-detail", ann)).json()

    assert data["id"] == str(ann.uuid) and data["name"] == "Ann"
    (shown,) = data["suggestions"]
    assert shown["id"] == suggestion.pk
    assert shown["other"] == {"id": str(twin.uuid), "name": "Ann B"}
    assert shown["evidence"] == EVIDENCE and shown["created_at"]
    (merge,) = data["merges"]
    assert merge["id"] == record.pk
    assert merge["survivor"] == {"id": str(ann.uuid), "name": "Ann"}
    assert merge["merged"] == {"id": str(absorbed.uuid), "name": "Ann (email)"}
    assert merge["actor"] == {"id": agent.pk, "name": str(agent)}
    assert merge["automatic"] is False and merge["undone_at"] is None
    # Seen from the other side, the suggestion points back at Ann.
    twin_data = api_client.get(url("api-customer-detail", twin)).json()
    assert [s["other"]["id"] for s in twin_data["suggestions"]] == [str(ann.uuid)]
    assert twin_data["merges"][0]["actor"] is None
    # A customer merged away is no longer there.
    assert api_client.get(url("api-customer-detail", absorbed)).status_code == 404


def test_patch_changes_fields_and_attributes_and_records_who(api_client, agent, inbox):
    AttributeDefinitionFactory(key="plan", type="list", options=["Gold", "Silver"])
    AttributeDefinitionFactory(key="orders", type="number")
    customer = seen_in(inbox, attributes={"plan": "Gold", "orders": 3, "kept": "yes"})
    api_client.force_authenticate(agent)

    response = api_client.patch(
        url("api-customer-detail", customer),
        {
            "display_name": " Ann Lee ",
            "country": "gb",
            "timezone": "Europe/London",
            "lead_status": "qualified",
            "is_blocked": True,
            "attributes": {"plan": None, "orders": "5"},
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["display_name"], data["name"], data["country"]) == ("Ann Lee", "Ann Lee", "GB")
    assert data["lead_status"] == "qualified" and data["is_blocked"] is True
    assert data["attributes"] == {"orders": 5, "kept": "yes"}
    assert "suggestions" in data and "merges" in data
    changes = CustomerChange.objects.filter(customer=customer, action=ChangeAction.UPDATED)
    assert {c.data["field"] for c in changes} >= {"display_name", "attributes.plan"}
    assert {c.actor for c in changes} == {agent}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"attributes": {"shoe_size": 42}}, "attributes", "shoe_size"),
        ({"attributes": {"orders": "many"}}, "attributes", "number"),
        ({"attributes": {"plan": "Bronze"}}, "attributes", "Gold"),
        ({"attributes": ["plan"]}, "attributes", "object"),
        ({"country": "XX"}, "country", "CN"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Asia/Shanghai"),
        ({"lead_status": "hot"}, "lead_status", "lead status"),
        ({"avatar_url": "not a url"}, "avatar_url", "URL"),
        ({"is_blocked": "maybe"}, "is_blocked", "true or false"),
        ({"merged_into": None}, "merged_into", "cannot be changed"),
    ],
)
def test_patch_refuses_bad_values_field_by_field(api_client, agent, inbox, body, field, words):
    AttributeDefinitionFactory(key="plan", type="list", options=["Gold", "Silver"])
    AttributeDefinitionFactory(key="orders", type="number")
    customer = seen_in(inbox, display_name="Ann", attributes={"plan": "Gold"})
    api_client.force_authenticate(agent)

    response = api_client.patch(
        url("api-customer-detail", customer), {"display_name": "Changed", **body}, format="json"
    )

    details = error_of(response, 400, "invalid")["details"]
    assert list(details) == [field]
    assert words.lower() in " ".join(details[field]).lower()
    customer.refresh_from_db()
    assert (customer.display_name, customer.attributes) == ("Ann", {"plan": "Gold"})


def test_patch_wants_a_json_object(api_client, agent, inbox):
    customer = seen_in(inbox)
    api_client.force_authenticate(agent)
    response = api_client.patch(url("api-customer-detail", customer), ["x"], format="json")
    error_of(response, 400, "invalid")


# --- Identities ---------------------------------------------------------------------------


def test_an_agent_adds_a_phone_number_in_the_customers_country(api_client, agent, inbox):
    customer = seen_in(inbox, country="CN")
    api_client.force_authenticate(agent)

    response = api_client.post(
        url("api-customer-identities", customer),
        {"kind": "phone", "value": "138 0013 8000"},
        format="json",
    )

    assert response.status_code == 201, response.content
    (phone,) = response.json()["identities"]
    assert (phone["kind"], phone["value"], phone["verified"]) == ("phone", "+8613800138000", False)
    assert phone["kind_label"] == "Phone" and phone["channel"] is None
    customer.refresh_from_db()
    assert customer.lead_via == CaptureVia.AGENT and customer.lead_status == LeadStatus.NEW
    assert CustomerChange.objects.get(
        customer=customer, action=ChangeAction.IDENTITY_ADDED
    ).actor == (agent)
    # Adding what the customer already has changes nothing.
    again = api_client.post(
        url("api-customer-identities", customer),
        {"kind": "phone", "value": "+86 138 0013 8000"},
        format="json",
    )
    assert again.status_code == 201
    assert customer.identities.count() == 1


def test_an_integration_captures_a_lead_via_the_api(api_client, supervisor):
    _token, key = api_token_create(user=supervisor, name="CRM")
    customer = CustomerFactory()
    response = api_client.post(
        url("api-customer-identities", customer),
        {"kind": "email", "value": "Ann@Example.com"},
        format="json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 201, response.content
    assert response.json()["identities"][0]["value"] == "ann@example.com"
    customer.refresh_from_db()
    assert customer.lead_via == CaptureVia.API


def test_an_identity_of_another_customer_is_not_taken_but_suggested(
    api_client, agent, inbox, supervisor
):
    customer = seen_in(inbox)
    owner = CustomerFactory()  # the agent has no conversation with them
    IdentityFactory(customer=owner, kind=IdentityKind.EMAIL, value="ann@example.com")
    body = {"kind": "email", "value": " ANN@example.com"}
    api_client.force_authenticate(agent)

    response = api_client.post(url("api-customer-identities", customer), body, format="json")

    error = error_of(response, 409, "identity_taken")
    assert "another customer" in error["message"]
    assert error["details"] == {}  # the agent may not see who has it
    assert Identity.objects.get(value="ann@example.com").customer == owner
    suggestion = MergeSuggestion.objects.get()
    assert {suggestion.customer, suggestion.other} == {customer, owner}
    assert suggestion.status == SuggestionStatus.PENDING

    api_client.force_authenticate(supervisor)
    response = api_client.post(url("api-customer-identities", customer), body, format="json")
    assert error_of(response, 409, "identity_taken")["details"] == {"customer": str(owner.uuid)}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "phone", "value": "12"}, "value"),
        ({"kind": "phone", "value": "call me"}, "value"),
        ({"kind": "email", "value": "ann at example"}, "value"),
        ({"kind": "whatsapp", "value": "123"}, "value"),
        ({"kind": "fax", "value": "123456"}, "kind"),
        ({"kind": "email"}, "value"),
    ],
)
def test_invalid_identities_are_a_400_on_the_field(api_client, agent, inbox, body, field):
    customer = seen_in(inbox)
    api_client.force_authenticate(agent)
    response = api_client.post(url("api-customer-identities", customer), body, format="json")
    assert list(error_of(response, 400, "invalid")["details"]) == [field]
    assert not customer.identities.exists()


def test_removing_an_identity(api_client, agent, inbox):
    customer = seen_in(inbox)
    typed = IdentityFactory(customer=customer)
    in_use = IdentityFactory(customer=customer, kind=IdentityKind.WHATSAPP, value="447700900123")
    ConversationFactory(inbox=inbox, customer=customer, identity=in_use)
    elsewhere = IdentityFactory()
    api_client.force_authenticate(agent)

    def remove(identity):
        return api_client.delete(
            url("api-customer-identity", customer, identity_id=identity.pk), format="json"
        )

    assert remove(typed).status_code == 204
    assert not Identity.objects.filter(pk=typed.pk).exists()
    removed = CustomerChange.objects.get(customer=customer, action=ChangeAction.IDENTITY_REMOVED)
    assert removed.actor == agent and removed.data["value"] == typed.value
    assert remove(typed).status_code == 404
    refused = error_of(remove(in_use), 400, "invalid")["details"]["non_field_errors"]
    assert "Conversations run on this identity" in refused[0]
    assert Identity.objects.filter(pk=in_use.pk).exists()
    assert remove(elsewhere).status_code == 404  # someone else's identity
    assert Identity.objects.filter(pk=elsewhere.pk).exists()


# --- Tags ---------------------------------------------------------------------------------


def test_tags_are_listed_added_case_insensitively_and_removed(api_client, agent, inbox):
    vip = TagFactory(name="VIP", color="#ff0000")
    TagFactory(name="Angry")
    customer = seen_in(inbox)
    api_client.force_authenticate(agent)

    tags = api_client.get(url("api-tag-list")).json()
    assert [t["name"] for t in tags] == ["Angry", "VIP"]
    assert tags[1] == {"id": vip.pk, "name": "VIP", "color": "#ff0000"}

    added = api_client.post(url("api-customer-tags", customer), {"name": "vip"}, format="json")
    assert added.status_code == 201
    assert added.json() == {"id": vip.pk, "name": "VIP", "color": "#ff0000"}
    new = api_client.post(url("api-customer-tags", customer), {"name": " new  tag "}, format="json")
    assert new.status_code == 201 and new.json()["name"] == "new tag"
    assert {t.name for t in customer.tags.all()} == {"VIP", "new tag"}
    blank = api_client.post(url("api-customer-tags", customer), {"name": " "}, format="json")
    assert list(error_of(blank, 400, "invalid")["details"]) == ["name"]
    too_long = api_client.post(
        url("api-customer-tags", customer), {"name": "x" * 51}, format="json"
    )
    assert list(error_of(too_long, 400, "invalid")["details"]) == ["name"]

    remove_url = url("api-customer-tag", customer, tag_id=vip.pk)
    assert api_client.delete(remove_url).status_code == 204
    assert list(customer.tags.values_list("name", flat=True)) == ["new tag"]
    assert api_client.delete(remove_url).status_code == 404  # no longer carried
    assert Tag.objects.filter(pk=vip.pk).exists()  # the tag itself stays
    actions = CustomerChange.objects.filter(customer=customer).values_list("action", flat=True)
    assert sorted(actions) == ["tag_added", "tag_added", "tag_removed"]


# --- Notes --------------------------------------------------------------------------------


def test_notes_are_written_listed_newest_first_and_deleted_by_their_author(
    api_client, agent, inbox, supervisor
):
    customer = seen_in(inbox)
    colleague = AgentFactory()
    inbox.members.add(colleague)
    api_client.force_authenticate(agent)

    first = api_client.post(url("api-customer-notes", customer), {"body": "First"}, format="json")
    second = api_client.post(url("api-customer-notes", customer), {"body": "Second"}, format="json")
    assert first.status_code == second.status_code == 201
    assert first.json()["author"] == {"id": agent.pk, "name": str(agent)}
    blank = api_client.post(url("api-customer-notes", customer), {"body": "  "}, format="json")
    assert list(error_of(blank, 400, "invalid")["details"]) == ["body"]
    notes = api_client.get(url("api-customer-notes", customer)).json()
    assert [n["body"] for n in notes] == ["Second", "First"]
    assert set(notes[0]) == {"id", "body", "author", "created_at"}

    first_url = url("api-customer-note", customer, note_id=first.json()["id"])
    second_url = url("api-customer-note", customer, note_id=second.json()["id"])
    api_client.force_authenticate(colleague)
    error_of(api_client.delete(first_url), 403, "permission_denied")
    assert CustomerNote.objects.count() == 2
    api_client.force_authenticate(agent)
    assert api_client.delete(first_url).status_code == 204
    assert api_client.delete(first_url).status_code == 404
    api_client.force_authenticate(supervisor)
    assert api_client.delete(second_url).status_code == 204
    assert not CustomerNote.objects.exists()
    deleted = CustomerChange.objects.filter(customer=customer, action=ChangeAction.NOTE_DELETED)
    assert {c.actor for c in deleted} == {agent, supervisor}


def test_a_note_of_another_customer_is_not_found(api_client, agent, inbox):
    customer = seen_in(inbox)
    other_note = CustomerNoteFactory(customer=seen_in(inbox), author=agent)
    api_client.force_authenticate(agent)
    response = api_client.delete(url("api-customer-note", customer, note_id=other_note.pk))
    assert response.status_code == 404
    assert CustomerNote.objects.filter(pk=other_note.pk).exists()


# --- History and conversations ------------------------------------------------------------


def test_history_is_paginated_newest_first(api_client, agent, inbox):
    customer = seen_in(inbox)
    api_client.force_authenticate(agent)
    for name in ["a", "b", "c"]:
        api_client.patch(
            url("api-customer-detail", customer), {"display_name": name}, format="json"
        )

    page = api_client.get(url("api-customer-history", customer), {"page_size": 2}).json()

    assert [c["data"]["new"] for c in page["results"]] == ["c", "b"]
    change = page["results"][0]
    assert set(change) == {"id", "action", "action_label", "actor", "data", "created_at"}
    assert (change["action"], change["action_label"]) == ("updated", "Updated")
    assert change["actor"] == {"id": agent.pk, "name": str(agent)}
    rest = api_client.get(page["next"]).json()
    assert [c["data"]["new"] for c in rest["results"]] == ["a"]


def test_conversations_are_those_the_user_may_see_newest_activity_first(
    api_client, agent, inbox, supervisor
):
    WebChannelFactory(inbox=inbox)
    customer = CustomerFactory()
    quiet = ConversationFactory(inbox=inbox, customer=customer)
    other_inbox = InboxFactory(name="Support")
    other_inbox.members.add(agent)
    busy = ConversationFactory(inbox=other_inbox, customer=customer, last_message_at=timezone.now())
    hidden = ConversationFactory(customer=customer)  # an inbox the agent is not in
    ConversationFactory(inbox=inbox)  # another customer's
    api_client.force_authenticate(agent)

    rows = api_client.get(url("api-customer-conversations", customer)).json()

    assert [r["id"] for r in rows] == [str(busy.uuid), str(quiet.uuid)]
    assert (rows[0]["inbox"], rows[0]["channel"]) == ("Support", None)
    assert (rows[1]["inbox"], rows[1]["channel"]) == (inbox.name, "web")
    assert rows[0]["customer"]["name"] == str(customer) and "last_message_preview" in rows[0]
    api_client.force_authenticate(supervisor)
    rows = api_client.get(url("api-customer-conversations", customer)).json()
    assert str(hidden.uuid) in {r["id"] for r in rows} and len(rows) == 3


# --- Merges and suggestions ---------------------------------------------------------------


def test_an_agent_merges_a_customer_into_another_and_undoes_it(api_client, agent, inbox):
    duplicate = seen_in(inbox, display_name="Ann L", last_seen_at=timezone.now())
    ann = seen_in(inbox, display_name="Ann", last_seen_at=timezone.now())
    IdentityFactory(customer=duplicate, value="ann@example.com")
    api_client.force_authenticate(agent)

    response = api_client.post(
        url("api-customer-merge", ann), {"other": str(duplicate.uuid)}, format="json"
    )

    assert response.status_code == 201, response.content
    record = response.json()
    assert record["survivor"] == {"id": str(ann.uuid), "name": "Ann"}
    assert record["merged"] == {"id": str(duplicate.uuid), "name": "Ann L"}
    assert record["actor"] == {"id": agent.pk, "name": str(agent)}
    assert record["evidence"] == {"reason": "agent"}
    assert record["automatic"] is False and record["undone_at"] is None
    duplicate.refresh_from_db()
    assert duplicate.merged_into == ann
    assert Identity.objects.get(value="ann@example.com").customer == ann
    # The merged customer is gone from the user's sight.
    again = api_client.post(
        url("api-customer-merge", ann), {"other": str(duplicate.uuid)}, format="json"
    )
    assert again.status_code == 404

    undo_url = url("api-customer-merge-undo", pk=record["id"])
    undone = api_client.post(undo_url)
    assert undone.status_code == 200, undone.content
    assert undone.json()["undone_at"] and undone.json()["id"] == record["id"]
    duplicate.refresh_from_db()
    assert duplicate.merged_into is None
    assert Identity.objects.get(value="ann@example.com").customer == duplicate
    assert "already undone" in error_of(api_client.post(undo_url), 409, "merge_refused")["message"]


def test_merge_refusals_are_409s_or_400s(api_client, agent, inbox):
    ann = seen_in(inbox)
    api_client.force_authenticate(agent)
    itself = api_client.post(
        url("api-customer-merge", ann), {"other": str(ann.uuid)}, format="json"
    )
    assert "themselves" in error_of(itself, 409, "merge_refused")["message"]
    bad = api_client.post(url("api-customer-merge", ann), {"other": "nope"}, format="json")
    assert list(error_of(bad, 400, "invalid")["details"]) == ["other"]
    assert not MergeRecord.objects.exists()


def test_undoing_a_merge_whose_kept_customer_was_merged_since_is_refused(api_client, supervisor):
    first, second, third = CustomerFactory(), CustomerFactory(), CustomerFactory()
    earlier = customer_merge(survivor=first, merged=second)
    customer_merge(survivor=third, merged=first)
    api_client.force_authenticate(supervisor)
    response = api_client.post(url("api-customer-merge-undo", pk=earlier.pk))
    assert "undo that merge first" in error_of(response, 409, "merge_refused")["message"]


def test_suggestions_are_confirmed_or_dismissed(api_client, agent, inbox):
    ann = seen_in(inbox, display_name="Ann")
    twin = seen_in(inbox, display_name="Ann twin")
    lookalike = seen_in(inbox)
    to_merge = merge_suggest(twin, ann, evidence=EVIDENCE)
    to_dismiss = merge_suggest(ann, lookalike, evidence=EVIDENCE)
    api_client.force_authenticate(agent)

    confirm_url = url("api-merge-suggestion-confirm", pk=to_merge.pk)
    confirmed = api_client.post(confirm_url)
    assert confirmed.status_code == 201, confirmed.content
    assert confirmed.json()["survivor"]["id"] == str(ann.uuid)  # the older one is kept
    assert confirmed.json()["merged"]["id"] == str(twin.uuid)
    assert confirmed.json()["evidence"]["suggestion"] == to_merge.pk
    error_of(api_client.post(confirm_url), 409, "merge_refused")

    dismiss_url = url("api-merge-suggestion-dismiss", pk=to_dismiss.pk)
    assert api_client.post(dismiss_url).status_code == 204
    to_dismiss.refresh_from_db()
    assert (to_dismiss.status, to_dismiss.resolved_by) == (SuggestionStatus.DISMISSED, agent)
    error_of(api_client.post(dismiss_url), 409, "merge_refused")
    assert api_client.get(url("api-customer-detail", ann)).json()["suggestions"] == []
    assert api_client.post(url("api-merge-suggestion-dismiss", pk=999_999)).status_code == 404


def test_a_suggestion_is_open_to_whoever_sees_one_side(api_client, agent, inbox):
    mine = seen_in(inbox)
    theirs = CustomerFactory()
    suggestion = merge_suggest(mine, theirs, evidence=EVIDENCE)
    api_client.force_authenticate(agent)
    response = api_client.post(url("api-merge-suggestion-confirm", pk=suggestion.pk))
    assert response.status_code == 201
    assert response.json()["survivor"]["id"] == str(mine.uuid)


def test_custom_attributes_are_listed_in_display_order(api_client, agent):
    AttributeDefinitionFactory(key="zeta", label="Zeta", position=2)
    AttributeDefinitionFactory(
        key="plan", label="Plan", type="list", options=["Gold"], position=1, description="Tier"
    )
    api_client.force_authenticate(agent)
    rows = api_client.get(url("api-customer-attribute-list")).json()
    assert rows == [
        {
            "key": "plan",
            "label": "Plan",
            "type": "list",
            "options": ["Gold"],
            "description": "Tier",
        },
        {"key": "zeta", "label": "Zeta", "type": "text", "options": [], "description": ""},
    ]


# --- Who may do what ----------------------------------------------------------------------


class World:
    """An inbox with a `member` agent and a customer seen there; a `stranger` agent in no
    inbox; a supervisor."""

    def __init__(self):
        self.inbox = InboxFactory()
        self.member = AgentFactory()
        self.inbox.members.add(self.member)
        self.stranger = AgentFactory()
        self.supervisor = SupervisorFactory()
        self.customer = seen_in(self.inbox)

    def another(self) -> Customer:
        return seen_in(self.inbox)


def _list(w):
    return "get", url("api-customer-list"), None, 200


def _detail(w):
    return "get", url("api-customer-detail", w.customer), None, 200


def _patch(w):
    return "patch", url("api-customer-detail", w.customer), {"display_name": "New"}, 200


def _identity_add(w):
    body = {"kind": "email", "value": "matrix@example.com"}
    return "post", url("api-customer-identities", w.customer), body, 201


def _identity_remove(w):
    identity = IdentityFactory(customer=w.customer)
    return "delete", url("api-customer-identity", w.customer, identity_id=identity.pk), None, 204


def _tags(w):
    TagFactory()
    return "get", url("api-tag-list"), None, 200


def _tag_add(w):
    return "post", url("api-customer-tags", w.customer), {"name": "VIP"}, 201


def _tag_remove(w):
    tag = customer_tag_add(customer=w.customer, name="VIP", actor=None)
    return "delete", url("api-customer-tag", w.customer, tag_id=tag.pk), None, 204


def _notes(w):
    return "get", url("api-customer-notes", w.customer), None, 200


def _note_add(w):
    return "post", url("api-customer-notes", w.customer), {"body": "Hello"}, 201


def _note_delete(w):
    note = CustomerNoteFactory(customer=w.customer, author=w.member)
    return "delete", url("api-customer-note", w.customer, note_id=note.pk), None, 204


def _history(w):
    return "get", url("api-customer-history", w.customer), None, 200


def _conversations(w):
    return "get", url("api-customer-conversations", w.customer), None, 200


def _merge(w):
    body = {"other": str(w.another().uuid)}
    return "post", url("api-customer-merge", w.customer), body, 201


def _merge_undo(w):
    record = customer_merge(survivor=w.customer, merged=w.another())
    return "post", url("api-customer-merge-undo", pk=record.pk), None, 200


def _suggestion_confirm(w):
    suggestion = merge_suggest(w.customer, w.another(), evidence=EVIDENCE)
    return "post", url("api-merge-suggestion-confirm", pk=suggestion.pk), None, 201


def _suggestion_dismiss(w):
    suggestion = merge_suggest(w.customer, w.another(), evidence=EVIDENCE)
    return "post", url("api-merge-suggestion-dismiss", pk=suggestion.pk), None, 204


def _attributes(w):
    AttributeDefinitionFactory()
    return "get", url("api-customer-attribute-list"), None, 200


# Endpoints about no customer in particular: any staff member may use them.
UNSCOPED = {_list, _tags, _attributes}
ENDPOINTS = [
    _list,
    _detail,
    _patch,
    _identity_add,
    _identity_remove,
    _tags,
    _tag_add,
    _tag_remove,
    _notes,
    _note_add,
    _note_delete,
    _history,
    _conversations,
    _merge,
    _merge_undo,
    _suggestion_confirm,
    _suggestion_dismiss,
    _attributes,
]


@pytest.mark.parametrize("role", ["anonymous", "stranger", "member", "supervisor"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.__name__.strip("_") for e in ENDPOINTS])
def test_permission_matrix(api_client, db, endpoint, role):
    world = World()
    method, path, body, allowed = endpoint(world)
    if role != "anonymous":
        api_client.force_authenticate(getattr(world, role))
    expected = {
        "anonymous": 401,
        "stranger": allowed if endpoint in UNSCOPED else 404,
        "member": allowed,
        "supervisor": allowed,
    }[role]
    changes = CustomerChange.objects.count()

    response = getattr(api_client, method)(path, body, format="json")

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()) == {"error", "request_id"}
        assert CustomerChange.objects.count() == changes  # nothing happened
    if endpoint is _list and role == "stranger":
        assert response.json()["results"] == []


def test_agents_get_404s_for_customers_out_of_their_sight_and_403_for_others_notes(api_client, db):
    world = World()
    mine = world.customer
    theirs = CustomerFactory()  # no conversation the member may see
    another_theirs = CustomerFactory()
    their_merge = customer_merge(survivor=theirs, merged=CustomerFactory())
    their_suggestion = merge_suggest(theirs, another_theirs, evidence=EVIDENCE)
    colleague = AgentFactory()
    world.inbox.members.add(colleague)
    colleagues_note = CustomerNoteFactory(customer=mine, author=colleague)
    api_client.force_authenticate(world.member)

    merge = api_client.post(
        url("api-customer-merge", mine), {"other": str(theirs.uuid)}, format="json"
    )
    assert merge.status_code == 404
    reverse_merge = api_client.post(
        url("api-customer-merge", theirs), {"other": str(mine.uuid)}, format="json"
    )
    assert reverse_merge.status_code == 404
    assert not MergeRecord.objects.exclude(pk=their_merge.pk).exists()

    assert api_client.post(url("api-customer-merge-undo", pk=their_merge.pk)).status_code == 404
    their_merge.refresh_from_db()
    assert their_merge.undone_at is None

    for name in ["api-merge-suggestion-confirm", "api-merge-suggestion-dismiss"]:
        assert api_client.post(url(name, pk=their_suggestion.pk)).status_code == 404
    their_suggestion.refresh_from_db()
    assert their_suggestion.status == SuggestionStatus.PENDING

    note_url = url("api-customer-note", mine, note_id=colleagues_note.pk)
    error_of(api_client.delete(note_url), 403, "permission_denied")
    assert CustomerNote.objects.filter(pk=colleagues_note.pk).exists()
