import datetime
import importlib
import zoneinfo

import pytest

from inbox.models import BusinessHours, Holiday, Shift
from inbox.services.business_hours import hours_add, hours_between, hours_is_open

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
HOUR = 3600


def make_schedule(tz="UTC", shifts=None, holidays=(), name=None) -> BusinessHours:
    """shifts: {weekday: [("09:00", "18:00"), ...]}"""
    schedule = BusinessHours.objects.create(
        name=name or f"Hours {BusinessHours.objects.count()}", timezone=tz
    )
    for weekday, pairs in (shifts or {}).items():
        for opens, closes in pairs:
            Shift.objects.create(
                schedule=schedule,
                weekday=weekday,
                opens=datetime.time.fromisoformat(opens),
                closes=datetime.time.fromisoformat(closes),
            )
    for day in holidays:
        Holiday.objects.create(schedule=schedule, date=day, name="Holiday")
    return schedule


def weekdays(*pairs):
    return {day: list(pairs) for day in range(5)}


def at(tz, *args):
    return datetime.datetime(*args, tzinfo=zoneinfo.ZoneInfo(tz))


def test_no_schedule_is_always_open_and_plain_time():
    start = datetime.datetime(2025, 3, 8, 23, 0, tzinfo=UTC)  # a Saturday night
    assert hours_is_open(schedule=None, at=start)
    assert hours_add(schedule=None, start=start, seconds=90) == start + datetime.timedelta(
        seconds=90
    )
    assert hours_between(schedule=None, start=start, end=start + datetime.timedelta(hours=2)) == (
        2 * HOUR
    )


def test_a_schedule_without_shifts_counts_plain_time():
    empty = make_schedule(holidays=[datetime.date(2025, 3, 8)])
    start = datetime.datetime(2025, 3, 8, 23, 0, tzinfo=UTC)
    assert hours_is_open(schedule=empty, at=start)
    assert hours_add(schedule=empty, start=start, seconds=HOUR) == start + datetime.timedelta(
        hours=1
    )


def test_split_shifts_open_close_and_count():
    tz = "Asia/Shanghai"
    schedule = make_schedule(tz, weekdays(("09:00", "12:00"), ("13:00", "18:00")))
    monday = (2025, 3, 3)
    assert not hours_is_open(schedule=schedule, at=at(tz, *monday, 8, 59))
    assert hours_is_open(schedule=schedule, at=at(tz, *monday, 9, 0))
    assert not hours_is_open(schedule=schedule, at=at(tz, *monday, 12, 0))  # lunch
    assert not hours_is_open(schedule=schedule, at=at(tz, *monday, 12, 30))
    assert hours_is_open(schedule=schedule, at=at(tz, *monday, 13, 0))
    assert not hours_is_open(schedule=schedule, at=at(tz, *monday, 18, 0))
    # 01:30 UTC is 09:30 in Shanghai: the schedule's zone decides, not the server's.
    assert hours_is_open(schedule=schedule, at=datetime.datetime(2025, 3, 3, 1, 30, tzinfo=UTC))
    # 11:00 + 2 h of open time: one hour before lunch, one after it.
    assert hours_add(schedule=schedule, start=at(tz, *monday, 11, 0), seconds=2 * HOUR) == at(
        tz, *monday, 14, 0
    )
    # From before opening to after closing: 3 h + 5 h.
    assert (
        hours_between(schedule=schedule, start=at(tz, *monday, 7, 0), end=at(tz, *monday, 20, 0))
        == 8 * HOUR
    )
    # Ending exactly at lunch's end spends all of the morning shift.
    assert hours_add(schedule=schedule, start=at(tz, *monday, 9, 0), seconds=3 * HOUR) == at(
        tz, *monday, 12, 0
    )


