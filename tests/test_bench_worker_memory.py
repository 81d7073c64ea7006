"""bench/worker_memory.py at its tiniest size: every reply reaches the provider exactly
once, memory is sampled, and the benchmark's rows are deleted again."""

import json

from tests.helpers import ROOT
from tests.test_bench import run_bench


def test_worker_memory_benchmark_sends_each_reply_once(django_db_setup, django_db_blocker):
    result = run_bench("worker_memory.py", "--deliveries", "50", "--conversations", "10")
    report = json.loads((ROOT / "bench" / "results" / "worker_memory.json").read_text())
    check = report["check"]
    assert check["replies_written"] == 50, result.stdout
    assert check["sent_once"] == 50
    assert check["missing"] == 0
    assert check["doubled"] == 0
    assert check["unexpected"] == 0
    assert check["delivery_states"] == {"sent": 50}
    # One sample per mark of 5 deliveries crossed; a batch that crosses two marks at once
    # is one measurement, so the count varies, but the last is always at the end.
    samples = report["samples"]
    assert 2 <= len(samples) <= 10
    assert samples[-1]["deliveries"] == 50
    assert report["baseline_rss_mb"] > 0
    assert report["slope_mb_per_1000"] is not None
    from inbox.models import Inbox

    with django_db_blocker.unblock():
        assert not Inbox.objects.filter(name__startswith="bench:worker_memory").exists()
