"""bench/conversation_scale.py at its tiniest size: every request answers what it should,
and the dataset is deleted again."""

import json

from tests.helpers import ROOT
from tests.test_bench import run_bench


def test_conversation_scale_benchmark_answers_every_request(django_db_setup, django_db_blocker):
    result = run_bench(
        "conversation_scale.py",
        *("--sizes", "1000", "--messages", "3", "--queries", "5", "--no-keep", "--here"),
    )
    report = json.loads((ROOT / "bench" / "results" / "conversation_scale.json").read_text())
    figures = report["sizes"]["1000"]
    assert figures["dataset"]["conversations"] == 1000, result.stdout
    assert figures["dataset"]["messages"] >= 2000
    assert figures["baseline_pk_lookup"]["p50_ms"] > 0
    assert {
        "list_agent_all",
        "list_agent_mine",
        "list_supervisor_all",
        "list_supervisor_page_2",
        "conversation_detail",
        "messages_newest",
        "messages_after_seq",
        "search_name_agent",
        "search_phone_supervisor",
        "search_email_agent",
    } <= set(figures["kinds"])
    for kind, answer in figures["kinds"].items():
        # Nothing the agent may not see, every message page in seq order, every customer found.
        assert answer["wrong"] == 0, (kind, result.stdout)
        assert answer["n"] == 5, kind
    assert figures["kinds"]["list_supervisor_all"]["rows_per_request"] == 50
    assert "inbox_conversation" in figures["plans"]["list_agent_all"]
    assert "verdicts" in report
    # Deleted again: the suite's database is left as it was.
    from accounts.models import User
    from customers.models import Customer
    from inbox.models import Conversation, Inbox

    with django_db_blocker.unblock():
        assert not Customer.objects.filter(lead_source__bench="conversation_scale").exists()
        assert not Inbox.objects.filter(name__startswith="bench-cs ").exists()
        assert not Conversation.objects.filter(source__bench="conversation_scale").exists()
        assert not User.objects.filter(email__endswith="@conversation-scale.invalid").exists()
