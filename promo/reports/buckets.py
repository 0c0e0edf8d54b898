"""Calendar buckets in a time zone, as ranges of UTC hours (pure).

Roll-ups are kept per UTC hour (``hour`` = hours since 1970-01-01T00:00Z), so
a report in any time zone is exact as long as each of its boundaries (``from``,
``to`` and the local midnights that start days, weeks and months) falls on a
whole UTC hour: Europe/Paris, America/New_York and every zone whose offsets
are whole hours qualify; Asia/Kolkata (+05:30) does not and is refused rather
than approximated.

``plan`` turns the request into ``Buckets``: the start hour of each bucket (the
first one may start at ``from``, inside its calendar bucket; the last ends at
``to``), and the local date each calendar bucket starts on. ``index_of`` says
which bucket an hour falls in, as the report's SQL does with ``starts``.

A local day starts at its first instant: local midnight, or the end of a
daylight-saving gap when midnight itself is skipped (America/Havana and
others move their clocks at midnight). Weeks start on Mondays (ISO 8601);
months on the 1st.

``sources`` says which roll-up rows make each bucket (``pieces``): whole UTC
months, weeks and days where the bucket holds them, and hours at its edges,
each end taken to the nearest boundary of the coarsest grain that saves rows
and corrected with finer units (added where that boundary stops short of
the end, subtracted where it overshoots). A Paris month is then one month row
and an hour or two at each end per code; a New York week one week row, less
the 4 or 5 hours between Monday 00:00 UTC and its start, plus those before
the next one; a Paris day one day row and an hour or two each side. Every
coarser row is the sum of its finer rows (the roll-up and the validation
flush write them together), so the subtractions are exact.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from promo.reports.grains import DAY, GRAINS, HOURS_PER_DAY, GrainName, hour_of

Bucket = Literal["day", "week", "month"]
BUCKETS: tuple[Bucket, ...] = ("day", "week", "month")
MAX_BUCKETS = 1000


class BucketError(ValueError):
    """A request that cannot be bucketed; ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``BucketError`` on ``tz`` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BucketError("tz", f"unknown IANA time zone {name!r}") from None


