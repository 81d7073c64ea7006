"""The agent console's reads at 10k, 100k and 1M conversations (about 10 messages each, so
10M messages at 1M; about as many customers, with identities): p50/p95 of what the console
calls, in-process through the API views (`django.test.Client`, logged in as an agent and as
a supervisor, DEBUG off), against a baseline measured in the same run: a primary-key lookup
of one conversation.

    python bench/conversation_scale.py                    (10k, 100k, 1M; DATABASE_URL migrated)
    python bench/conversation_scale.py --quick            (10k, 100k)
    python bench/conversation_scale.py --drop             (delete the kept dataset and stop)
    python bench/conversation_scale.py --here ...         (in DATABASE_URL's database itself)

Timed: GET /api/v1/conversations/ (the console's tabs all, mine and unassigned, status=open,
the second page), GET /api/v1/conversations/<uuid>/ and .../messages/ (the newest page, and
resuming after a seq), and GET /api/v1/customers/?q= (a name, phone digits, an email) as the
console's customer card searches. At the largest size the EXPLAIN (ANALYZE, BUFFERS) of the
main queries of each kind is printed. Targets: p95 <= 50 ms at every size, and at the
largest size no more than 1.5x the p95 at the smallest.

One dataset grows from the smallest size to the largest, loaded with COPY (customers,
identities, conversations and messages of 10k conversations at a time); a load that at
least doubles a table drops its secondary indexes and builds them again after, in the same
transaction (foreign keys stay, their checks skipped, as a superuser; otherwise they are
dropped and added again too). The dataset is kept in a database of its own,
`<DATABASE_URL's name>_scale` on the same server (created when missing, migrated on every
run; `--here` uses DATABASE_URL's database itself), tagged (its own inboxes, teams, staff
and channel accounts; `lead_source` of its customers), and reused by the next run, which
only grows it; figures of sizes below what is kept come from the run that measured them.
`--drop` deletes it, `--no-keep` deletes it at the end of the run.

Writes bench/results/conversation_scale.{json,md}."""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import accumulate, pairwise
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
os.environ["DEBUG"] = "false"  # measured as deployed
if "BENCH_REDIS_URL" in os.environ:
    os.environ["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]


def database_own() -> str:
    """Points DATABASE_URL at `<its database>_scale` on the same server, created when missing
    and migrated (quick when nothing is new), so that the kept dataset shares no table with
    other benchmarks' runs; with --here, DATABASE_URL's database as it is. Returns its name."""
    import subprocess

    import psycopg

    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/switchboard")
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if {"--here", "-h", "--help"} & set(sys.argv[1:]):
        return name
    own = f"{name}_scale"
    with psycopg.connect(url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [own]).fetchone():
            admin.execute(f'CREATE DATABASE "{own}"')
            print(f"created database {own}", flush=True)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{own}"))
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], check=True, cwd=ROOT
    )
    return own


DATABASE = database_own()

from bench import customer_search as people  # noqa: E402  (sets Django up)
from bench._harness import markdown_table, percentiles, results_write  # noqa: E402

# isort: split
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.enums import Role  # noqa: E402
from accounts.models import User  # noqa: E402
from accounts.services import user_create  # noqa: E402
from channels_app.models import ChannelAccount  # noqa: E402
from inbox.models import Conversation, Inbox, Team  # noqa: E402

NAME = "conversation_scale"
TAG = "bench-cs"  # names of its inboxes, teams and channels start with it
STAFF_DOMAIN = "conversation-scale.invalid"
MARKER = '{"bench": "conversation_scale"}'  # customers' lead_source, conversations' source
CHUNK = 10_000  # conversations generated from one seed: the dataset grows the same way
TARGET_P95_MS = 50.0
TARGET_GROWTH = 1.5
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
NULL = "\\N"  # COPY's NULL
TABLES = ["customers_customer", "customers_identity", "inbox_conversation", "inbox_message"]

# (kind, share of conversations in %, team). Every inbox has a channel of its kind.
INBOXES = [
    ("web", 30, "Sales"),
    ("whatsapp", 25, "Support"),
    ("email", 15, "Support"),
    ("messenger", 8, "Support"),
    ("instagram", 7, "Sales"),
    ("telegram", 5, "Asia"),
    ("line", 5, "Asia"),
    ("wechat", 5, "Asia"),
]
INBOX_W = list(accumulate(share for _, share, _ in INBOXES))
TEAMS = ["Sales", "Support", "Asia"]
AGENTS_PER_TEAM = 8
# The agent measured: in team Asia (telegram, line, wechat) and a member of the instagram
# inbox; sees about a fifth of all conversations by two paths.
MEASURED_AGENT = 0
STATUSES = ["resolved", "open", "pending", "snoozed"]
STATUS_W = list(accumulate([88, 6, 4, 2]))

INBOUND = [
    "Hi, is this still available?",
    "My order has not arrived yet, can you check?",
    "How much is shipping to Singapore?",
    "你好，请问什么时候发货？",
    "I was charged twice for the same order",
    "Can I change the delivery address?",
    "Thanks, that worked!",
    "Do you have this in a larger size?",
    "The tracking number does not work",
    "好的，谢谢",
    "When does the sale end?",
    "I'd like to return the shoes I bought last week",
]
OUTBOUND = [
    "Hello! Let me check that for you.",
    "Your order shipped yesterday, here is the tracking link.",
    "Shipping to Singapore is free above 50 SGD.",
    "您好，我们会在48小时内发货。",
    "I'm sorry about that, I have refunded the second charge.",
    "Done: the address is updated.",
    "Glad to help! Anything else?",
    "Yes, sizes up to XXL are in stock.",
    "I've asked the carrier, I'll update you today.",
    "不客气！",
    "The sale runs until Sunday midnight.",
    "Sure, I've emailed you a return label.",
]
# Domains customer_search.py never uses, so that both benchmarks' identities can share the
# table's unique (kind, value) when both datasets are kept.
LATIN_DOMAINS = ["fastmail.com", "aol.com", "live.com", "zoho.com", "t-online.de", "free.fr"]
CHINESE_DOMAINS = ["sohu.com", "139.com", "yeah.net", "aliyun.com"]
US_AREAS = ["213", "310", "404", "702", "206", "303", "718", "347"]  # none of theirs


