from django.contrib.postgres.operations import CreateExtension, TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    """pg_trgm for fuzzy search (names, phones); pgvector for knowledge-base embeddings."""

    initial = True
    dependencies: list = []

    operations = [
        TrigramExtension(),
        CreateExtension("vector"),
    ]
