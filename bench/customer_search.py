"""Customer search and identity lookup at 10k, 100k and 1M customers: p50/p95 of
`customers.selectors.identity_find` and of `customer_search` by each kind of query, against
a baseline measured in the same run: a primary-key lookup of one customer.

    python bench/customer_search.py --sizes 10000,100000,1000000 --queries 200
                                            (DATABASE_URL: a migrated database)

Customers (Latin and Chinese names, a few pinyin, some blank) and about two identities each
(E.164 phones from a dozen countries, emails, WhatsApp ids, widget visitor ids) are
bulk-loaded with COPY, growing one dataset from the smallest size to the largest, and
deleted at the end. A search is timed as the customer list API runs it: the first page of
50 (+1) of `customer_search(Customer.objects.active(), q)`, most recently seen first (its
cursor pagination; the related rows it prefetches are left out). Each kind mixes random
existing targets with ~10% misses, and checks that every target is among the results. At
the largest size the EXPLAIN (ANALYZE, BUFFERS) of each kind's slowest query is printed.
Target: p95 <= 50 ms at 1M for every search.

Writes bench/results/customer_search.{json,md}."""

import argparse
import json
import os
import random
import statistics
import sys
import time
import unicodedata
import uuid
from array import array
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

import phonenumbers  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models.functions import Coalesce  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from customers.models import Customer  # noqa: E402
from customers.selectors import customer_search, identity_find  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MARKER = '{"bench": "customer_search"}'  # in lead_source: how leftovers are found
CHUNK = 10_000  # customers generated from one seed: a dataset grows the same way every run
PAGE = 51  # what the API's cursor pagination fetches: page_size (50) + 1
TARGET_P95_MS = 50.0
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
SUPERUSER = False  # set by main(): whether foreign-key triggers may be skipped in cleanup()

# --- Names ---------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


