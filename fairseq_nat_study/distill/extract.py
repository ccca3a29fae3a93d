"""Reading ``fairseq-generate`` output back into corpus order (pure functions)."""
from __future__ import annotations

import re
from typing import Iterable

_HYP = re.compile(r"^H-(\d+)\t([^\t]*)\t?(.*)$")
_DETOK = re.compile(r"^D-(\d+)\t([^\t]*)\t?(.*)$")


def parse_hypotheses(lines: Iterable[str], num_sentences: int, detokenized: bool = False) -> list[str]:
    """The best hypothesis of every sentence, in corpus order.

    Args:
        lines: lines of ``fairseq-generate`` output (``H-<id>\\t<score>\\t<text>``; ``D-`` with ``detokenized``).
        num_sentences: how many sentences the split has.

    Returns:
        ``num_sentences`` strings, the first (best) hypothesis of each id.

    Raises:
        ValueError: an id is missing or out of range (fairseq dropped or mis-numbered sentences).
    """
    pattern = _DETOK if detokenized else _HYP
    hyps: dict[int, str] = {}
    for line in lines:
        match = pattern.match(line.rstrip("\n"))
        if match is None:
            continue
        sid = int(match.group(1))
        if sid >= num_sentences:
            raise ValueError(f"hypothesis id {sid} but the split has {num_sentences} sentences")
        hyps.setdefault(sid, match.group(3))
    missing = [i for i in range(num_sentences) if i not in hyps]
    if missing:
        raise ValueError(
            f"fairseq-generate output has {len(hyps)} of {num_sentences} hypotheses; missing ids {missing[:10]}"
        )
    return [hyps[i] for i in range(num_sentences)]
