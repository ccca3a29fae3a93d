"""argparse ``type=`` functions of the plugin's tools: a number out of its range is refused while the command line
is parsed, by argparse's own one-line error naming the flag (``fairseq-nat-study bench: error: argument
--repeats: must be an integer >= 1, got '0'``), before anything is loaded."""
from __future__ import annotations

import argparse
import math
from typing import Callable


def int_at_least(least: int) -> Callable[[str], int]:
    """A ``type=`` for integers ``>= least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {least}, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be an integer >= {least}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {least}"
    return parse


def float_in(low: float = -math.inf, high: float = math.inf, low_open: bool = False) -> Callable[[str], float]:
    """A ``type=`` for finite numbers in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    bracket = "(" if low_open else "["
    span = f"in {bracket}{low:g}, {high:g}]" if math.isfinite(high) else f"{'>' if low_open else '>='} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number {span}, got {text!r}") from None
        if not math.isfinite(value) or value < low or value > high or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"must be a number {span}, got {text!r}")
        return value

    parse.__name__ = f"number {span}"
    return parse


#: counts that must be at least one (beam sizes, batch sizes, samples, workers, ...)
positive_int = int_at_least(1)
#: counts where 0 means "off" or "all"
non_negative_int = int_at_least(0)
#: seeds (any integer >= 0, as numpy's generators take)
seed = int_at_least(0)
#: probabilities and ratios in [0, 1]
unit_interval = float_in(0.0, 1.0)
#: non-negative reals (seconds, thresholds)
non_negative_float = float_in(0.0)
