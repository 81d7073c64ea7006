"""Conversation search and filters: full text across messages (private notes included:
only staff search) and customers (name, identities), Chinese included. docs/search.md
explains the tokenising (CJK bigrams, `sb_search_text` in migration 0007) and the plans.

`conversation_search` is a selector: it starts from `conversation_list(user=...)`, the
permission gate, and only narrows it."""

import functools
import json
import math
import operator
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import reduce
from time import monotonic

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchQueryField, SearchVectorField
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    Lookup,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower, StrIndex
from django.db.models.lookups import GreaterThan, IsNull
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import User
from customers.models import Customer, Tag
from customers.selectors import customer_search

from .enums import ConversationStatus, Priority
from .models import Conversation, Message, SavedView
from .selectors import conversation_list

# The characters `sb_search_text` (migration 0007) cuts into bigrams; keep the two equal.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0003134f"
CJK_RUN = re.compile(f"[{CJK}]+")
WORD = re.compile(r"\w")
MAX_QUERY_LENGTH = 200
SNIPPET_BEFORE = 30
SNIPPET_LENGTH = 120


class MessageSearchVector(Func):
    """The indexed expression (`message_search_idx`); spelled exactly as in the index."""

    template = "to_tsvector('simple'::regconfig, sb_search_text(%(expressions)s))"
    output_field = SearchVectorField()


class TsMatch(Func):
    arg_joiner = " @@ "
    template = "(%(expressions)s)"
    output_field = BooleanField()


def search_query(q: str) -> RawSQL | None:
    """The tsquery for `q`, tokenised as `sb_search_text` tokenises messages: each CJK run
    becomes a phrase of its bigrams (one character: a prefix, as every character starts a
    token), the rest goes through the same parser (`plainto_tsquery`: all its words).
    None when nothing in `q` can match."""
    cjk_parts = []
    for run in CJK_RUN.findall(q):
        if len(run) == 1:
            cjk_parts.append(f"'{run}':*")
        else:
            cjk_parts.append(" <-> ".join(f"'{run[i : i + 2]}'" for i in range(len(run) - 1)))
    rest = CJK_RUN.sub(" ", q)
    sql, params = [], []
    if cjk_parts:
        sql.append("to_tsquery('simple'::regconfig, %s)")
        params.append(" & ".join(f"({part})" for part in cjk_parts))
    if WORD.search(rest):
        sql.append("plainto_tsquery('simple'::regconfig, %s)")
        params.append(rest)
    if not sql:
        return None
    # The SQL is one of two constant fragments; the text goes in as parameters.
    return RawSQL(" && ".join(sql), params, output_field=SearchQueryField())  # noqa: S611


def search_terms(q: str) -> list[RawSQL]:
    """Each term of `q` alone as a tsquery (a CJK bigram or first character, a word as the
    parser splits it): every message matching `q` matches each of them."""
    terms = []
    for run in CJK_RUN.findall(q):
        parts = [f"'{run}':*"] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
        terms += [part if len(run) == 1 else f"'{part}'" for part in parts]
    tsqueries = [("to_tsquery('simple'::regconfig, %s)", term) for term in terms]
    words = _words(CJK_RUN.sub(" ", q))
    tsqueries += [("plainto_tsquery('simple'::regconfig, %s)", word) for word in words]
    # Constant SQL; the terms go in as parameters.
    return [RawSQL(sql, [term], output_field=SearchQueryField()) for sql, term in tsqueries]  # noqa: S611


@functools.lru_cache(maxsize=1024)
def _words(text: str) -> tuple[str, ...]:
    """The words of `text` as the `simple` parser finds them, lowercased: the lexemes of
    `plainto_tsquery('simple', text)`, which only the database can tell."""
    if not WORD.search(text):
        return ()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT unnest(tsvector_to_array(to_tsvector('simple'::regconfig, %s)))", [text]
        )
        return tuple(row[0] for row in cursor.fetchall())


def _containing(q: str) -> list[Q]:
    """Conditions every message matching `q` meets, cheap to check: its lowercased body
    holds each CJK run of `q` (a phrase of bigrams is the run itself) and each word. Where
    no index serves the match (a conversation's messages checked one by one), they spare
    most messages the tokenising (three regular expressions and the parser): the walk of a
    common word at 1M conversations, 6.2 ms -> 1.3 ms."""
    needles = [*CJK_RUN.findall(q), *_words(CJK_RUN.sub(" ", q))]
    return [Q(GreaterThan(StrIndex(Lower("body"), Value(needle)), 0)) for needle in needles]