LATIN_GIVEN = words(
    "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Maria José Juan Carlos Luis Ana "
    "Sofia Lucas Gabriel Mateo Valentina Camila Pedro João Mariana Fernanda Rafael Pierre Jean "
    "Marie Camille Louis Léa Hugo Chloé Hans Anna Lukas Leon Emma Mia Felix Giulia Marco "
    "Francesca Alessandro Priya Rahul Amit Anjali Arjun Deepak Siti Budi Dewi Agus Putri Ahmad "
    "Fatima Mohammed Omar Aisha Olivia Noah Liam Ava Ethan Isabella Daniel Laura Kevin Nicole "
    "Andrea Alejandro Diego Lucía Martina Yuki Haruto Minh Thi Jakub Zofia Ingrid Lars"
)
LATIN_FAMILY = words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres "
    "Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts "
    "Silva Santos Oliveira Souza Pereira Costa Ferreira Almeida Müller Schmidt Schneider Fischer "
    "Weber Meyer Wagner Becker Dubois Durand Lefebvre Moreau Laurent Bernard Rossi Russo Ferrari "
    "Esposito Bianchi Romano Sharma Patel Singh Kumar Gupta Reddy Santoso Wijaya Hidayat Saputra "
    "Kusuma Tan Lim Ng Wong Chan Kim Park Sato Suzuki Kowalski Nowak Johansson Larsen Tran"
)
# (family name, pinyin, share of the population in %), roughly the real frequencies.
CHINESE_FAMILY = [
    tuple(item.split(":"))
    for item in words(
        "王:wang:7.1 李:li:7.0 张:zhang:6.7 刘:liu:5.4 陈:chen:4.5 杨:yang:3.1 黄:huang:2.2 "
        "赵:zhao:2.0 吴:wu:2.0 周:zhou:1.9 徐:xu:1.3 孙:sun:1.3 马:ma:1.2 朱:zhu:1.2 胡:hu:1.1 "
        "郭:guo:1.1 何:he:1.0 高:gao:1.0 林:lin:1.0 罗:luo:0.9 郑:zheng:0.9 梁:liang:0.8 "
        "谢:xie:0.7 宋:song:0.6 唐:tang:0.6 许:xu:0.6 韩:han:0.5 冯:feng:0.5 邓:deng:0.5 "
        "曹:cao:0.5 彭:peng:0.5 曾:zeng:0.5 肖:xiao:0.5 田:tian:0.4 董:dong:0.4 袁:yuan:0.4 "
        "潘:pan:0.4 于:yu:0.4 蒋:jiang:0.4 蔡:cai:0.4 余:yu:0.4 杜:du:0.4 叶:ye:0.4 程:cheng:0.4 "
        "苏:su:0.3 魏:wei:0.3 吕:lv:0.3 丁:ding:0.3 任:ren:0.3 沈:shen:0.3 姚:yao:0.3 卢:lu:0.3 "
        "姜:jiang:0.3 崔:cui:0.3 钟:zhong:0.3 谭:tan:0.3 陆:lu:0.3 汪:wang:0.3 范:fan:0.3 "
        "金:jin:0.3 石:shi:0.2 廖:liao:0.2 贾:jia:0.2 夏:xia:0.2 韦:wei:0.2 付:fu:0.2 方:fang:0.2 "
        "白:bai:0.2 邹:zou:0.2 孟:meng:0.2 熊:xiong:0.2 秦:qin:0.2 邱:qiu:0.2 江:jiang:0.2 "
        "尹:yin:0.2 薛:xue:0.2 闫:yan:0.2 段:duan:0.2 雷:lei:0.2 侯:hou:0.2 龙:long:0.2 "
        "史:shi:0.2 陶:tao:0.1 黎:li:0.1 贺:he:0.1 顾:gu:0.1 毛:mao:0.1 郝:hao:0.1 龚:gong:0.1 "
        "邵:shao:0.1 万:wan:0.1 欧阳:ouyang:0.05 司马:sima:0.02 上官:shangguan:0.02 "
        "诸葛:zhuge:0.02"
    )
]
CHINESE_GIVEN = [
    tuple(item.split(":"))
    for item in words(
        "伟:wei 芳:fang 娜:na 敏:min 静:jing 丽:li 强:qiang 磊:lei 军:jun 洋:yang 勇:yong "
        "艳:yan 杰:jie 娟:juan 涛:tao 明:ming 超:chao 秀:xiu 霞:xia 平:ping 刚:gang 桂:gui "
        "英:ying 华:hua 文:wen 玉:yu 兰:lan 红:hong 建:jian 国:guo 志:zhi 海:hai 林:lin 燕:yan "
        "鹏:peng 辉:hui 宇:yu 浩:hao 欣:xin 婷:ting 雪:xue 梅:mei 琳:lin 晨:chen 阳:yang 子:zi "
        "涵:han 轩:xuan 博:bo 睿:rui 思:si 雨:yu 嘉:jia 怡:yi 佳:jia 俊:jun 凯:kai 峰:feng "
        "飞:fei 斌:bin 宁:ning 东:dong 亮:liang 成:cheng 健:jian 云:yun 波:bo 丹:dan 萍:ping "
        "倩:qian 颖:ying 慧:hui 晓:xiao 小:xiao 春:chun 金:jin 德:de 立:li 永:yong 新:xin "
        "振:zhen 天:tian 一:yi 家:jia 瑞:rui 梓:zi 诗:shi 可:ke 欢:huan 悦:yue 昊:hao 然:ran "
        "泽:ze 铭:ming 航:hang 晴:qing 璐:lu 蕾:lei 薇:wei 婧:jing 莉:li 君:jun 彬:bin 玲:ling"
    )
]
# Zipf-like weights: the first names of a list are the most common.
LATIN_GIVEN_W = list(accumulate(1 / (rank + 1) ** 0.7 for rank in range(len(LATIN_GIVEN))))
LATIN_FAMILY_W = list(accumulate(1 / (rank + 1) ** 0.7 for rank in range(len(LATIN_FAMILY))))
CHINESE_FAMILY_W = list(accumulate(float(share) for _, _, share in CHINESE_FAMILY))
CHINESE_GIVEN_W = list(accumulate(1 / (rank + 1) ** 0.5 for rank in range(len(CHINESE_GIVEN))))

LATIN_DOMAINS = words(
    "gmail.com yahoo.com hotmail.com outlook.com icloud.com gmx.de web.de orange.fr libero.it "
    "uol.com.br yahoo.co.id rediffmail.com protonmail.com mail.ru acme-corp.com example.org"
)
CHINESE_DOMAINS = words("163.com 126.com sina.com foxmail.com gmail.com outlook.com")