def test_overlapping_shifts_are_not_counted_twice():
    schedule = make_schedule(shifts={0: [("09:00", "12:00"), ("11:00", "13:00")]})
    monday = (2025, 3, 3)
    assert (
        hours_between(
            schedule=schedule, start=at("UTC", *monday, 0, 0), end=at("UTC", *monday, 23, 0)
        )
        == 4 * HOUR
    )


def test_hours_add_across_a_weekend():
    tz = "Europe/London"
    schedule = make_schedule(tz, weekdays(("09:00", "17:00")))
    friday = at(tz, 2025, 1, 10, 16, 0)
    assert hours_add(schedule=schedule, start=friday, seconds=3 * HOUR) == at(
        tz, 2025, 1, 13, 11, 0
    )
    # Starting on the weekend, counting starts on Monday morning.
    assert hours_add(schedule=schedule, start=at(tz, 2025, 1, 11, 12, 0), seconds=60) == at(
        tz, 2025, 1, 13, 9, 1
    )
    assert (
        hours_between(schedule=schedule, start=friday, end=at(tz, 2025, 1, 13, 11, 0)) == 3 * HOUR
    )
    assert not hours_is_open(schedule=schedule, at=at(tz, 2025, 1, 11, 12, 0))


def test_a_holiday_is_closed_all_day_and_skipped():
    tz = "Asia/Shanghai"
    holiday = datetime.date(2025, 1, 13)  # a Monday
    schedule = make_schedule(tz, weekdays(("09:00", "17:00")), holidays=[holiday])
    assert not hours_is_open(schedule=schedule, at=at(tz, 2025, 1, 13, 10, 0))
    assert hours_is_open(schedule=schedule, at=at(tz, 2025, 1, 14, 10, 0))
    # Friday 16:00 + 2 h: one hour on Friday, the weekend and Monday skipped.
    assert hours_add(schedule=schedule, start=at(tz, 2025, 1, 10, 16, 0), seconds=2 * HOUR) == at(
        tz, 2025, 1, 14, 10, 0
    )
    assert (
        hours_between(
            schedule=schedule, start=at(tz, 2025, 1, 10, 0, 0), end=at(tz, 2025, 1, 15, 0, 0)
        )
        == 16 * HOUR
    )


def test_daylight_saving_changes_follow_the_schedules_zone():
    tz = "America/New_York"  # clocks go forward on Sun 9 March 2025, back on Sun 2 Nov
    schedule = make_schedule(tz, weekdays(("09:00", "17:00")), name="New York")
    sundays = make_schedule(tz, {6: [("00:00", "06:00")]}, name="Sunday nights")
    # Friday 16:00 EST + 2 h → Monday 10:00 EDT, which is 14:00 UTC (not 15:00).
    due = hours_add(schedule=schedule, start=at(tz, 2025, 3, 7, 16, 0), seconds=2 * HOUR)
    assert due == datetime.datetime(2025, 3, 10, 14, 0, tzinfo=UTC)
    # 13:30 UTC is 09:30 on Monday in summer time (08:30 the Monday before, in winter).
    assert hours_is_open(schedule=schedule, at=datetime.datetime(2025, 3, 10, 13, 30, tzinfo=UTC))
    assert not hours_is_open(
        schedule=schedule, at=datetime.datetime(2025, 3, 3, 13, 30, tzinfo=UTC)
    )
    # The Sunday shift 00:00-06:00 lasts 5 real hours when the clocks go forward, 7 when
    # they go back.
    day = datetime.timedelta(days=1)
    spring = at(tz, 2025, 3, 9, 0, 0)
    autumn = at(tz, 2025, 11, 2, 0, 0)
    assert hours_between(schedule=sundays, start=spring, end=spring + day) == 5 * HOUR
    assert hours_between(schedule=sundays, start=autumn, end=autumn + day) == 7 * HOUR
    assert hours_add(schedule=sundays, start=spring, seconds=5 * HOUR) == at(tz, 2025, 3, 9, 6, 0)


