"""A report read from pieces of months, weeks, days and hours equals the same report
read from the hours alone, on both databases.

Random roll-ups are written the way the service writes them: validations by
the flush (``add_counts``: hours, days, weeks and months), sales into the
hours and then the days, weeks and months rebuilt from them by the roll-up
(``rebuild_grains``). Hours lie before, inside and after the period, so that
a piece taken back from a wrong bucket, or a unit read that the period does
not hold, shows. The oracle buckets each hour row with ``Buckets.index_of``
and sums; ``sales_until`` at a random hour (or none) splits where sales stop
being read from the roll-ups (the ledger is empty, so none come after it).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.codes.models import Code
from promo.errors import Invalid
from promo.reports.buckets import BUCKETS, Buckets, plan, zone
from promo.reports.counting import Tally, add_counts
from promo.reports.grains import HOUR, hour_of, instant_of
from promo.reports.models import FIGURE_COLUMNS, SALES_COLUMNS, RollupState
from promo.reports.rollup import rebuild_grains
from promo.reports.service import performance
from tests.support.factories import campaign_row, make_affiliate

NOW = datetime(2026, 7, 1, tzinfo=UTC)
# Weeks and months of Paris, New York, Tokyo and UTC, with their daylight saving.
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "America/Havana"]
BASE = hour_of(datetime(2026, 1, 1, tzinfo=UTC))
WINDOW = 24 * 200  # hours in which rows may lie
MARGIN = 24 * 40  # of them before the period's earliest start

figures = st.tuples(*(st.integers(min_value=0, max_value=50) for _ in SALES_COLUMNS))
# Runs of hours (first, how many, every how many hours, code, figures), so that the
# rows are dense enough for every piece of a report to hold some.
runs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=WINDOW - 1),
        st.integers(min_value=1, max_value=24 * 90),
        st.integers(min_value=1, max_value=30),
        st.integers(min_value=0, max_value=3),
        st.tuples(st.integers(0, 5), st.integers(0, 5), figures),
    ),
    min_size=1,
    max_size=5,
)
Drawn = dict[tuple[int, int], tuple[int, int, tuple[int, ...]]]


def hour_rows(drawn_runs: list[Any]) -> Drawn:
    """(hour offset, code index) -> (invalid, valid, sales) of the runs, added up."""
    found: Drawn = {}
    for first, length, every, index, (invalid, valid, sales) in drawn_runs:
        for offset in range(first, min(first + length, WINDOW), every):
            old = found.get((offset, index), (0, 0, (0,) * len(SALES_COLUMNS)))
            found[(offset, index)] = (
                old[0] + invalid,
                old[1] + valid,
                tuple(a + b for a, b in zip(old[2], sales, strict=True)),
            )
    return found


async def make_codes(db: AsyncSession) -> list[Code]:
    """Four codes: two campaigns (EUR, JPY), with and without affiliate and channel."""
    eur = campaign_row(name="Pieces EUR", now=NOW)
    jpy = campaign_row(name="Pieces JPY", now=NOW, currency="JPY")
    db.add_all([eur, jpy])
    anna = await make_affiliate(db, now=NOW, name="Pieces")
    await db.flush()
    found = []
    for index, (campaign, affiliate, channel) in enumerate(
        [(eur, anna, "instagram"), (eur, None, "instagram"), (eur, anna, None), (jpy, anna, "blog")]
    ):
        code = Code(
            campaign_id=campaign.id,
            code=f"PIECE{index}",
            canonical=f"PIECE{index}",
            affiliate_id=affiliate.id if affiliate else None,
            channel=channel,
            created_at=NOW,
        )
        db.add(code)
        found.append(code)
    await db.flush()
    return found


async def write_rollups(db: AsyncSession, codes: list[Code], drawn: Drawn) -> None:
    currency = {code.id: "JPY" if code.code == "PIECE3" else "EUR" for code in codes}
    counts = {}
    for (offset, index), (tried, valid, _) in drawn.items():
        code = codes[index]
        tally = Tally(code.campaign_id, code.affiliate_id, currency[code.id])
        tally.tried, tally.valid = tried + valid, valid
        counts[(BASE + offset, code.id)] = tally
    await add_counts(db, counts)
    hours = HOUR.table
    for (offset, index), (_, _, sales) in drawn.items():
        await db.execute(
            update(hours)
            .where(hours.c.hour == BASE + offset, hours.c.code_id == codes[index].id)
            .values(dict(zip(SALES_COLUMNS, sales, strict=True)))
        )
    await rebuild_grains(db, BASE, BASE + WINDOW)


def group_of(code: Code, group_by: str) -> tuple[Any, ...]:
    """(code, campaign_id, affiliate_id, channel) as a report line of ``group_by`` has them."""
    if group_by == "code":
        return (code.code, code.campaign_id, code.affiliate_id, code.channel)
    return (
        None,
        code.campaign_id if group_by == "campaign" else None,
        code.affiliate_id if group_by == "affiliate" else None,
        code.channel if group_by == "channel" else None,
    )


def from_hours(
    drawn: Drawn,
    codes: list[Code],
    buckets: Buckets,
    group_by: str,
    until: int | None,
) -> dict[tuple[Any, ...], dict[str, int]]:
    """The oracle: every hour row of the period in its bucket, summed per group."""
    found: dict[tuple[Any, ...], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(FIGURE_COLUMNS, 0)
    )
    for (offset, index), (tried, valid, sales) in drawn.items():
        hour, code = BASE + offset, codes[index]
        if not buckets.starts[0] <= hour < buckets.end:
            continue
        currency = "JPY" if code.code == "PIECE3" else "EUR"
        sums = found[(*group_of(code, group_by), currency, buckets.index_of(hour))]
        sums["validations_tried"] += tried + valid
        sums["validations_valid"] += valid
        if until is not None and hour < until:
            for name, value in zip(SALES_COLUMNS, sales, strict=True):
                sums[name] += value
    return {key: sums for key, sums in found.items() if any(sums.values())}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    drawn_runs=runs,
    name=st.sampled_from(ZONES),
    bucket=st.sampled_from(BUCKETS),
    group_by=st.sampled_from(["campaign", "affiliate", "code", "channel"]),
    start=st.integers(min_value=MARGIN, max_value=MARGIN + 24 * 60),
    span=st.integers(min_value=1, max_value=24 * 100),
    # Sales rolled up: never, up to an hour anywhere, or past the period.
    until=st.one_of(st.none(), st.integers(min_value=0, max_value=WINDOW), st.just(WINDOW)),
)
async def test_a_report_from_pieces_equals_the_report_from_hours(
    db: AsyncSession,
    drawn_runs: list[Any],
    name: str,
    bucket: str,
    group_by: str,
    start: int,
    span: int,
    until: int | None,
) -> None:
    buckets = plan(instant_of(BASE + start), instant_of(BASE + start + span), bucket, zone(name))  # type: ignore[arg-type]
    drawn = hour_rows(drawn_runs)
    saved = await db.begin_nested()
    try:
        codes = await make_codes(db)
        await write_rollups(db, codes, drawn)
        if until is not None:
            db.add(RollupState(id=1, sales_until=instant_of(BASE + until), updated_at=NOW))
            await db.flush()
        report = await performance(db, buckets, group_by)  # type: ignore[arg-type]
        got = {
            (
                line.code,
                line.campaign_id,
                line.affiliate_id,
                line.channel,
                line.currency,
                line.bucket,
            ): line.sums
            for line in report.lines
        }
        expected = from_hours(
            drawn, codes, buckets, group_by, None if until is None else BASE + until
        )
        assert got == expected
    finally:
        await saved.rollback()


@pytest.mark.parametrize("group_by", ["campaign", "channel"])
async def test_a_total_past_the_json_safe_range_is_refused_not_rounded(
    db: AsyncSession, group_by: str
) -> None:
    codes = await make_codes(db)
    half = 2**52  # two of them make 2**53, one past MAX_SAFE_INTEGER
    drawn: Drawn = {
        (offset, index): (0, 1, (1, half, 0, 0, 0, 0)) for offset, index in ((10, 0), (11, 1))
    }
    await write_rollups(db, codes, drawn)
    db.add(RollupState(id=1, sales_until=instant_of(BASE + WINDOW), updated_at=NOW))
    await db.flush()
    buckets = plan(instant_of(BASE), instant_of(BASE + 24 * 31), "month", zone("UTC"))
    with pytest.raises(Invalid) as refused:
        await performance(db, buckets, group_by)  # type: ignore[arg-type]
    assert refused.value.code == "total_out_of_range"
    # Each code alone is within range.
    report = await performance(db, buckets, "code")
    assert sorted(line.sums["revenue"] for line in report.lines) == [half, half]
