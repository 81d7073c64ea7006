"""bench/faults.py at its tiniest: its own PostgreSQL and Redis, the product's processes,
the worker killed with -9 while the provider fails 30% of the sends; nothing lost or
doubled."""

import json

from tests.helpers import ROOT
from tests.test_bench import run_bench


def test_faults_benchmark_loses_and_doubles_nothing(django_db_setup):
    result = run_bench("faults.py", "--tiny")
    report = json.loads((ROOT / "bench" / "results" / "faults.json").read_text())
    assert set(report["phases"]) == {"baseline", "worker"}, result.stdout
    for name, phase in report["phases"].items():
        assert phase["inbound_sent"] > 0 and phase["outbound_sent"] > 0, name
        assert phase["inbound_stored"] == phase["inbound_accepted"] == phase["inbound_sent"]
        assert phase["outbound_accepted_by_provider"] == phase["outbound_sent"], name
        assert phase["inbound_lost"] == phase["outbound_lost"] == 0, (name, result.stdout)
        assert phase["inbound_doubled"] == phase["outbound_doubled"] == 0, (name, result.stdout)
    assert report["total_lost"] == report["total_doubled"] == 0
    assert report["provider_answers"]["500"] + report["provider_answers"]["accepted"] > 0