def _digits(rng: random.Random, count: int) -> str:
    return str(rng.randrange(10**count)).zfill(count)


# Mobile numbers of each country, valid for libphonenumber in >80% of draws.
PHONE_PATTERNS = {
    "CN": lambda r: (
        "+86" + r.choice(["130", "133", "135", "136", "138", "139", "150", "151"]) + _digits(r, 8)
    ),
    "US": lambda r: (
        "+1"
        + r.choice(["212", "305", "312", "415", "512", "617", "646", "917"])
        + str(r.randrange(2, 10))
        + _digits(r, 6)
    ),
    "GB": lambda r: "+447" + r.choice("45789") + _digits(r, 8),
    "DE": lambda r: (
        "+49"
        + r.choice(["151", "152", "160", "170", "171", "172", "176"])
        + _digits(r, r.choice([7, 8]))
    ),
    "BR": lambda r: "+55" + r.choice(["11", "21", "31", "41", "51", "61"]) + "9" + _digits(r, 8),
    "IN": lambda r: "+91" + r.choice("6789") + _digits(r, 9),
    "ID": lambda r: (
        "+628"
        + r.choice(["11", "12", "13", "21", "52", "77", "81", "95"])
        + _digits(r, r.choice([7, 8]))
    ),
    "MX": lambda r: "+52" + r.choice(["55", "33", "81"]) + _digits(r, 8),
    "FR": lambda r: "+33" + r.choice("67") + _digits(r, 8),
    "SG": lambda r: "+65" + r.choice("89") + _digits(r, 7),
    "HK": lambda r: "+852" + r.choice("569") + _digits(r, 7),
    "TW": lambda r: "+8869" + _digits(r, 8),
}
LATIN_COUNTRIES = ["US", "GB", "DE", "BR", "IN", "ID", "MX", "FR", "SG"]
LATIN_COUNTRIES_W = list(accumulate([25, 10, 10, 12, 12, 10, 8, 8, 5]))
CHINESE_COUNTRIES = ["CN", "HK", "TW", "SG", "US"]
CHINESE_COUNTRIES_W = list(accumulate([75, 8, 8, 5, 4]))


def random_uuid(rng: random.Random) -> str:
    text = f"{rng.getrandbits(128):032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:]}"


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


