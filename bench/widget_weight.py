"""Widget weight: the gzipped bytes a website's visitor downloads for the chat widget
(the loader, the framed page as served with its settings and words, its script and its
style), against the target of 15 KB. Baseline in the same run: the same files minified
by nothing but gzip at level 9 vs level 6 (what servers commonly use).

    python bench/widget_weight.py      (DATABASE_URL: a migrated database)

Writes bench/results/widget_weight.{json,md}."""

import argparse
import gzip
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402

from channels_app.models import ChannelAccount, WidgetConfig  # noqa: E402
from inbox.models import Inbox  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET_BYTES = 15 * 1024
STATIC = ROOT / "static" / "widget"


def served_frame() -> bytes:
    """The frame page as the server renders it, for a channel with typical settings."""
    with transaction.atomic():
        inbox = Inbox.objects.create(name="bench widget weight")
        channel = ChannelAccount.objects.create(
            kind="web", name="bench", inbox=inbox, public_key="bench-widget-weight"
        )
        WidgetConfig.objects.create(channel=channel, title="Acme", greeting="Hi! Ask us.")
        html = Client(HTTP_HOST="127.0.0.1").get(f"/widget/frame/{channel.public_key}/").content
        transaction.set_rollback(True)
    return html


def main() -> None:
    parts = {
        "widget.js (loader)": (STATIC / "widget.js").read_bytes(),
        "frame page (HTML + settings)": served_frame(),
        "frame.js": (STATIC / "frame.js").read_bytes(),
        "frame.css": (STATIC / "frame.css").read_bytes(),
    }
    rows = {
        name: {
            "raw": len(data),
            "gzip_6": len(gzip.compress(data, 6)),
            "gzip_9": len(gzip.compress(data, 9)),
        }
        for name, data in parts.items()
    }
    total = {key: sum(row[key] for row in rows.values()) for key in ("raw", "gzip_6", "gzip_9")}
    report = {"parts": rows, "total": total, "target_gzip_bytes": TARGET_BYTES}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "widget_weight.json").write_text(json.dumps(report, indent=2))
    lines = ["| part | raw | gzip -6 | gzip -9 |", "|---|---|---|---|"]
    for name, row in {**rows, "total": total}.items():
        lines.append(f"| {name} | {row['raw']} | {row['gzip_6']} | {row['gzip_9']} |")
    verdict = "within" if total["gzip_6"] <= TARGET_BYTES else "OVER"
    lines.append(
        f"\nTotal gzipped (level 6): {total['gzip_6']} bytes, {verdict} the target of "
        f"{TARGET_BYTES} bytes ({total['gzip_6'] / TARGET_BYTES:.0%})."
    )
    text = "\n".join(lines)
    (RESULTS / "widget_weight.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    # Sizes, not timings: --quick (from `make bench-quick`) changes nothing.
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.parse_args()
    main()
