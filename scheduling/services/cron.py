"""Cron times in an IANA timezone, computed so a DST change never skips or doubles a run.

Rules, for a schedule whose hour field names hours (``30 2 * * *``, ``0 9-17 * * 1-5``):
the expression is read in local wall-clock time, and

- a wall time that does not exist (spring forward: 02:30 in New York on 2024-03-10) runs at
  the instant the clock jumps (03:00 local), as Vixie cron and croniter do: once that day;
- a wall time that occurs twice (fall back: 01:30 in New York on 2024-11-03) runs at its
  first occurrence only.

A schedule whose hour field is ``*`` (``*/15 * * * *``) follows elapsed time instead: it runs
every hour the clock shows, including the repeated one, and has no 02:xx on spring-forward
night because that hour never happened.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter


class InvalidCron(ValueError):
    pass


class InvalidTimezone(ValueError):
    pass


def cron_validate(expression: str) -> str:
    """The expression, stripped; raises InvalidCron unless it has five valid fields."""
    expression = " ".join((expression or "").split())
    if not expression:
        raise InvalidCron("Cron expression is empty.")
    if not expression.startswith("@") and len(expression.split(" ")) != 5:
        raise InvalidCron(f"Cron expression {expression!r} must have five fields.")
    if not croniter.is_valid(expression):
        raise InvalidCron(f"Cron expression {expression!r} is not valid.")
    return expression


def timezone_validate(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise InvalidTimezone(f"Timezone {name!r} is not an IANA timezone name.") from exc


def cron_describe(expression: str) -> str:
    """The expression in words ("At 02:30 AM"), or the expression itself if it cannot."""
    from cron_descriptor import get_description

    try:
        return get_description(expression)
    except Exception:
        return expression


def _follows_elapsed_time(expression: str) -> bool:
    return croniter(expression).expanded[1] == ["*"]


def _wall_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive local wall time as a UTC instant: first occurrence, or the jump for a gap."""
    first = wall.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
        return first.astimezone(UTC)
    # In a gap: the transition lies between the two readings; find it to the second.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first.astimezone(UTC)
    low, high = min(low, high), max(low, high)
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)


def cron_times(expression: str, tz_name: str, *, after: datetime) -> Iterator[datetime]:
    """The schedule's run times strictly after ``after``, as aware UTC datetimes, in order."""
    tz = ZoneInfo(tz_name)
    after = after.astimezone(UTC)
    if _follows_elapsed_time(expression):
        times = croniter(expression, after.astimezone(tz))
        while True:
            yield times.get_next(datetime).astimezone(UTC)
    # Start an hour of wall time early so a slot in a repeated hour is not missed, then
    # drop everything not strictly after ``after``.
    local = after.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3)
    walls = croniter(expression, local)
    last = after
    while True:
        at = _wall_to_utc(walls.get_next(datetime), tz)
        if at > last:
            last = at
            yield at


def cron_next(expression: str, tz_name: str, *, after: datetime) -> datetime:
    return next(cron_times(expression, tz_name, after=after))


def cron_between(
    expression: str, tz_name: str, *, after: datetime, until: datetime, limit: int
) -> list[datetime]:
    """Run times in (after, until], at most ``limit`` of them (the earliest)."""
    out = []
    for at in cron_times(expression, tz_name, after=after):
        if at > until or len(out) >= limit:
            break
        out.append(at)
    return out
