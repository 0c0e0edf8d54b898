"""Imported at start by every interpreter of a `promo serve` given
``PYTHONPATH=benchmarks/nocount`` (``benchmarks/performance_reports.py``): the
validation route's counter does nothing, so the benchmark can compare the
route with and without counting in one run. Never on any other path."""

from promo.reports.counting import ValidationCounter


def _uncounted(self: ValidationCounter, **_: object) -> None:
    return None


ValidationCounter.count = _uncounted  # type: ignore[method-assign]
