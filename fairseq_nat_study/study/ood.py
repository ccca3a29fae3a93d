"""The study's out-of-distribution test set: the slides' "train on A, test on B".

Every run's final checkpoint is also scored (BLEU and the LL of the references) on a second test set drawn from
another distribution, set by ``data.ood`` in the study config:

- **synthetic data**: a second corpus from the *same* phrase table (same seed, so the same words and
  translations, every word known to the dictionaries) with other sentence lengths and more ambiguous words,
  ``DEFAULT_SYNTH_SHIFT`` unless ``data.ood`` overrides ``min_phrases``, ``max_phrases``, ``p_ambiguous`` or
  ``num_test``; its exact H(Y|X) and C are known like those of the main corpus;
- **text data**: a second parallel test set, ``{"dir": ..., "prefix": ..., "lines": [first, end)}`` naming
  ``<dir>/<prefix>.<src>`` and ``<dir>/<prefix>.<tgt>``, prepared as the test split is (sacremoses when
  ``data.tokenize``, the study's BPE codes); ``"join_hyphens": true`` first joins the split hyphens of
  text tokenized for WMT (``a ##AT##-##AT## b`` → ``a-b``) and ``"lowercase": true`` lower-cases it, so that a
  tokenized WMT set meets a lower-cased corpus such as Multi30k's ``lc.norm.tok`` (both keep Moses's HTML
  escapes); ``{}`` (the default for text) means none;
- ``null``: none.

It is binarised with the study's dictionaries as fairseq's second test split, ``test1``.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fairseq_nat_study.study.config import DataConfig, StudyConfigError, expand_data_dir

#: the synthetic OOD set's shift: longer sentences (6-12 source words against 3-8) and more ambiguous words
DEFAULT_SYNTH_SHIFT: dict[str, Any] = {"min_phrases": 6, "max_phrases": 12, "p_ambiguous": 0.5}
SYNTH_KEYS = ("min_phrases", "max_phrases", "p_ambiguous", "num_test")
TEXT_KEYS = ("dir", "prefix", "lines", "join_hyphens", "lowercase")
#: fairseq's name of the second ``--testpref`` split
OOD_SPLIT = "test1"
#: the OOD set's file stem under the study's ``data/text`` (and ``data/bpe``)
OOD_STEM = "ood"


def enabled(d: DataConfig) -> bool:
    """Whether the study has an OOD test set."""
    return d.ood is not None and (d.kind == "synth" or bool(d.ood))


def validate_ood(d: DataConfig) -> None:
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


def resolve_dir(d: DataConfig, base_dir: Path | None) -> None:
    """Expands environment variables in ``data.ood.dir`` and resolves it against the config's folder."""
    if d.kind != "text" or not d.ood or not d.ood.get("dir"):
        return
    path = expand_data_dir(d.ood["dir"])
    if base_dir is not None and not Path(path).is_absolute():
        path = str((base_dir / path).resolve())
    d.ood["dir"] = path


def synth_config(d: DataConfig, seed: int) -> Any:
    """The ``SynthConfig`` of the shifted synthetic test set (one train and one valid pair: only its test split
    is used)."""
    from fairseq_nat_study.data.synthetic import SynthConfig

    shift = {**DEFAULT_SYNTH_SHIFT, **(d.ood or {})}
    return SynthConfig(seed=seed, num_train=1, num_valid=1, num_test=int(shift.pop("num_test", 500)),
                       preset=d.preset, **shift)


def write_synth(d: DataConfig, seed: int, text: Path) -> dict[str, Any]:
    """Writes ``text/ood.{src,tgt}`` from the shifted corpus; returns its description and exact statistics."""
    import json

    from fairseq_nat_study.data.synthetic import write_corpus

    cfg = synth_config(d, seed)
    corpus = text / "ood-corpus"
    write_corpus(cfg, corpus)
    for side in ("src", "tgt"):
        shutil.copyfile(corpus / f"test.{side}", text / f"{OOD_STEM}.{side}")
    stats = json.loads((corpus / "stats.json").read_text())
    shift = {k: getattr(cfg, k) for k in ("min_phrases", "max_phrases", "p_ambiguous")}
    return {"kind": "synth", "shift": shift, "sentences": cfg.num_test,
            "stats": {"splits": {"test": stats["splits"]["test"]}}}


def join_hyphens(line: str) -> str:
    """``a ##AT##-##AT## b`` → ``a-b``: the hyphens of WMT text tokenized with Moses's ``-a`` option joined."""
    return line.replace(" ##AT##-##AT## ", "-")


def read_text(d: DataConfig) -> tuple[list[str], list[str], str]:
    """The text OOD set's (source lines, target lines, description), sliced by ``lines``."""
    from fairseq_nat_study.study.data_prep import read_parallel, refuse_empty_lines

    stem = Path(d.ood["dir"]) / d.ood["prefix"]
    window = d.ood.get("lines")
    src, tgt = read_parallel(stem, d.src, d.tgt, "data.ood", window, "data.ood.lines")
    if d.ood.get("join_hyphens"):
        src, tgt = [join_hyphens(line) for line in src], [join_hyphens(line) for line in tgt]
    if d.ood.get("lowercase"):
        src, tgt = [line.lower() for line in src], [line.lower() for line in tgt]
    refuse_empty_lines(src, tgt, "data.ood", f"{stem.name}.{d.src}/{stem.name}.{d.tgt}")
    # named by its folder and files, not by a path of this machine (the description goes into the report)
    where = f"{stem.parent.name}/{stem.name}.{{{d.src},{d.tgt}}}"
    return src, tgt, where + (f" lines {window[0] + 1}-{window[1]}" if window else "")