class Generator:
    """Customer number `n` always comes out the same (seeded per chunk of CHUNK), so a
    dataset grows from 10k to 1M by appending. Phones and emails are kept unique."""

    def __init__(self, seed: int = 20250101):
        self.seed = seed
        self.seen: set[str] = set()

    def unique(self, value: str, rng: random.Random, extend) -> str:
        while value in self.seen:
            value = extend(value, rng)
        self.seen.add(value)
        return value

    def customer(self, rng: random.Random, n: int) -> tuple[str, str, list[tuple[str, str]]]:
        """(display name, country, [(kind, value), ...]) of customer number n."""
        roll = rng.random()
        if roll < 0.47:
            style = "latin"
            given = rng.choices(LATIN_GIVEN, cum_weights=LATIN_GIVEN_W)[0]
            family = rng.choices(LATIN_FAMILY, cum_weights=LATIN_FAMILY_W)[0]
            name = f"{given} {family}"
            mail_words = (ascii_fold(given), ascii_fold(family))
            country = rng.choices(LATIN_COUNTRIES, cum_weights=LATIN_COUNTRIES_W)[0]
        else:
            family, family_pinyin, _ = rng.choices(CHINESE_FAMILY, cum_weights=CHINESE_FAMILY_W)[0]
            chars = rng.choices(
                CHINESE_GIVEN, cum_weights=CHINESE_GIVEN_W, k=1 if rng.random() < 0.3 else 2
            )
            given = "".join(char for char, _ in chars)
            given_pinyin = "".join(pinyin for _, pinyin in chars)
            mail_words = (given_pinyin, family_pinyin)
            country = rng.choices(CHINESE_COUNTRIES, cum_weights=CHINESE_COUNTRIES_W)[0]
            if roll < 0.90:
                style, name = "chinese", family + given
            else:  # written in pinyin, given name first
                style = "pinyin"
                name = f"{given_pinyin.capitalize()} {family_pinyin.capitalize()}"
        if rng.random() < 0.05:
            name = ""  # a widget visitor who never said who they are

        identities: list[tuple[str, str]] = []
        if rng.random() < 0.65:
            phone = self.unique(
                PHONE_PATTERNS[country](rng), rng, lambda _v, r: PHONE_PATTERNS[country](r)
            )
            identities.append(("phone", phone))
            if country != "CN" and rng.random() < 0.4:
                identities.append(("whatsapp", phone[1:]))
        if rng.random() < 0.6:
            identities.append(("email", self.email(rng, style, mail_words)))
        if rng.random() < 0.45 or not identities:
            visitor = random_uuid(rng)
            identities.append(("web_visitor", visitor))
        return name, country, identities

    def email(self, rng: random.Random, style: str, words: tuple[str, str]) -> str:
        given, family = words
        if style != "latin" and rng.random() < 0.35:
            local, domain = str(rng.randrange(10**5, 10**10)), "qq.com"
        else:
            form = rng.randrange(4)
            local = (
                f"{given}.{family}",
                f"{given}{family}",
                f"{given[:1]}{family}",
                f"{family}_{given}",
            )[form]
            if rng.random() < 0.7:
                local += str(rng.randrange(1, 2000))
            domain = rng.choice(CHINESE_DOMAINS if style != "latin" else LATIN_DOMAINS)
        return self.unique(
            f"{local}@{domain}", rng, lambda v, r: v.replace("@", str(r.randrange(10)) + "@", 1)
        )

    def chunk(self, number: int) -> list[tuple]:
        """Customers number*CHUNK ... +CHUNK-1: (offset, name, country, identities, uuid,
        merged-into offset or None, seconds after EPOCH created, seconds more last seen)."""
        rng = random.Random(self.seed * 1_000_003 + number)
        rows = []
        for offset in range(CHUNK):
            name, country, identities = self.customer(rng, number * CHUNK + offset)
            # ~0.5% were merged into an older customer (their identities moved there).
            merged = rng.randrange(offset) if offset and rng.random() < 0.005 else None
            rows.append(
                (
                    offset,
                    name,
                    country,
                    [] if merged is not None else identities,
                    random_uuid(rng),
                    merged,
                    90 * (number * CHUNK + offset) + rng.randrange(60),
                    rng.randrange(86400 * 60),
                )
            )
        return rows


# --- Loading ---------------------------------------------------------------------------


def is_superuser() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return bool(cursor.fetchone()[0])


def without_triggers(cursor, on: bool) -> None:
    """As a superuser, skip the foreign-key triggers while deleting our customers: the
    checks that nothing in the nine tables referring to customers points at them took 7.7 s
    per 100k customers (0.2 s without). COPY keeps its checks: they cost little."""
    if SUPERUSER:
        cursor.execute(f"SET session_replication_role = {'replica' if on else 'origin'}")


def reserve_ids(cursor, count: int) -> int:
    """The first of `count` consecutive customer ids nobody else will get."""
    cursor.execute("SELECT pg_get_serial_sequence('customers_customer', 'id')")
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s)", [sequence])
    first = cursor.fetchone()[0]
    cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


def secondary_indexes(cursor) -> list[tuple[str, list[str]]]:
    """(how to drop, how to create again) every index of the two tables but their primary
    keys, which foreign keys depend on. Unique ones are constraints: dropped and added.
    Statistics targets set on an index's columns (migration 0004) are set again."""
    cursor.execute(
        "SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, "
        "pg_get_indexdef(i.indexrelid), c.conname, pg_get_constraintdef(c.oid), "
        "(SELECT array_agg(format('ALTER INDEX %s ALTER COLUMN %s SET STATISTICS %s', "
        "   i.indexrelid::regclass, a.attnum, a.attstattarget)) FROM pg_attribute a "
        "   WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0) "
        "FROM pg_index i "
        "LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'u' "
        "WHERE i.indrelid IN ('customers_customer'::regclass, 'customers_identity'::regclass) "
        "AND NOT i.indisprimary ORDER BY 2"
    )
    indexes = []
    for table, index, index_def, constraint, constraint_def, targets in cursor.fetchall():
        if constraint:
            drop = f"ALTER TABLE {table} DROP CONSTRAINT {constraint}"
            create = f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {constraint_def}"
        else:
            drop, create = f"DROP INDEX {index}", index_def
        indexes.append((drop, [create, *(targets or [])]))
    return indexes


