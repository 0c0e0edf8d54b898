"""Bucketing by time zone (promo.reports.buckets) and the report's ratios (figures)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promo.reports.buckets import (
    BUCKETS,
    MAX_BUCKETS,
    BucketError,
    Buckets,
    Term,
    pieces,
    plan,
    sources,
    zone,
)
from promo.reports.figures import cost_per_sale, ratio, return_on_cost
from promo.reports.grains import BY_NAME, hour_of, instant_of

# Whole-hour offsets, with and without daylight saving; Havana and Santiago move
# their clocks at local midnight, Apia skipped 2011-12-30, Lord Howe's DST is 30 min
# (so its midnights are whole hours in winter only: not in this list).
WHOLE_HOUR_ZONES = [
    "UTC",
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/Havana",
    "America/Santiago",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "Africa/Casablanca",
]
HALF_HOUR_ZONES = ["Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide", "Asia/Tehran"]
FIRST = hour_of(datetime(2000, 1, 1, tzinfo=UTC))
LAST = hour_of(datetime(2040, 1, 1, tzinfo=UTC))

hours = st.integers(min_value=FIRST, max_value=LAST)
spans = st.integers(min_value=1, max_value=24 * 100)


def calendar_bucket(hour: int, bucket: str, tz: ZoneInfo) -> date:
    """Oracle: the local date the calendar bucket of ``hour``'s start begins on."""
    day = instant_of(hour).astimezone(tz).date()
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def counted(terms: tuple[Term, ...]) -> dict[tuple[int, int, bool], int]:
    """How many times each (hour, bucket, sales) is counted by ``terms``, signs applied."""
    found: dict[tuple[int, int, bool], int] = defaultdict(int)
    for term in terms:
        grain = BY_NAME[term.grain]
        for hour in range(grain.start(term.low), grain.start(term.high)):
            found[(hour, term.bucket, term.sales)] += term.sign
    return {key: count for key, count in found.items() if count}


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(WHOLE_HOUR_ZONES),
    bucket=st.sampled_from(BUCKETS),
    first=hours,
    span=spans,
)
def test_every_hour_falls_in_the_bucket_of_its_local_date(
    name: str, bucket: str, first: int, span: int
) -> None:
    tz = zone(name)
    buckets = plan(instant_of(first), instant_of(first + span), bucket, tz)  # type: ignore[arg-type]
    assert buckets.starts[0] == first
    assert list(buckets.starts) == sorted(set(buckets.starts)), "strictly increasing"
    assert buckets.end == first + span
    for index in range(len(buckets.starts)):
        low, high = buckets.bounds(index)
        assert low < high, "no empty bucket"
    for hour in range(first, first + span):
        index = buckets.index_of(hour)
        assert buckets.labels[index] == calendar_bucket(hour, bucket, tz), instant_of(hour)
    # Every bucket but the first starts on its local date's first instant.
    for start, label in zip(buckets.starts[1:], buckets.labels[1:], strict=True):
        assert calendar_bucket(start, bucket, tz) == label
        assert calendar_bucket(start - 1, bucket, tz) != label


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(WHOLE_HOUR_ZONES),
    bucket=st.sampled_from(BUCKETS),
    first=hours,
    span=spans,
    until=st.one_of(st.none(), st.integers(min_value=-48, max_value=24 * 110)),
)
def test_the_terms_count_each_hour_once_in_its_bucket(
    name: str, bucket: str, first: int, span: int, until: int | None
) -> None:
    buckets = plan(instant_of(first), instant_of(first + span), bucket, zone(name))  # type: ignore[arg-type]
    split_at = None if until is None else first + until
    found = sources(buckets, split_at)
    split = first if split_at is None else min(max(split_at, first), first + span)
    expected = {
        (hour, buckets.index_of(hour), hour < split): 1 for hour in range(first, first + span)
    }
    assert counted(found.terms) == expected
    assert found.live_from == (split if split < first + span else None)
    for term in found.terms:
        if term.grain == "hour" and term.sign < 0:
            assert term.high - term.low <= 12, "a correction is at most half a day"
        if term.grain == "hour":
            assert term.high - term.low < 24, "never a whole day of hours"
    hour_rows = sum(t.high - t.low for t in found.terms if t.grain == "hour")
    assert hour_rows <= 24 * 2 * len(buckets.starts), "at most 12 hours each side of a piece"


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(HALF_HOUR_ZONES), bucket=st.sampled_from(BUCKETS), first=hours)
def test_a_zone_whose_midnights_are_not_whole_utc_hours_is_refused_on_tz(
    name: str, bucket: str, first: int
) -> None:
    # 100 days always hold a local midnight that starts a day, week or month.
    with pytest.raises(BucketError) as refused:
        plan(instant_of(first), instant_of(first + 24 * 100), bucket, zone(name))  # type: ignore[arg-type]
    assert refused.value.field == "tz"


def test_a_day_without_a_midnight_inside_is_fine_in_any_zone() -> None:
    start = datetime(2026, 7, 1, 0, tzinfo=UTC)  # 05:30 in Kolkata
    buckets = plan(start, start + timedelta(hours=12), "day", zone("Asia/Kolkata"))
    assert buckets.labels == (date(2026, 7, 1),)


