"""How the findings read a BLEU comparison of two outputs of one test split.

Paired bootstrap of the difference where both outputs carry per-sentence statistics
(:mod:`fairseq_nat_study.analysis.significance`): ``higher`` or ``lower`` where the 95% interval excludes 0,
``level`` (within the test set's sampling noise) where it holds 0. Records without the statistics are compared
point against point.
"""
from __future__ import annotations

from typing import Any

from fairseq_nat_study.analysis.significance import describe, paired_difference

#: (reading, the paired bootstrap or None)
Move = tuple[str, "dict[str, Any] | None"]


def direction(a: dict[str, Any], b: dict[str, Any]) -> Move:
    """BLEU of output ``b`` against output ``a`` of the same test split: (``higher``/``lower``/``level``, the
    paired bootstrap or None); paired when both carry per-sentence statistics of as many sentences."""
    sa, sb = a.get("bleu_stats"), b.get("bleu_stats")
    if sa and sb and len(sa) == len(sb):
        diff = paired_difference(sa, sb)
        return diff["reading"], diff
    return ("higher" if b["bleu"] > a["bleu"] else "lower" if b["bleu"] < a["bleu"] else "level"), None


def raised(moved: Move) -> bool | None:
    """A claim that BLEU goes up: yes when higher, no when lower, not testable when level (within noise)."""
    return {"higher": True, "lower": False}.get(moved[0])


def change(a: dict[str, Any], b: dict[str, Any], moved: Move) -> str:
    """``69.76 → 71.52 (+1.76 [+0.90, +2.61], higher)``: the two BLEU scores, the paired difference with its
    95% interval and its reading (``level``: the interval holds 0)."""
    reading, diff = moved
    return f"{a['bleu']} → {b['bleu']}" + (f" ({describe(diff)}, {reading})" if diff else "")


def paired_note(moves: list[Move]) -> str:
    """How the readings were made: the bootstrap's resamples and sentences, or point against point."""
    diffs = [d for _, d in moves if d]
    if not diffs:
        return "point against point (no per-sentence statistics)"
    counts = sorted({d["samples"] for d in diffs})
    drawn = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return (f"paired bootstrap, {drawn} resamples of the {diffs[0]['sentences']} test sentences, "
            f"{diffs[0]['level']:.0%} interval")


def majority(agree: int, against: int, testable: int) -> bool | None:
    """A claim over several models or runs: yes when more than half of those that can test it agree, no when
    more than half disagree, not testable otherwise (none can test it, or too many are within noise)."""
    if testable and 2 * agree > testable:
        return True
    if testable and 2 * against > testable:
        return False
    return None
