"""The OOD test set's section of a study config (``data.ood``, :mod:`~fairseq_nat_study.study.ood`): its keys,
defaults and checks, and the config of the shifted synthetic set; checked with the rest of the config before
any stage runs. ``d`` is the config's data section (``study.data_config.DataConfig``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fairseq_nat_study.study.errors import StudyConfigError, expand_data_dir

#: the synthetic OOD set's shift: longer sentences (6-12 source words against 3-8) and more ambiguous words
DEFAULT_SYNTH_SHIFT: dict[str, Any] = {"min_phrases": 6, "max_phrases": 12, "p_ambiguous": 0.5}
SYNTH_KEYS = ("min_phrases", "max_phrases", "p_ambiguous", "num_test")
TEXT_KEYS = ("dir", "prefix", "lines", "join_hyphens", "lowercase")
#: fairseq's name of the second ``--testpref`` split
OOD_SPLIT = "test1"
#: the OOD set's file stem under the study's ``data/text`` (and ``data/bpe``)
OOD_STEM = "ood"


def enabled(d: Any) -> bool:
    """Whether the study has an OOD test set."""
    return d.ood is not None and (d.kind == "synth" or bool(d.ood))


def validate_ood(d: Any) -> None:
    """Raises ``StudyConfigError`` naming the first problem of ``data.ood``."""
    if not isinstance(d.ood, dict):
        raise StudyConfigError(f"data.ood: expected an object or null, got {type(d.ood).__name__}")
    known = SYNTH_KEYS if d.kind == "synth" else TEXT_KEYS
    unknown = sorted(set(d.ood) - set(known))
    if unknown:
        raise StudyConfigError(f"data.ood: unknown key(s) {unknown} for {d.kind} data; known: {list(known)}")
    if d.kind == "synth":
        try:
            synth_config(d, seed=1).validate()
        except ValueError as err:
            raise StudyConfigError(f"data.ood: {err}") from err
    elif d.ood and not (d.ood.get("dir") and d.ood.get("prefix")):
        raise StudyConfigError("data.ood: text data needs both 'dir' and 'prefix' (files <dir>/<prefix>.<src|tgt>)")
    lines = d.ood.get("lines")
    if lines is not None and not (isinstance(lines, list) and len(lines) == 2 and 0 <= lines[0] < lines[1]):
        raise StudyConfigError(f"data.ood.lines: {lines} is not a [first, end) slice")


def resolve_dir(d: Any, base_dir: Path | None) -> None:
    """Expands environment variables in ``data.ood.dir`` and resolves it against the config's folder."""
    if d.kind != "text" or not d.ood or not d.ood.get("dir"):
        return
    path = expand_data_dir(d.ood["dir"])
    if base_dir is not None and not Path(path).is_absolute():
        path = str((base_dir / path).resolve())
    d.ood["dir"] = path


def synth_config(d: Any, seed: int) -> Any:
    """The ``SynthConfig`` of the shifted synthetic test set (one train and one valid pair: only its test split
    is used)."""
    from fairseq_nat_study.data.synthetic import SynthConfig

    shift = {**DEFAULT_SYNTH_SHIFT, **(d.ood or {})}
    return SynthConfig(seed=seed, num_train=1, num_valid=1, num_test=int(shift.pop("num_test", 500)),
                       preset=d.preset, **shift)
