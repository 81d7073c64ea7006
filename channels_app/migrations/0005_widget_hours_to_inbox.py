"""The widget's own business hours move to its inbox: each widget with hours becomes a
BusinessHours schedule (named after the channel, in the widget's time zone) set on the
channel's inbox when the inbox has none; then the widget's fields go."""

import datetime

from django.db import migrations

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _free_name(BusinessHours, base: str) -> str:
    base = base[:90] or "Widget"
    name, n = base, 1
    while BusinessHours.objects.filter(name=name).exists():
        n += 1
        name = f"{base} ({n})"
    return name


def _shifts(hours) -> list[tuple[int, datetime.time, datetime.time]]:
    """[(weekday, opens, closes)] from {"mon": [["09:00", "18:00"]], ...}; bad entries
    are skipped (they were validated when typed in)."""
    shifts = []
    for day, ranges in (hours or {}).items() if isinstance(hours, dict) else ():
        if day not in WEEKDAYS or not isinstance(ranges, list):
            continue
        for pair in ranges:
            try:
                opens, closes = (datetime.time.fromisoformat(value) for value in pair)
            except (TypeError, ValueError):
                continue
            if opens < closes:
                shifts.append((WEEKDAYS.index(day), opens, closes))
    return shifts


def widget_hours_to_inbox(apps, schema_editor) -> None:
    WidgetConfig = apps.get_model("channels_app", "WidgetConfig")
    BusinessHours = apps.get_model("inbox", "BusinessHours")
    Shift = apps.get_model("inbox", "Shift")
    for config in WidgetConfig.objects.select_related("channel__inbox").order_by("pk"):
        shifts = _shifts(config.business_hours)
        inbox = config.channel.inbox
        if not shifts or inbox.business_hours_id is not None:
            continue
        schedule = BusinessHours.objects.create(
            name=_free_name(BusinessHours, config.channel.name),
            timezone=config.timezone or "UTC",
        )
        Shift.objects.bulk_create(
            Shift(schedule=schedule, weekday=weekday, opens=opens, closes=closes)
            for weekday, opens, closes in shifts
        )
        inbox.business_hours = schedule
        inbox.save(update_fields=["business_hours"])


class Migration(migrations.Migration):
    dependencies = [
        ("channels_app", "0004_outbox_templates"),
        ("inbox", "0006_inbox_workflow"),
    ]

    operations = [
        migrations.RunPython(widget_hours_to_inbox, migrations.RunPython.noop),
        migrations.RemoveField(model_name="widgetconfig", name="business_hours"),
        migrations.RemoveField(model_name="widgetconfig", name="timezone"),
    ]
