"""bench/live_chat_latency.py at its tiniest size: every visitor's message reaches its own
agent's console once, on the product and on the echo baseline, and the benchmark's rows are
deleted again."""

import json

from tests.helpers import ROOT
from tests.test_bench import run_bench


def test_live_chat_latency_benchmark_delivers_every_message_once(
    django_db_setup, django_db_blocker
):
    result = run_bench(
        "live_chat_latency.py",
        *("--sizes", "5", "--duration", "2", "--warmup", "0", "--think", "0.1,0.3"),
    )
    report = json.loads((ROOT / "bench" / "results" / "live_chat_latency.json").read_text())
    (size,) = report["sizes"]
    assert size["n"] == 5, result.stdout
    for server in ("baseline_echo", "ours"):
        figures = size[server]
        assert figures["sent"] > 0, (server, result.stdout)
        assert figures["http_errors"] == 0, server
        assert figures["heard"] == figures["sent"], server
        assert figures["lost"] == 0, server
        assert figures["doubled"] == 0, server
        assert figures["misrouted"] == 0, server
        assert figures["sockets_open_at_end"] == figures["sockets"] == 10, server
        assert figures["latency"]["n"] > 0, server
    # The product also pushes each message back to the visitor's own widget socket.
    assert size["ours"]["widget_pushes"] == size["ours"]["sent"]
    assert {target["what"] for target in report["targets"]} == {
        "p50 <= 3.0x baseline at N=5",
        "no message lost at N=5",
    }
    from accounts.models import User
    from inbox.models import Inbox

    with django_db_blocker.unblock():
        assert not Inbox.objects.filter(name__startswith="bench live_chat_latency-").exists()
        assert not User.objects.filter(email__startswith="live_chat_latency-").exists()