# --- Generation ------------------------------------------------------------------------

_DAYS: list[str] = []
_CLOCK = [f"{h:02d}:{m:02d}:{s:02d}+00" for h in range(24) for m in range(60) for s in range(60)]


def stamp(seconds: int) -> str:
    """EPOCH + seconds as COPY reads a timestamptz: a table lookup, not strftime (10M)."""
    day, rest = divmod(seconds, 86400)
    while len(_DAYS) <= day:
        _DAYS.append(f"{(EPOCH + timedelta(days=len(_DAYS))).date().isoformat()} ")
    return _DAYS[day] + _CLOCK[rest]


def phone(n: int, chinese: bool) -> str:
    """A mobile number of its own for customer n (the multiplications are bijections), in
    number ranges customer_search.py does not generate."""
    if chinese:
        return f"+8618{(n * 7919 + 12345) % 10**9:09d}"
    k = (n // 8) * 7919 % (8 * 10**6)
    return f"+1{US_AREAS[n % 8]}{2 + k // 10**6}{k % 10**6:06d}"


def person(rng: random.Random, n: int) -> tuple[str, str, list[tuple[str, str]]]:
    """(name, country, contact identities) of customer n, with customer_search.py's names."""
    if rng.random() < 0.47:
        given = rng.choices(people.LATIN_GIVEN, cum_weights=people.LATIN_GIVEN_W)[0]
        family = rng.choices(people.LATIN_FAMILY, cum_weights=people.LATIN_FAMILY_W)[0]
        name, chinese, country = f"{given} {family}", False, "US"
        local = f"{people.ascii_fold(given)}.{people.ascii_fold(family)}"
        domains = LATIN_DOMAINS
    else:
        family, family_pinyin, _ = rng.choices(
            people.CHINESE_FAMILY, cum_weights=people.CHINESE_FAMILY_W
        )[0]
        char, given_pinyin = rng.choices(people.CHINESE_GIVEN, cum_weights=people.CHINESE_GIVEN_W)[
            0
        ]
        name, chinese, country = family + char, True, "CN"
        local, domains = f"{family_pinyin}{given_pinyin}", CHINESE_DOMAINS
    contacts = []
    if rng.random() < 0.6:
        contacts.append(("phone", phone(n, chinese)))
    if rng.random() < 0.5:
        contacts.append(("email", f"{local}{n}@{domains[n % len(domains)]}"))
    if rng.random() < 0.05:
        name = ""  # never said who they are
    return name, country, contacts


def channel_identity(rng: random.Random, kind: str, n: int, contacts: list) -> tuple[str, str]:
    """The identity a customer writes from on a channel of `kind`."""
    by_kind = dict(contacts)
    if kind == "whatsapp":
        return "whatsapp", by_kind.get("phone", phone(n, n % 2 == 0))[1:]
    if kind == "email" and "email" in by_kind:
        return "email", by_kind["email"]
    if kind == "email":
        return "email", f"customer{n}@{LATIN_DOMAINS[n % len(LATIN_DOMAINS)]}"
    if kind == "web":
        return "web_visitor", people.random_uuid(rng)
    if kind == "wechat":
        return "wechat_openid", f"oBench{n:024d}"
    if kind == "line":
        return "line", f"U{n:032x}"
    return kind, str(7_000_000_000 + n)  # messenger, instagram, telegram: numeric ids


class Dataset:
    """What one chunk of conversations holds, generated from (seed, chunk number) only."""

    def __init__(self, staff: dict, messages_per: int, seed: int):
        self.staff = staff
        self.messages_per = messages_per
        self.seed = seed

    def chunk(self, number: int, skip: int, count: int, ids: dict) -> dict:
        """COPY text of conversations number*CHUNK+skip ... +count-1 and their customers,
        identities and messages; `ids` holds the first id reserved in each table."""
        rng = random.Random(self.seed * 1_000_003 + number)
        staff = self.staff
        customers, identities, conversations, messages = [], [], [], []
        customer_id, identity_id, conversation_id = ids["customer"], ids["identity"], ids["conv"]
        own = []  # (customer id, identity id) of this chunk's new customers
        spread = max(1, self.messages_per // 2)
        for offset in range(CHUNK):
            n = number * CHUNK + offset
            # Every draw happens for every row, so that a chunk comes out the same whether
            # it is loaded whole or in parts.
            kind, _, team = rng.choices(INBOXES, cum_weights=INBOX_W)[0]
            status = rng.choices(STATUSES, cum_weights=STATUS_W)[0]
            count_messages = max(1, self.messages_per + rng.randint(-spread, spread))
            begin = 60 * n + rng.randrange(60)
            name, country, contacts = person(rng, n)
            returning, pick = rng.random() < 0.1, rng.random()  # a returning customer
            uuids = people.random_uuid(rng), people.random_uuid(rng)
            ident_kind, ident_value = channel_identity(rng, kind, n, contacts)
            agents = staff["teams"][team]
            assigned = rng.random() < (0.7 if status == "open" else 0.95)
            assignee = agents[rng.randrange(len(agents))] if assigned else None
            handler = "ai" if rng.random() < 0.15 else "human"
            script = rng.randrange(len(INBOUND))
            unread = min(rng.randrange(4), count_messages) if status == "open" else 0
            if offset < skip or offset >= skip + count:
                continue
            created = stamp(begin)
            last = stamp(begin + 45 * count_messages)
            if returning and own:
                cust, ident = own[int(pick * len(own))]
            else:
                cust, ident = customer_id, identity_id
                customer_id += 1
                customers.append(
                    f"{cust}\t{created}\t{last}\t{name}\t\t{country}\t\tnone\t{created}\t{last}"
                    f"\tf\t{{}}\t\t{{}}\t{{}}\t\t{MARKER}\t\t{uuids[0]}\n"
                )
                channel = staff["channels"][kind]
                identities.append(
                    f"{identity_id}\t{created}\t{created}\t{ident_kind}\t{ident_value}\tt"
                    f"\t{cust}\t{{}}\t{channel}\tchannel\n"
                )
                identity_id += 1
                for contact_kind, value in contacts:
                    if contact_kind != ident_kind:
                        identities.append(
                            f"{identity_id}\t{created}\t{created}\t{contact_kind}\t{value}"
                            f"\tf\t{cust}\t{{}}\t{NULL}\t\n"
                        )
                        identity_id += 1
                own.append((cust, ident))
            conv = conversation_id
            conversation_id += 1
            author = assignee if handler == "human" and assignee else None
            for seq in range(1, count_messages + 1):
                at = stamp(begin + 45 * seq)
                if seq % 2:
                    body = INBOUND[(script + seq) % len(INBOUND)]
                    messages.append(f"{conv}\t{seq}\tin\tcustomer\t{NULL}\t{body}\t{at}\t{at}\t\n")
                else:
                    body = OUTBOUND[(script + seq) % len(OUTBOUND)]
                    sender, who = ("agent", author) if author else ("ai", NULL)
                    messages.append(
                        f"{conv}\t{seq}\tout\t{sender}\t{who}\t{body}\t{at}\t{at}\tdelivered\n"
                    )
            last_in = count_messages if count_messages % 2 else count_messages - 1
            conversations.append(
                f"{conv}\t{created}\t{last}\t{uuids[1]}\t{status}\t1\t{handler}\t{count_messages}"
                f"\t{last}\t{assignee or NULL}\t{cust}\t{staff['inboxes'][kind]}"
                f"\t{staff['team_ids'][team]}\t{count_messages - unread}\t{count_messages}"
                f"\t{body}\t{MARKER}\t{unread}\t{ident}\t{stamp(begin + 45 * last_in)}\n"
            )
        return {
            "customers": customers,
            "identities": identities,
            "conversations": conversations,
            "messages": messages,
        }


COLUMNS = {
    "customers": (
        "customers_customer",
        "id, created_at, updated_at, display_name, language, country, timezone, lead_status, "
        "first_seen_at, last_seen_at, is_blocked, attributes, avatar_url, first_touch, "
        "last_touch, lead_channel, lead_source, lead_via, uuid",
    ),
    "identities": (
        "customers_identity",
        "id, created_at, updated_at, kind, value, verified, customer_id, details, channel_id, "
        "verification",
    ),
    "conversations": (
        "inbox_conversation",
        "id, created_at, updated_at, uuid, status, priority, handler, last_seq, last_message_at, "
        "assignee_id, customer_id, inbox_id, team_id, agent_read_seq, customer_read_seq, "
        "last_message_preview, source, unread_count, identity_id, last_inbound_at",
    ),
    "messages": (
        "inbox_message",
        "conversation_id, seq, direction, sender_type, author_id, body, sent_at, created_at, "
        "delivery_status",
    ),
}
# --- Staff, inboxes and the kept dataset's record ---------------------------------------


def staff_ensure() -> dict:
    """The dataset's teams, inboxes (each with an inactive channel), agents and supervisor:
    created once, found again by name on a later run."""
    teams = {name: Team.objects.get_or_create(name=f"{TAG} {name}")[0] for name in TEAMS}
    inboxes, channels = {}, {}
    for kind, _, team in INBOXES:
        inbox, _ = Inbox.objects.get_or_create(name=f"{TAG} {kind}")
        inbox.teams.set([teams[team]])
        channel = ChannelAccount.objects.filter(inbox=inbox).first()
        if channel is None:
            channel = ChannelAccount.objects.create(
                kind=kind, name=f"{TAG} {kind}", inbox=inbox, is_active=False
            )
        inboxes[kind], channels[kind] = inbox, channel
    agents = {}
    for number, team in enumerate(t for t in TEAMS for _ in range(AGENTS_PER_TEAM)):
        email = f"agent{number}@{STAFF_DOMAIN}"
        user = User.objects.filter(email=email).first() or user_create(
            email=email, password=None, role=Role.AGENT, display_name=f"Agent {number}"
        )
        teams[team].members.add(user)
        agents.setdefault(team, []).append(user)
    measured = agents["Asia"][MEASURED_AGENT]
    inboxes["instagram"].members.add(measured)
    email = f"supervisor@{STAFF_DOMAIN}"
    supervisor = User.objects.filter(email=email).first() or user_create(
        email=email, password=None, role=Role.SUPERVISOR, display_name="Supervisor"
    )
    return {
        "teams": {team: [u.pk for u in users] for team, users in agents.items()},
        "team_ids": {name: team.pk for name, team in teams.items()},
        "inboxes": {kind: inbox.pk for kind, inbox in inboxes.items()},
        "channels": {kind: channel.pk for kind, channel in channels.items()},
        "agent": measured,
        "supervisor": supervisor,
        "record": channels["web"],
        "agent_inboxes": [inboxes[k].pk for k in ("telegram", "line", "wechat", "instagram")],
    }


def record_read() -> dict | None:
    """The kept dataset's description, stored in the settings of its web channel."""
    channel = ChannelAccount.objects.filter(name=f"{TAG} web").first()
    return channel.settings.get("bench") if channel else None


def record_write(staff: dict, record: dict) -> None:
    channel = ChannelAccount.objects.get(pk=staff["record"].pk)
    channel.settings = {**channel.settings, "bench": record}
    channel.save(update_fields=["settings"])


def dataset_drop() -> float:
    """Deletes everything the benchmark created; returns the seconds it took."""
    start = time.perf_counter()
    inbox_ids = list(Inbox.objects.filter(name__startswith=f"{TAG} ").values_list("pk", flat=True))
    with transaction.atomic(), connection.cursor() as cursor:
        if people.is_superuser():
            # Skip the foreign-key checks of the rows we delete: nothing else refers to them.
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "DELETE FROM inbox_message WHERE conversation_id IN "
            "(SELECT id FROM inbox_conversation WHERE inbox_id = ANY(%s))",
            [inbox_ids],
        )
        cursor.execute("DELETE FROM inbox_conversation WHERE inbox_id = ANY(%s)", [inbox_ids])
        cursor.execute(
            "DELETE FROM customers_identity WHERE customer_id IN "
            "(SELECT id FROM customers_customer WHERE lead_source @> %s::jsonb)",
            [MARKER],
        )
        cursor.execute("DELETE FROM customers_customer WHERE lead_source @> %s::jsonb", [MARKER])
        cursor.execute("SET LOCAL session_replication_role = origin")
    ChannelAccount.objects.filter(inbox_id__in=inbox_ids).delete()
    Inbox.objects.filter(pk__in=inbox_ids).delete()
    Team.objects.filter(name__startswith=f"{TAG} ").delete()
    User.objects.filter(email__endswith=f"@{STAFF_DOMAIN}").delete()
    return time.perf_counter() - start


# --- Loading ---------------------------------------------------------------------------


def rebuildable(cursor, table: str, foreign_keys: bool = True) -> list[tuple[str, list[str]]]:
    """(how to drop, how to create again) the secondary indexes, unique constraints and
    foreign keys of `table` (not its primary key: other tables' foreign keys need it), with
    the statistics targets set on index columns."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname, "
        "pg_get_constraintdef(c.oid), "
        "(SELECT array_agg(format('ALTER INDEX %%s ALTER COLUMN %%s SET STATISTICS %%s', "
        "   i.indexrelid::regclass, a.attnum, a.attstattarget)) FROM pg_attribute a "
        "   WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0) "
        "FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid "
        "AND c.contype = 'u' AND c.conrelid = i.indrelid "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY 1",
        [table],
    )
    items = []
    for index, index_def, constraint, constraint_def, targets in cursor.fetchall():
        if constraint:
            drop = f"ALTER TABLE {table} DROP CONSTRAINT {constraint}"
            create = f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {constraint_def}"
        else:
            drop, create = f"DROP INDEX {index}", index_def
        items.append((drop, [create, *(targets or [])]))
    if not foreign_keys:
        return items
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY 1",
        [table],
    )
    for constraint, definition in cursor.fetchall():
        items.append(
            (
                f"ALTER TABLE {table} DROP CONSTRAINT {constraint}",
                [f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {definition}"],
            )
        )
    return items


def reserve(cursor, table: str, count: int) -> int:
    """The first of `count` consecutive ids of `table` that nobody else will get."""
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s)", [sequence])
    first = cursor.fetchone()[0]
    cursor.execute("SELECT setval(%s, %s)", [sequence, first + count])
    return first


def table_rows(cursor) -> dict[str, float]:
    cursor.execute(
        "SELECT relname, greatest(reltuples, 0) FROM pg_class WHERE relname = ANY(%s)", [TABLES]
    )
    return dict(cursor.fetchall())


def grow(data: Dataset, record: dict, size: int) -> dict:
    """Adds conversations up to `size` in one transaction (an interrupted load changes
    nothing), then VACUUM ANALYZE: the planner learns the new rows, and no autovacuum of
    millions of fresh rows runs into the measurements. Returns the phases' seconds."""
    start = time.perf_counter()
    have = record["conversations"]
    added = {"customers": 0, "identities": 0, "conversations": 0, "messages": 0}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # not millions of checks at commit
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        # As a superuser the foreign keys stay and their checks are skipped (the rows are
        # generated consistent, with reserved ids): re-adding them after a load checked every
        # row again (5k -> 50k conversations: 25.6 s -> 13.6 s). Parallel index builds gained
        # nothing on 2 cores; keeping the indexes through COPY was no faster at a 10x step.
        keep_foreign_keys = people.is_superuser()
        if keep_foreign_keys:
            cursor.execute("SET LOCAL session_replication_role = replica")
        # A table at least doubling is faster loaded bare and indexed after.
        rows = table_rows(cursor)
        per_conversation = {
            "customers_customer": 0.9,
            "customers_identity": 1.5,
            "inbox_conversation": 1,
            "inbox_message": data.messages_per,
        }
        bare = [t for t in TABLES if (size - have) * per_conversation[t] >= rows.get(t, 0)]
        rebuild = [
            item for table in bare for item in rebuildable(cursor, table, not keep_foreign_keys)
        ]
        for drop, _ in rebuild:
            cursor.execute(drop)
        for number in range(have // CHUNK, -(-size // CHUNK)):
            skip = max(0, have - number * CHUNK)
            count = min(CHUNK, size - number * CHUNK) - skip
            # Enough ids for any chunk: unused ones are harmless gaps.
            ids = {
                "customer": reserve(cursor, "customers_customer", count),
                "identity": reserve(cursor, "customers_identity", 3 * count),
                "conv": reserve(cursor, "inbox_conversation", count),
            }
            rows = data.chunk(number, skip, count, ids)
            for kind, (table, columns) in COLUMNS.items():
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write("".join(rows[kind]))
                added[kind] += len(rows[kind])
            have += count
        copied = time.perf_counter()
        for _, create in rebuild:
            for statement in create:
                cursor.execute(statement)
        indexed = time.perf_counter()
    for kind, count in added.items():
        record[kind] = record.get(kind, 0) + count
    record["conversations"] = size
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    done = time.perf_counter()
    return {
        "copy_s": round(copied - start, 1),
        "indexes_s": round(indexed - copied, 1),
        "vacuum_analyze_s": round(done - indexed, 1),
        "total_s": round(done - start, 1),
        "rebuilt": bare,
        "added": added,
    }


# --- Measuring -------------------------------------------------------------------------


def sample_conversations(rng: random.Random, inbox_ids: list[int], count: int) -> list[tuple]:
    """`count` random conversations of the given inboxes: (uuid, last_seq)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id) FROM inbox_conversation WHERE inbox_id = ANY(%s)", [inbox_ids]
        )
        low, high = cursor.fetchone()
        found: list[tuple] = []
        while len(found) < count:
            ids = [rng.randint(low, high) for _ in range(count * 8)]
            cursor.execute(
                "SELECT uuid, last_seq FROM inbox_conversation "
                "WHERE id = ANY(%s) AND inbox_id = ANY(%s)",
                [ids, inbox_ids],
            )
            found += cursor.fetchall()
    return found[:count]


def sample_searches(rng: random.Random, inbox_ids: list[int], count: int) -> dict[str, list]:
    """Customer searches an agent types: part of a name, phone digits, a whole email; each
    of a customer of a conversation the agent may see: [(q, customer uuid)]."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id) FROM inbox_conversation WHERE inbox_id = ANY(%s)", [inbox_ids]
        )
        low, high = cursor.fetchone()
        ids = [rng.randint(low, high) for _ in range(count * 40)]
        cursor.execute(
            "SELECT c.uuid, c.display_name, i.kind, i.value FROM inbox_conversation v "
            "JOIN customers_customer c ON c.id = v.customer_id "
            "JOIN customers_identity i ON i.customer_id = c.id "
            "WHERE v.id = ANY(%s) AND v.inbox_id = ANY(%s)",
            [ids, inbox_ids],
        )
        rows = cursor.fetchall()
    kinds: dict[str, list] = {"name": [], "phone": [], "email": []}
    for uuid, name, kind, value in rows:
        if name and len(kinds["name"]) < count:
            if people.is_chinese(name):
                kinds["name"].append((name[:2], uuid))
            else:
                word = rng.choice(name.split())
                kinds["name"].append((word[: rng.randint(3, max(3, len(word)))].lower(), uuid))
        if kind == "phone" and len(kinds["phone"]) < count:
            digits = value[1:]
            length = rng.randint(7, 9)
            at = rng.randrange(0, len(digits) - length + 1)
            kinds["phone"].append((digits[at : at + length], uuid))
        if kind == "email" and len(kinds["email"]) < count:
            kinds["email"].append((value, uuid))
    return kinds


# The commonest generated names (customer_search.py's weights): at 1M conversations each
# matches thousands of customers; none of them is in any message.
COMMON_NAMES = ["王伟", "李", "james", "smith", "张伟", "mary", "王", "john"]
CJK_TEXT = ["发货", "谢谢", "请问什么时候", "小时内发货"]
LATIN_TEXT = ["tracking", "refunded second", "sale", "delivery address"]


def conversation_searches(
    rng: random.Random, inbox_ids: list[int], count: int
) -> dict[str, list[tuple[str, dict, object]]]:
    """What is typed into the conversation search: [(q, other parameters, uuid of a
    conversation the agent may see that must be found, when few match)]. Rare: a customer's
    whole Latin name or email, of a conversation of the agent's inboxes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id) FROM inbox_conversation WHERE inbox_id = ANY(%s)", [inbox_ids]
        )
        low, high = cursor.fetchone()
        ids = [rng.randint(low, high) for _ in range(count * 20)]
        cursor.execute(
            "SELECT v.uuid, c.display_name, i.kind, i.value FROM inbox_conversation v "
            "JOIN customers_customer c ON c.id = v.customer_id "
            "LEFT JOIN customers_identity i ON i.customer_id = c.id AND i.kind = 'email' "
            "WHERE v.id = ANY(%s) AND v.inbox_id = ANY(%s)",
            [ids, inbox_ids],
        )
        rows = cursor.fetchall()
    rare = []
    for uuid, name, _, email in rows:
        if email and rng.random() < 0.5:
            rare.append((email, {}, uuid))
        elif name and not people.is_chinese(name):
            rare.append((name, {}, uuid))
    rare = rare[:count]

    def cycle(values, params=None):
        return [(values[i % len(values)], params or {}, None) for i in range(count)]

    return {
        "common_name": cycle(COMMON_NAMES),
        "common_name_open": cycle(COMMON_NAMES, {"status": "open"}),
        "rare": rare,
        "cjk_text": cycle(CJK_TEXT),
        "latin_text": cycle(LATIN_TEXT),
    }


def time_baseline(ids: list[int]) -> list[float]:
    """A primary-key lookup of one conversation, all its columns."""
    columns = ", ".join(f'"{field.column}"' for field in Conversation._meta.concrete_fields)
    sql = f"SELECT {columns} FROM inbox_conversation WHERE id = %s"
    samples = []
    with connection.cursor() as cursor:
        for pk in ids[:5] + ids:
            start = time.perf_counter()
            cursor.execute(sql, [pk])
            cursor.fetchone()
            samples.append((time.perf_counter() - start) * 1000)
    return samples[5:]


class Console:
    """The console's requests, made in-process as a logged-in user."""

    def __init__(self, user: User):
        self.client = Client(SERVER_NAME="localhost")
        self.client.force_login(user)

    def get(self, url: str) -> dict:
        response = self.client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.content[:300]!r}")
        return response.json()

    def close(self) -> None:
        self.client.logout()


