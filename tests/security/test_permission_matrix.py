"""No leak across any endpoint x role x object (IDOR): the table in `matrix.py`, checked
against Django's resolver (a route without an entry fails), then every answer of every
route for every role and object of one world built once, and what lists, search,
exports, attachment links and sockets show.

Roles: nobody signed in, an agent, a second agent, a supervisor, an admin, and an account
without a role. A hidden object answers 404 as a missing one does; a denied request,
with a valid body or none, changes nothing in the database."""

from __future__ import annotations

import copy
import json
import time
import uuid
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from tests.live import conftest as live_conftest
from tests.security import matrix
from tests.security.matrix import (
    ADMIN,
    AGENT,
    AGENT2,
    ANONYMOUS,
    CONVERSATION_SEES,
    MATRIX,
    NOROLE,
    PLACES,
    ROLES,
    SEE_ALL,
    SEES,
    SLOTS,
    SUPERVISOR,
    Case,
    Elsewhere,
    Matrix,
)

# --- The table against the resolver -------------------------------------------------------


def test_every_route_is_in_the_matrix():
    """A route added anywhere (an API view, a page, a socket) fails here until the table
    says what its URL parameters refer to and who gets what."""
    missing = sorted(
        f"{endpoint.key} ({endpoint.route})"
        for endpoint in matrix.endpoints()
        if endpoint.key not in MATRIX
    )
    assert not missing, "routes without a row in tests/security/matrix.py MATRIX: " + ", ".join(
        missing
    )


def test_every_matrix_entry_is_a_route_with_those_methods():
    found = {endpoint.key: endpoint for endpoint in matrix.endpoints()}
    stale = sorted(set(MATRIX) - set(found))
    assert not stale, f"rows of MATRIX whose route no longer exists: {stale}"
    wrong = {
        key: {"table": sorted(MATRIX[key].methods), "view": sorted(endpoint.methods)}
        for key, endpoint in found.items()
        if endpoint.methods is not None and endpoint.methods != MATRIX[key].methods
    }
    assert not wrong, f"methods the table and the views disagree on: {wrong}"
    for prefix in matrix.EXCLUDED_PREFIXES:
        assert any(route.startswith(prefix) for route in matrix.all_routes()), prefix


def test_every_slot_is_used_and_every_elsewhere_says_why():
    used = {slot for entry in MATRIX.values() if isinstance(entry, Matrix) for slot in entry.slots}
    assert used == set(SLOTS)
    for key, entry in MATRIX.items():
        if isinstance(entry, Elsewhere):
            assert entry.reason, key


def test_urls_given_to_customers_carry_no_sequential_ids():
    """Public ids are random (UUIDs, random keys, signed tokens) wherever a URL is given to
    customers: no integer converter in any of their routes."""
    routes = {endpoint.key: endpoint.route for endpoint in matrix.endpoints()}
    for key in matrix.CUSTOMER_FACING:
        assert "<int:" not in routes[key], key


# --- The world ----------------------------------------------------------------------------


PROJECT_APPS = {
    "common",
    "accounts",
    "customers",
    "inbox",
    "channels_app",
    "ai_agent",
    "analytics",
    "marketing",
    "compliance",
    "demo",
}


def _digest_sql() -> tuple[str, list[str]]:
    tables = sorted(
        {
            model._meta.db_table
            for model in apps.get_models(include_auto_created=True)
            if model._meta.app_label in PROJECT_APPS
            and model._meta.managed
            and not model._meta.proxy
        }
    )
    quote = connection.ops.quote_name
    parts = [
        f"(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
        f"FROM {quote(table)} t)"
        for table in tables
    ]
    return "SELECT " + ", ".join(parts), tables


def database_digest() -> dict[str, str]:
    """One checksum per table of the product's apps, in one query."""
    sql, tables = _digest_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(table for table in before if before[table] != after[table])


def widget_world(w) -> None:
    """Two visitors of one website widget, each with a conversation (one with a file, the
    other with a private note), and a second widget."""
    from inbox.models import Conversation
    from inbox.services.notes import note_add
    from tests.channels_app.widget_client import start, url
    from tests.factories.channels import WidgetConfigFactory

    w.widget = WidgetConfigFactory().channel
    w.other_widget = WidgetConfigFactory().channel
    w.visitor = {}
    for name in ("a", "b"):
        client, session = start(w.widget)
        if name == "a":
            answer = client.post(
                url(w.widget, "attachments"),
                {"file": matrix.png_upload(), "body": "matrixword from a", "client_id": "a-1"},
                format="multipart",
            )
        else:
            answer = client.post(
                url(w.widget, "messages"),
                {"body": "matrixword from b", "client_id": "b-1"},
                format="json",
            )
        assert answer.status_code == 201, answer.content
        conversation = Conversation.objects.get(
            customer__identities__value=session["visitor_id"], inbox=w.widget.inbox
        )
        w.visitor[name] = {"token": session["token"], "conversation": conversation}
        w.conversations[f"visitor-{name}"] = conversation
    w.other_widget_token = start(w.other_widget)[1]["token"]
    note_add(
        conversation=w.visitor["b"]["conversation"],
        author=w.users[SUPERVISOR],
        body="visitorsecret about b",
    )


