"""Each benchmark runs once at its smallest size, so that none can rot."""

import json

from tests.helpers import ROOT, database_url_for, run_python

RUN_BENCH = (
    "import runpy, sys; sys.argv = ['bench', '--messages', '20'];"
    "runpy.run_path('bench/message_append.py', run_name='__main__')"
)


def test_message_append_benchmark_reports_against_its_baseline(django_db_setup):
    from django.db import connection

    result = run_python(
        RUN_BENCH,
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        DJANGO_SETTINGS_MODULE="config.settings.test",
    )
    assert result.returncode == 0, result.stderr
    assert "Median ratio" in result.stdout
    report = json.loads((ROOT / "bench" / "results" / "message_append.json").read_text())
    assert report["messages"] == 20
    assert report["baseline_bare_insert"]["median_ms"] > 0
    assert report["message_append"]["median_ms"] > 0