def request_kinds(staff: dict, agent: Console, supervisor: Console, rng, queries: int) -> dict:
    """Each kind: (console, [urls], check(url, answer) -> count of wrong answers)."""
    api = "/api/v1/conversations/"
    visible = set(staff["agent_inboxes"])
    agent_pk = staff["agent"].pk

    def agent_list(url: str, answer: dict) -> int:
        return sum(
            row["inbox"]["id"] not in visible and (row["assignee"] or {}).get("id") != agent_pk
            for row in answer["results"]
        )

    def mine(url: str, answer: dict) -> int:
        return sum((row["assignee"] or {}).get("id") != agent_pk for row in answer["results"])

    def unassigned(url: str, answer: dict) -> int:
        return agent_list(url, answer) + sum(
            row["assignee"] is not None for row in answer["results"]
        )

    def open_only(url: str, answer: dict) -> int:
        return sum(row["status"] != "open" for row in answer["results"])

    def agent_open(url: str, answer: dict) -> int:
        return agent_list(url, answer) + open_only(url, answer)

    def no_check(url: str, answer: dict) -> int:
        return 0

    first = supervisor.get(api + "?view=all&page_size=50")
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0] if first["next"] else ""
    page_two = api + f"?view=all&page_size=50&cursor={cursor}" if cursor else api

    conversations = sample_conversations(rng, staff["agent_inboxes"], queries)
    expected = {str(uuid): last_seq for uuid, last_seq in conversations}

    def newest(url: str, answer: dict) -> int:
        uuid = url.split("/")[4]
        seqs = [m["seq"] for m in answer["results"]]
        return seqs != list(range(max(1, expected[uuid] - 49), expected[uuid] + 1))

    def resumed(url: str, answer: dict) -> int:
        uuid, after = url.split("/")[4], int(url.rsplit("after=", 1)[1].split("&")[0])
        return [m["seq"] for m in answer["results"]] != list(range(after + 1, expected[uuid] + 1))

    def detail(url: str, answer: dict) -> int:
        return answer["id"] != url.split("/")[4]

    def found(url: str, answer: dict) -> int:
        # A fragment matching more than a page may leave its customer for a later page.
        rows = answer["results"]
        return len(rows) < 50 and searches_expected[url] not in {row["id"] for row in rows}

    searches = sample_searches(rng, staff["agent_inboxes"], queries)
    searches_expected = {}
    search_urls = {}
    for kind, pairs in searches.items():
        urls = []
        for q, uuid in pairs:
            url = "/api/v1/customers/?" + urlencode({"q": q})
            urls.append(url)
            if kind != "name":  # a name fragment's customer may sort below the first page
                searches_expected[url] = str(uuid)
        search_urls[kind] = urls

    def search_check(url: str, answer: dict) -> int:
        return found(url, answer) if url in searches_expected else 0

    # GET /api/v1/search/ (conversations): common names (thousands of customers each at
    # 1M), CJK and Latin message text, a rare name or an email, a common name with a filter.
    found_search = conversation_searches(rng, staff["agent_inboxes"], queries)
    search_api = "/api/v1/search/?"

    def newest_first(url: str, answer: dict) -> int:
        times = [row["last_message_at"] for row in answer["results"]]
        return sum(later > earlier for earlier, later in pairwise(times))

    def by_name(url: str, answer: dict) -> int:
        # Common names match no message text: every row must be its customer's name.
        q = parse_qs(urlsplit(url).query)["q"][0].upper()
        return sum(q not in (row["customer"]["name"] or "").upper() for row in answer["results"])

    def conv_check(extra):
        def check(url: str, answer: dict) -> int:
            return newest_first(url, answer) + extra(url, answer)

        return check

    def conv_found(url: str, answer: dict) -> int:
        expected_uuid = conversation_expected.get(url)
        rows = answer["results"]
        return bool(expected_uuid and len(rows) < 50) and expected_uuid not in {
            row["id"] for row in rows
        }

    conversation_expected = {}
    conversation_urls: dict[str, list[str]] = {}
    for kind, items in found_search.items():
        urls = []
        for q, params, uuid in items:
            url = search_api + urlencode({"q": q, "page_size": 50, **params})
            urls.append(url)
            if uuid:
                conversation_expected[url] = str(uuid)
        conversation_urls[kind] = urls
    conversation_checks = {
        "common_name": by_name,
        "common_name_open": lambda url, answer: by_name(url, answer) + open_only(url, answer),
        "rare": conv_found,
        "cjk_text": no_check,
        "latin_text": no_check,
    }

    repeat = [None] * queries
    kinds = {
        "list_agent_all": (agent, [api + "?view=all&page_size=50" for _ in repeat], agent_list),
        "list_agent_mine": (agent, [api + "?view=mine&page_size=50" for _ in repeat], mine),
        "list_agent_unassigned": (
            agent,
            [api + "?view=unassigned&page_size=50" for _ in repeat],
            unassigned,
        ),
        "list_agent_open": (
            agent,
            [api + "?view=all&status=open&page_size=50" for _ in repeat],
            agent_open,
        ),
        "list_supervisor_all": (
            supervisor,
            [api + "?view=all&page_size=50" for _ in repeat],
            no_check,
        ),
        "list_supervisor_open": (
            supervisor,
            [api + "?view=all&status=open&page_size=50" for _ in repeat],
            open_only,
        ),
        "list_supervisor_page_2": (supervisor, [page_two for _ in repeat], no_check),
        "conversation_detail": (agent, [f"{api}{u}/" for u, _ in conversations], detail),
        "messages_newest": (agent, [f"{api}{u}/messages/" for u, _ in conversations], newest),
        "messages_after_seq": (
            agent,
            [f"{api}{u}/messages/?after={max(0, s - 3)}&limit=200" for u, s in conversations],
            resumed,
        ),
    }
    for kind, urls in search_urls.items():
        kinds[f"search_{kind}_agent"] = (agent, urls, search_check)
        kinds[f"search_{kind}_supervisor"] = (supervisor, urls, search_check)
    for kind, urls in conversation_urls.items():
        check = conv_check(conversation_checks[kind])
        kinds[f"conv_search_{kind}_agent"] = (
            agent,
            urls,
            lambda url, answer, check=check: check(url, answer) + agent_list(url, answer),
        )
        kinds[f"conv_search_{kind}_supervisor"] = (supervisor, urls, check)
    return kinds


