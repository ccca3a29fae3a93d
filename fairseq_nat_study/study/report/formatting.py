"""Table cells of the report and the tools: a missing figure is ``n/a``, never an empty cell or ``None``."""
from __future__ import annotations

from typing import Any


def fmt(v: Any, digits: int = 2) -> str:
    """A number with ``digits`` decimals; anything else as it prints; None as ``n/a``."""
    if v is None:
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def cell(v: Any) -> str:
    """A figure as recorded (already rounded); None as ``n/a``."""
    return "n/a" if v is None else str(v)
