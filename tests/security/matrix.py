"""The permission matrix: every route of the product, what its URL parameters refer to,
and the answer each role must get for each object of one small world
(`tests/security/test_permission_matrix.py` runs it).

The rule (docs/search.md): an agent sees the conversations of their inboxes and teams (in
an inbox whose visibility is "assigned", only their own and the unassigned ones) and those
assigned to them; supervisors and admins see all; a customer is seen through a
conversation one may see. An object the user may not see answers 404, exactly like one
that does not exist (a 403 would confirm that it exists); what a role may not do at all
answers 403 whatever the object; nobody signed in gets 401.

Reading the table: each route name maps to the objects its URL parameters refer to (a
tuple of slot names, see SLOTS) and, per method, a Rule with the status of success.
`Rule.expected(role, slot)` turns that into the answer for every role and object."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

# --- Roles ------------------------------------------------------------------------------

ANONYMOUS, AGENT, AGENT2, SUPERVISOR, ADMIN, NOROLE = (
    "anonymous",
    "agent",
    "agent2",
    "supervisor",
    "admin",
    "norole",
)
ROLES = (ANONYMOUS, AGENT, AGENT2, SUPERVISOR, ADMIN, NOROLE)
SEE_ALL = frozenset({SUPERVISOR, ADMIN})
STAFF = frozenset({AGENT, AGENT2, SUPERVISOR, ADMIN})  # users with a role
SIGNED_IN = STAFF | {NOROLE}

# --- Who sees what ----------------------------------------------------------------------
# Three places a conversation (with its customer, messages, a private note, an
# attachment) can be, seen from `agent`:
# - "member": an inbox the agent belongs to (visibility "all");
# - "other-inbox": an inbox nobody but supervisors sees, given to a team the agent is not in;
# - "assigned-other": an "assigned" inbox the agent belongs to, assigned to `agent2`.
PLACES = ("member", "other-inbox", "assigned-other")
SEES = {
    "member": frozenset({AGENT}) | SEE_ALL,
    "other-inbox": SEE_ALL,
    "assigned-other": frozenset({AGENT2}) | SEE_ALL,
}
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Slot:
    """One object (or pair) a route's URL parameters can name. `visible`: the roles that
    may see it; `manage`: those of them that may change it (others get 403)."""

    kwargs: Callable[[Any], dict]
    visible: frozenset[str]
    manage: frozenset[str] | None = None
    query: Callable[[Any], dict] | None = None
    note: str = ""


def _place_slots() -> dict[str, Slot]:
    slots = {}
    for p in PLACES:
        slots[f"conversation:{p}"] = Slot(lambda w, p=p: {"uuid": w.conv[p].uuid}, SEES[p])
        slots[f"message:{p}"] = Slot(
            lambda w, p=p: {"uuid": w.conv[p].uuid, "seq": w.failed[p].seq}, SEES[p]
        )
        slots[f"customer:{p}"] = Slot(lambda w, p=p: {"uuid": w.cust[p].uuid}, SEES[p])
        slots[f"identity:{p}"] = Slot(
            lambda w, p=p: {"uuid": w.cust[p].uuid, "identity_id": w.identity[p].pk}, SEES[p]
        )
        slots[f"tag:{p}"] = Slot(
            lambda w, p=p: {"uuid": w.cust[p].uuid, "tag_id": w.tag[p].pk}, SEES[p]
        )
        slots[f"merge-record:{p}"] = Slot(lambda w, p=p: {"pk": w.merge[p].pk}, SEES[p])
        slots[f"suggestion:{p}"] = Slot(lambda w, p=p: {"pk": w.suggestion[p].pk}, SEES[p])
    return slots


SLOTS: dict[str, Slot] = {
    **_place_slots(),
    # A visible customer with a child of a hidden one: the child is not theirs, for anyone.
    "identity:cross": Slot(
        lambda w: {"uuid": w.cust["member"].uuid, "identity_id": w.identity["other-inbox"].pk},
        NOBODY,
    ),
    "tag:cross": Slot(
        lambda w: {"uuid": w.cust["member"].uuid, "tag_id": w.tag["other-inbox"].pk}, NOBODY
    ),
    "note:member/by-agent": Slot(
        lambda w: {"uuid": w.cust["member"].uuid, "note_id": w.note["member", AGENT].pk},
        SEES["member"],
        manage=SEES["member"],
    ),
    "note:member/by-agent2": Slot(
        lambda w: {"uuid": w.cust["member"].uuid, "note_id": w.note["member", AGENT2].pk},
        SEES["member"],
        manage=SEE_ALL,  # the agent sees it but did not write it
    ),
    # Written by the agent, on a customer they cannot see (any more): hidden from its author.
    "note:other-inbox/by-agent": Slot(
        lambda w: {"uuid": w.cust["other-inbox"].uuid, "note_id": w.note["other-inbox", AGENT].pk},
        SEES["other-inbox"],
        manage=SEES["other-inbox"],
    ),
    "note:assigned-other/by-agent2": Slot(
        lambda w: {
            "uuid": w.cust["assigned-other"].uuid,
            "note_id": w.note["assigned-other", AGENT2].pk,
        },
        SEES["assigned-other"],
        manage=SEES["assigned-other"],
    ),
    "note:cross": Slot(
        lambda w: {"uuid": w.cust["member"].uuid, "note_id": w.note["other-inbox", AGENT].pk},
        NOBODY,
    ),
    "suggestion:mixed": Slot(
        lambda w: {"pk": w.suggestion["mixed"].pk},
        SEES["member"] | SEES["other-inbox"],
        note=(
            "member ~ other-inbox: by design an agent who sees one side may confirm "
            "(customers/api.py suggestion_or_404; docs/customers.md 'agents get a suggestion')"
        ),
    ),
    # Canned replies: personal ones are their owner's alone (supervisors included).
    "canned:agent's": Slot(lambda w: {"pk": w.canned[AGENT].pk}, frozenset({AGENT})),
    "canned:agent2's": Slot(lambda w: {"pk": w.canned[AGENT2].pk}, frozenset({AGENT2})),
    "canned:shared": Slot(lambda w: {"pk": w.canned["shared"].pk}, STAFF, manage=SEE_ALL),
    # Rendering needs the canned reply and the conversation (a query parameter).
    "render:shared/member": Slot(
        lambda w: {"pk": w.canned["shared"].pk},
        STAFF & SEES["member"],
        query=lambda w: {"conversation": str(w.conv["member"].uuid)},
    ),
    "render:shared/other-inbox": Slot(
        lambda w: {"pk": w.canned["shared"].pk},
        STAFF & SEES["other-inbox"],
        query=lambda w: {"conversation": str(w.conv["other-inbox"].uuid)},
    ),
    "render:agent2's/assigned-other": Slot(
        lambda w: {"pk": w.canned[AGENT2].pk},
        frozenset({AGENT2}),
        query=lambda w: {"conversation": str(w.conv["assigned-other"].uuid)},
    ),
    "render:agent2's/member": Slot(
        lambda w: {"pk": w.canned[AGENT2].pk},
        NOBODY,  # agent2 cannot see the conversation, the agent not the reply
        query=lambda w: {"conversation": str(w.conv["member"].uuid)},
    ),
    "saved-view:agent's": Slot(lambda w: {"pk": w.saved_view[AGENT].pk}, frozenset({AGENT})),
    "saved-view:agent2's": Slot(lambda w: {"pk": w.saved_view[AGENT2].pk}, frozenset({AGENT2})),
}

CONVERSATIONS = tuple(f"conversation:{p}" for p in PLACES)
MESSAGES = tuple(f"message:{p}" for p in PLACES)
CUSTOMERS = tuple(f"customer:{p}" for p in PLACES)
IDENTITIES = (*(f"identity:{p}" for p in PLACES), "identity:cross")
TAGS = (*(f"tag:{p}" for p in PLACES), "tag:cross")
NOTES = tuple(name for name in SLOTS if name.startswith("note:"))
MERGE_RECORDS = tuple(f"merge-record:{p}" for p in PLACES)
SUGGESTIONS = (*(f"suggestion:{p}" for p in PLACES), "suggestion:mixed")
CANNED = ("canned:agent's", "canned:agent2's", "canned:shared")
RENDERS = tuple(name for name in SLOTS if name.startswith("render:"))
SAVED_VIEWS = ("saved-view:agent's", "saved-view:agent2's")


# --- Rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """The answers of one method of one route. In order: nobody signed in gets
    `anonymous`; a role outside `roles` gets 403 before any object is read; an object the
    role may not see is a 404; after that, a role outside `after` (or, with `manage`,
    outside the slot's `manage`) gets 403; everyone else `ok`."""

    ok: int | frozenset[int]
    roles: frozenset[str] = SIGNED_IN
    after: frozenset[str] | None = None
    manage: bool = False
    anonymous: int | frozenset[int] = 401

    def expected(self, role: str, slot: Slot | None) -> frozenset[int]:
        return _as_set(self._expected(role, slot))

    def _expected(self, role, slot):
        if role == ANONYMOUS:
            return self.anonymous
        if role not in self.roles:
            return 403
        if slot is not None and role not in slot.visible:
            return 404
        if self.after is not None and role not in self.after:
            return 403
        if self.manage and slot is not None and role not in (slot.manage or slot.visible):
            return 403
        return self.ok


def _as_set(value) -> frozenset[int]:
    return value if isinstance(value, frozenset) else frozenset({value})


def see(ok: int, **kwargs) -> Rule:
    """Anyone signed in, for what they may see (none: a user without a role)."""
    return Rule(ok, **kwargs)


def staff(ok: int, **kwargs) -> Rule:
    """Users with a role only (403 for an account without one), for what they may see."""
    return Rule(ok, roles=STAFF, **kwargs)


def only(roles: frozenset[str], ok: int) -> Rule:
    return Rule(ok, roles=roles)


@dataclass(frozen=True)
class Op:
    rule: Rule
    # A valid-looking body, so that the answer is about permission, not validation: a
    # dict, or body(world, role, slot_name) -> dict.
    body: Any = None
    query: Callable[[Any, str], dict] | None = None
    multipart: bool = False

    def body_for(self, world, role: str, slot: str | None):
        return self.body(world, role, slot) if callable(self.body) else self.body


@dataclass(frozen=True)
class Matrix:
    """A route checked here: what its URL parameters refer to, and per method its rule."""

    slots: tuple[str, ...]
    ops: dict[str, Op]
    note: str = ""

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self.ops)


