"""Business hours: whether a schedule is open, and time counted in open time only.

A schedule (`BusinessHours`) is a week of shifts in its own time zone, with holidays.
Shifts are wall-clock times: a shift from 09:00 to 18:00 lasts one hour less (or more) of
real time on a day the clocks change, and every computation here follows the real clock
of the schedule's time zone (DST-correct).

`None` as a schedule means open around the clock. A schedule without a single shift is
not usable either ("no usable schedule"): it is treated like `None`, as plain time, rather
than as always closed, so that an unfinished schedule never stops every SLA clock.
"""

import datetime
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass

from ..models import BusinessHours

# Loops look at most this far ahead for open time; past it they give up (see hours_add).
HORIZON_DAYS = 2 * 366
_ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class _Plan:
    tz: zoneinfo.ZoneInfo
    # weekday (0 = Monday) -> sorted, non-overlapping (opens, closes) wall-clock pairs
    shifts: dict[int, list[tuple[datetime.time, datetime.time]]]
    holidays: frozenset[datetime.date]


def _merge(pairs: list[tuple[datetime.time, datetime.time]]):
    merged: list[tuple[datetime.time, datetime.time]] = []
    for opens, closes in sorted(pairs):
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def _plan(schedule: BusinessHours | None) -> _Plan | None:
    """The schedule read once (shifts and holidays), or None for plain time. Uses prefetched
    shifts and holidays when the caller prefetched them."""
    if schedule is None:
        return None
    cached = getattr(schedule, "_hours_plan", None)
    if cached is not None:
        return cached or None
    by_day: dict[int, list[tuple[datetime.time, datetime.time]]] = {}
    for shift in schedule.shifts.all():
        if shift.opens < shift.closes:
            by_day.setdefault(shift.weekday, []).append((shift.opens, shift.closes))
    plan: _Plan | bool = False
    if by_day:
        try:
            tz = zoneinfo.ZoneInfo(schedule.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz = zoneinfo.ZoneInfo("UTC")
        plan = _Plan(
            tz=tz,
            shifts={day: _merge(pairs) for day, pairs in by_day.items()},
            holidays=frozenset(holiday.date for holiday in schedule.holidays.all()),
        )
    schedule._hours_plan = plan  # per instance: a reloaded schedule reads the rows again
    return plan or None


def _day_intervals(plan: _Plan, day: datetime.date) -> list[tuple[datetime.datetime, ...]]:
    """The open periods of one local date, as aware UTC datetimes."""
    if day in plan.holidays:
        return []
    intervals = []
    for opens, closes in plan.shifts.get(day.weekday(), ()):
        start = datetime.datetime.combine(day, opens, tzinfo=plan.tz).astimezone(datetime.UTC)
        end = datetime.datetime.combine(day, closes, tzinfo=plan.tz).astimezone(datetime.UTC)
        if start < end:
            intervals.append((start, end))
    return intervals


def _intervals_from(plan: _Plan, start: datetime.datetime) -> Iterator[tuple]:
    """Open periods ending after `start`, in order and clipped to start there; at most
    HORIZON_DAYS ahead."""
    day = start.astimezone(plan.tz).date() - _ONE_DAY
    for _offset in range(HORIZON_DAYS + 2):
        for opens, closes in _day_intervals(plan, day):
            if closes > start:
                yield max(opens, start), closes
        day += _ONE_DAY


def _aware(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None:
        raise ValueError("business hours need aware datetimes")
    return value


def hours_is_open(*, schedule: BusinessHours | None, at: datetime.datetime) -> bool:
    """Whether the schedule is open at `at`: None (or a schedule without shifts) is always
    open; a holiday is closed all day; a shift includes its opening minute, not its closing
    one."""
    plan = _plan(schedule)
    if plan is None:
        return True
    at = _aware(at)
    local_day = at.astimezone(plan.tz).date()
    return any(
        opens <= at < closes
        for day in (local_day - _ONE_DAY, local_day, local_day + _ONE_DAY)
        for opens, closes in _day_intervals(plan, day)
    )


def hours_add(
    *, schedule: BusinessHours | None, start: datetime.datetime, seconds: int
) -> datetime.datetime:
    """The moment `seconds` of open time have passed after `start`, skipping nights,
    weekends, holidays and the gaps between split shifts. Starting outside hours, counting
    starts at the next opening. None (or no usable schedule) is plain addition. If the
    schedule has no open time within HORIZON_DAYS (two years of holidays, say), the answer
    is the horizon itself rather than an endless search."""
    start = _aware(start)
    plan = _plan(schedule)
    remaining = datetime.timedelta(seconds=max(0, seconds))
    if plan is None:
        return start + remaining
    if not remaining:
        return start
    for opens, closes in _intervals_from(plan, start):
        if remaining <= closes - opens:
            return opens + remaining
        remaining -= closes - opens
    return start + datetime.timedelta(days=HORIZON_DAYS)


def hours_between(
    *, schedule: BusinessHours | None, start: datetime.datetime, end: datetime.datetime
) -> int:
    """Whole seconds of open time from `start` to `end` (0 when `end` is not later).
    None (or no usable schedule) counts plain time; counts at most HORIZON_DAYS."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        return 0
    plan = _plan(schedule)
    if plan is None:
        return int((end - start).total_seconds())
    total = datetime.timedelta()
    for opens, closes in _intervals_from(plan, start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return int(total.total_seconds())
