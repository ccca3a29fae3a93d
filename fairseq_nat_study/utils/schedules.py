"""Annealing schedules as pure functions of the update count."""
from __future__ import annotations


def linear_anneal(update: int, start: float, end: float, updates: int, delay: int = 0) -> float:
    """``start`` until ``delay``, then linearly to ``end`` over ``updates`` updates, then ``end``.

    ``updates <= 0`` means no annealing: ``end`` from the first update.
    """
    if update < delay:
        return start
    if updates <= 0:
        return end
    frac = min(1.0, (update - delay) / updates)
    return start + (end - start) * frac
