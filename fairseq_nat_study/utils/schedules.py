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


def hold_then_anneal(update: int, value: float, hold: int, anneal: int) -> float:
    """``value`` for the first ``hold`` updates, then linearly to 0 over ``anneal`` updates, then 0 (LaNMT's KL
    budget). ``hold = anneal = 0`` gives 0 throughout."""
    if anneal <= 0:
        return value if update < hold else 0.0
    return linear_anneal(update, value, 0.0, anneal, delay=hold)
