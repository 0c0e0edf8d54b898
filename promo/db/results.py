"""What a statement's result says about the rows it changed."""

from __future__ import annotations

from typing import Any


def rows_changed(result: Any) -> int:
    """How many rows an UPDATE or DELETE changed (0 when the driver cannot say)."""
    return int(getattr(result, "rowcount", 0) or 0)
