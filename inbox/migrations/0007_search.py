"""Full-text search of messages, Chinese included (docs/search.md).

`sb_search_text(text)` rewrites a text for PostgreSQL's `simple` parser: every run of CJK
characters (Han, kana, Hangul) becomes its overlapping bigrams followed by its last
character ("我想申请退款" -> "我想 想申 申请 请退 退款 款"); everything else is kept as it is
(Latin words, numbers, emails: the parser splits them and lower-cases them). Every CJK
character thus starts exactly one token, so a one-character query is a prefix query
(`'退':*`), a two-character query one token and a longer one a phrase of its bigrams.
The query side is `inbox.search.search_query`, which must split text the same way.

The function is IMMUTABLE (it reads nothing but its argument; regular expressions in
PostgreSQL do not depend on the locale for these explicit ranges), so the GIN index is on the
expression `to_tsvector('simple', sb_search_text(body))` and needs no column or trigger;
queries must spell the expression exactly so (`inbox.search.MessageSearchVector`).
Changing the function means a new function name and a new index (REINDEX alone would
leave rows written in between tokenised by the old one, if it were replaced in place).
"""

from django.db import migrations

CJK = (
    r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
    r"\U00020000-\U0003134f"
)

# Three regular-expression passes, no subquery (2.5x faster than splitting the runs with
# regexp_matches and generate_series; the same tokens on 1M test messages):
# 1. space around every CJK run; 2. double every CJK character that follows another one
# ("ABCD" -> "ABBCCDD"); 3. a space after each pair, left to right ("AB BC CD D").
CREATE_FUNCTION = rf"""
CREATE OR REPLACE FUNCTION sb_search_text(body text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT regexp_replace(
    regexp_replace(
        regexp_replace(body, '([{CJK}]+)', ' \1 ', 'g'),
        '(?<=[{CJK}])([{CJK}])', '\1\1', 'g'
    ),
    '([{CJK}][{CJK}])', '\1 ', 'g'
)
$$;
"""

CREATE_INDEX = """
CREATE INDEX IF NOT EXISTS message_search_idx ON inbox_message
USING gin (to_tsvector('simple'::regconfig, sb_search_text(body)));
"""


class Migration(migrations.Migration):
    dependencies = [("inbox", "0006_inbox_workflow")]

    operations = [
        migrations.RunSQL(CREATE_FUNCTION, "DROP FUNCTION IF EXISTS sb_search_text(text);"),
        migrations.RunSQL(CREATE_INDEX, "DROP INDEX IF EXISTS message_search_idx;"),
    ]