def message_matches(q: str) -> QuerySet[Message] | None:
    query = search_query(q)
    if query is None:
        return None
    return Message.objects.filter(*_containing(q), TsMatch(MessageSearchVector("body"), query))


# Filters by name: the query parameters of the search and list APIs and the keys of a
# saved view's filters ("q" too).
class _ListField(serializers.ListField):
    """A list given as repeated parameters or comma-separated (`status=open,pending`)."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [part for part in data.split(",") if part.strip()]
        elif not isinstance(data, list):
            data = [data]
        return super().to_internal_value([str(part).strip() for part in data])


class _Moment(serializers.Field):
    """An ISO 8601 date or date-time; a date is its start (`_from`) or its end (`_to`)."""

    default_error_messages = {"invalid": _("Use a date (2025-01-31) or an ISO 8601 time.")}

    def __init__(self, *, end: bool = False, **kwargs):
        self.end = end
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                moment = datetime.combine(day + timedelta(days=1 if self.end else 0), time())
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail("invalid")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment

    def to_representation(self, value):
        return value.isoformat()


PRIORITY_NAMES = {member.name.lower(): member.value for member in Priority}


class _PriorityField(serializers.Field):
    default_error_messages = {"invalid": _("Use low, normal, high or urgent (or 0 to 3).")}

    def to_internal_value(self, data):
        text = str(data).strip().lower()
        if text in PRIORITY_NAMES:
            return PRIORITY_NAMES[text]
        if text.isdigit() and int(text) in Priority.values:
            return int(text)
        self.fail("invalid")


class _AssigneeField(serializers.Field):
    default_error_messages = {"invalid": _("Use me, none or a user id.")}

    def to_internal_value(self, data):
        text = str(data).strip().lower()
        if text in ("me", "none"):
            return text
        if text.isdigit():
            return int(text)
        self.fail("invalid")


class ConversationFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=MAX_QUERY_LENGTH)
    status = _ListField(child=serializers.ChoiceField(ConversationStatus.choices), required=False)
    channel = _ListField(child=serializers.SlugField(max_length=16), required=False)
    inbox = _ListField(child=serializers.IntegerField(min_value=1), required=False)
    team = _ListField(child=serializers.IntegerField(min_value=1), required=False)
    assignee = _AssigneeField(required=False)
    tag = _ListField(child=serializers.CharField(max_length=50), required=False)
    priority = _ListField(child=_PriorityField(), required=False)
    created_from = _Moment(required=False)
    created_to = _Moment(required=False, end=True)
    last_message_from = _Moment(required=False)
    last_message_to = _Moment(required=False, end=True)
    unread = serializers.BooleanField(required=False, allow_null=True, default=None)


FILTER_NAMES = frozenset(ConversationFilterSerializer().fields)


def filters_from_params(params) -> dict:
    """The filters of a request's query parameters (a QueryDict: repeated ones joined),
    validated; raises `serializers.ValidationError` (a 400) on a bad value."""
    data = {}
    for name in FILTER_NAMES:
        values = params.getlist(name) if hasattr(params, "getlist") else [params.get(name)]
        values = [value for value in values if value not in (None, "")]
        if values:
            data[name] = ",".join(values) if len(values) > 1 else values[0]
    serializer = ConversationFilterSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return {key: value for key, value in serializer.validated_data.items() if value is not None}


def conversation_filter(
    conversations: QuerySet[Conversation], *, user: User, filters: dict
) -> QuerySet[Conversation]:
    """`conversations` narrowed by validated filters (`ConversationFilterSerializer`)."""
    if value := filters.get("status"):
        conversations = conversations.filter(status__in=value)
    if value := filters.get("channel"):
        conversations = conversations.filter(inbox__channel__kind__in=value)
    if value := filters.get("inbox"):
        conversations = conversations.filter(inbox__in=value)
    if value := filters.get("team"):
        conversations = conversations.filter(team__in=value)
    if (value := filters.get("assignee")) is not None:
        if value == "me":
            conversations = conversations.filter(assignee=user)
        elif value == "none":
            conversations = conversations.filter(assignee__isnull=True)
        else:
            conversations = conversations.filter(assignee_id=value)
    if value := filters.get("tag"):
        tag_ids = list(
            Tag.objects.annotate(lower=Lower("name"))
            .filter(lower__in=[name.lower() for name in value])
            .values_list("pk", flat=True)
        )
        tagged = Conversation.tags.through.objects.filter(
            conversation_id=OuterRef("pk"), tag_id__in=tag_ids
        )
        conversations = conversations.filter(Exists(tagged))
    if (value := filters.get("priority")) is not None and value != []:
        conversations = conversations.filter(priority__in=value)
    if value := filters.get("created_from"):
        conversations = conversations.filter(created_at__gte=value)
    if value := filters.get("created_to"):
        conversations = conversations.filter(created_at__lt=value)
    if value := filters.get("last_message_from"):
        conversations = conversations.filter(last_message_at__gte=value)
    if value := filters.get("last_message_to"):
        conversations = conversations.filter(last_message_at__lt=value)
    if (value := filters.get("unread")) is not None:
        unread = Q(unread_count__gt=0) if value else Q(unread_count=0)
        conversations = conversations.filter(unread)
    return conversations


# Which shape each source takes (see conversation_search): collecting costs about its
# matches M (~5 us each: heap, array, index lookups, sort); walking about the rows it checks
# to fill a page, 51 x (rows / rows matching) x each check, about 51 x N / M for N rows.
# They cross at M = sqrt(51 x N x check / 5 us): for messages (a check reads a
# conversation's messages, ~7 us each) sqrt(70 N), 8,400 at 1M messages, 26,000 at 10M;
# for customers (a check is one primary-key lookup) about sqrt(51 N) for N conversations,
# 7,100 at 1M. Below it, collect.
def _at_most(values: QuerySet, cap: int) -> list | None:
    """The values (read in no order: the read stops at `cap` + 1), or None when there are
    more than `cap` or reading them takes longer than PROBE_TIMEOUT_MS (a common word:
    the planner misjudges a LIMIT over many matches, and the walk is the right plan then
    anyway)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {int(PROBE_TIMEOUT_MS)}")
            # A read of at most `cap` rows: starting parallel workers took longer (10 ms)
            # than a whole rare word's read.
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            found = list(values.order_by()[: cap + 1])
            cursor.execute(
                "SET LOCAL statement_timeout TO DEFAULT; "
                "SET LOCAL max_parallel_workers_per_gather TO DEFAULT"
            )
    except OperationalError:  # canceled: rolled back to the savepoint, setting and all
        return None
    return None if len(found) > cap else found


