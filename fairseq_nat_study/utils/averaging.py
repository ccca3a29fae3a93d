"""Checkpoint averaging (the standard last step before reporting NMT results), for every model family.

The parameters and floating-point buffers of N checkpoints of one run are averaged; integer and bool buffers
(the flow prior's ActNorm ``initialized`` flags, counters) must agree across the checkpoints and are kept as
they are. Everything else (config, optimizer history, extra state) comes from the last checkpoint, so the
result loads, decodes and resumes like any fairseq checkpoint. Loading stays weights-only.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import torch

from fairseq_nat_study.utils.checkpoint import load_checkpoint_state

#: interval checkpoints and the update count in their names: fairseq's ``--save-interval-updates`` files
#: (``checkpoint_<epoch>_<updates>.pt``) and the study's snapshots (``checkpoint_at_<updates>.pt``)
_INTERVAL = re.compile(r"^checkpoint_(?:\d+|at)_(\d+)\.pt$")


def last_interval_checkpoints(run_dir: Path, count: int) -> list[Path]:
    """The ``count`` interval checkpoints of ``run_dir`` (``checkpoint_<epoch>_<updates>.pt`` or
    ``checkpoint_at_<updates>.pt``) with the most updates, oldest first; raises ``FileNotFoundError`` when there
    are fewer. Where both kinds hold the same update count, one of them is taken (they hold the same model)."""
    by_updates: dict[int, Path] = {}
    for p in sorted(run_dir.glob("checkpoint_*_*.pt")):
        if (m := _INTERVAL.search(p.name)) and p.is_file():
            by_updates.setdefault(int(m.group(1)), p)
    found = sorted(by_updates.items())
    if len(found) < count:
        raise FileNotFoundError(f"{run_dir}: {len(found)} interval checkpoints (checkpoint_<epoch>_<updates>.pt or "
                                f"checkpoint_at_<updates>.pt), {count} asked for; train with "
                                "--save-interval-updates and --keep-interval-updates, or lower "
                                "--num-update-checkpoints")
    return [p for _, p in found[-count:]]


def average_states(states: Sequence[dict[str, torch.Tensor]], names: Sequence[str]) -> dict[str, torch.Tensor]:
    """The mean of the floating-point tensors of model state dicts; other tensors must be equal and are kept.

    Args:
        states: model state dicts with the same keys and shapes; names: where each came from (for errors).

    Returns:
        A state dict with each float tensor averaged (in float64, cast back to its dtype).
    """
    first = states[0]
    for name, state in zip(names[1:], states[1:]):
        if state.keys() != first.keys():
            diff = sorted(set(state) ^ set(first))[:3]
            raise ValueError(f"{name} has other parameters than {names[0]} ({diff} ...): not checkpoints of one model")
    out: dict[str, torch.Tensor] = {}
    for key, value in first.items():
        tensors = [s[key] for s in states]
        if any(t.shape != value.shape for t in tensors):
            raise ValueError(f"{key}: shapes differ across the checkpoints ({[tuple(t.shape) for t in tensors]})")
        if value.is_floating_point():
            out[key] = (sum(t.double() for t in tensors) / len(tensors)).to(value.dtype)
        else:
            if not all(torch.equal(t, value) for t in tensors[1:]):
                raise ValueError(f"{key}: the non-float buffer differs across the checkpoints; cannot average it")
            out[key] = value.clone()
    return out


def average_checkpoints(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Loads every checkpoint (weights-only) and returns the last one with its model state averaged."""
    if not paths:
        raise ValueError("no checkpoints to average")
    loaded = []
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"no checkpoint at {path}")
        try:
            loaded.append(load_checkpoint_state(str(path)))
        except Exception as err:  # a truncated or foreign file: name it instead of a pickle traceback
            why = (str(err).strip().splitlines() or [""])[0][:120]  # torch's messages run over several lines
            raise ValueError(f"{path} is not a readable fairseq checkpoint ({type(err).__name__}: {why})") from err
    if any("model" not in c for c in loaded):
        raise ValueError("a file without a 'model' state is not a fairseq checkpoint")
    result = dict(loaded[-1])
    result["model"] = average_states([c["model"] for c in loaded], [str(p) for p in paths])
    return result
