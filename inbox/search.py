"""Conversation search and filters: full text across messages (private notes included:
only staff search) and customers (name, identities), Chinese included. docs/search.md
explains the tokenising (CJK bigrams, `sb_search_text` in migration 0007) and the plans.

`conversation_search` is a selector: it starts from `conversation_list(user=...)`, the
permission gate, and only narrows it."""

import math
import re
from datetime import date, datetime, time, timedelta

from django.contrib.postgres.search import SearchQueryField, SearchVectorField
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, Exists, Func, Lookup, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.db.models.lookups import IsNull
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


def message_matches(q: str) -> QuerySet[Message] | None:
    query = search_query(q)
    if query is None:
        return None
    return Message.objects.filter(TsMatch(MessageSearchVector("body"), query))


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
        conversations = conversations.filter(unread_count__gt=0) if value else conversations
        if not value:
            conversations = conversations.filter(unread_count=0)
    return conversations


# Which plan (see conversation_search): collecting costs about its matches M (~5 us each:
# heap, array, index lookups, sort); walking about the messages it checks to fill a page,
# 51 x (conversations / conversations matching) x messages each, ~7 us each, which is
# about 51 x N / M for N messages. They cross at M = sqrt(51 x 7/5 x N) ~ sqrt(70 N):
# 8,400 at 1M messages, 26,000 at 10M. Below it, collect.
def _at_most(values: QuerySet, cap: int) -> list | None:
    """The values, or None when there are more than `cap` or reading them takes longer
    than PROBE_TIMEOUT_MS (a common word: the planner misjudges a LIMIT over many
    matches, and the walk is the right plan then anyway)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {int(PROBE_TIMEOUT_MS)}")
            found = list(values[: cap + 1])
            cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
    except OperationalError:  # canceled: rolled back to the savepoint, setting and all
        return None
    return None if len(found) > cap else found


PROBE_TIMEOUT_MS = 60


def collect_max_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'inbox_message'::regclass")
        messages = max(cursor.fetchone()[0], 0)
    return max(MIN_COLLECT_ROWS, int(math.sqrt(70 * messages)))


MIN_COLLECT_ROWS = 1000


def conversation_search(
    *,
    user: User,
    q: str = "",
    filters: dict | None = None,
    conversations: QuerySet[Conversation] | None = None,
    plan: str | None = None,
) -> QuerySet[Conversation]:
    """The conversations `user` may see that match `q` (a message of theirs, private notes
    included, or their customer's name or identities) and the filters. `conversations`,
    when given, must come from `conversation_list(user=user)` (e.g. a console tab).

    Two shapes, chosen by reading at most `collect_max_rows()` matches first: few (a rare
    word, an order number, a name) are collected from the indexes, and the page is read
    by primary key and customer (a BitmapOr) and sorted; many (a common word)
    are found by walking the list in its order (`conv_last_message_idx`) and checking each
    conversation (EXISTS on its messages), which stops at a page. Either alone is slow in
    the other case: collecting a common word's matches reads most of the messages; walking
    for a rare word reads every conversation. `plan` ("collect" or "walk") forces one
    (tests and benchmarks compare them)."""
    if conversations is None:  # else already scoped by the gate (a console tab)
        conversations = conversation_list(user=user)
    conversations = conversation_filter(conversations, user=user, filters=filters or {})
    q = (q or "").strip()[:MAX_QUERY_LENGTH]
    if not q:
        return conversations
    customers = customer_search(Customer.objects.all(), q)
    messages = message_matches(q)
    cap = collect_max_rows()
    message_ids: list[int] = []
    customer_ids: list[int] | None = None
    if plan != "walk":
        # Collect the matches, at most `cap` of each: a bounded index read that says which
        # plan fits (the planner's estimates of rare tokens were off by 100x at 10M).
        customer_ids = _at_most(customers.values_list("pk", flat=True), cap)
        if customer_ids is not None and messages is not None:
            message_ids = _at_most(messages.values_list("conversation_id", flat=True), cap)
        plan = "walk" if customer_ids is None or message_ids is None else "collect"
    if plan == "collect":
        if customer_ids is None:  # forced
            customer_ids = list(customers.values_list("pk", flat=True))
            if messages is not None:
                message_ids = list(messages.values_list("conversation_id", flat=True))
        condition = Q(customer_id__in=customer_ids) | Q(pk__in=sorted(set(message_ids)))
    else:
        # Scalar subqueries, not EXISTS: the planner turns an EXISTS into a hashed subplan
        # (all the matches first) when it misjudges the walk; this form it cannot.
        customer = customer_search(Customer.objects.filter(pk=OuterRef("customer_id")), q)
        condition = Q(IsNull(Subquery(customer.values("pk")[:1]), False))
        if messages is not None:
            message = messages.filter(conversation_id=OuterRef("pk")).values("pk")[:1]
            condition |= Q(IsNull(Subquery(message), False))
    return conversations.filter(condition)


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


def search_snippets(conversations: list[Conversation], q: str) -> dict[int, dict]:
    """For each conversation of a page, its newest message matching `q`, as plain text cut
    around the first query term (the client escapes it): {conversation id: snippet}."""
    messages = message_matches((q or "").strip()[:MAX_QUERY_LENGTH])
    if messages is None or not conversations:
        return {}
    newest = (
        messages.filter(conversation_id__in=[conversation.pk for conversation in conversations])
        .order_by("conversation_id", "-seq")
        .distinct("conversation_id")
        .values("conversation_id", "seq", "body", "private", "sent_at")
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