@dataclass(frozen=True)
class Elsewhere:
    """A route that is public or authenticates otherwise (a provider's signature, a
    visitor's token), or whose rows are a dedicated test: why, and where it is checked."""

    methods: frozenset[str]
    reason: str
    checked_by: str = ""


def _methods(*names: str) -> frozenset[str]:
    return frozenset(names)


# --- Bodies -----------------------------------------------------------------------------

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def png_upload(name: str = "pixel.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def _reply(w, role, slot):
    return {"body": "Thanks, looking into it", "client_id": uuid.uuid4().hex}


def _attachment(w, role, slot):
    return {"file": png_upload(), "body": "here", "client_id": uuid.uuid4().hex}


def _self_assign(w, role, slot):
    user = w.users.get(role)
    return {"agent": user.pk if user is not None else w.users[AGENT].pk}


def _merge_into(w, role, slot):
    return {"into": str(w.sibling[slot.split(":")[1]].uuid)}


def _merge_other(w, role, slot):
    return {"other": str(w.partner[slot.split(":")[1]].customer.uuid)}


def _new_identity(w, role, slot):
    return {"kind": "email", "value": f"new-{role}@example.test"}


def _bulk(w, role, slot):
    return {"ids": [str(c.uuid) for c in w.conversations.values()], "action": "priority",
            "priority": 2}  # fmt: skip


def _csv(w, role, slot):
    data = b"name,email\nImported Person,imported@example.test\n"
    return {"file": SimpleUploadedFile("c.csv", data, content_type="text/csv")}


def _notification_ids(w, role, slot):
    return {"ids": [str(n.uuid) for n in w.notification.values()]}


# --- The table --------------------------------------------------------------------------

# The widget's routes that need a visitor's token (a staff session is none).
VISITOR_ROUTES = {
    "widget-messages": _methods("GET", "POST"),
    "widget-attachments": _methods("POST"),
    "widget-read": _methods("POST"),
    "widget-typing": _methods("POST"),
    "widget-user": _methods("POST"),
    "widget-contact": _methods("POST"),
    "widget-csat": _methods("POST"),
}

MATRIX: dict[str, Matrix | Elsewhere] = {
    # accounts
    "api-me": Matrix((), {"GET": Op(see(200))}),
    # conversations (inbox/api.py)
    "api-conversation-list": Matrix(
        (), {"GET": Op(see(200))}, note="contents: test_conversation_lists_show_only_visible"
    ),
    "api-conversation-detail": Matrix(CONVERSATIONS, {"GET": Op(see(200))}),
    "api-conversation-messages": Matrix(
        CONVERSATIONS, {"GET": Op(see(200)), "POST": Op(see(201), body=_reply)}
    ),
    "api-message-retry": Matrix(MESSAGES, {"POST": Op(see(200), body={"body": "Once more"})}),
    "api-conversation-reply-options": Matrix(CONVERSATIONS, {"GET": Op(see(200))}),
    "api-conversation-attachments": Matrix(
        CONVERSATIONS, {"POST": Op(see(201), body=_attachment, multipart=True)}
    ),
    "api-conversation-read": Matrix(CONVERSATIONS, {"POST": Op(see(200), body={"seq": 1})}),
    "api-conversation-typing": Matrix(CONVERSATIONS, {"POST": Op(see(204), body={"typing": True})}),
    # the AI's part (ai_agent/api.py): staff only. The world's conversations are handled by
    # people and no AI profile serves their inboxes: a takeover or a hand-back is a 409.
    "api-conversation-ai": Matrix(CONVERSATIONS, {"GET": Op(staff(200))}),
    "api-conversation-ai-takeover": Matrix(CONVERSATIONS, {"POST": Op(staff(409))}),
    "api-conversation-ai-handback": Matrix(CONVERSATIONS, {"POST": Op(staff(409))}),
    # routing (inbox/api_routing.py): staff only, checked before the conversation
    "api-conversation-assign": Matrix(CONVERSATIONS, {"POST": Op(staff(200), body=_self_assign)}),
    "api-conversation-transfer": Matrix(
        CONVERSATIONS,
        {
            "POST": Op(
                staff(200), body=lambda w, r, s: {"team": w.team["agent"].pk, "note": "yours"}
            )
        },
    ),
    "api-my-availability": Matrix(
        (),
        {"GET": Op(only(STAFF, 200)), "POST": Op(only(STAFF, 200), body={"availability": "busy"})},
    ),
    "api-agent-list": Matrix((), {"GET": Op(only(STAFF, 200))}),
    "api-team-list": Matrix((), {"GET": Op(only(STAFF, 200))}),
    "api-inbox-list": Matrix(
        (),
        {"GET": Op(only(STAFF, 200))},
        note="which inboxes: test_inbox_list_is_the_inboxes_an_agent_works_in",
    ),
    # workflow (inbox/api_workflow.py)
    "api-conversation-bulk": Matrix(
        (),
        {"POST": Op(see(200), body=_bulk)},
        note="per-item visibility: test_bulk_changes_only_visible_conversations",
    ),
    "api-conversation-status": Matrix(
        CONVERSATIONS, {"POST": Op(see(200), body={"status": "pending"})}
    ),
    "api-conversation-priority": Matrix(
        CONVERSATIONS, {"POST": Op(see(200), body={"priority": 3})}
    ),
    "api-conversation-claim": Matrix(
        CONVERSATIONS,
        {"POST": Op(see(200), body={"minutes": 5}), "DELETE": Op(see(200))},
    ),
    "api-conversation-claim-break": Matrix(CONVERSATIONS, {"POST": Op(see(200, after=SEE_ALL))}),
    "api-conversation-notes": Matrix(
        CONVERSATIONS, {"POST": Op(see(201), body={"body": "Checked the order"})}
    ),
    "api-conversation-tags": Matrix(
        CONVERSATIONS, {"PUT": Op(see(200), body={"tags": ["matrix"]})}
    ),
    "api-conversation-merge": Matrix(CONVERSATIONS, {"POST": Op(see(200), body=_merge_into)}),
    "api-canned-list": Matrix(
        (),
        {
            "GET": Op(staff(200)),
            "POST": Op(staff(201), body={"shortcut": "fresh", "body": "Hello"}),
        },
        note="contents: test_canned_replies_and_saved_views_are_their_owners",
    ),
    "api-canned-detail": Matrix(
        CANNED,
        {
            "PATCH": Op(staff(200, manage=True), body={"title": "Renamed"}),
            "DELETE": Op(staff(204, manage=True)),
        },
    ),
    "api-canned-render": Matrix(RENDERS, {"GET": Op(staff(200))}),
    # search (inbox/api_search.py)
    "api-search": Matrix(
        (),
        {"GET": Op(see(200), query=lambda w, r: {"q": "matrixword"})},
        note="contents: test_search_shows_only_visible",
    ),
    "api-saved-view-list": Matrix(
        (),
        {
            "GET": Op(see(200)),
            "POST": Op(see(201), body={"name": "Open ones", "filters": {"status": "open"}}),
        },
    ),
    "api-saved-view-detail": Matrix(
        SAVED_VIEWS,
        {"PATCH": Op(see(200), body={"name": "Renamed"}), "DELETE": Op(see(204))},
    ),
    # notifications (inbox/api_notifications.py)
    "api-notification-list": Matrix(
        (), {"GET": Op(see(200))}, note="contents: test_notifications_are_their_users"
    ),
    "api-notifications-read": Matrix(
        (),
        {"POST": Op(see(200), body=_notification_ids)},
        note="contents: test_notifications_are_their_users",
    ),
    # channels (channels_app/api.py)
    # customers (customers/api.py, customers/api_transfer.py)
    "api-customer-list": Matrix(
        (), {"GET": Op(see(200))}, note="contents: test_customer_lists_show_only_visible"
    ),
    "api-customer-export": Matrix((), {"GET": Op(only(SEE_ALL, 200))}),
    "api-customer-import": Matrix((), {"POST": Op(only(SEE_ALL, 200), body=_csv, multipart=True)}),
    "api-customer-detail": Matrix(
        CUSTOMERS,
        {"GET": Op(see(200)), "PATCH": Op(see(200), body={"display_name": "Renamed"})},
    ),
    "api-customer-identities": Matrix(CUSTOMERS, {"POST": Op(see(201), body=_new_identity)}),
    "api-customer-identity": Matrix(IDENTITIES, {"DELETE": Op(see(204))}),
    "api-customer-tags": Matrix(CUSTOMERS, {"POST": Op(see(201), body={"name": "matrix"})}),
    "api-customer-tag": Matrix(TAGS, {"DELETE": Op(see(204))}),
    "api-customer-notes": Matrix(
        CUSTOMERS, {"GET": Op(see(200)), "POST": Op(see(201), body={"body": "Prefers email"})}
    ),
    "api-customer-note": Matrix(NOTES, {"DELETE": Op(see(204, manage=True))}),
    "api-customer-history": Matrix(CUSTOMERS, {"GET": Op(see(200))}),
    "api-customer-conversations": Matrix(
        CUSTOMERS,
        {"GET": Op(see(200))},
        note="contents: test_a_customers_conversations_are_only_the_visible_ones",
    ),
    "api-customer-merge": Matrix(CUSTOMERS, {"POST": Op(see(201), body=_merge_other)}),
    "api-tag-list": Matrix((), {"GET": Op(staff(200))}),
    "api-customer-merge-undo": Matrix(MERGE_RECORDS, {"POST": Op(see(200))}),
    "api-merge-suggestion-confirm": Matrix(SUGGESTIONS, {"POST": Op(see(201))}),
    "api-merge-suggestion-dismiss": Matrix(SUGGESTIONS, {"POST": Op(see(204))}),
    "api-customer-attribute-list": Matrix((), {"GET": Op(staff(200))}),
    # pages
    "console:home": Matrix(
        (),
        # An account without a role gets the page saying it cannot open the console
        # (no data, no script); the data comes from the API above.
        {"GET": Op(see(200, anonymous=302))},
    ),
    "attachment-download": Elsewhere(
        _methods("GET"),
        "signed link bound to the viewer",
        checked_by="test_attachment_links_are_bound_to_the_viewer",
    ),
    # visitor token (channels_app/widget)
    **{
        name: Elsewhere(
            methods,
            "the widget's visitor token (Authorization: Visitor), never a staff session",
            checked_by="test_widget_routes_refuse_requests_without_a_visitor_token, "
            "test_a_visitor_sees_and_changes_only_their_own_conversation",
        )
        for name, methods in VISITOR_ROUTES.items()
    },
    "widget-session": Elsewhere(
        _methods("POST"),
        "starts or continues a visitor; a token shows only its own visitor",
        checked_by="test_a_visitor_sees_and_changes_only_their_own_conversation",
    ),
    "widget-status": Elsewhere(_methods("GET"), "public: whether anyone is there to answer"),
    "widget-loader": Elsewhere(_methods("GET"), "public script"),
    "widget-frame": Elsewhere(_methods("GET"), "public page framed by websites"),
    "channel-webhook": Elsewhere(
        _methods("GET", "POST"),
        "signed by the provider (adapter.verify, 403 on a bad signature)",
        checked_by="tests/channels_app/test_inbound_pipeline.py",
    ),
    "healthz": Elsewhere(_methods("GET"), "public liveness, no data"),
    "readyz": Elsewhere(_methods("GET"), "public readiness, no data"),
    "set_language": Elsewhere(_methods("POST"), "public language switch"),
    "demo-host-page": Elsewhere(_methods("GET"), "public demo page with the widget"),
    "api-schema": Elsewhere(_methods("GET"), "public description of the API, no data"),
    "api-docs": Elsewhere(_methods("GET"), "public API documentation page"),
    "/": Elsewhere(
        _methods("GET", "POST", "PUT", "PATCH", "DELETE"), "redirect to the console, no data"
    ),
    # websockets (config/asgi.py)
    "ws/console/": Elsewhere(
        _methods("WEBSOCKET"),
        "session; groups from realtime_groups_for_user",
        checked_by="test_console_socket_hears_only_what_the_user_may_see",
    ),
    "ws/widget/<str:public_key>/": Elsewhere(
        _methods("WEBSOCKET"),
        "visitor token in the first message",
        checked_by="test_widget_socket_hears_only_its_own_conversation",
    ),
}

# Routes whose URLs are given to customers (their browsers, their apps' providers): no
# sequential id may appear in them.
CUSTOMER_FACING = (
    *(key for key in MATRIX if key.startswith("widget-")),
    "attachment-download",
    "channel-webhook",
    "ws/widget/<str:public_key>/",
)

# Whole trees kept out of the table, with why. Each must still match a route.
EXCLUDED_PREFIXES = {
    "admin/": "Django admin: open to supervisors and admins only (ADMIN_SITE_ROLES); "
    "test_the_admin_site_refuses_agents_and_accounts_without_a_role",
    "accounts/": "allauth: sign-in, password and MFA pages of the user's own account",
}


# --- The resolver -----------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    key: str  # the route's name (with its namespace), or its path when it has none
    route: str
    methods: frozenset[str] | None  # None: a function view (methods not introspectable)


def _view_methods(callback) -> frozenset[str] | None:
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return None
    names = {"options", "head"}
    return frozenset(
        method.upper()
        for method in view_class.http_method_names
        if method not in names and hasattr(view_class, method)
    )


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield prefix + str(pattern.pattern), name, pattern.callback


def endpoints() -> list[Endpoint]:
    """Every HTTP route of the product (outside EXCLUDED_PREFIXES) and every websocket
    route, as found by Django's resolver and the ASGI router."""
    from config.asgi import websocket_urlpatterns

    found = []
    for route, name, callback in _walk(get_resolver().url_patterns):
        if any(route.startswith(prefix) for prefix in EXCLUDED_PREFIXES):
            continue
        found.append(Endpoint(name or f"/{route}", route, _view_methods(callback)))
    for route, _name, _callback in _walk(websocket_urlpatterns):
        found.append(Endpoint(route, route, frozenset({"WEBSOCKET"})))
    return found


def all_routes() -> list[str]:
    return [route for route, _name, _callback in _walk(get_resolver().url_patterns)]


# --- Cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    role: str
    slot: str | None
    expected: frozenset[int]
    empty_body: bool = False  # a write sent without a body: still a 404, never a 400

    @property
    def id(self) -> str:
        status = "|".join(str(s) for s in sorted(self.expected))
        parts = [self.name, self.method, self.role, self.slot or "-", status]
        return "-".join(parts) + ("-empty-body" if self.empty_body else "")

    @property
    def op(self) -> Op:
        return MATRIX[self.name].ops[self.method]


DENIED = frozenset({401, 403, 404})
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def cases() -> list[Case]:
    result = []
    for name, entry in MATRIX.items():
        if not isinstance(entry, Matrix):
            continue
        for method, op in entry.ops.items():
            for role in ROLES:
                for slot in entry.slots or (None,):
                    expected = op.rule.expected(role, SLOTS[slot] if slot else None)
                    result.append(Case(name, method, role, slot, expected))
                    # Sent again without a body: a hidden object is a 404 before the body
                    # is read (a 400 would tell that it exists).
                    if method in WRITES and op.body is not None and expected == {404}:
                        result.append(Case(name, method, role, slot, expected, empty_body=True))
    return result


# --- The world --------------------------------------------------------------------------


def world_build() -> SimpleNamespace:
    """Builds the objects the table names (see SLOTS) and the lists the content tests
    read. Every conversation has a message with "matrixword" (what search looks for),
    and each place's words are unique to it."""
    from django.db.models import prefetch_related_objects

    from customers.enums import IdentityKind
    from customers.models import MergeSuggestion
    from customers.services import customer_merge
    from inbox.enums import (
        DeliveryStatus,
        InboxVisibility,
        MessageDirection,
        NotificationKind,
        SenderType,
    )
    from inbox.files import AttachmentUpload
    from inbox.models import CannedReply, Notification, SavedView
    from inbox.services import message_append, message_receive
    from inbox.services.notes import note_add
    from tests.factories.accounts import (
        AdminFactory,
        AgentFactory,
        SupervisorFactory,
        UserFactory,
    )
    from tests.factories.customers import (
        CustomerFactory,
        CustomerNoteFactory,
        IdentityFactory,
        TagFactory,
    )
    from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory

    w = SimpleNamespace()
    w.users = {
        ANONYMOUS: None,
        AGENT: AgentFactory(display_name="Agent One"),
        AGENT2: AgentFactory(display_name="Agent Two"),
        SUPERVISOR: SupervisorFactory(display_name="Sue Pervisor"),
        ADMIN: AdminFactory(display_name="Ad Min"),
        NOROLE: UserFactory(display_name="No Role"),
    }
    # Their roles read once (requests get copies): `User.role` reads the groups each time.
    prefetch_related_objects([user for user in w.users.values() if user], "groups")
    agent, agent2, supervisor = w.users[AGENT], w.users[AGENT2], w.users[SUPERVISOR]
    w.inbox = {
        "member": InboxFactory(name="Matrix member inbox"),
        "other-inbox": InboxFactory(name="Matrix other inbox"),
        "assigned-other": InboxFactory(
            name="Matrix assigned inbox", visibility=InboxVisibility.ASSIGNED
        ),
    }
    w.inbox["member"].members.add(agent)
    w.inbox["assigned-other"].members.add(agent, agent2)
    w.team = {"agent": TeamFactory(name="Matrix agent team"), "hidden": TeamFactory(name="Hidden")}
    w.team["agent"].members.add(agent)  # serves no inbox: a transfer target
    placed = {
        "member": {"inbox": w.inbox["member"]},
        "other-inbox": {"inbox": w.inbox["other-inbox"], "team": w.team["hidden"]},
        "assigned-other": {"inbox": w.inbox["assigned-other"], "assignee": agent2},
    }
    names = {"member": "Abigail", "other-inbox": "Octavia", "assigned-other": "Rosalind"}
    w.words = {p: f"{names[p].lower()}word" for p in PLACES}
    w.note_words = {p: f"{names[p].lower()}secret" for p in PLACES}
    w.names = names
    w.emails = {p: f"{names[p].lower()}@example.test" for p in PLACES}
    w.phones = {p: f"+4477009000{i:02d}" for i, p in enumerate(PLACES, 1)}

    w.conv, w.sibling, w.partner, w.cust, w.failed, w.attachment = {}, {}, {}, {}, {}, {}
    w.identity, w.tag, w.merge, w.suggestion, w.note = {}, {}, {}, {}, {}
    w.conversations = {}  # every conversation of the world, by name, for the list tests

    def say(conversation, body):
        message_receive(conversation=conversation, body=body)

    for p in PLACES:
        customer = CustomerFactory(display_name=f"{names[p]} Customer")
        w.cust[p] = customer
        w.identity[p] = IdentityFactory(customer=customer, kind=IdentityKind.EMAIL,
                                        value=w.emails[p])  # fmt: skip
        IdentityFactory(customer=customer, kind=IdentityKind.PHONE, value=w.phones[p])
        conversation = ConversationFactory(customer=customer, **placed[p])
        w.conv[p] = conversation
        message, _created = message_receive(
            conversation=conversation,
            body=f"matrixword {w.words[p]}",
            attachments=[AttachmentUpload(png_upload(), "pixel.png", "image/png", len(PNG))],
        )
        w.attachment[p] = message.attachments.get()
        note_add(conversation=conversation, author=supervisor, body=f"note {w.note_words[p]}")
        w.failed[p], _created = message_append(
            conversation=conversation,
            direction=MessageDirection.OUTBOUND,
            sender_type=SenderType.AGENT,
            author=supervisor,
            body="a reply that failed",
            delivery_status=DeliveryStatus.FAILED,
        )
        w.tag[p] = TagFactory(name=f"tag-{p}")
        customer.tags.add(w.tag[p])
        conversation.tags.add(w.tag[p])
        w.sibling[p] = ConversationFactory(customer=customer, **placed[p])
        say(w.sibling[p], "matrixword sibling")
        w.partner[p] = ConversationFactory(
            customer=CustomerFactory(display_name=f"Partner {p}"), **placed[p]
        )
        say(w.partner[p], "matrixword partner")
        w.note[p, AGENT] = CustomerNoteFactory(customer=customer, author=agent)
        w.note[p, AGENT2] = CustomerNoteFactory(customer=customer, author=agent2)
        # Nameless, so that the merge keeps the customer's name (an empty value never
        # replaces a filled one).
        w.merge[p] = customer_merge(
            survivor=customer, merged=CustomerFactory(display_name=""), actor=supervisor
        )
        pair = sorted([customer, w.partner[p].customer], key=lambda c: c.pk)
        w.suggestion[p] = MergeSuggestion.objects.create(
            customer=pair[0], other=pair[1], evidence={"kind": "email", "reason": "typed"}
        )
        w.conversations[p] = conversation
        w.conversations[f"{p}-sibling"] = w.sibling[p]
        w.conversations[f"{p}-partner"] = w.partner[p]
    pair = sorted([w.cust["member"], w.cust["other-inbox"]], key=lambda c: c.pk)
    w.suggestion["mixed"] = MergeSuggestion.objects.create(
        customer=pair[0], other=pair[1], evidence={"kind": "email", "reason": "typed"}
    )
    # The member customer also wrote to an inbox the agent does not see.
    w.conversations["member-elsewhere"] = ConversationFactory(
        customer=w.cust["member"], inbox=w.inbox["other-inbox"]
    )
    say(w.conversations["member-elsewhere"], "matrixword elsewhere")
    w.conversations["restricted-unassigned"] = ConversationFactory(
        customer=CustomerFactory(display_name="Ulrich Unassigned"),
        inbox=w.inbox["assigned-other"],
    )
    say(w.conversations["restricted-unassigned"], "matrixword waiting")
    w.conversations["assigned-to-agent"] = ConversationFactory(
        customer=CustomerFactory(display_name="Agatha Assigned"),
        inbox=w.inbox["other-inbox"],
        assignee=agent,
    )
    say(w.conversations["assigned-to-agent"], "matrixword given")

    w.canned = {
        AGENT: CannedReply.objects.create(owner=agent, shortcut="agent-own", body="Mine"),
        AGENT2: CannedReply.objects.create(owner=agent2, shortcut="agent2-own", body="Theirs"),
        "shared": CannedReply.objects.create(
            owner=None, shortcut="shared", body="Hi {{customer.name}}"
        ),
    }
    w.saved_view = {
        AGENT: SavedView.objects.create(user=agent, name="Agent's view"),
        AGENT2: SavedView.objects.create(user=agent2, name="Agent two's view"),
    }
    w.notification = {
        AGENT: Notification.objects.create(
            user=agent, kind=NotificationKind.MENTION, text="about member",
            conversation=w.conv["member"],
        ),
        AGENT2: Notification.objects.create(
            user=agent2, kind=NotificationKind.ASSIGNED, text="assigned to you",
            conversation=w.conv["assigned-other"],
        ),
        # The agent was mentioned before the conversation went to agent2: it is not theirs
        # to read any more.
        "stale": Notification.objects.create(
            user=agent, kind=NotificationKind.MENTION,
            text=f"Sue mentioned you: {w.note_words['assigned-other']}",
            conversation=w.conv["assigned-other"],
        ),
        SUPERVISOR: Notification.objects.create(
            user=supervisor, kind=NotificationKind.SLA_BREACH, text="late",
            conversation=w.conv["other-inbox"],
        ),
    }  # fmt: skip
    return w


# Who sees each conversation of `World.conversations` (widget ones are added by the test).
CONVERSATION_SEES = {
    **{name: SEES[p] for p in PLACES for name in (p, f"{p}-sibling", f"{p}-partner")},
    "member-elsewhere": SEE_ALL,
    "restricted-unassigned": frozenset({AGENT, AGENT2}) | SEE_ALL,
    "assigned-to-agent": frozenset({AGENT}) | SEE_ALL,
}