PROBE_TIMEOUT_MS = 60
# Estimates below this many times the cap are checked by reading (rare words were
# estimated 100x too high at 10M messages), above it trusted.
TRUSTED_ESTIMATE = 10


# A name's estimate above this many times the cap is trusted: the name indexes keep
# 1,000-entry statistics (customers migration 0004), and at 1M conversations estimates of
# more than a thousand customers were within 20% (`smith`: 38,541 for 37,912), where
# reading the cap's 7,142 of them to find out took 20 ms.
CUSTOMERS_TRUSTED_ESTIMATE = 3


def _estimated_matches(values: QuerySet) -> float:
    """The planner's estimate of the rows of `values` (planned, not run)."""
    sql, params = values.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return plan[0]["Plan"]["Plan Rows"]


MIN_COLLECT_ROWS = 1000


# A table's size moves slowly (the statistics change on ANALYZE): read once a minute per
# process, not twice a search.
ESTIMATE_SECONDS = 60
_estimates: dict[tuple[str, str], tuple[float, float]] = {}


def _estimated_rows(table: str) -> float:
    key = (connection.alias, table)
    now = monotonic()
    cached = _estimates.get(key)
    if cached is not None and now - cached[0] < ESTIMATE_SECONDS:
        return cached[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    rows = max(row[0], 0) if row else 0
    _estimates[key] = (now, rows)
    return rows


def collect_max_rows() -> int:
    """The most messages collected (see above)."""
    return max(MIN_COLLECT_ROWS, int(math.sqrt(70 * _estimated_rows("inbox_message"))))


def collect_max_customers() -> int:
    """The most customers collected (see above)."""
    conversations = _estimated_rows("inbox_conversation")
    return max(MIN_COLLECT_ROWS, int(math.sqrt(51 * conversations)))


def _id_in(field: str, ids: list[int]) -> Q | None:
    """`field = ANY(ids)`: one array parameter (a list of thousands of IN parameters took
    as long to plan as to run: 2,500 of them, 11 ms); None when there are none."""
    if not ids:
        return None
    # The array's text, cast: psycopg quotes a list element by element, and a Value of an
    # ArrayField prepares each one too (3 ms for 2,300 ids); these are ints of our own.
    literal = "{" + ",".join(str(int(pk)) for pk in sorted(set(ids))) + "}"
    ids = RawSQL("%s::bigint[]", (literal,), output_field=ArrayField(BigIntegerField()))
    return Q(AnyOf(F(field), ids))


def _by_customer(q: str, plan: str | None) -> tuple[Q | None, bool]:
    """Conversations whose customer matches `q`: their customers collected (few), or each
    conversation's customer checked (many: a common name); None when none match. And
    whether they are collected (a page of them is sorted, not walked for)."""
    if plan != "walk":
        customers = customer_search(Customer.objects.all(), q).values_list("pk", flat=True)
        if plan == "collect":
            return _id_in("customer_id", list(customers)), True
        cap = collect_max_customers()
        if _estimated_matches(customers) <= CUSTOMERS_TRUSTED_ESTIMATE * cap:
            ids = _at_most(customers, cap)
            if ids is not None:
                return _id_in("customer_id", ids), True
    # A scalar subquery, not EXISTS: the planner turns an EXISTS into a hashed subplan (all
    # the matches first) when it misjudges the walk; this form it cannot.
    customer = customer_search(Customer.objects.filter(pk=OuterRef("customer_id")), q)
    return Q(IsNull(Subquery(customer.values("pk")[:1]), False)), False


def _sorted_not_walked(order_by: tuple[str, ...]) -> tuple:
    """`order_by` with its first field (a time) as `field + interval '0'`: the same order,
    which no index gives, so that a collected source's conversations are read and sorted.
    The planner would walk the list's index for them instead, not knowing how few of the
    rows an agent's visibility leaves (a common name's 3,600 customers: 54,000 rows walked
    for an agent's page, where sorting reads 4,000)."""
    first, *rest = order_by
    shifted = ExpressionWrapper(
        F(first.lstrip("-")) + Value(timedelta(0)), output_field=DateTimeField()
    )
    return (shifted.desc() if first.startswith("-") else shifted.asc(), *rest)


def _least_common_term(q: str) -> float:
    """The planner's estimate of the messages matching the least common term of `q`: at
    least as many as match `q` (each match has every term), and well estimated when the
    term is common (the index's statistics of its common words). Of a query of several
    words the planner multiplies their shares, as if independent (`refunded second`:
    14,671 estimated, 394,680 found at 10M messages), which this does not."""
    vector = MessageSearchVector("body")
    terms = [Message.objects.filter(TsMatch(vector, term)) for term in search_terms(q)]
    return min((_estimated_matches(term.values("pk")) for term in terms), default=0)


@dataclass(frozen=True)
class MessageHits:
    """The messages matching a query as the search reads them: `conversation_ids` when few
    (collected from the index), None when many (each conversation's messages are checked
    where the list is read). The snippets of a page reuse it."""

    messages: QuerySet[Message]
    conversation_ids: list[int] | None


def message_hits(q: str, plan: str | None = None) -> MessageHits | None:
    """The messages matching `q`, collected (a rare word) or not (a common word; see
    `conversation_search`); None when `q` has nothing to look for in messages."""
    messages = message_matches((q or "").strip()[:MAX_QUERY_LENGTH])
    if messages is None:
        return None
    if plan != "walk":
        ids = messages.values_list("conversation_id", flat=True)
        if plan == "collect":
            return MessageHits(messages, list(ids))
        cap = collect_max_rows()
        # Every term far above the cap: walk without reading the first matches (a probe
        # that would time out: the index alone reads more than the cap then).
        if _least_common_term(q) <= TRUSTED_ESTIMATE * cap:
            ids = _at_most(ids, cap)
            if ids is not None:
                return MessageHits(messages, ids)
    return MessageHits(messages, None)


def _by_message(hits: MessageHits) -> Q | None:
    """Conversations with a message matching: collected (a rare word) or each conversation's
    messages checked (a common word); None when none match."""
    if hits.conversation_ids is not None:
        return _id_in("pk", hits.conversation_ids)
    message = hits.messages.filter(conversation_id=OuterRef("pk")).values("pk")[:1]
    return Q(IsNull(Subquery(message), False))


@dataclass(frozen=True)
class Window:
    """What one page reads (a cursor page of the API): the rows in `order_by` order, from
    `start` on (a condition on the first ordering field; None for the first page), `rows`
    of them (the cursor's offset, the page and one more to tell there is a next page)."""

    order_by: tuple[str, ...]
    start: Q | None
    rows: int


def conversation_search(
    *,
    user: User,
    q: str = "",
    filters: dict | None = None,
    conversations: QuerySet[Conversation] | None = None,
    plan: str | None = None,
    window: Window | None = None,
    hits: MessageHits | None = None,
) -> QuerySet[Conversation]:
    """The conversations `user` may see that match `q` (a message of theirs, private notes
    included, or their customer's name or identities) and the filters. `conversations`,
    when given, must come from `conversation_list(user=user)` (e.g. a console tab).

    Each source (customers, messages) takes its own shape, chosen by reading at most a cap
    of its matches first: few (a rare word, an order number, a name) are collected from
    the indexes; many (a common word, a common name) are checked per conversation while
    the list is read in its order (`conv_last_message_idx`), which stops at a page. Either
    alone is slow in the other case: collecting a common word's matches reads most of the
    messages; walking for a rare word reads every conversation. `plan` ("collect" or
    "walk") forces one for both (tests and benchmarks compare them).

    With `window` (the page the caller reads, in that order) each source reads only its
    first `window.rows` conversations, gate, filters and all, and the result is those of
    either source: the same page, as the union's first rows are among each source's first
    rows, and a common name no longer costs a walk through the other source's check.
    `hits`: `message_hits(q, plan)` when the caller has it (for the page's snippets)."""
    if conversations is None:  # else already scoped by the gate (a console tab)
        conversations = conversation_list(user=user)
    conversations = conversation_filter(conversations, user=user, filters=filters or {})
    q = (q or "").strip()[:MAX_QUERY_LENGTH]
    if not q:
        return conversations
    if hits is None:
        hits = message_hits(q, plan)
    sources = [_by_customer(q, plan)]
    if hits is not None:
        sources.append((_by_message(hits), False))
    sources = [(source, collected) for source, collected in sources if source is not None]
    if not sources:
        return conversations.none()
    if window is None:
        return conversations.filter(reduce(operator.or_, [source for source, _ in sources]))
    ids: list[int] = []
    for source, collected in sources:
        first = conversations.filter(source)
        if window.start is not None:
            first = first.filter(window.start)
        order_by = _sorted_not_walked(window.order_by) if collected else window.order_by
        ids += first.order_by(*order_by).values_list("pk", flat=True)[: window.rows]
    # Still within the gate and the filters (the sources were too): only narrowed.
    return conversations.filter(_id_in("pk", ids) or Q(pk__in=[]))


CONVERSATIONS_PER_CUSTOMER = 2


class AnyOf(Lookup):
    """`lhs = ANY(rhs)`: with `ArraySubquery` on the right, the subquery runs once, before
    the outer query (an InitPlan), and the outer query can use an index for it, even
    inside an OR, which `IN (subquery)` cannot (as `customers.selectors._AnyOf`)."""

    lookup_name = "any_of"  # used directly, never registered

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs_sql} = ANY({rhs_sql})", (*lhs_params, *rhs_params)


