"""The roll-ups' grains: UTC hours, days, weeks and months, described once.

Each grain is a table of the same figures per (unit, code) (promo.reports.models)
whose key counts units since the epoch: ``hour`` hours since
1970-01-01T00:00Z, ``day`` days, ``week`` ISO weeks (Monday 00:00 to Monday
00:00 UTC) since Monday 1969-12-29, ``month`` calendar months since January
1970. Everything here works in UTC hours (``hour_of``): a unit is the hours
``[start(key), start(key + 1))``, and ``floor`` says which unit an hour falls
in.

Days are whole hours, and weeks and months whole days, so a day's row is the
sum of its hours' rows and a week's or a month's the sum of its days'
(``parts``): the roll-up rebuilds each from those, and the validation flush
adds each count to all four.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

from sqlalchemy import Column, Table

from promo.reports.models import ReportDay, ReportHour, ReportMonth, ReportWeek

GrainName = Literal["hour", "day", "week", "month"]
HOUR_SECONDS = 3600
HOURS_PER_DAY = 24
HOURS_PER_WEEK = 7 * HOURS_PER_DAY
# 1970-01-01 was a Thursday: the first ISO week starts three days before.
WEEK_ORIGIN = -3 * HOURS_PER_DAY
EPOCH_YEAR = 1970


def hour_of(instant: datetime) -> int:
    """The UTC hour ``instant`` falls in (floor)."""
    return int(instant.astimezone(UTC).timestamp()) // HOUR_SECONDS


def instant_of(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR_SECONDS, UTC)


def hour_ceiling(instant: datetime) -> int:
    """The first UTC hour that starts at or after ``instant``."""
    floor = hour_of(instant)
    return floor if instant_of(floor) == instant else floor + 1


@dataclass(frozen=True)
class Grain:
    """Units of ``width`` hours from hour ``origin`` on (``width`` None: calendar
    months), kept in ``table`` keyed by the column named ``name``; a unit's row
    is the sum of the rows of its ``parts``."""

    name: GrainName
    table: Table
    width: int | None
    origin: int = 0
    parts: GrainName | None = None

    @property
    def key(self) -> Column[int]:
        return cast("Column[int]", self.table.c[self.name])

    @property
    def shortest(self) -> int:
        """The hours of its shortest unit (February's, for months)."""
        return self.width or 28 * HOURS_PER_DAY

    def floor(self, hour: int) -> int:
        """The unit UTC hour ``hour`` falls in."""
        if self.width is None:
            return _month_of(hour)
        return (hour - self.origin) // self.width

    def start(self, key: int) -> int:
        """The first UTC hour of unit ``key``."""
        if self.width is None:
            return _month_start(key)
        return self.origin + key * self.width

    def ceiling(self, hour: int) -> int:
        """The first unit that starts at or after ``hour``."""
        key = self.floor(hour)
        return key if self.start(key) == hour else key + 1

    def nearest(self, hour: int) -> int:
        """The unit whose start is the boundary nearest to ``hour`` (halves up)."""
        key = self.floor(hour)
        if self.start(key) == hour:
            return key
        return key + 1 if self.start(key + 1) - hour <= hour - self.start(key) else key

    def units(self, first_hour: int, end_hour: int) -> range:
        """The units that hold any of the hours ``[first_hour, end_hour)``."""
        return range(self.floor(first_hour), self.floor(end_hour - 1) + 1)


# Cached: a report's plan asks for the same few months thousands of times.
@functools.lru_cache(maxsize=4096)
def _month_of(hour: int) -> int:
    moment = instant_of(hour)
    return (moment.year - EPOCH_YEAR) * 12 + moment.month - 1


@functools.lru_cache(maxsize=4096)
def _month_start(key: int) -> int:
    year, month = divmod(key, 12)
    return hour_of(datetime(EPOCH_YEAR + year, month + 1, 1, tzinfo=UTC))


def _table(model: type) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


HOUR = Grain("hour", _table(ReportHour), width=1)
DAY = Grain("day", _table(ReportDay), width=HOURS_PER_DAY, parts="hour")
WEEK = Grain("week", _table(ReportWeek), width=HOURS_PER_WEEK, origin=WEEK_ORIGIN, parts="day")
MONTH = Grain("month", _table(ReportMonth), width=None, parts="day")
# Finest first.
GRAINS: tuple[Grain, ...] = (HOUR, DAY, WEEK, MONTH)
BY_NAME: dict[GrainName, Grain] = {grain.name: grain for grain in GRAINS}
