import django.db.models.functions.comparison
from django.db import migrations, models

# Names are matched with LIKE on upper(display_name), served by the two expression indexes.
# The planner estimates how many customers a pattern matches from the statistics ANALYZE
# keeps for those expressions: with the default target (100 common values, 100 histogram
# entries) a common fragment ("ZHANG", "KAREN") looked up to 100 times rarer than it is at
# 1M customers, and a page in the list's order was then sorted out of thousands of fetched
# rows instead of read in order. With 1000 the estimates were within about a third
# (bench/customer_search.py); ANALYZE of 1M customers takes a few seconds longer.
NAME_INDEXES = ("customer_name_trgm_idx", "customer_name_prefix_idx")


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_profile_and_merges")]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                models.OrderBy(
                    django.db.models.functions.comparison.Coalesce("last_seen_at", "created_at"),
                    descending=True,
                ),
                models.OrderBy(models.F("id"), descending=True),
                name="customer_recency_idx",
            ),
        ),
        migrations.RunSQL(
            sql=[f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS 1000" for name in NAME_INDEXES],
            reverse_sql=[
                f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS -1" for name in NAME_INDEXES
            ],
        ),
    ]