def explain(console: Console, url: str) -> tuple[int, str]:
    """(queries the request makes, EXPLAIN (ANALYZE, BUFFERS) of the two that take the
    longest to plan and run, of those on the dataset's tables)."""
    with CaptureQueriesContext(connection) as captured:
        console.get(url)
    queries = captured.captured_queries
    tables = ("inbox_conversation", "inbox_message", "customers_customer", "customers_identity")
    plans = []
    with connection.cursor() as cursor:
        for query in queries:
            if query["sql"].startswith("EXPLAIN") or not any(t in query["sql"] for t in tables):
                continue  # (the search asks the planner for estimates itself)
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            lines = [row[0] for row in cursor.fetchall()]
            ms = sum(
                float(line.split(":")[1].split()[0])
                for line in lines
                if line.startswith(("Planning Time", "Execution Time"))
            )
            plans.append((ms, f"{query['sql']}\n" + "\n".join(lines)))
    plans.sort(key=lambda item: -item[0])
    return len(queries), "\n\n".join(plan for _, plan in plans[:2])


def measure(staff: dict, rng: random.Random, queries: int, with_plans: bool) -> dict:
    agent, supervisor = Console(staff["agent"]), Console(staff["supervisor"])
    try:
        kinds = request_kinds(staff, agent, supervisor, rng, queries)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM inbox_conversation WHERE inbox_id = ANY(%s) "
                "ORDER BY id DESC LIMIT 1",
                [list(staff["inboxes"].values())],
            )
            high = cursor.fetchone()[0]
        base_ids = [high - rng.randrange(min(high, 10_000_000)) for _ in range(queries)]
        base = percentiles(time_baseline(base_ids))
        result = {"baseline_pk_lookup": base, "kinds": {}}
        plans = {}
        for kind, (console, urls, check) in kinds.items():
            for url in urls[:3]:  # warm-up
                console.get(url)
            samples, wrong, rows = [], 0, 0
            for url in urls:
                start = time.perf_counter()
                answer = console.get(url)
                samples.append((time.perf_counter() - start) * 1000)
                wrong += check(url, answer)
                rows += len(answer["results"]) if "results" in answer else 1
            figures = percentiles(samples)
            sql_count, plan = explain(console, max(zip(samples, urls, strict=True))[1])
            result["kinds"][kind] = {
                **figures,
                "ratio_p50": round(figures["p50_ms"] / base["p50_ms"], 1),
                "rows_per_request": round(rows / len(urls), 1),
                "sql_per_request": sql_count,
                "wrong": wrong,
            }
            if with_plans:
                plans[kind] = plan
        if with_plans:
            result["plans"] = plans
        return result
    finally:
        agent.close()
        supervisor.close()


