"""Range checks of numeric flags, refused with one line that names the component, the flag and its range.

Models, criterions and generators call these when they are built (before the first update or the first
decoded batch); a value outside its range raises :class:`~fairseq_nat_study.utils.errors.PluginError`, which
fairseq's tools print as ``<tool>: error: <where>: <flag> must be ... (<meaning>), got <value>``.
"""
from __future__ import annotations

import math

from fairseq_nat_study.utils.errors import PluginError


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def require_int(where: str, flag: str, value: object, minimum: int, meaning: str) -> None:
    """Raises ``PluginError`` unless ``value`` is an integer ``>= minimum``.

    Args:
        where: the component (``nat_study_latent``, ``nat_study_elbo``, ...); flag: ``--latent-dim``;
        value: the parsed value; minimum: the smallest allowed value; meaning: what the flag is, for the message.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "" if isinstance(value, int) and not isinstance(value, bool) else "an integer "
        raise PluginError(f"{where}: {flag} must be {kind}>= {minimum} ({meaning}), got {_fmt(value)}")


def require_float(where: str, flag: str, value: object, meaning: str, low: float | None = None,
                  high: float | None = None, low_open: bool = False, high_open: bool = False) -> None:
    """Raises ``PluginError`` unless ``value`` is a finite number in the interval given by ``low`` and ``high``
    (either None: unbounded on that side; ``*_open``: the bound itself excluded)."""
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {_fmt(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {_fmt(high)}")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = number and math.isfinite(value)
    rule = " and ".join(parts) if ok or not number else "a finite number " + " and ".join(parts)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        shown = _fmt(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
        raise PluginError(f"{where}: {flag} must be {rule.strip() or 'finite'} ({meaning}), got {shown}")
