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

from fairseq_nat_study.study.ood_config import OOD_SPLIT, OOD_STEM, enabled, synth_config  # noqa: F401
from fairseq_nat_study.study.text_files import read_parallel, refuse_empty_lines


def write_synth(d: Any, seed: int, text: Path) -> dict[str, Any]:
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


def read_text(d: Any) -> tuple[list[str], list[str], str]:
    """The text OOD set's (source lines, target lines, description), sliced by ``lines``."""
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