# --- Report ----------------------------------------------------------------------------


def verdicts(report: dict) -> dict:
    """Per kind: p95 against 50 ms at each size, and the largest size against the smallest."""
    sizes = sorted(report["sizes"], key=int)
    smallest, largest = report["sizes"][sizes[0]], report["sizes"][sizes[-1]]
    out = {}
    for kind, figures in largest["kinds"].items():
        worst = max(report["sizes"][s]["kinds"][kind]["p95_ms"] for s in sizes)
        growth = None
        if len(sizes) > 1 and kind in smallest["kinds"]:
            growth = round(figures["p95_ms"] / smallest["kinds"][kind]["p95_ms"], 2)
        out[kind] = {
            "p95_target_met": worst <= TARGET_P95_MS,
            "growth": growth,
            "growth_target_met": None if growth is None else growth <= TARGET_GROWTH,
        }
    return out


def size_table(size: str, result: dict) -> str:
    base = result["baseline_pk_lookup"]
    stored = f", stored from the run of {result['measured_at']}" if result.get("stored") else ""
    load = result.get("load")
    how = f"loaded in {load['total_s']} s" if load else "kept from an earlier run"
    head = (
        f"## {int(size):,} conversations, {result['dataset']['messages']:,} messages, "
        f"{result['dataset']['customers']:,} customers ({how}{stored})"
    )
    rows = [["baseline: primary-key lookup (SQL)", base["p50_ms"], base["p95_ms"], 1, "", "", ""]]
    for kind, f in result["kinds"].items():
        met = "met" if f["p95_ms"] <= TARGET_P95_MS else "MISSED"
        rows.append(
            [
                kind,
                f["p50_ms"],
                f["p95_ms"],
                f["ratio_p50"],
                f"{met} (≤ {TARGET_P95_MS:g})",
                f"{f['rows_per_request']} / {f['sql_per_request']}",
                f["wrong"],
            ]
        )
    header = ["request", "p50 ms", "p95 ms", "p50 / baseline", "p95 target", "rows / SQL", "wrong"]
    return head + "\n\n" + markdown_table(header, rows)