def whole_hour(field: str, instant: datetime) -> int:
    """``instant`` as a UTC hour; ``BucketError`` on ``field`` when it is not one."""
    utc = instant.astimezone(UTC)
    if utc.minute or utc.second or utc.microsecond:
        raise BucketError(field, "must fall on a whole UTC hour (reports are rolled up per hour)")
    return hour_of(utc)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of the local date ``day`` (UTC).

    ``fold=0`` puts a midnight skipped by a daylight-saving gap at the end of
    the gap, which is when that day begins.
    """
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def calendar_start(day: date, bucket: Bucket) -> date:
    """The local date the bucket holding ``day`` starts on."""
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def next_start(start: date, bucket: Bucket) -> date:
    """The local date the bucket after the one starting on ``start`` starts on."""
    if bucket == "day":
        return start + timedelta(days=1)
    if bucket == "week":
        return start + timedelta(days=7)
    if start.month == 12:
        return date(start.year + 1, 1, 1)
    return date(start.year, start.month + 1, 1)


@dataclass(frozen=True)
class Buckets:
    """Buckets ``i`` covers the UTC hours ``[starts[i], starts[i + 1])``, the last
    one up to ``end``; ``labels[i]`` is the local date its calendar bucket
    starts on."""

    starts: tuple[int, ...]
    end: int
    labels: tuple[date, ...]
    tz: ZoneInfo

    def index_of(self, hour: int) -> int:
        """The bucket of ``hour`` (``starts[0] <= hour < end``)."""
        if not self.starts[0] <= hour < self.end:
            raise ValueError(f"hour {hour} is outside the report")
        return bisect.bisect_right(self.starts, hour) - 1

    def bounds(self, index: int) -> tuple[int, int]:
        """The UTC hours ``[start, end)`` bucket ``index`` covers."""
        last = index + 1 == len(self.starts)
        return self.starts[index], self.end if last else self.starts[index + 1]

    def edges(self) -> tuple[int, ...]:
        """Every boundary, ``end`` included."""
        return (*self.starts, self.end)


def plan(start: datetime, end: datetime, bucket: Bucket, tz: ZoneInfo) -> Buckets:
    """The buckets of ``[start, end)`` in ``tz``; ``BucketError`` naming ``from``,
    ``to`` or ``tz`` when it cannot be reported exactly from hourly roll-ups."""
    first, last = whole_hour("from", start), whole_hour("to", end)
    if last <= first:
        raise BucketError("to", "must be after from")
    try:
        label = calendar_start(local_date(start, tz), bucket)
        starts, labels = [first], [label]
        while True:
            label = next_start(label, bucket)
            boundary = day_start(label, tz)
            if boundary >= end:
                break
            if boundary.minute or boundary.second:
                raise BucketError(
                    "tz",
                    f"{tz.key} starts {label.isoformat()} at {boundary.isoformat()}, not on a "
                    "whole UTC hour: reports are rolled up per UTC hour",
                )
            hour = hour_of(boundary)
            if hour <= starts[-1]:
                # The bucket before is empty (a date the zone skipped, Pacific/Apia
                # 2011-12-30, or ``from`` on this very boundary): it is not one.
                labels[-1] = label
                continue
            if len(starts) == MAX_BUCKETS:
                raise BucketError(
                    "to",
                    f"at most {MAX_BUCKETS} buckets: ask for a shorter period or a wider bucket",
                )
            starts.append(hour)
            labels.append(label)
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, BucketError):
            raise
        raise BucketError("to", "out of the calendar's range") from None
    return Buckets(starts=tuple(starts), end=last, labels=tuple(labels), tz=tz)


class Piece(NamedTuple):
    """Units ``low <= key < high`` of one grain, added (``sign`` 1) or subtracted (-1)."""

    grain: GrainName
    low: int
    high: int
    sign: int


# (rows per code, pieces): a way to read some hours.
Cover = tuple[int, tuple[Piece, ...]]


def pieces(low: int, high: int) -> tuple[Piece, ...]:
    """UTC hours ``[low, high)`` as signed runs of whole hours, days, weeks and
    months whose sum is exactly those hours, reading as few rows as can be."""
    return _cover(low, high, len(GRAINS) - 1)[1]


def _cover(low: int, high: int, level: int) -> Cover:
    """``[low, high)`` (``low <= high``) from ``GRAINS[: level + 1]``: the cheaper of
    the finer grains alone, and this grain's units between the boundaries
    nearest to each end with each end's gap to its boundary covered by the
    finer grains (added or subtracted)."""
    if low == high:
        return 0, ()
    grain = GRAINS[level]
    if level == 0:
        return high - low, (Piece(grain.name, low, high, 1),)
    if 2 * (high - low) < grain.shortest:  # its units would cost more than they save
        return _cover(low, high, level - 1)
    candidates: list[Cover] = []
    first, end = grain.nearest(low), grain.nearest(high)
    if first < end:
        head = _signed(low, grain.start(first), level - 1)
        tail = _signed(grain.start(end), high, level - 1)
        units = Piece(grain.name, first, end, 1)
        candidates.append((end - first + head[0] + tail[0], (units, *head[1], *tail[1])))
    # Hours never stand in for a whole day: at most 12 of them at either end.
    if not (candidates and grain is DAY and high - low >= HOURS_PER_DAY):
        candidates.append(_cover(low, high, level - 1))
    return min(candidates, key=lambda found: (found[0], len(found[1])))


def _signed(low: int, high: int, level: int) -> Cover:
    """``[low, high)`` when ``low <= high``, else minus ``[high, low)``."""
    if low <= high:
        return _cover(low, high, level)
    rows, found = _cover(high, low, level)
    return rows, tuple(Piece(p.grain, p.low, p.high, -p.sign) for p in found)


class Term(NamedTuple):
    """Units ``low <= key < high`` of a roll-up grain, added (``sign`` 1) or
    subtracted (-1) to bucket ``bucket``: every figure when ``sales``, else the
    validations only (the hours after ``sales_until``)."""

    grain: GrainName
    low: int
    high: int
    bucket: int
    sign: int
    sales: bool


@dataclass(frozen=True)
class Sources:
    """Where a report's figures come from: the roll-ups' ``terms``, and the ledger
    for the sales from hour ``live_from`` on (None: no sales from the ledger)."""

    terms: tuple[Term, ...]
    live_from: int | None


def sources(buckets: Buckets, until: int | None) -> Sources:
    """The terms of every bucket, split at ``until`` (the hour sales are rolled up
    to; None: no hour): before it every figure, after it validations only."""
    start, end = buckets.starts[0], buckets.end
    split = start if until is None else min(max(until, start), end)
    terms: list[Term] = []
    for index in range(len(buckets.starts)):
        low, high = buckets.bounds(index)
        for piece_low, piece_high, sales in (
            (low, min(high, split), True),
            (max(low, split), high, False),
        ):
            if piece_low < piece_high:
                terms += [
                    Term(p.grain, p.low, p.high, index, p.sign, sales)
                    for p in pieces(piece_low, piece_high)
                ]
    return Sources(terms=tuple(terms), live_from=split if split < end else None)