@pytest.fixture(scope="class")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The world, built once for the class inside a transaction that is rolled back after
    it; each test runs in a savepoint of its own (pytest-django), so writes never leak
    from one case into the next."""
    media = override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media")))
    media.enable()
    with django_db_blocker.unblock(), transaction.atomic():
        w = matrix.world_build()
        widget_world(w)
        w.digest = database_digest()
        yield w
        transaction.set_rollback(True)
    media.disable()
    _CLIENTS.clear()


def user_of(w, role: str) -> User | None:
    """A copy of the role's user, so that nothing a view caches on it outlives its case."""
    user = w.users[role]
    return None if user is None else copy.copy(user)


# One client per role for the whole class: a new client loads the middleware again
# (whitenoise then indexes every static file), which cost more than the requests.
_CLIENTS: dict = {}


def api_client(w, role: str) -> APIClient:
    client = _CLIENTS.get(("api", id(w), role))
    if client is None:
        client = _CLIENTS[("api", id(w), role)] = APIClient()
    client.credentials()
    if (user := user_of(w, role)) is not None:
        # (Never with None: the test client's logout would store a session each time.)
        client.force_authenticate(user)
    return client


def page_client(w, role: str) -> Client:
    client = _CLIENTS.get(("page", id(w), role))
    if client is None:
        client = _CLIENTS[("page", id(w), role)] = Client()
    client.cookies.clear()
    if (user := user_of(w, role)) is not None:
        client.force_login(user)
    return client


def call(w, case: Case):
    op = case.op
    slot = SLOTS[case.slot] if case.slot else None
    url = reverse(case.name, kwargs=slot.kwargs(w) if slot else {})
    query = {}
    if slot is not None and slot.query is not None:
        query.update(slot.query(w))
    if op.query is not None:
        query.update(op.query(w, case.role))
    if query:
        url += "?" + urlencode(query)
    client = api_client(w, case.role) if case.name.startswith("api-") else page_client(w, case.role)
    send = getattr(client, case.method.lower())
    if case.empty_body:
        return send(url, {}, format="multipart" if op.multipart else "json")
    body = op.body_for(w, case.role, case.slot)
    if body is None:
        return send(url)
    return send(url, body, format="multipart" if op.multipart else "json")