def test_paris_months_start_at_22_or_23_utc() -> None:
    buckets = plan(
        datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(2027, 1, 1, tzinfo=ZoneInfo("Europe/Paris")),
        "month",
        zone("Europe/Paris"),
    )
    assert [instant_of(h).hour for h in buckets.starts] == [23, 23, 23] + [22] * 7 + [23, 23]
    assert [label.month for label in buckets.labels] == list(range(1, 13))


def test_apia_skipped_a_day_and_no_bucket_is_empty() -> None:
    buckets = plan(
        datetime(2011, 12, 29, 10, tzinfo=UTC),
        datetime(2011, 12, 31, 10, tzinfo=UTC),
        "day",
        zone("Pacific/Apia"),
    )
    assert buckets.labels == (date(2011, 12, 29), date(2011, 12, 31))


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (datetime(2026, 7, 1, 0, 30, tzinfo=UTC), datetime(2026, 7, 2, tzinfo=UTC), "from"),
        (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 2, 0, 0, 1, tzinfo=UTC), "to"),
        (datetime(2026, 7, 2, tzinfo=UTC), datetime(2026, 7, 2, tzinfo=UTC), "to"),
        (datetime(2026, 7, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC), "to"),
    ],
)
def test_boundaries_off_the_hour_or_out_of_order_are_refused(
    start: datetime, end: datetime, field: str
) -> None:
    with pytest.raises(BucketError) as refused:
        plan(start, end, "month", zone("UTC"))
    assert refused.value.field == field


def test_at_most_max_buckets() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    enough = plan(start, start + timedelta(days=MAX_BUCKETS), "day", zone("UTC"))
    assert isinstance(enough, Buckets)
    assert len(enough.starts) == MAX_BUCKETS
    with pytest.raises(BucketError) as refused:
        plan(start, start + timedelta(days=MAX_BUCKETS + 1), "day", zone("UTC"))
    assert refused.value.field == "to"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "Europe/", "UTC\x00"])
def test_unknown_zones_are_refused_on_tz(name: str) -> None:
    with pytest.raises(BucketError) as refused:
        zone(name)
    assert refused.value.field == "tz"


@given(
    numerator=st.integers(min_value=-(10**15), max_value=10**15),
    denominator=st.integers(min_value=-(10**12), max_value=10**12).filter(bool),
)
def test_ratio_is_the_exact_quotient_rounded_half_up(numerator: int, denominator: int) -> None:
    scaled = Fraction(numerator * 10_000, denominator)
    magnitude = math.floor(abs(scaled) + Fraction(1, 2))  # halves away from zero
    whole, fraction = divmod(magnitude, 10_000)
    sign = "-" if scaled < 0 and magnitude else ""
    assert ratio(numerator, denominator) == f"{sign}{whole}.{fraction:04d}"
    assert Decimal(ratio(numerator, denominator) or "0") == (
        Decimal(numerator) / Decimal(denominator)
    ).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def test_figures_without_a_denominator_are_null() -> None:
    assert ratio(5, 0) is None
    assert cost_per_sale(100, 50, 0) is None
    assert cost_per_sale(100, 51, 2) == 76  # 75.5 rounded half up
    assert return_on_cost(1000, 0) is None
    assert return_on_cost(1000, -5) is None
    assert return_on_cost(1000, 300) == "3.3333"


@settings(max_examples=300, deadline=None)
@given(low=hours, span=st.integers(min_value=1, max_value=24 * 800))
def test_pieces_add_up_to_exactly_the_hours(low: int, span: int) -> None:
    found: dict[int, int] = defaultdict(int)
    for piece in pieces(low, low + span):
        grain = BY_NAME[piece.grain]
        for hour in range(grain.start(piece.low), grain.start(piece.high)):
            found[hour] += piece.sign
    assert {hour: n for hour, n in found.items() if n} == dict.fromkeys(range(low, low + span), 1)


def shape(start: datetime, end: datetime, bucket: str, tz: str) -> list[list[tuple[str, int, int]]]:
    """Each bucket's pieces as (grain, sign, units)."""
    buckets = plan(start, end, bucket, zone(tz))  # type: ignore[arg-type]
    return [
        [(p.grain, p.sign, p.high - p.low) for p in pieces(*buckets.bounds(index))]
        for index in range(len(buckets.starts))
    ]


def test_a_utc_month_is_its_month_row_and_a_paris_month_adds_an_hour_or_two() -> None:
    utc = shape(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), "month", "UTC")
    assert utc == [[("month", 1, 1)]] * 12
    paris = ZoneInfo("Europe/Paris")
    start, end = datetime(2026, 1, 1, tzinfo=paris), datetime(2027, 1, 1, tzinfo=paris)
    for found in shape(start, end, "month", "Europe/Paris"):
        assert found[0] == ("month", 1, 1)
        assert all(grain == "hour" and units <= 2 for grain, _, units in found[1:])


def test_a_new_york_week_is_its_utc_week_moved_by_the_hours_before_its_start() -> None:
    new_york = ZoneInfo("America/New_York")
    start, end = datetime(2026, 1, 5, tzinfo=new_york), datetime(2026, 12, 28, tzinfo=new_york)
    for found in shape(start, end, "week", "America/New_York"):
        # Monday 00:00 UTC, less the 4 or 5 hours to its start, plus those to the next.
        assert found[0] == ("week", 1, 1)
        (_, minus, before), (_, plus, after) = sorted(found[1:])
        assert (minus, plus) == (-1, 1)
        assert {before, after} <= {4, 5}