def growth_table(report: dict, checks: dict) -> str:
    sizes = sorted(report["sizes"], key=int)
    rows = []
    for kind, check in checks.items():
        p95s = [report["sizes"][s]["kinds"].get(kind, {}).get("p95_ms") for s in sizes]
        met = {True: "met", False: "MISSED", None: "n/a"}
        growth = check["growth"]
        rows.append(
            [
                kind,
                *p95s,
                f"{growth}x {met[check['growth_target_met']]}" if growth else "n/a",
                met[check["p95_target_met"]],
            ]
        )
    header = ["request", *[f"p95 ms at {int(s):,}" for s in sizes]]
    header += [f"largest / smallest (≤ {TARGET_GROWTH}x)", f"p95 ≤ {TARGET_P95_MS:g} ms"]
    return markdown_table(header, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k conversations")
    parser.add_argument("--sizes", help="conversations, e.g. 10000,100000,1000000")
    parser.add_argument("--messages", type=int, default=10, help="per conversation, on average")
    parser.add_argument("--queries", type=int, help="requests per kind and size")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--drop", action="store_true", help="delete the kept dataset and stop")
    parser.add_argument("--no-keep", action="store_true", help="delete the dataset at the end")
    parser.add_argument(
        "--here",
        action="store_true",
        help="use DATABASE_URL's database as it is, not <its name>_scale",
    )
    args = parser.parse_args()

    print(f"database {DATABASE}", flush=True)
    if args.drop:
        print(f"dataset deleted in {dataset_drop():.1f} s")
        return 0
    sizes = args.sizes or ("10000,100000" if args.quick else "10000,100000,1000000")
    sizes = sorted(int(size) for size in sizes.split(","))
    queries = args.queries or (30 if args.quick else 60)

    record = record_read()
    if record and (record["messages_per"], record["seed"]) != (args.messages, args.seed):
        print("the kept dataset was generated differently: deleting it", flush=True)
        dataset_drop()
        record = None
    if record:
        print(
            f"reusing the kept dataset: {record['conversations']:,} conversations, "
            f"{record['messages']:,} messages (--drop deletes it)",
            flush=True,
        )
    staff = staff_ensure()
    if record is None:
        record = {
            "messages_per": args.messages,
            "seed": args.seed,
            "conversations": 0,
            "customers": 0,
            "identities": 0,
            "messages": 0,
            "figures": {},
        }
        record_write(staff, record)
    data = Dataset(staff, args.messages, args.seed)
    kept = record["conversations"]
    measured = [size for size in sizes if size >= kept] or [kept]
    report = {
        "benchmark": NAME,
        "database": DATABASE,
        "queries_per_kind": queries,
        "messages_per_conversation": args.messages,
        "target_p95_ms": TARGET_P95_MS,
        "target_growth": TARGET_GROWTH,
        "sizes": {},
    }
    for size in sizes:
        if size < measured[0] and str(size) in record["figures"]:
            report["sizes"][str(size)] = {**record["figures"][str(size)], "stored": True}
            print(f"{size:,}: below the kept dataset, figures of an earlier run", flush=True)
    rng = random.Random(args.seed)
    try:
        for size in measured:
            load = None
            if size > record["conversations"]:
                print(f"loading up to {size:,} conversations ...", flush=True)
                load = grow(data, record, size)
                record_write(staff, record)
                print(f"loaded in {load['total_s']} s: {load}", flush=True)
            result = measure(staff, rng, queries, with_plans=size == measured[-1])
            result["dataset"] = {
                k: record[k] for k in ("conversations", "customers", "identities", "messages")
            }
            result["load"] = load
            result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            report["sizes"][str(size)] = result
            record["figures"][str(size)] = {k: v for k, v in result.items() if k != "plans"}
            record_write(staff, record)
            print(size_table(str(size), result), flush=True)
    finally:
        if args.no_keep:
            print(f"dataset deleted in {dataset_drop():.1f} s", flush=True)

    checks = verdicts(report)
    report["verdicts"] = checks
    ordered = sorted(report["sizes"], key=int)
    largest = report["sizes"][str(measured[-1])]
    plans = "\n\n".join(
        f"### {kind}\n\n```\n{plan}\n```" for kind, plan in largest.get("plans", {}).items()
    )
    missed = [
        k for k, c in checks.items() if not c["p95_target_met"] or c["growth_target_met"] is False
    ]
    markdown = (
        f"# {NAME} ({queries} requests per kind and size; in-process API, DEBUG off; "
        f"database {DATABASE})\n\n"
        + "\n\n".join(size_table(size, report["sizes"][size]) for size in ordered)
        + "\n\n## Targets\n\n"
        + growth_table(report, checks)
        + f"\n\nMissed: {', '.join(missed) or 'none'}\n\n"
        + f"## Plans at {measured[-1]:,} conversations\n\n{plans}\n"
    )
    results_write(NAME, report, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