def describe(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return f"{response.status_code}: {content[:400].decode(errors='replace')}"


NOT_FOUND = {"code": "not_found", "message": "Not found.", "details": {}}


def check_case(w, case: Case) -> str | None:
    """What is wrong with the answer to `case`, or None: the expected status; a 404
    exactly like a missing object's; a denied write leaving every table as it was."""
    denied = case.expected <= matrix.DENIED and case.method in matrix.WRITES
    response = call(w, case)
    if response.status_code not in case.expected:
        return f"expected {sorted(case.expected)}, got {describe(response)}"
    api_404 = response.status_code == 404 and case.name.startswith("api-")
    if api_404 and (error := response.json()["error"]) != NOT_FOUND:
        return f"a 404 unlike a missing object's: {error}"
    # Every case starts from the world as built (the one before it was rolled back).
    if denied and (changed := changed_tables(w.digest, database_digest())):
        return f"a denied request changed {changed}"
    return None


def visible_names(role: str, names) -> set[str]:
    return {name for name in names if role in CONVERSATION_SEES.get(name, SEE_ALL)}


@pytest.mark.django_db
class TestWorld:
    # --- Every route x method x role x object -----------------------------------------

    @pytest.mark.parametrize(
        ("name", "method"), sorted({(case.name, case.method) for case in matrix.cases()})
    )
    def test_permission_matrix(self, world, name, method):
        """Every role x object of one route's method, each case in a savepoint of its own
        (rolled back after it); all mismatches are reported together."""
        failures = []
        for case in matrix.cases():
            if (case.name, case.method) != (name, method):
                continue
            with transaction.atomic():
                failure = check_case(world, case)
                transaction.set_rollback(True)
            if failure:
                failures.append(f"{case.id}: {failure}")
        assert not failures, "\n".join(failures)

    # --- Lists, search, exports ---------------------------------------------------------

    FILTERS = {
        # name: (query parameters, the world's conversations that match them)
        "none": (lambda w: {}, None),
        "inbox=other": (
            lambda w: {"inbox": w.inbox["other-inbox"].pk},
            {"other-inbox", "other-inbox-sibling", "other-inbox-partner", "member-elsewhere",
             "assigned-to-agent"},
        ),
        "inbox=assigned": (
            lambda w: {"inbox": w.inbox["assigned-other"].pk},
            {"assigned-other", "assigned-other-sibling", "assigned-other-partner",
             "restricted-unassigned"},
        ),
        "inbox=member,other": (
            lambda w: {"inbox": f"{w.inbox['member'].pk},{w.inbox['other-inbox'].pk}"},
            {"member", "member-sibling", "member-partner", "other-inbox", "other-inbox-sibling",
             "other-inbox-partner", "member-elsewhere", "assigned-to-agent"},
        ),
        "assignee=agent2": (
            lambda w: {"assignee": w.users[AGENT2].pk},
            {"assigned-other", "assigned-other-sibling", "assigned-other-partner"},
        ),
        "assignee=agent": (lambda w: {"assignee": w.users[AGENT].pk}, {"assigned-to-agent"}),
        "team=hidden": (
            lambda w: {"team": w.team["hidden"].pk},
            {"other-inbox", "other-inbox-sibling", "other-inbox-partner"},
        ),
        "tag=tag-other-inbox": (lambda w: {"tag": "tag-other-inbox"}, {"other-inbox"}),
        "q=message word": (lambda w: {"q": w.words["other-inbox"]}, {"other-inbox"}),
        "q=private note word": (lambda w: {"q": w.note_words["other-inbox"]}, {"other-inbox"}),
        "q=assigned word": (lambda w: {"q": w.words["assigned-other"]}, {"assigned-other"}),
        "q=customer name": (
            lambda w: {"q": w.names["other-inbox"]}, {"other-inbox", "other-inbox-sibling"}
        ),
        "q=customer email": (
            lambda w: {"q": w.emails["member"]},
            {"member", "member-sibling", "member-elsewhere"},
        ),
        "q=customer phone": (
            lambda w: {"q": w.phones["assigned-other"]},
            {"assigned-other", "assigned-other-sibling"},
        ),
        "q=visitor note": (lambda w: {"q": "visitorsecret"}, {"visitor-b"}),
    }  # fmt: skip

    def _listed(self, world, role, path, params) -> set[str]:
        by_uuid = {str(c.uuid): name for name, c in world.conversations.items()}
        response = api_client(world, role).get(path, params)
        assert response.status_code == 200, describe(response)
        body = response.json()
        assert body["next"] is None, "the world fits in one page"
        return {by_uuid[row["id"]] for row in body["results"] if row["id"] in by_uuid}

    @pytest.mark.parametrize("role", [AGENT, AGENT2, SUPERVISOR, ADMIN, NOROLE])
    @pytest.mark.parametrize("name", list(FILTERS))
    def test_conversation_lists_show_only_visible(self, world, role, name):
        params_of, matching = self.FILTERS[name]
        matching = set(world.conversations) if matching is None else matching
        params = params_of(world)
        listed = self._listed(world, role, "/api/v1/conversations/", params)
        assert listed == visible_names(role, matching), params
        assert listed == visible_names(
            role,
            self._listed(world, role, "/api/v1/search/", {"q": "matrixword", **params})
            if "q" not in params
            else self._listed(world, role, "/api/v1/search/", params),
        )

    @pytest.mark.parametrize("role", [AGENT, AGENT2, SUPERVISOR, NOROLE])
    @pytest.mark.parametrize("view", ["all", "mine", "unassigned"])
    def test_console_tabs_show_only_visible(self, world, role, view):
        mine = {AGENT: {"assigned-to-agent"}, AGENT2: {"assigned-other", "assigned-other-sibling",
                "assigned-other-partner"}}.get(role, set())  # fmt: skip
        assigned = {"assigned-to-agent", "assigned-other", "assigned-other-sibling",
                    "assigned-other-partner"}  # fmt: skip
        matching = {
            "all": set(world.conversations),
            "mine": mine,
            "unassigned": set(world.conversations) - assigned,
        }[view]
        listed = self._listed(world, role, "/api/v1/conversations/", {"view": view})
        assert listed == visible_names(role, matching)

    @pytest.mark.parametrize("role", [AGENT, AGENT2, SUPERVISOR, NOROLE])
    def test_search_shows_only_visible_and_snippets_of_visible(self, world, role):
        response = api_client(world, role).get("/api/v1/search/", {"q": "matrixword"})
        assert response.status_code == 200
        by_uuid = {str(c.uuid): name for name, c in world.conversations.items()}
        rows = [row for row in response.json()["results"] if row["id"] in by_uuid]
        assert {by_uuid[row["id"]] for row in rows} == visible_names(role, world.conversations)
        for p in PLACES:  # no snippet of a hidden conversation's note
            hidden = role not in SEES[p]
            found = api_client(world, role).get("/api/v1/search/", {"q": world.note_words[p]})
            texts = json.dumps(found.json()["results"])
            assert (world.note_words[p] not in texts) == hidden

    CUSTOMER_FILTERS = {
        "none": (lambda w: {}, None),
        "q=name": (lambda w: {"q": w.names["other-inbox"]}, {"other-inbox"}),
        "q=email": (lambda w: {"q": w.emails["other-inbox"]}, {"other-inbox"}),
        "q=phone": (lambda w: {"q": w.phones["assigned-other"]}, {"assigned-other"}),
        "identity=email": (
            lambda w: {"identity": f"email:{w.emails['assigned-other']}"}, {"assigned-other"}
        ),
        "tag": (lambda w: {"tag": "tag-other-inbox"}, {"other-inbox"}),
        "channel=phone": (lambda w: {"channel": "phone"}, set(PLACES)),
    }  # fmt: skip

    @pytest.mark.parametrize("role", [AGENT, AGENT2, SUPERVISOR, ADMIN, NOROLE])
    @pytest.mark.parametrize("name", list(CUSTOMER_FILTERS))
    def test_customer_lists_show_only_visible(self, world, role, name):
        customers = {str(c.uuid): p for p, c in world.cust.items()}
        sees = {p: SEES[p] for p in PLACES}
        for p in PLACES:
            customers[str(world.partner[p].customer.uuid)] = f"{p}-partner"
            sees[f"{p}-partner"] = SEES[p]
        for name_, conversation in world.conversations.items():
            if name_ in ("restricted-unassigned", "assigned-to-agent", "visitor-a", "visitor-b"):
                customers[str(conversation.customer.uuid)] = name_
                sees[name_] = CONVERSATION_SEES.get(name_, SEE_ALL)
        params_of, matching = self.CUSTOMER_FILTERS[name]
        matching = set(sees) if matching is None else matching
        response = api_client(world, role).get("/api/v1/customers/", params_of(world))
        assert response.status_code == 200, describe(response)
        listed = {
            customers[row["id"]] for row in response.json()["results"] if row["id"] in customers
        }
        assert listed == {n for n in matching if role in sees[n]}

    @pytest.mark.parametrize("role", [SUPERVISOR, ADMIN])
    def test_the_export_is_for_those_who_see_every_customer(self, world, role):
        response = api_client(world, role).get(
            "/api/v1/customers/export/", {"q": world.names["other-inbox"]}
        )
        assert response.status_code == 200
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        assert world.emails["other-inbox"] in text
        assert world.emails["member"] not in text

    @pytest.mark.parametrize("role", [AGENT, SUPERVISOR])
    def test_a_customers_conversations_are_only_the_visible_ones(self, world, role):
        customer = world.cust["member"]
        response = api_client(world, role).get(f"/api/v1/customers/{customer.uuid}/conversations/")
        assert response.status_code == 200
        by_uuid = {str(c.uuid): name for name, c in world.conversations.items()}
        listed = {by_uuid[row["id"]] for row in response.json()}
        expected = {"member", "member-sibling", "member-elsewhere"}
        assert listed == visible_names(role, expected)

    # --- Objects named in bodies --------------------------------------------------------

    @pytest.mark.parametrize("role", [AGENT, AGENT2, SUPERVISOR, NOROLE])
    def test_bulk_changes_only_visible_conversations(self, world, role):
        from inbox.models import Conversation

        before = dict(Conversation.objects.values_list("uuid", "priority"))
        ids = [str(c.uuid) for c in world.conversations.values()]
        response = api_client(world, role).post(
            "/api/v1/conversations/bulk/",
            {"ids": ids, "action": "priority", "priority": 3},
            format="json",
        )
        assert response.status_code == 200
        results = {row["id"]: row for row in response.json()["results"]}
        after = dict(Conversation.objects.values_list("uuid", "priority"))
        for name, conversation in world.conversations.items():
            row = results[str(conversation.uuid)]
            if role in CONVERSATION_SEES.get(name, SEE_ALL):
                assert row["ok"] is True, (name, row)
                assert after[conversation.uuid] == 3
            else:
                assert row == {"id": str(conversation.uuid), "ok": False,
                               "error": {"code": "not_found", "message": "Not found."}}  # fmt: skip
                assert after[conversation.uuid] == before[conversation.uuid], name

    def test_hidden_objects_named_in_a_body_answer_as_missing_ones(self, world):
        """Merging into a hidden conversation or customer, rendering for a hidden
        conversation: the same answer as for an id that does not exist."""
        from inbox.models import Conversation

        client = api_client(world, AGENT)
        member, hidden, missing = world.conv["member"], world.conv["other-inbox"], uuid.uuid4()

        def answer(path, body=None, query=None):
            response = client.post(path, body, format="json") if body else client.get(path, query)
            data = response.json()
            data.pop("request_id", None)
            return response.status_code, data

        merge = f"/api/v1/conversations/{member.uuid}/merge/"
        assert answer(merge, {"into": str(hidden.uuid)}) == answer(merge, {"into": str(missing)})
        assert answer(merge, {"into": str(hidden.uuid)})[0] == 400
        customer_merge = f"/api/v1/customers/{world.cust['member'].uuid}/merge/"
        other = world.cust["other-inbox"].uuid
        assert answer(customer_merge, {"other": str(other)}) == answer(
            customer_merge, {"other": str(missing)}
        )
        render = f"/api/v1/canned-replies/{world.canned['shared'].pk}/render/"
        assert answer(render, query={"conversation": str(hidden.uuid)}) == answer(
            render, query={"conversation": str(missing)}
        )
        assert not Conversation.objects.filter(merged_into__isnull=False).exists()

    def test_notifications_are_their_users(self, world):
        from inbox.models import Notification

        def ids(role):
            response = api_client(world, role).get("/api/v1/notifications/")
            assert response.status_code == 200
            return {row["id"] for row in response.json()["results"]}

        notes = world.notification
        assert ids(AGENT) == {str(notes[AGENT].uuid)}  # not agent2's, nor the stale one
        assert ids(AGENT2) == {str(notes[AGENT2].uuid)}
        assert ids(NOROLE) == set()
        assert ids(SUPERVISOR) == {str(notes[SUPERVISOR].uuid)}
        response = api_client(world, AGENT).post(
            "/api/v1/notifications/read/",
            {"ids": [str(notes[AGENT2].uuid), str(notes[SUPERVISOR].uuid)]},
            format="json",
        )
        assert response.json() == {"marked": 0}
        assert not Notification.objects.filter(read_at__isnull=False).exists()

    def test_canned_replies_and_saved_views_are_their_owners(self, world):
        def shortcuts(role, q=""):
            response = api_client(world, role).get("/api/v1/canned-replies/", {"q": q})
            assert response.status_code == 200
            return {row["shortcut"] for row in response.json()}

        assert shortcuts(AGENT) == {"agent-own", "shared"}
        assert shortcuts(AGENT, "agent2") == set()
        assert shortcuts(SUPERVISOR) == {"shared"}
        views = api_client(world, AGENT).get("/api/v1/saved-views/").json()
        assert [row["name"] for row in views] == ["Agent's view"]
        assert api_client(world, NOROLE).get("/api/v1/saved-views/").json() == []

    # --- Attachment links -----------------------------------------------------------------

    def _api_link(self, world, role, place) -> str:
        """The link the messages API gives `role` (bound to them)."""
        conversation = world.conv[place]
        response = api_client(world, role).get(
            f"/api/v1/conversations/{conversation.uuid}/messages/"
        )
        assert response.status_code == 200
        (url,) = [a["url"] for m in response.json()["results"] for a in m["attachments"]]
        return url

    @pytest.mark.parametrize(
        ("bound_to", "place", "fetcher", "allowed"),
        [
            # A valid link, bound to the fetcher or to nobody (as a push carries it): it
            # opens only while the fetcher may see the conversation.
            (AGENT, "member", AGENT, True),
            (None, "member", AGENT, True),
            (None, "other-inbox", SUPERVISOR, True),
            (AGENT2, "assigned-other", AGENT2, True),
            (AGENT, "other-inbox", AGENT, False),
            (AGENT, "assigned-other", AGENT, False),
            (None, "other-inbox", AGENT, False),
            (None, "assigned-other", AGENT, False),
            (AGENT2, "member", AGENT2, False),
            (None, "member", AGENT2, False),
            (NOROLE, "member", NOROLE, False),
            (None, "member", NOROLE, False),
            (None, "member", ANONYMOUS, False),
            # Someone else's link, to a conversation the fetcher does see.
            (SUPERVISOR, "member", AGENT, False),
            (AGENT, "member", SUPERVISOR, False),
        ],
        ids=lambda value: str(value),
    )
    def test_attachment_links_are_bound_to_the_viewer(
        self, world, bound_to, place, fetcher, allowed
    ):
        from inbox.files import attachment_url

        link = attachment_url(world.attachment[place], user=world.users.get(bound_to))
        response = page_client(world, fetcher).get(link)
        if allowed:
            assert response.status_code == 200, describe(response)
            assert b"".join(response.streaming_content) == matrix.PNG
        else:
            assert response.status_code == 404, describe(response)

    def test_attachment_links_from_the_api_and_by_api_token(self, world):
        from accounts.services import api_token_create

        link = self._api_link(world, AGENT, "member")
        assert page_client(world, AGENT).get(link).status_code == 200
        assert page_client(world, SUPERVISOR).get(link).status_code == 404
        assert page_client(world, ANONYMOUS).get(link).status_code == 404
        hidden = self._api_link(world, SUPERVISOR, "other-inbox")
        _token, key = api_token_create(user=world.users[AGENT], name="matrix")
        assert (
            page_client(world, ANONYMOUS).get(hidden, HTTP_AUTHORIZATION=f"Token {key}").status_code
            == 404
        )
        _token, key = api_token_create(user=world.users[SUPERVISOR], name="matrix")
        assert (
            page_client(world, ANONYMOUS).get(hidden, HTTP_AUTHORIZATION=f"Token {key}").status_code
            == 200
        )

    def test_a_visitor_link_opens_only_that_visitors_file(self, world):
        client = api_client(world, ANONYMOUS)
        client.credentials(HTTP_AUTHORIZATION=f"Visitor {world.visitor['a']['token']}")
        response = client.get(reverse("widget-messages", args=[world.widget.public_key]))
        (link,) = [a["url"] for m in response.json()["results"] for a in m["attachments"]]
        # The widget has no cookie: the link is the key.
        response = page_client(world, ANONYMOUS).get(link)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == matrix.PNG
        assert page_client(world, ANONYMOUS).get(link.rstrip("/")[:-3] + "xyz/").status_code == 404

    # --- The widget -----------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("name", "method"),
        [(name, method) for name, methods in matrix.VISITOR_ROUTES.items() for method in methods],
    )
    @pytest.mark.parametrize("who", [ANONYMOUS, AGENT, SUPERVISOR, "forged", "other-widget"])
    def test_widget_routes_refuse_requests_without_a_visitor_token(self, world, name, method, who):
        """A staff session is no visitor; a token of another widget or a forged one is none."""
        client = api_client(world, who if who in ROLES else ANONYMOUS)
        if who == "forged":
            client.credentials(HTTP_AUTHORIZATION=f"Visitor {world.visitor['a']['token']}x")
        elif who == "other-widget":
            client.credentials(HTTP_AUTHORIZATION=f"Visitor {world.other_widget_token}")
        before = database_digest()
        path = reverse(name, args=[world.widget.public_key])
        response = getattr(client, method.lower())(path, {}, format="json")
        assert response.status_code == 401, describe(response)
        assert changed_tables(before, database_digest()) == []

    def test_what_the_widget_shows_has_no_sequential_ids(self, world):
        from channels_app.models import ChannelAccount

        field = ChannelAccount._meta.get_field("public_key")
        assert field.default() != field.default()  # random, not a counter
        client = api_client(world, ANONYMOUS)
        client.credentials(HTTP_AUTHORIZATION=f"Visitor {world.visitor['a']['token']}")
        key = world.widget.public_key
        token = world.visitor["a"]["token"]
        bodies = [
            client.post(reverse("widget-session", args=[key]), {"token": token}, format="json"),
            client.get(reverse("widget-messages", args=[key])),
        ]
        bodies = [response.json() for response in bodies]

        def ids(value, key=""):
            if isinstance(value, dict):
                for name, item in value.items():
                    yield from ids(item, name)
            elif isinstance(value, list):
                for item in value:
                    yield from ids(item, key)
            elif key == "id" or key.endswith("_id"):
                yield key, value

        found = list(ids(bodies))
        assert found, "the bodies name their objects"
        for name, value in found:
            assert not isinstance(value, int), (name, value)
            if name == "id":
                uuid.UUID(str(value))

    def test_a_visitor_sees_and_changes_only_their_own_conversation(self, world):
        from inbox.models import Conversation

        a, b = world.visitor["a"], world.visitor["b"]
        client = api_client(world, ANONYMOUS)
        client.credentials(HTTP_AUTHORIZATION=f"Visitor {a['token']}")
        key = world.widget.public_key
        page = client.get(reverse("widget-messages", args=[key])).json()
        assert page["conversation"]["id"] == str(a["conversation"].uuid)
        assert [m["body"] for m in page["results"]] == ["matrixword from a"]
        session = client.post(reverse("widget-session", args=[key]), {"token": a["token"]},
                              format="json").json()  # fmt: skip
        assert session["conversation"]["id"] == str(a["conversation"].uuid)
        b_before = Conversation.objects.values().get(pk=b["conversation"].pk)
        for path, body in [
            ("widget-messages", {"body": "from a again", "client_id": "a-2"}),
            ("widget-read", {"seq": 99}),
            ("widget-typing", {"typing": True}),
        ]:
            response = client.post(reverse(path, args=[key]), body, format="json")
            assert response.status_code in (201, 204), describe(response)
        assert client.post(reverse("widget-csat", args=[key]), {"rating": 5},
                           format="json").status_code == 404  # fmt: skip
        assert Conversation.objects.values().get(pk=b["conversation"].pk) == b_before
        assert a["conversation"].messages.filter(body="from a again").exists()
        # b's own page has b's message, never the private note about b
        client.credentials(HTTP_AUTHORIZATION=f"Visitor {b['token']}")
        page = client.get(reverse("widget-messages", args=[key])).json()
        assert [m["body"] for m in page["results"]] == ["matrixword from b"]

    # --- The admin site -------------------------------------------------------------------

    @pytest.mark.parametrize("role", [AGENT, NOROLE, ANONYMOUS])
    def test_the_admin_site_refuses_agents_and_accounts_without_a_role(self, world, role):
        """Every page of the admin sends them to the sign-in, which refuses a signed-in
        user whose role does not open the admin (config/urls.py admin_login)."""
        from django.contrib import admin

        client = page_client(world, role)
        paths = ["/admin/"] + [
            reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist")
            for m in admin.site._registry
        ]
        for path in paths:
            response = client.get(path)
            assert response.status_code == 302, path
            final = client.get(response["Location"])
            if role == ANONYMOUS:
                assert final.status_code == 302, path
                assert final["Location"].startswith(reverse("account_login")), path
            else:
                assert final.status_code == 403, path


