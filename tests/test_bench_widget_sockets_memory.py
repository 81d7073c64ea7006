"""bench/widget_sockets_memory.py at its tiniest size: every socket authenticates, stays
open and answers its heartbeat; memory is measured against the idle baseline; the
benchmark's visitors are deleted again."""

import json

from tests.helpers import ROOT
from tests.test_bench import run_bench


def test_widget_sockets_memory_benchmark_keeps_every_socket_open(
    django_db_setup, django_db_blocker
):
    result = run_bench("widget_sockets_memory.py", "--sockets", "20", "--hold", "0.5")
    report = json.loads((ROOT / "bench" / "results" / "widget_sockets_memory.json").read_text())
    assert report["sockets"] == 20, result.stdout
    assert report["open_at_end"] == 20
    assert report["answering_heartbeat"] == 20
    assert report["all_open"] is True
    assert report["baseline_no_connections_mb"] > 0
    assert report["with_connections_mb"] > 0
    assert report["target"]["verdict"] in {"met", "missed"}
    from customers.models import Customer
    from inbox.models import Inbox

    with django_db_blocker.unblock():
        assert not Inbox.objects.filter(name__startswith="bench widget_sockets_memory-").exists()
        assert not Customer.objects.filter(lead_source__bench="widget_sockets_memory").exists()
