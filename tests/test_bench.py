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


def run_bench(script: str, *args: str):
    from django.db import connection

    code = (
        f"import runpy, sys; sys.argv = ['bench', *{list(args)!r}];"
        f"runpy.run_path('bench/{script}', run_name='__main__')"
    )
    result = run_python(
        code,
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        DJANGO_SETTINGS_MODULE="config.settings.test",
    )
    assert result.returncode == 0, result.stderr
    return result


def test_channel_layer_burst_benchmark_compares_both_layers(django_db_setup):
    run_bench("channel_layer_burst.py", "--burst", "200", "--runs", "1")
    report = json.loads((ROOT / "bench" / "results" / "channel_layer_burst.json").read_text())
    assert report["burst"] == 200
    ours = report["pubsub_layer"]["runs"][0]
    assert ours["received"] + ours["lost"] == 200
    assert report["baseline_list_layer_capacity_100"]["median_delivered_per_s"] > 0


def test_widget_weight_benchmark_stays_within_the_target(django_db_setup):
    result = run_bench("widget_weight.py")
    report = json.loads((ROOT / "bench" / "results" / "widget_weight.json").read_text())
    assert "frame page (HTML + settings)" in report["parts"], result.stdout
    # A size, not a timing: deterministic, so the suite guards the 15 KB promise.
    assert report["total"]["gzip_6"] <= 15 * 1024, result.stdout


def test_customer_search_benchmark_finds_every_target(django_db_setup, django_db_blocker):
    result = run_bench("customer_search.py", "--sizes", "1000", "--queries", "20")
    report = json.loads((ROOT / "bench" / "results" / "customer_search.json").read_text())
    figures = report["sizes"]["1000"]
    assert figures["customers"] == 1000, result.stdout
    assert figures["baseline_pk_lookup"]["p50_ms"] > 0
    assert figures["identity_find"]["wrong"] == 0
    assert set(figures["search"]) == {
        "phone_local",
        "phone_fragment",
        "email_exact",
        "email_prefix",
        "name_latin",
        "name_chinese_prefix",
        "identity_value",
    }
    for kind, search in figures["search"].items():
        assert search["not_found"] == 0, kind
        assert search["p95_ms"] > 0, kind
    assert "identity_kind_value_unique" in figures["plans"]["identity_find"]
    # Its customers are deleted again: the suite's database is left as it was.
    from customers.models import Customer

    with django_db_blocker.unblock():
        assert not Customer.objects.filter(lead_source__bench="customer_search").exists()