# --- Sockets, over real servers -------------------------------------------------------------

# The live-server fixture of tests/live, for the tests below.
start_servers = live_conftest.start_servers


def _socket_world():
    """Committed (the server is another process): the agent's inbox, an inbox of nobody,
    an "assigned" inbox of both agents with a conversation assigned to agent2."""
    from inbox.enums import InboxVisibility
    from tests.factories.accounts import AgentFactory, SupervisorFactory
    from tests.factories.inbox import ConversationFactory, InboxFactory

    agent, agent2, supervisor = AgentFactory(), AgentFactory(), SupervisorFactory()
    member, other = InboxFactory(), InboxFactory()
    restricted = InboxFactory(visibility=InboxVisibility.ASSIGNED)
    member.members.add(agent)
    restricted.members.add(agent, agent2)
    return {
        "agent": agent,
        "agent2": agent2,
        "supervisor": supervisor,
        "member_inbox": member,
        "member": ConversationFactory(inbox=member),
        "other": ConversationFactory(inbox=other),
        "assigned": ConversationFactory(inbox=restricted, assignee=agent2),
    }


def _heard(ws, seconds: float = 1.0) -> list[dict]:
    """Everything the socket receives until it has been quiet for `seconds`."""
    from websockets.exceptions import ConnectionClosed

    events: list[dict] = []
    while True:
        try:
            events.append(json.loads(ws.recv(timeout=seconds)))
        except (TimeoutError, ConnectionClosed):
            return events


