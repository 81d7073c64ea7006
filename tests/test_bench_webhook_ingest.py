"""bench/webhook_ingest.py at its tiniest size: every unique message is stored once, and
the benchmark's rows are deleted again."""

import json

from tests.helpers import ROOT
from tests.test_bench import run_bench


def test_webhook_ingest_benchmark_stores_each_message_once(django_db_setup, django_db_blocker):
    result = run_bench("webhook_ingest.py", "--rates", "30", "--seconds", "1", "--floor", "30")
    report = json.loads((ROOT / "bench" / "results" / "webhook_ingest.json").read_text())
    assert report["baseline_insert_publish"]["messages_per_s"] > 0, result.stdout
    [phase] = report["phases"]
    assert phase["rate"] == 30
    assert phase["unique_messages"] == 30
    assert phase["posts"] >= 30
    # Replays and concurrent duplicates are answered 200 like the first delivery.
    assert phase["statuses"] == {"200": phase["posts"]}, result.stdout
    assert phase["post_ms"]["n"] == phase["posts"]
    counts = report["counts"]
    assert counts["unique_sent"] == counts["events_stored"] >= 30, result.stdout
    assert counts["stored"] == counts["unique_sent"]
    assert counts["lost"] == 0
    assert counts["doubled"] == 0
    assert counts["still_queued"] == 0
    assert counts["events_with_error"] == 0
    assert counts["pushed_twice"] == 0
    assert set(report["targets"]) == {"accepted_per_s", "e2e_p99_ms_at_200"}
    from inbox.models import Inbox

    with django_db_blocker.unblock():
        assert not Inbox.objects.filter(name__startswith="bench:webhook_ingest").exists()