class UnindexedSearchVector(Func):
    """The same vector as `MessageSearchVector`, spelled so that no index serves it: a
    message is checked where it is read (a conversation's newest first)."""

    template = "to_tsvector('simple'::regconfig, sb_search_text(%(expressions)s || ''))"
    output_field = SearchVectorField()


# The newest messages of a conversation looked through for its snippet before the index.
RECENT_MESSAGES = 20


def _recent_matches(ids: list[int], q: str, fields: tuple) -> tuple[list[dict], list[int]]:
    """The newest message matching `q` among the newest RECENT_MESSAGES of each of the
    conversations `ids`, and the conversations with none there."""
    recent = (
        Message.objects.filter(
            conversation_id=OuterRef("pk"), seq__gt=OuterRef("last_seq") - RECENT_MESSAGES
        )
        .filter(*_containing(q), TsMatch(UnindexedSearchVector("body"), search_query(q)))
        .order_by("-seq")
        .values("pk")[:1]
    )
    # Kept in Python: a filter on the annotation would run the subquery twice per row.
    found = Conversation.objects.filter(pk__in=ids).annotate(match=Subquery(recent))
    matched = {pk: match for pk, match in found.values_list("pk", "match") if match is not None}
    newest = list(Message.objects.filter(pk__in=matched.values()).values(*fields))
    return newest, [pk for pk in ids if pk not in matched]


