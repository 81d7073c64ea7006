"""Search (Chinese included), filters, the search API and saved views (docs/search.md)."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from channels_app.enums import ChannelKind
from customers.models import Customer
from inbox import search
from inbox.enums import (
    ConversationStatus,
    InboxVisibility,
    MessageDirection,
    Priority,
    SenderType,
)
from inbox.models import SavedView
from inbox.search import conversation_search, search_query
from inbox.selectors import conversation_list
from inbox.services.messages import message_append
from tests.factories.accounts import AgentFactory, SupervisorFactory
from tests.factories.channels import WebChannelFactory
from tests.factories.customers import CustomerFactory, IdentityFactory, TagFactory
from tests.factories.inbox import ConversationFactory, InboxFactory, TeamFactory

pytestmark = pytest.mark.django_db


def say(conversation, body, *, private=False, author=None):
    inbound = not private and author is None
    message, _ = message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND if inbound else MessageDirection.OUTBOUND,
        sender_type=SenderType.CUSTOMER if inbound else SenderType.AGENT,
        body=body,
        author=author,
        private=private,
    )
    return message


@pytest.fixture
def chats(supervisor):
    inbox = InboxFactory()
    texts = {
        "refund": "您好，我想申请退款",
        "tracking": "请问物流单号是多少？",
        "invoice": "发票什么时候开",
        "return": "我的iPhone 15 退货了吗",
        "english": "Where is my PACKAGE? Order #4711",
    }
    chats = {}
    for name, text in texts.items():
        chats[name] = ConversationFactory(inbox=inbox)
        say(chats[name], text)
    return chats


def found(user, q, **kwargs) -> set:
    return set(conversation_search(user=user, q=q, **kwargs))


@pytest.mark.parametrize("plan", [None, "collect", "walk"])
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("退款", {"refund"}),  # two characters: one bigram
        ("退", {"refund", "return"}),  # one character: the start of a token
        ("款", {"refund"}),  # the last character of a run (its own token)
        ("票", {"invoice"}),
        ("物流单号", {"tracking"}),  # a phrase of bigrams
        ("申请退款", {"refund"}),
        ("退款申请", set()),  # the same characters in another order are not the phrase
        ("iPhone 15 退货", {"return"}),  # mixed, every part must match
        ("IPHONE", {"return"}),
        ("iphone 退款", set()),
        ("package", {"english"}),  # case-insensitive
        ("4711", {"english"}),
        ("？", None),  # punctuation alone matches no message
    ],
)
def test_messages_are_found_by_chinese_and_english_text(supervisor, chats, q, expected, plan):
    result = found(supervisor, q, plan=plan)
    assert result == {chats[name] for name in expected or ()}


@pytest.mark.parametrize("plan", [None, "collect", "walk"])
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("order_id", {"parted"}),  # the parser's words, not the text typed: "order" & "id"
        ("E-MAIL", {"hyphen"}),
        ("mail", {"hyphen"}),
        ("Ärger", {"parted"}),
        ("WWW.Example.COM", {"hyphen"}),
        ("发货了吗", {"cjk"}),
        ("货了", {"cjk"}),
        ("发了", set()),  # both characters are there, not as a run
        ("order e-mail", set()),
    ],
)
def test_a_match_is_the_tokenised_one_whichever_plan(supervisor, q, expected, plan):
    """The quick substring checks that run before the tokenising never lose a match."""
    inbox = InboxFactory()
    texts = {
        "parted": "Order id 7: Ärger!",
        "hyphen": "Your e-mail from www.example.com/track?x=1",
        "cjk": "请问发货了吗？",
    }
    rows = {name: ConversationFactory(inbox=inbox) for name in texts}
    for name, text in texts.items():
        say(rows[name], text)
    assert found(supervisor, q, plan=plan) == {rows[name] for name in expected}


def test_the_query_is_tokenised_like_the_messages():
    assert search_query("申请退款").params == ["('申请' <-> '请退' <-> '退款')"]
    assert search_query("退").params == ["('退':*)"]
    assert search_query("iPhone 退货").params == ["('退货')", "iPhone  "]
    assert search_query("  !? ") is None


def test_private_notes_are_found_by_staff_search(supervisor, agent):
    inbox = InboxFactory()
    inbox.members.add(agent)
    conversation = ConversationFactory(inbox=inbox)
    say(conversation, "客户要求开发票，抬头见附件", private=True, author=supervisor)
    assert found(agent, "开发票") == {conversation}
    assert found(supervisor, "抬头") == {conversation}


def test_customers_are_found_by_name_and_identity(supervisor):
    wang = CustomerFactory(display_name="王小明")
    conversation = ConversationFactory(customer=wang)
    IdentityFactory(customer=wang, kind="email", value="ming@example.cn")
    other = ConversationFactory(customer=CustomerFactory(display_name="Li Lei"))
    assert found(supervisor, "王小") == {conversation}
    assert found(supervisor, "ming@example.cn") == {conversation}
    assert found(supervisor, "lei") == {other}


def test_search_sees_only_what_the_agent_may_see(agent, chats):
    assert found(agent, "退款") == set()
    chats["refund"].inbox.members.add(agent)
    assert found(agent, "退款") == {chats["refund"]}


@pytest.fixture
def spread(agent):
    """Conversations that differ in one filtered property each, all visible to `agent`."""
    now = timezone.now()
    inbox, other_inbox = InboxFactory(), InboxFactory()
    inbox.members.add(agent)
    other_inbox.members.add(agent)
    WebChannelFactory(inbox=other_inbox)
    team, colleague = TeamFactory(), AgentFactory()
    rows = {
        "plain": ConversationFactory(inbox=inbox, last_message_at=now),
        "pending": ConversationFactory(inbox=inbox, status=ConversationStatus.PENDING),
        "web": ConversationFactory(inbox=other_inbox),
        "team": ConversationFactory(inbox=inbox, team=team),
        "mine": ConversationFactory(inbox=inbox, assignee=agent),
        "colleague": ConversationFactory(inbox=inbox, assignee=colleague),
        "urgent": ConversationFactory(inbox=inbox, priority=Priority.URGENT),
        "old": ConversationFactory(inbox=inbox, last_message_at=now - timedelta(days=40)),
        "unread": ConversationFactory(inbox=inbox, unread_count=2),
    }
    rows["tagged"] = ConversationFactory(inbox=inbox)
    rows["tagged"].tags.add(TagFactory(name="VIP"))
    type(rows["old"]).objects.filter(pk=rows["old"].pk).update(created_at=now - timedelta(days=41))
    return {"rows": rows, "team": team, "colleague": colleague, "inbox": other_inbox}


def ids(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("status=pending", {"pending"}),
        (f"channel={ChannelKind.WEB}", {"web"}),
        ("inbox={inbox}", {"web"}),
        ("team={team}", {"team"}),
        ("assignee=me", {"mine"}),
        ("assignee={colleague}", {"colleague"}),
        ("tag=vip", {"tagged"}),
        ("priority=urgent", {"urgent"}),
        ("priority=3", {"urgent"}),
        ("created_to={forty_days_ago}", {"old"}),
        ("last_message_to={forty_days_ago}", {"old"}),
        ("unread=true", {"unread"}),
    ],
)
def test_each_filter_on_the_list(api_client, agent, spread, params, expected):
    forty_days_ago = (timezone.now() - timedelta(days=40)).date().isoformat()
    query = params.format(
        inbox=spread["inbox"].pk,
        team=spread["team"].pk,
        colleague=spread["colleague"].pk,
        forty_days_ago=forty_days_ago,
    )
    api_client.force_authenticate(agent)
    got = ids(api_client.get(f"/api/v1/conversations/?{query}"))
    assert got == {str(spread["rows"][name].uuid) for name in expected}


def test_assignee_none_unread_false_and_date_from(api_client, agent, spread):
    api_client.force_authenticate(agent)
    rows = spread["rows"]
    unassigned = ids(api_client.get("/api/v1/conversations/?assignee=none"))
    assert str(rows["mine"].uuid) not in unassigned and str(rows["plain"].uuid) in unassigned
    read = ids(api_client.get("/api/v1/conversations/?unread=false"))
    assert str(rows["unread"].uuid) not in read and str(rows["plain"].uuid) in read
    today = timezone.localdate().isoformat()
    recent = ids(api_client.get(f"/api/v1/conversations/?last_message_from={today}"))
    assert recent == {str(rows["plain"].uuid)}
    both = ids(api_client.get("/api/v1/conversations/?status=open,pending&priority=urgent"))
    assert both == {str(rows["urgent"].uuid)}


@pytest.mark.parametrize(
    "query",
    [
        "status=closed",
        "assignee=somebody",
        "priority=9",
        "created_from=yesterday",
        "inbox=abc",
        "unread=maybe",
        "channel=" + "x" * 40,
    ],
)
def test_bad_filters_are_a_400(api_client, agent, query):
    api_client.force_authenticate(agent)
    for url in ("/api/v1/conversations/?", "/api/v1/search/?q=x&"):
        response = api_client.get(url + query)
        assert response.status_code == 400
        assert response.json()["error"]["code"]


def test_search_api_returns_plain_snippets_in_cursor_pages(api_client, supervisor):
    inbox = InboxFactory()
    first, second = ConversationFactory(inbox=inbox), ConversationFactory(inbox=inbox)
    say(first, "<b>我想申请退款</b>" + "，谢谢" * 60)
    say(second, "早上好")
    say(second, "我要退款 please")
    api_client.force_authenticate(supervisor)
    assert api_client.get("/api/v1/search/").status_code == 400
    # As a browser sends it: percent-encoded UTF-8 (the cursor link keeps it so).
    response = api_client.get("/api/v1/search/", {"q": "退款", "page_size": 1})
    body = response.json()
    assert response.status_code == 200 and len(body["results"]) == 1
    rows = body["results"] + api_client.get(body["next"]).json()["results"]
    matches = {row["id"]: row["match"] for row in rows}
    assert matches[str(second.uuid)]["text"] == "我要退款 please"
    assert matches[str(second.uuid)]["seq"] == 2
    text = matches[str(first.uuid)]["text"]
    assert text.startswith("<b>我想申请退款</b>") and text.endswith("…")  # raw: client escapes
    assert len(text) <= 121


def test_search_api_with_filters_and_customer_match(api_client, supervisor):
    customer = CustomerFactory(display_name="Zhang Wei")
    open_one = ConversationFactory(customer=customer)
    ConversationFactory(customer=customer, status=ConversationStatus.RESOLVED)
    api_client.force_authenticate(supervisor)
    response = api_client.get("/api/v1/search/?q=zhang&status=open")
    assert ids(response) == {str(open_one.uuid)}
    assert response.json()["results"][0]["match"] is None


def test_saved_views_are_validated_and_own_only(api_client, agent):
    api_client.force_authenticate(agent)
    url = "/api/v1/saved-views/"
    created = api_client.post(
        url,
        {"name": "My refunds", "filters": {"q": "退款", "status": ["open", "pending"]}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    view_id = created.json()["id"]
    assert created.json()["filters"] == {"q": "退款", "status": "open,pending"}

    unknown = api_client.post(url, {"name": "x", "filters": {"colour": "red"}}, format="json")
    assert unknown.status_code == 400 and "colour" in str(unknown.json())
    bad = api_client.post(url, {"name": "x", "filters": {"assignee": "bob"}}, format="json")
    assert bad.status_code == 400
    not_dict = api_client.post(url, {"name": "x", "filters": ["status"]}, format="json")
    assert not_dict.status_code == 400
    twice = api_client.post(url, {"name": "My refunds"}, format="json")
    assert twice.status_code == 400

    patched = api_client.patch(
        f"{url}{view_id}/", {"filters": {"unread": True, "priority": 3}}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["filters"] == {"unread": "true", "priority": "3"}
    assert (
        api_client.patch(f"{url}{view_id}/", {"filters": {"x": 1}}, format="json").status_code
        == 400
    )

    other = AgentFactory()
    SavedView.objects.create(user=other, name="Theirs", filters={})
    theirs = SavedView.objects.get(user=other)
    assert [row["name"] for row in api_client.get(url).json()] == ["My refunds"]
    assert (
        api_client.patch(f"{url}{theirs.pk}/", {"name": "Mine now"}, format="json").status_code
        == 404
    )
    assert api_client.delete(f"{url}{theirs.pk}/").status_code == 404
    assert SavedView.objects.filter(pk=theirs.pk, name="Theirs").exists()
    assert api_client.delete(f"{url}{view_id}/").status_code == 204
    assert not SavedView.objects.filter(pk=view_id).exists()


def test_saved_views_need_a_login(api_client):
    assert api_client.get("/api/v1/saved-views/").status_code in (401, 403)
    assert api_client.get("/api/v1/search/?q=x").status_code in (401, 403)


def test_a_supervisor_finds_every_inbox(chats):
    assert found(SupervisorFactory(), "退") == {chats["refund"], chats["return"]}


# Each source's shape, forced: a cap of none walks the customers; every estimate above the
# trusted multiple of the cap walks the messages.
SHAPES = {
    "chosen": {},
    "customers walked": {"collect_max_customers": lambda: 0},
    "messages walked": {"TRUSTED_ESTIMATE": -1},
    "both estimated common": {"_estimated_matches": lambda values: 10**9},
}


@pytest.fixture(params=list(SHAPES))
def shape(request, monkeypatch):
    for name, value in SHAPES[request.param].items():
        monkeypatch.setattr(search, name, value)
    return request.param


@pytest.fixture
def namesakes(agent):
    """Conversations of customers named 王伟 (and one whose message names them), one a
    minute, newest first: some the agent sees, some not (another inbox; a colleague's in
    an inbox whose agents see only their own and unassigned ones)."""
    now = timezone.now()
    seen, unseen = InboxFactory(), InboxFactory()
    restricted = InboxFactory(visibility=InboxVisibility.ASSIGNED)
    seen.members.add(agent)
    restricted.members.add(agent)
    colleague = AgentFactory()
    places = [
        {"inbox": seen},
        {"inbox": unseen},
        {"inbox": restricted, "assignee": colleague},
        {"inbox": restricted},
        {"inbox": seen, "assignee": agent},
    ]
    rows = []
    for minute in range(15):
        name = ["王伟", "王伟明", "李娜"][minute % 3]
        conversation = ConversationFactory(
            customer=CustomerFactory(display_name=name),
            last_message_at=now - timedelta(minutes=minute),
            **places[minute % len(places)],
        )
        if name == "李娜":
            say(conversation, "王伟 让我来问一下退款")
            at = now - timedelta(minutes=minute)  # as if said then: the order stays
            type(conversation).objects.filter(pk=conversation.pk).update(last_message_at=at)
        rows.append(conversation)
    ConversationFactory(inbox=seen, customer=CustomerFactory(display_name="张伟"))
    return rows


def pages(api_client, url, params) -> tuple[list[str], list[list[str]]]:
    """Every result, following `next`, and the pages read back following `previous`."""
    body = api_client.get(url, params).json()
    forward = [[row["id"] for row in body["results"]]]
    while body["next"]:
        body = api_client.get(body["next"]).json()
        forward.append([row["id"] for row in body["results"]])
    backward = [forward[-1]]
    while body["previous"]:
        body = api_client.get(body["previous"]).json()
        backward.append([row["id"] for row in body["results"]])
    return [uuid for page in forward for uuid in page], [forward, backward[::-1]]


@pytest.mark.parametrize("url", ["/api/v1/search/", "/api/v1/conversations/"])
@pytest.mark.parametrize("who", ["agent", "supervisor"])
def test_a_common_name_pages_through_the_newest_matches_only_visible_ones(
    api_client, agent, supervisor, namesakes, shape, who, url
):
    user = agent if who == "agent" else supervisor
    api_client.force_authenticate(user)
    visible = set(conversation_list(user=user))
    expected = [str(c.uuid) for c in namesakes if c in visible]  # newest first
    assert 0 < len(expected) < len(namesakes) or who == "supervisor"
    everything, (forward, backward) = pages(api_client, url, {"q": "王伟", "page_size": 2})
    assert everything == expected
    assert backward == forward  # the previous links read the same pages back
    open_only, _ = pages(api_client, url, {"q": "王伟", "page_size": 3, "status": "resolved"})
    assert open_only == []


def test_a_window_gives_the_first_rows_of_the_whole_search(supervisor, namesakes, shape):
    order = ("-last_message_at", "-id")
    whole = list(conversation_search(user=supervisor, q="王伟").order_by(*order))
    assert len(whole) == 15
    for rows in (1, 4, 12):
        window = search.Window(order_by=order, start=None, rows=rows)
        first = conversation_search(user=supervisor, q="王伟", window=window)
        assert list(first.order_by(*order)[:rows]) == whole[:rows]
    later = search.Window(
        order_by=order, start=Q(last_message_at__lt=whole[3].last_message_at), rows=3
    )
    first = conversation_search(user=supervisor, q="王伟", window=later)
    assert list(first.order_by(*order)[:3]) == whole[4:7]


def test_a_name_estimated_far_above_the_cap_is_walked_without_reading_it(monkeypatch):
    def read(values, cap):
        raise AssertionError("read")

    monkeypatch.setattr(search, "_at_most", read)
    monkeypatch.setattr(search, "_estimated_matches", lambda values: 10**9)
    assert search._by_customer("王伟", None)[1] is False  # walked
    monkeypatch.setattr(search, "_estimated_matches", lambda values: 1)
    with pytest.raises(AssertionError, match="read"):
        search._by_customer("王伟", None)


def test_a_probe_leaves_the_settings_of_the_transaction_around_it():
    with transaction.atomic(), connection.cursor() as cursor:
        assert search._at_most(Customer.objects.values_list("pk", flat=True), 5) == []
        cursor.execute("SHOW max_parallel_workers_per_gather")
        workers = cursor.fetchone()[0]
        cursor.execute("SHOW statement_timeout")
        timeout = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT reset_val FROM pg_settings WHERE name = %s", ["statement_timeout"])
        assert timeout in {cursor.fetchone()[0], "0"}
        cursor.execute(
            "SELECT reset_val FROM pg_settings WHERE name = %s", ["max_parallel_workers_per_gather"]
        )
        assert workers == cursor.fetchone()[0]


def test_every_term_of_a_query_is_estimated_alone():
    terms = [term.params[0] for term in search.search_terms("iPhone 15 退货")]
    assert terms == ["'退货'", "15", "iphone"]  # the words as the parser gives them, sorted
    assert [term.params[0] for term in search.search_terms("退")] == ["'退':*"]
    assert [term.params[0] for term in search.search_terms("申请退款")] == [
        "'申请'",
        "'请退'",
        "'退款'",
    ]


@pytest.mark.parametrize("recent", [20, 1])
def test_snippets_of_a_common_word_are_the_newest_matches(supervisor, monkeypatch, recent):
    # Every word common: the newest messages first (with `recent` 1, the match is older
    # and found through the index).
    monkeypatch.setattr(search, "collect_max_rows", lambda: -1)
    monkeypatch.setattr(search, "RECENT_MESSAGES", recent)
    inbox = InboxFactory()
    one, two, other = (ConversationFactory(inbox=inbox) for _ in range(3))
    for conversation, texts in (
        (one, ["退款 一", "退款 二", "好的"]),
        (two, ["退款 三", "谢谢", "再见"]),
        (other, ["你好"]),
    ):
        for text in texts:
            say(conversation, text)
    snippets = search.search_snippets([one, two, other], "退款")
    assert {pk: snippet["text"] for pk, snippet in snippets.items()} == {
        one.pk: "退款 二",
        two.pk: "退款 三",
    }


def test_snippets_reuse_the_conversations_the_search_collected(
    supervisor, django_assert_num_queries
):
    inbox = InboxFactory()
    one, two = (ConversationFactory(inbox=inbox) for _ in range(2))
    say(one, "退款 一")
    say(two, "退款 二")
    hits = search.message_hits("退款")
    assert sorted(hits.conversation_ids) == sorted([one.pk, two.pk])  # a rare word: collected
    page = list(conversation_search(user=supervisor, q="退款", hits=hits))
    with django_assert_num_queries(1):  # the page's matches only: no estimate, no probe
        snippets = search.search_snippets(page, "退款", hits)
    assert {pk: snippet["text"] for pk, snippet in snippets.items()} == {
        one.pk: "退款 一",
        two.pk: "退款 二",
    }
    # A name no message holds: nothing collected, no query for snippets at all.
    nothing = search.MessageHits(hits.messages, [])
    with django_assert_num_queries(0):
        assert search.search_snippets(page, "退款", nothing) == {}