def test_naive_datetimes_are_refused():
    schedule = make_schedule(shifts=weekdays(("09:00", "17:00")))
    with pytest.raises(ValueError, match="aware"):
        hours_is_open(schedule=schedule, at=datetime.datetime(2025, 1, 1, 10, 0))


def test_a_schedule_with_no_open_time_in_reach_stops_at_the_horizon():
    # Open only on Mondays, and every day for the next 800 days is a holiday.
    schedule = make_schedule(shifts={0: [("09:00", "10:00")]})
    start = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    Holiday.objects.bulk_create(
        Holiday(schedule=schedule, date=datetime.date(2025, 1, 1) + datetime.timedelta(days=n))
        for n in range(800)
    )
    schedule = BusinessHours.objects.get(pk=schedule.pk)
    due = hours_add(schedule=schedule, start=start, seconds=60)
    assert due == start + datetime.timedelta(days=2 * 366)


# --- The widget's away state ---------------------------------------------------------------


def test_the_widget_is_away_outside_its_inboxs_business_hours():
    from channels_app.widget.services import widget_is_within_hours
    from tests.factories.channels import WidgetConfigFactory

    config = WidgetConfigFactory()
    monday_night = datetime.datetime(2025, 3, 3, 22, 0, tzinfo=UTC)
    assert widget_is_within_hours(config, now=monday_night)  # no hours: always open

    inbox = config.channel.inbox
    inbox.business_hours = make_schedule("Asia/Shanghai", weekdays(("09:00", "18:00")))
    inbox.save()
    config.channel.inbox.refresh_from_db()
    assert not widget_is_within_hours(config, now=monday_night)  # 06:00 in Shanghai
    # 02:00 UTC on Tuesday is 10:00 in Shanghai.
    assert widget_is_within_hours(config, now=datetime.datetime(2025, 3, 4, 2, 0, tzinfo=UTC))


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_widget_hours_to_the_inbox():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = importlib.import_module("channels_app.migrations.0005_widget_hours_to_inbox")
    before = [("channels_app", "0004_outbox_templates"), ("inbox", "0006_inbox_workflow")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        Inbox = old.get_model("inbox", "Inbox")
        Channel = old.get_model("channels_app", "ChannelAccount")
        WidgetConfig = old.get_model("channels_app", "WidgetConfig")
        Hours = old.get_model("inbox", "BusinessHours")

        def widget(name, hours, tz="UTC", inbox_hours=None):
            inbox = Inbox.objects.create(name=f"{name} inbox", business_hours=inbox_hours)
            channel = Channel.objects.create(name=name, kind="web", inbox=inbox)
            WidgetConfig.objects.create(channel=channel, business_hours=hours, timezone=tz)
            return inbox

        Hours.objects.create(name="Shop")  # the channel's name is taken: a suffix is added
        shop = widget(
            "Shop",
            {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": [["10:00", "14:00"]]},
            tz="Asia/Shanghai",
        )
        always = widget("Always", {})
        kept = Hours.objects.create(name="Kept")
        configured = widget("Configured", {"mon": [["08:00", "20:00"]]}, inbox_hours=kept)

        migration.widget_hours_to_inbox(old, None)
        migration.widget_hours_to_inbox(old, None)  # twice changes nothing

        shop.refresh_from_db()
        schedule = Hours.objects.get(pk=shop.business_hours_id)
        assert (schedule.name, schedule.timezone) == ("Shop (2)", "Asia/Shanghai")
        shifts = sorted(
            (s.weekday, s.opens.isoformat("minutes"), s.closes.isoformat("minutes"))
            for s in old.get_model("inbox", "Shift").objects.filter(schedule=schedule)
        )
        assert shifts == [(0, "09:00", "12:00"), (0, "13:00", "18:00"), (5, "10:00", "14:00")]
        always.refresh_from_db()
        configured.refresh_from_db()
        assert always.business_hours_id is None
        assert configured.business_hours_id == kept.pk
        assert Hours.objects.count() == 3
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
