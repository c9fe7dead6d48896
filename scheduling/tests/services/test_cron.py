"""Cron times across DST changes: one run per local day, never skipped, never doubled."""

import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.services.cron import (
    InvalidCron,
    InvalidTimezone,
    cron_between,
    cron_next,
    cron_validate,
    timezone_validate,
)


def _local_days(expression: str, tz: str, first: date, last: date) -> list[datetime]:
    """Every run time from ``first`` to ``last`` (local days), in local time."""
    zone = ZoneInfo(tz)
    after = datetime(first.year, first.month, first.day, tzinfo=zone) - timedelta(seconds=1)
    until = datetime(last.year, last.month, last.day, 23, 59, tzinfo=zone)
    return [
        t.astimezone(zone)
        for t in cron_between(expression, tz, after=after, until=until, limit=100)
    ]


@pytest.mark.parametrize(
    ("tz", "expression", "day", "expected_local"),
    [
        # Spring forward: 02:00-03:00 does not exist; the run happens when the clock jumps.
        ("America/New_York", "30 2 * * *", date(2024, 3, 10), "03:00 EDT"),
        # Fall back: 01:00-02:00 repeats; 02:30 happens once, after the repeat.
        ("America/New_York", "30 2 * * *", date(2024, 11, 3), "02:30 EST"),
        # A time inside the repeated hour runs at its first occurrence only.
        ("America/New_York", "30 1 * * *", date(2024, 11, 3), "01:30 EDT"),
        # London's gap is 01:00-02:00 and its repeat 01:00-02:00.
        ("Europe/London", "30 1 * * *", date(2024, 3, 31), "02:00 BST"),
        ("Europe/London", "30 1 * * *", date(2024, 10, 27), "01:30 BST"),
        ("Europe/London", "30 2 * * *", date(2024, 3, 31), "02:30 BST"),
        ("Europe/London", "30 2 * * *", date(2024, 10, 27), "02:30 GMT"),
    ],
)
def test_daily_schedule_runs_once_on_a_dst_day(tz, expression, day, expected_local):
    """On the DST day itself the schedule runs exactly once, at the documented local time."""
    times = _local_days(expression, tz, day, day)
    assert [f"{t:%H:%M %Z}" for t in times] == [expected_local]


@pytest.mark.parametrize(
    ("tz", "expression", "first", "last"),
    [
        ("America/New_York", "30 2 * * *", date(2024, 3, 5), date(2024, 3, 15)),
        ("America/New_York", "30 2 * * *", date(2024, 10, 29), date(2024, 11, 8)),
        ("America/New_York", "30 1 * * *", date(2024, 10, 29), date(2024, 11, 8)),
        ("Europe/London", "30 1 * * *", date(2024, 3, 26), date(2024, 4, 5)),
        ("Europe/London", "30 1 * * *", date(2024, 10, 22), date(2024, 11, 1)),
        ("Europe/London", "30 2 * * *", date(2024, 3, 26), date(2024, 4, 5)),
        ("Europe/London", "30 2 * * *", date(2024, 10, 22), date(2024, 11, 1)),
    ],
)
def test_daily_schedule_runs_once_per_local_day_around_dst(tz, expression, first, last):
    """Every local day in the range has exactly one run, and runs are strictly increasing."""
    times = _local_days(expression, tz, first, last)
    per_day = Counter(t.date() for t in times)
    days = (last - first).days + 1
    assert len(per_day) == days
    assert set(per_day.values()) == {1}
    assert all(a < b for a, b in itertools.pairwise(times))


def test_every_30_minutes_follows_elapsed_time_through_the_repeated_hour():
    """A schedule with ``*`` hours runs in both passes of the repeated hour, 30 minutes apart."""
    tz = "America/New_York"
    after = datetime(2024, 11, 3, 4, 0, tzinfo=UTC)  # 00:00 EDT
    times = cron_between(
        "*/30 * * * *", tz, after=after, until=after + timedelta(hours=4), limit=20
    )
    gaps = {b - a for a, b in itertools.pairwise(times)}
    assert gaps == {timedelta(minutes=30)}
    assert len(times) == 8


def test_hourly_schedule_has_no_run_in_the_missing_hour():
    """Spring forward: an hourly schedule goes from 01:00 EST to 03:00 EDT, one hour apart."""
    tz = ZoneInfo("America/New_York")
    after = datetime(2024, 3, 10, 0, 30, tzinfo=tz)
    times = cron_between(
        "0 * * * *", "America/New_York", after=after, until=after + timedelta(hours=3), limit=5
    )
    assert [f"{t.astimezone(tz):%H:%M %Z}" for t in times] == ["01:00 EST", "03:00 EDT"]


def test_next_run_is_strictly_after_the_given_instant():
    """A slot exactly at ``after`` is not returned again (no double dispatch)."""
    at = cron_next("30 2 * * *", "UTC", after=datetime(2024, 5, 1, tzinfo=UTC))
    assert at == datetime(2024, 5, 1, 2, 30, tzinfo=UTC)
    assert cron_next("30 2 * * *", "UTC", after=at) == datetime(2024, 5, 2, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize("expression", ["", "61 2 * * *", "* * *", "0 0 * * * *", "every day"])
def test_invalid_cron_is_refused(expression):
    """Malformed, out-of-range and six-field expressions are refused, naming the expression."""
    with pytest.raises(InvalidCron):
        cron_validate(expression)


def test_invalid_timezone_is_refused():
    """A name that is not an IANA zone is refused; a real one is accepted."""
    with pytest.raises(InvalidTimezone):
        timezone_validate("Mars/Olympus_Mons")
    assert timezone_validate("Europe/London").key == "Europe/London"