def load(generator: Generator, dataset: dict, size: int) -> float:
    """Grows the dataset to `size` customers; returns the seconds it took. In one
    transaction, so that an interrupted load changes nothing: drop the secondary indexes,
    COPY, build them again (much faster than updating two trigram indexes and random
    unique keys row by row); then VACUUM ANALYZE, so that the planner knows the new rows."""
    start = time.perf_counter()
    first_chunk = dataset["customers"] // CHUNK
    last_chunk = -(-size // CHUNK)
    customer_columns = (
        "id, created_at, updated_at, display_name, language, country, timezone, lead_status, "
        "first_seen_at, last_seen_at, is_blocked, attributes, avatar_url, first_touch, "
        "last_touch, lead_channel, lead_source, lead_via, merged_into_id, uuid"
    )
    identity_columns = (
        "created_at, updated_at, kind, value, verified, customer_id, details, verification"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Otherwise checked at commit; pending checks would forbid building the indexes.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        indexes = secondary_indexes(cursor)
        for drop, _ in indexes:
            cursor.execute(drop)
        for number in range(first_chunk, last_chunk):
            if dataset.get("chunk", (None,))[0] != number:
                dataset["chunk"] = (number, generator.chunk(number))
                dataset["chunk_ids"] = {}  # offset -> id, for the merged ones to point at
            skip = dataset["customers"] - number * CHUNK
            rows = dataset["chunk"][1][skip : size - number * CHUNK]
            first_id = reserve_ids(cursor, len(rows))
            customers, identities = [], []
            for offset, name, country, ids, public_id, merged, created_s, seen_s in rows:
                pk = dataset["chunk_ids"][offset] = first_id + offset - skip
                created = (EPOCH + timedelta(seconds=created_s)).isoformat()
                seen = (EPOCH + timedelta(seconds=created_s + seen_s)).isoformat()
                merged_into = r"\N" if merged is None else str(dataset["chunk_ids"][merged])
                customers.append(
                    f"{pk}\t{created}\t{seen}\t{name}\t\t{country}\t\tnone\t{created}\t{seen}"
                    f"\tf\t{{}}\t\t{{}}\t{{}}\t\t{MARKER}\t\t{merged_into}\t{public_id}\n"
                )
                if merged is None:
                    dataset["ids"].append(pk)
                for kind, value in ids:
                    identities.append(
                        f"{created}\t{created}\t{kind}\t{value}\tt\t{pk}\t{{}}\tchannel\n"
                    )
            with cursor.copy(f"COPY customers_customer ({customer_columns}) FROM STDIN") as copy:
                copy.write("".join(customers))
            with cursor.copy(f"COPY customers_identity ({identity_columns}) FROM STDIN") as copy:
                copy.write("".join(identities))
            dataset["customers"] += len(rows)
            dataset["identities"] += len(identities)
        copied = time.perf_counter()
        for _, create in indexes:
            for statement in create:
                cursor.execute(statement)
    indexed = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE customers_customer")
        cursor.execute("VACUUM ANALYZE customers_identity")
    print(
        f"COPY {copied - start:.1f} s, indexes {indexed - copied:.1f} s, "
        f"VACUUM ANALYZE {time.perf_counter() - indexed:.1f} s",
        flush=True,
    )
    return time.perf_counter() - start


def cleanup() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        without_triggers(cursor, True)
        cursor.execute(
            "DELETE FROM customers_identity WHERE customer_id IN "
            "(SELECT id FROM customers_customer WHERE lead_source @> %s::jsonb)",
            [MARKER],
        )
        cursor.execute("DELETE FROM customers_customer WHERE lead_source @> %s::jsonb", [MARKER])
        without_triggers(cursor, False)


# --- Queries ---------------------------------------------------------------------------


def summary(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max_ms": round(ordered[-1], 3),
    }


def targets(dataset: dict, rng: random.Random, count: int) -> list[dict]:
    """`count` random active customers: id, name and identities."""
    ids = rng.sample(range(len(dataset["ids"])), min(count, len(dataset["ids"])))
    ids = [dataset["ids"][i] for i in ids]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id, c.display_name, i.kind, i.value FROM customers_customer c "
            "LEFT JOIN customers_identity i ON i.customer_id = c.id WHERE c.id = ANY(%s)",
            [ids],
        )
        found: dict[int, dict] = {}
        for pk, name, kind, value in cursor.fetchall():
            entry = found.setdefault(pk, {"id": pk, "name": name, "identities": []})
            if kind:
                entry["identities"].append((kind, value))
    return [found[pk] for pk in ids if pk in found]


def is_chinese(text: str) -> bool:
    return bool(text) and "\u4e00" <= text[0] <= "\u9fff"


def national(e164: str) -> tuple[str, str] | None:
    """The number as a local caller writes it, and its region; None if libphonenumber
    would not accept it (then `customer_search` could not read the local form either)."""
    number = phonenumbers.parse(e164)
    if not phonenumbers.is_valid_number(number):
        return None
    region = phonenumbers.region_code_for_number(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL), region


def email_typed(email: str, rng: random.Random) -> str:
    """The address as someone may type it: different case, spaces around."""
    local, domain = email.split("@")
    return f" {local.capitalize()}@{domain.upper() if rng.random() < 0.3 else domain} "


def miss_phone(rng: random.Random) -> tuple[str, str]:
    while True:
        region = rng.choice(["CN", "US", "GB", "DE", "BR"])
        e164 = PHONE_PATTERNS[region](rng)
        local = national(e164)
        if local:
            return local


def build_queries(dataset: dict, rng: random.Random, count: int) -> dict[str, list[dict]]:
    """For each kind: [{"q", "region", "expect" (a customer id, or None for a miss)}]."""
    kinds = {
        kind: []
        for kind in (
            "phone_local",
            "phone_fragment",
            "email_exact",
            "email_prefix",
            "name_latin",
            "name_chinese_prefix",
            "identity_value",
        )
    }
    misses = max(1, count // 10)
    hits = count - misses
    for target in targets(dataset, rng, count * 12):
        name, pk = target["name"], target["id"]
        by_kind: dict[str, list[str]] = {}
        for kind, value in target["identities"]:
            by_kind.setdefault(kind, []).append(value)
        phone = by_kind.get("phone", [None])[0]
        if phone and len(kinds["phone_local"]) < hits and (local := national(phone)):
            kinds["phone_local"].append({"q": local[0], "region": local[1], "expect": pk})
        if phone and len(kinds["phone_fragment"]) < hits:
            digits = phone[1:]
            length = rng.randint(6, 8)
            start = rng.randrange(0, len(digits) - length + 1)
            kinds["phone_fragment"].append({"q": digits[start : start + length], "expect": pk})
        if (email := by_kind.get("email", [None])[0]) and len(kinds["email_exact"]) < hits:
            kinds["email_exact"].append({"q": email_typed(email, rng), "expect": pk})
        if email and len(kinds["email_prefix"]) < hits:
            local, domain = email.split("@")
            kinds["email_prefix"].append(
                {"q": f"{local}@{domain[: rng.randrange(0, 3)]}", "expect": pk}
            )
        if name and not is_chinese(name) and len(kinds["name_latin"]) < hits:
            word = rng.choice(name.split())
            if len(word) >= 3:
                fragment = word[: rng.randint(3, len(word))]
                kinds["name_latin"].append({"q": fragment.lower(), "expect": pk})
        if is_chinese(name) and len(name) >= 2 and len(kinds["name_chinese_prefix"]) < hits:
            kinds["name_chinese_prefix"].append({"q": name[:2], "expect": pk})
        other = by_kind.get("web_visitor", []) + by_kind.get("whatsapp", [])
        if other and len(kinds["identity_value"]) < hits:
            kinds["identity_value"].append({"q": rng.choice(other), "expect": pk})
    for _ in range(misses):
        local, region = miss_phone(rng)
        kinds["phone_local"].append({"q": local, "region": region, "expect": None})
        kinds["phone_fragment"].append({"q": "0000" + _digits(rng, 3), "expect": None})
        word = "".join(rng.choice("qxzjvk") for _ in range(6))
        kinds["email_exact"].append({"q": f"{word}@example.net", "expect": None})
        kinds["email_prefix"].append({"q": f"{word}@ex", "expect": None})
        kinds["name_latin"].append({"q": word[:4], "expect": None})
        kinds["name_chinese_prefix"].append({"q": "龘" + rng.choice("靐齉爩"), "expect": None})
        kinds["identity_value"].append(
            {"q": str(uuid.UUID(int=rng.getrandbits(128))), "expect": None}
        )
    for queries in kinds.values():
        rng.shuffle(queries)
    return kinds


def search_page(q: str, region: str | None) -> list[Customer]:
    """The first page of the customer list API searching `q` (customers/api.py,
    CustomerListApi: most recently seen first, cursor-paginated)."""
    found = customer_search(Customer.objects.active(), q, region=region)
    found = found.annotate(recency=Coalesce("last_seen_at", "created_at"))
    return list(found.order_by("-recency", "-id")[:PAGE])


def time_searches(queries: list[dict]) -> tuple[list[float], int]:
    """Milliseconds per query, and how many expected customers were not found."""
    samples, missing = [], 0
    for query in queries[:5]:  # warm-up
        search_page(query["q"], query.get("region"))
    for query in queries:
        start = time.perf_counter()
        page = search_page(query["q"], query.get("region"))
        samples.append((time.perf_counter() - start) * 1000)
        expect = query["expect"]
        if expect is not None and all(customer.pk != expect for customer in page):
            found = customer_search(
                Customer.objects.active(), query["q"], region=query.get("region")
            )
            missing += not found.filter(pk=expect).exists()
    return samples, missing


def time_baseline(ids: list[int], warm_up: int = 5) -> list[float]:
    columns = ", ".join(f'"{field.column}"' for field in Customer._meta.concrete_fields)
    sql = f"SELECT {columns} FROM customers_customer WHERE id = %s"
    samples = []
    with connection.cursor() as cursor:
        for pk in ids[:warm_up] + ids:
            start = time.perf_counter()
            cursor.execute(sql, [pk])
            cursor.fetchone()
            samples.append((time.perf_counter() - start) * 1000)
    return samples[warm_up:]


def time_identity_find(pairs: list[tuple[str, str, int | None]]) -> tuple[list[float], int]:
    samples, wrong = [], 0
    for kind, value, _ in pairs[:5]:
        identity_find(kind, value)
    for kind, value, expect in pairs:
        start = time.perf_counter()
        identity = identity_find(kind, value)
        customer_id = identity.customer.pk if identity else None  # already joined: no query
        samples.append((time.perf_counter() - start) * 1000)
        wrong += customer_id != expect
    return samples, wrong


def explain(run) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the queries `run` makes."""
    with CaptureQueriesContext(connection) as captured:
        run()
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plans.append(query["sql"] + "\n" + "\n".join(row[0] for row in cursor.fetchall()))
    return "\n\n".join(plans)


def measure(dataset: dict, rng: random.Random, count: int, with_plans: bool) -> dict:
    queries = build_queries(dataset, rng, count)
    pairs = []
    for target in targets(dataset, rng, count * 2):
        if target["identities"] and len(pairs) < count - max(1, count // 10):
            kind, value = rng.choice(target["identities"])
            pairs.append((kind, value, target["id"]))
    while len(pairs) < count:
        pairs.append(("phone", miss_phone(rng)[0], None))
    rng.shuffle(pairs)
    base_ids = [rng.choice(dataset["ids"]) for _ in range(count)]

    base = summary(time_baseline(base_ids))
    found_samples, wrong = time_identity_find(pairs)
    result = {
        "baseline_pk_lookup": base,
        "identity_find": {**summary(found_samples), "queries": len(pairs), "wrong": wrong},
        "search": {},
    }
    slowest = {}
    for kind, kind_queries in queries.items():
        samples, missing = time_searches(kind_queries)
        slowest[kind] = max(zip(samples, range(len(samples)), kind_queries, strict=True))
        result["search"][kind] = {
            **summary(samples),
            "queries": len(kind_queries),
            "misses_asked": sum(query["expect"] is None for query in kind_queries),
            "not_found": missing,
            "ratio_p50": round(statistics.median(samples) / base["p50_ms"], 1),
        }
    if with_plans:
        kind, value, _ = next(pair for pair in pairs if pair[2] is not None)
        result["plans"] = {
            "baseline_pk_lookup": explain(lambda: time_baseline(base_ids[:1], warm_up=0)),
            "identity_find": explain(lambda: identity_find(kind, value)),
        }
        # For each kind, the plan of its slowest query in this run (now, with warm caches).
        for kind, (ms, _, query) in slowest.items():
            plan = explain(lambda query=query: search_page(query["q"], query.get("region")))
            result["plans"][kind] = f"-- slowest in the run: {query['q']!r}, {ms:.1f} ms\n{plan}"
    return result


def main() -> int:
    global SUPERUSER
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200, help="per kind and size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep", action="store_true", help="leave the customers in (the next run deletes them)"
    )
    parser.add_argument("--quick", action="store_true", help="10k and 100k, 100 queries")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.queries = "10000,100000", 100
    sizes = sorted(int(size) for size in args.sizes.split(","))

    SUPERUSER = is_superuser()
    cleanup()  # leftovers of an interrupted run
    generator = Generator()
    dataset = {"customers": 0, "identities": 0, "ids": array("q")}
    rng = random.Random(args.seed)
    report = {
        "benchmark": "customer_search",
        "queries_per_kind": args.queries,
        "page": PAGE,
        "target_p95_ms": TARGET_P95_MS,
        "sizes": {},
    }
    try:
        for size in sizes:
            seconds = load(generator, dataset, size)
            print(
                f"loaded {dataset['customers']} customers, {dataset['identities']} identities "
                f"in {seconds:.1f} s",
                flush=True,
            )
            result = measure(dataset, rng, args.queries, with_plans=size == sizes[-1])
            result.update(
                customers=dataset["customers"],
                identities=dataset["identities"],
                load_s=round(seconds, 1),
            )
            report["sizes"][str(size)] = result
            print(table(size, result), flush=True)
    finally:
        if not args.keep:
            cleanup()

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "customer_search.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    largest = report["sizes"][str(sizes[-1])]
    plans = "\n\n".join(f"## {kind}\n\n```\n{plan}\n```" for kind, plan in largest["plans"].items())
    markdown = (
        f"# customer_search ({args.queries} queries per kind and size)\n\n"
        + "\n\n".join(table(size, report["sizes"][str(size)]) for size in sizes)
        + f"\n\n# Plans at {sizes[-1]} customers\n\n{plans}\n"
    )
    (RESULTS / "customer_search.md").write_text(markdown)
    print(f"\n# Plans at {sizes[-1]} customers\n\n{plans}")
    slow = [
        kind for kind, figures in largest["search"].items() if figures["p95_ms"] > TARGET_P95_MS
    ]
    print(f"\nOver the {TARGET_P95_MS:g} ms p95 target at {sizes[-1]}: {', '.join(slow) or 'none'}")
    return 0


def table(size: int, result: dict) -> str:
    base = result["baseline_pk_lookup"]
    rows = [
        f"## {size} customers, {result['identities']} identities (loaded in {result['load_s']} s)",
        "",
        "| query | p50 ms | p95 ms | p50 / baseline | targets not found |",
        "|---|---|---|---|---|",
        f"| baseline: primary-key lookup | {base['p50_ms']} | {base['p95_ms']} | 1 | |",
    ]
    found = result["identity_find"]
    rows.append(
        f"| identity_find | {found['p50_ms']} | {found['p95_ms']} "
        f"| {round(found['p50_ms'] / base['p50_ms'], 1)} | {found['wrong']} wrong |"
    )
    for kind, figures in result["search"].items():
        rows.append(
            f"| search: {kind} | {figures['p50_ms']} | {figures['p95_ms']} "
            f"| {figures['ratio_p50']} | {figures['not_found']} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