def _about(events: list[dict], conversation) -> list[dict]:
    """The events naming `conversation` (other suites may push to the same groups)."""
    return [event for event in events if str(conversation.uuid) in json.dumps(event)]


def _until_about(ws, conversation, timeout: float = 5.0) -> list[dict]:
    """What the socket receives until an event about `conversation` has come."""
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while not _about(events, conversation):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"nothing about {conversation.uuid} within {timeout} s"
        events.append(json.loads(ws.recv(timeout=remaining)))
    return events


def _pong(ws) -> tuple[dict, list[dict]]:
    """The next pong, and the pushes received before it."""
    others = []
    while (event := json.loads(ws.recv(timeout=5)))["type"] != "pong":
        others.append(event)
    return event, others


def test_console_socket_hears_only_what_the_user_may_see(start_servers):
    """Pushes about another inbox's conversation (or one assigned to a colleague in an
    "assigned" inbox) never reach the agent's socket while a supervisor's hears them;
    naming such a conversation in a message to the socket answers nothing about it; taken
    out of an inbox, or deactivated, the socket follows from the next heartbeat."""
    from websockets.exceptions import ConnectionClosed

    from inbox.services import conversation_typing, message_receive
    from tests.live.chat import open_socket
    from tests.live.clients import session_cookies

    w = _socket_world()
    (server,) = start_servers()

    def console(user):
        return open_socket(server, "/ws/console/", session_cookies(user), False)

    with (
        console(w["agent"]) as agent,
        console(w["agent2"]) as agent2,
        console(w["supervisor"]) as supervisor,
    ):
        for ws in (agent, agent2, supervisor):
            assert json.loads(ws.recv(timeout=5))["type"] == "ready"
        message_receive(conversation=w["other"], body="in an inbox the agent is not in")
        conversation_typing(conversation=w["other"], typing=True)
        message_receive(conversation=w["assigned"], body="assigned to agent2")
        message_receive(conversation=w["member"], body="in the agent's inbox")
        # Each socket has heard the last push it should when these return, so whatever
        # came before it has come too (one publisher, in order).
        heard_supervisor = _until_about(supervisor, w["member"])
        heard_agent = _until_about(agent, w["member"])
        heard_agent2 = _until_about(agent2, w["assigned"])
        for conversation in ("other", "assigned"):
            assert _about(heard_supervisor, w[conversation]), conversation
            assert _about(heard_agent, w[conversation]) == [], conversation
        assert _about(heard_agent2, w["other"]) == []
        assert _about(heard_agent2 + _heard(agent2, 0.3), w["member"]) == []

        # Naming another inbox's conversation gets nothing back about it.
        for hidden in (w["other"], w["assigned"]):
            for message in (
                {"type": "subscribe", "conversation": str(hidden.uuid)},
                {"type": "typing", "conversation": str(hidden.uuid), "typing": True},
                {"type": "ping", "conversation": str(hidden.uuid)},
            ):
                agent.send(json.dumps(message))
            pong, others = _pong(agent)
            assert pong == {"type": "pong"}
            assert _about(others, hidden) == []
        agent.send(json.dumps({"type": "ping", "conversation": str(w["member"].uuid)}))
        assert _pong(agent)[0] == {
            "type": "pong",
            "conversation": str(w["member"].uuid),
            "last_seq": 1,
        }

        # Taken out of the inbox, the agent hears no more of it from the next heartbeat on.
        w["member_inbox"].members.remove(w["agent"])
        agent.send(json.dumps({"type": "ping"}))
        assert _pong(agent)[0] == {"type": "pong"}
        message_receive(conversation=w["member"], body="after the agent left the inbox")
        message_receive(conversation=w["assigned"], body="a marker for agent2")
        _until_about(supervisor, w["assigned"])
        assert _about(_heard(agent, 0.3), w["member"]) == []

        # Deactivated, the agent's socket is closed at its next heartbeat.
        User.objects.filter(pk=w["agent2"].pk).update(is_active=False)
        agent2.send(json.dumps({"type": "ping"}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                agent2.recv(timeout=5)
        assert closed.value.rcvd.code == 4401


def test_widget_socket_hears_only_its_own_conversation(start_servers):
    """Two visitors of one widget: a reply and a note in the second one's conversation
    reach only the second one's socket (the note not even that one)."""
    from accounts.services import api_token_create
    from inbox.models import Conversation
    from tests.factories.accounts import SupervisorFactory
    from tests.factories.channels import WidgetConfigFactory
    from tests.live.chat import Agent, Visitor
    from tests.live.clients import session_cookies

    key = WidgetConfigFactory().channel.public_key
    supervisor = SupervisorFactory()
    _token, token_key = api_token_create(user=supervisor, name="matrix")
    (server,) = start_servers()
    first, second = Visitor(server, key), Visitor(server, key)
    for visitor in (first, second):
        visitor.send("hello")
    conversations = {}
    for visitor in (first, second):
        visitor_id = visitor.http.post(
            f"/widget/v1/{key}/session/", json={"token": visitor.token}
        ).json()["visitor_id"]
        conversations[visitor] = Conversation.objects.get(customer__identities__value=visitor_id)
    staff = Agent(server, token_key, session_cookies(supervisor))
    with first.socket() as ws_first, second.socket() as ws_second:
        theirs = conversations[second]
        staff.http.post(
            f"/api/v1/conversations/{theirs.uuid}/notes/", json={"body": "private"}
        ).raise_for_status()
        staff.reply(str(theirs.uuid), "to the second visitor")
        heard = _until_about(ws_second, theirs)
        assert [e["message"]["body"] for e in heard if e["type"] == "message.created"] == [
            "to the second visitor"
        ]
        ws_first.send(json.dumps({"type": "ping"}))
        pong, before = _pong(ws_first)
        assert pong == {"type": "pong", "last_seq": 1}
        assert _about(before + _heard(ws_first, 0.3), theirs) == []
