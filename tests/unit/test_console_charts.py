"""Server-drawn bar charts: heights proportional to the figures, exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from promo.console import charts


def test_the_largest_bar_fills_the_plot_and_the_others_are_in_proportion() -> None:
    chart = charts.bars("Sales", [("1", 10, "10"), ("2", 5, "5"), ("3", 0, "0")], top_label="10")
    span = charts.HEIGHT - charts.BOTTOM - charts.TOP
    assert [bar.height for bar in chart.bars] == [span, span // 2, 0]
    assert all(bar.y + bar.height == chart.base for bar in chart.bars)
    assert chart.bars[0].title == "1: 10"
    assert not chart.empty


def test_a_period_without_figures_is_empty() -> None:
    chart = charts.bars("Sales", [("1", 0, "0"), ("2", 0, "0")], top_label="0")
    assert chart.empty
    assert chart.top_label == "0"


@given(st.lists(st.integers(min_value=0, max_value=10**15), min_size=1, max_size=400))
def test_bars_stay_inside_the_view_box_and_keep_their_order(values: list[int]) -> None:
    chart = charts.bars("x", [(str(i), v, str(v)) for i, v in enumerate(values)], top_label="")
    assert len(chart.bars) == len(values)
    for bar in chart.bars:
        assert charts.LEFT <= bar.x
        assert bar.x + bar.width <= charts.WIDTH
        assert charts.TOP <= bar.y <= chart.base
    for (a, va), (b, vb) in zip(
        zip(chart.bars, values, strict=True),
        zip(chart.bars[1:], values[1:], strict=True),
        strict=False,
    ):
        assert a.x < b.x or len(values) > charts.WIDTH - charts.LEFT
        if va <= vb:
            assert a.height <= b.height
    assert len(chart.labels) <= charts.MAX_LABELS