def search_snippets(
    conversations: list[Conversation], q: str, hits: MessageHits | None = None
) -> dict[int, dict]:
    """For each conversation of a page, its newest message matching `q`, as plain text cut
    around the first query term (the client escapes it): {conversation id: snippet}.

    A rare query through the index. A common one first among each conversation's newest
    messages, read newest first and stopping at a match (a common word is in one of them),
    then for the others through the index: the index alone rechecks every match of a common
    phrase before it keeps the page's (`请问什么时候` at 100k messages: 4,400 rechecks,
    125 ms). With the search's `hits` collected, only the page's conversations among them
    are looked up (none for a name that no message holds)."""
    q = (q or "").strip()[:MAX_QUERY_LENGTH]
    messages = hits.messages if hits is not None else message_matches(q)
    if messages is None or not conversations:
        return {}
    ids = [conversation.pk for conversation in conversations]
    fields = ("conversation_id", "seq", "body", "private", "sent_at")
    newest, rest = [], ids
    if hits is not None and hits.conversation_ids is not None:
        collected = set(hits.conversation_ids)
        rest = [pk for pk in ids if pk in collected]
    elif hits is not None or _least_common_term(q) > collect_max_rows():
        # Not collected: a common query (the search already estimated it).
        newest, rest = _recent_matches(ids, q, fields)
    if rest:
        newest += (
            messages.filter(conversation_id__in=rest)
            .order_by("conversation_id", "-seq")
            .distinct("conversation_id")
            .values(*fields)
        )
    terms = [term for term in re.split(r"\s+", q.lower()) if term]
    snippets = {}
    for message in newest:
        body = message["body"]
        lowered = body.lower()
        found = [at for at in (lowered.find(term) for term in terms) if at >= 0]
        start = max(0, min(found) - SNIPPET_BEFORE) if found else 0
        text = body[start : start + SNIPPET_LENGTH]
        more = start + SNIPPET_LENGTH < len(body)
        snippets[message["conversation_id"]] = {
            "seq": message["seq"],
            "text": ("…" if start else "") + text + ("…" if more else ""),
            "private": message["private"],
            "sent_at": message["sent_at"],
        }
    return snippets


# Saved views: a user's own named filters (the console's sidebar).
def saved_view_filters_clean(filters) -> dict:
    """`filters` checked against the filter names and values; raises a Django
    ValidationError (a 400) naming the unknown ones or the bad values."""
    if not isinstance(filters, dict):
        raise ValidationError({"filters": [_("Must be an object of filter names to values.")]})
    unknown = sorted(set(filters) - FILTER_NAMES)
    if unknown:
        raise ValidationError(
            {
                "filters": [
                    _("Unknown filters: %(names)s. Known: %(known)s.")
                    % {"names": ", ".join(unknown), "known": ", ".join(sorted(FILTER_NAMES))}
                ]
            }
        )
    data = {}
    for name, value in filters.items():
        if isinstance(value, list):
            value = ",".join(str(part) for part in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        elif value is not None and not isinstance(value, str):
            message = _("%(name)s: use text, a number or a list.") % {"name": name}
            raise ValidationError({"filters": [message]})
        if value not in (None, ""):
            data[name] = value
    checked = ConversationFilterSerializer(data=data)
    if not checked.is_valid():
        errors = checked.errors.items()
        messages = [f"{name}: {' '.join(map(str, problems))}" for name, problems in errors]
        raise ValidationError({"filters": messages})
    return data


@transaction.atomic
def saved_view_create(*, user: User, name: str, filters: dict, position: int = 0) -> SavedView:
    if SavedView.objects.filter(user=user, name=name).exists():
        raise ValidationError({"name": [_("You already have a view with this name.")]})
    return SavedView.objects.create(
        user=user, name=name, filters=saved_view_filters_clean(filters), position=position
    )


@transaction.atomic
def saved_view_update(*, saved_view: SavedView, **changes) -> SavedView:
    if "filters" in changes:
        changes["filters"] = saved_view_filters_clean(changes["filters"])
    name = changes.get("name")
    if (
        name
        and SavedView.objects.filter(user=saved_view.user_id, name=name)
        .exclude(pk=saved_view.pk)
        .exists()
    ):
        raise ValidationError({"name": [_("You already have a view with this name.")]})
    for field, value in changes.items():
        setattr(saved_view, field, value)
    saved_view.save()
    return saved_view


@transaction.atomic
def saved_view_delete(*, saved_view: SavedView) -> None:
    saved_view.delete()
