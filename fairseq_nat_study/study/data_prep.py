"""The study's (and the recipes') data stage: the synthetic corpus, or parallel text → (optionally) Moses
normalisation and tokenisation with sacremoses and cleaning of the training pairs → one joint subword model
(subword-nmt BPE, or SentencePiece when ``data.spm_vocab`` > 0; :mod:`fairseq_nat_study.data.subwords`) →
``fairseq-preprocess`` with a joined dictionary.

Layout under ``OUT/data``: ``text/{train,valid,test}.{src,tgt}`` (tokenized, no subwords: the references BLEU
is computed against), ``text/ood.{src,tgt}`` (the out-of-distribution test set, ``study/ood.py``), ``bpe/``
(BPE codes and what is binarised) or ``spm/`` (``spm.model`` and what is binarised), and ``bin/`` (the raw
data-bin; the OOD set is its ``test1`` split). ``data.json`` records the subword model (``subwords``: kind,
model path relative to it, size, SentencePiece type). Line slices of a file (``valid_lines``/``test_lines`` =
[first, end)) let one released split serve as both validation and test when the test set is held out
(Multi30k's folder here has only ``train`` and ``val``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from fairseq_nat_study.data.subwords import (SPM_TYPES, SubwordResult, learn_and_apply_bpe,
                                              learn_and_apply_sentencepiece)
from fairseq_nat_study.study.data_config import DataConfig, synth_config
from fairseq_nat_study.study.errors import StudyConfigError
from fairseq_nat_study.study.text_files import read_parallel, refuse_empty_lines  # noqa: F401

SPLITS = ("train", "valid", "test")


def tokenize_pair(cfg: DataConfig, src: list[str], tgt: list[str], split: str) -> tuple[list[str], list[str]]:
    """Source and target lines normalised and tokenized with sacremoses as the data section says (lower-cased,
    Romanian diacritics); ``fairseq-nat-study evaluate --study`` tokenizes new text with it too."""
    from fairseq_nat_study.data.text_prep import TokenizeOptions, tokenize_lines

    return tuple(tokenize_lines(lines, TokenizeOptions(lang, cfg.lowercase, cfg.romanian and lang == "ro"),
                                cfg.workers) for lines, lang in ((src, cfg.src), (tgt, cfg.tgt)))


def _read_pair(cfg: DataConfig, split: str, dropped: dict[str, int] | None = None) -> tuple[list[str], list[str]]:
    """The split's pairs, sliced, tokenized and (train only) cleaned; ``dropped[split]`` counts what cleaning
    removed (empty training pairs are cleaned away and counted; empty valid/test lines are an error)."""
    window = {"valid": cfg.valid_lines, "test": cfg.test_lines}.get(split) or []
    src, tgt = read_parallel(Path(cfg.dir) / getattr(cfg, split), cfg.src, cfg.tgt, f"data.{split}", window,
                             f"data.{split}_lines")
    if split == "train" and cfg.max_train:
        src, tgt = src[: cfg.max_train], tgt[: cfg.max_train]
    if cfg.tokenize:
        src, tgt = tokenize_pair(cfg, src, tgt, split)
    if split == "train" and (cfg.clean_max_len or cfg.clean_ratio or cfg.tokenize):
        from fairseq_nat_study.data.text_prep import clean_pairs

        keep = clean_pairs(src, tgt, cfg.clean_max_len, cfg.clean_ratio)
        if dropped is not None:
            dropped[split] = len(src) - len(keep)
        src, tgt = [src[i] for i in keep], [tgt[i] for i in keep]
    stem = getattr(cfg, split)
    refuse_empty_lines(src, tgt, f"data.{split}", f"{stem}.{cfg.src}/{stem}.{cfg.tgt}")
    return src, tgt


def check_subwords(cfg: DataConfig) -> None:
    """Raises ``StudyConfigError`` for a subword setting no model can be learned with (text data only)."""
    if cfg.kind != "text":
        return
    spm_vocab = cfg.spm_vocab
    if not isinstance(spm_vocab, int) or isinstance(spm_vocab, bool) or spm_vocab < 0:
        raise StudyConfigError(f"data.spm_vocab (--spm-vocab): must be a positive vocabulary size, or 0 for "
                               f"subword-nmt BPE; got {spm_vocab!r}")
    if spm_vocab and cfg.spm_type not in SPM_TYPES:
        raise StudyConfigError(f"data.spm_type (--spm-type): {cfg.spm_type!r} is not one of {', '.join(SPM_TYPES)}")


def _segment(cfg: DataConfig, text: Path, out: Path, splits: tuple[str, ...],
             progress: Callable[[str], None]) -> tuple[Path, SubwordResult]:
    """Learns the joint subword model on ``text``'s training split and segments every split: SentencePiece into
    ``out/spm`` when ``cfg.spm_vocab`` > 0, else subword-nmt BPE into ``out/bpe``; returns the folder and what
    was learned."""
    folder = out / ("spm" if cfg.spm_vocab else "bpe")
    folder.mkdir(exist_ok=True)
    if cfg.spm_vocab:
        result = learn_and_apply_sentencepiece(text, folder, cfg.spm_vocab, cfg.spm_type, cfg.src, cfg.tgt, splits,
                                               progress, cfg.workers)
    else:
        result = learn_and_apply_bpe(text, folder, cfg.bpe_merges, cfg.src, cfg.tgt, splits, progress)
    return folder, result


def prepare_data(cfg: DataConfig, seed: int, out: Path, run: Callable[..., None],
                 progress: Callable[[str], None] = print) -> dict[str, object]:
    """Writes ``out/text``, ``out/bpe`` or ``out/spm`` (text data only) and ``out/bin``; returns a summary.

    Args:
        run: ``run_fairseq``-compatible callable used for ``fairseq-preprocess``.
    """
    from fairseq_nat_study.study import ood

    check_subwords(cfg)

    text = out / "text"
    text.mkdir(parents=True, exist_ok=True)
    ood_summary: dict[str, object] | None = None
    if cfg.kind == "synth":
        from fairseq_nat_study.data.synthetic import write_corpus

        write_corpus(synth_config(cfg, seed), text)
        src, tgt, source = "src", "tgt", text
        if ood.enabled(cfg):
            ood_summary = ood.write_synth(cfg, seed, text)
            progress(f"out-of-distribution test set: {ood_summary['sentences']} pairs, {ood_summary['shift']}")
    else:
        src, tgt = cfg.src, cfg.tgt
        dropped: dict[str, int] = {}
        for split in SPLITS:
            if cfg.tokenize:
                progress(f"{split}: normalising and tokenizing with sacremoses ({cfg.src}, {cfg.tgt}) ...")
            s, t = _read_pair(cfg, split, dropped)
            (text / f"{split}.{src}").write_text("".join(l + "\n" for l in s), encoding="utf-8")
            (text / f"{split}.{tgt}").write_text("".join(l + "\n" for l in t), encoding="utf-8")
            progress(f"{split}: {len(s)} sentence pairs"
                     + (f" ({dropped[split]} removed by cleaning)" if dropped.get(split) else ""))
        if ood.enabled(cfg):
            s, t, where = ood.read_text(cfg)
            if cfg.tokenize:
                s, t = tokenize_pair(cfg, s, t, ood.OOD_STEM)
            (text / f"{ood.OOD_STEM}.{src}").write_text("".join(l + "\n" for l in s), encoding="utf-8")
            (text / f"{ood.OOD_STEM}.{tgt}").write_text("".join(l + "\n" for l in t), encoding="utf-8")
            ood_summary = {"kind": "text", "source": where, "sentences": len(s)}
            progress(f"out-of-distribution test set: {len(s)} sentence pairs from {where}")
        source, subwords = _segment(cfg, text, out, SPLITS + ((ood.OOD_STEM,) if ood_summary else ()), progress)
    tests = f"{source / 'test'},{source / ood.OOD_STEM}" if ood_summary else source / "test"
    run("preprocess", [
        "--source-lang", src, "--target-lang", tgt, "--trainpref", source / "train", "--validpref",
        source / "valid", "--testpref", tests, "--destdir", out / "bin", "--joined-dictionary",
        "--workers", "1",
    ], out / "preprocess.log")
    counts = {split: sum(1 for _ in open(text / f"{split}.{src}", encoding="utf-8")) for split in SPLITS}
    summary = {"src": src, "tgt": tgt, "sentences": counts, "kind": cfg.kind}
    if cfg.kind == "text":
        summary.update(dropped_by_cleaning=dropped, tokenized_here=cfg.tokenize, lowercase=cfg.lowercase,
                       subwords=subwords.as_dict(),
                       **({"bpe_merges": cfg.bpe_merges} if subwords.kind == "subword_nmt" else {}))
    if cfg.kind == "synth":
        summary["stats"] = json.loads((text / "stats.json").read_text())
    if ood_summary:
        summary["ood"] = {**ood_summary, "split": ood.OOD_SPLIT}
    (out / "data.json").write_text(json.dumps(summary, indent=1))
    return summary


def link_prepared_data(source: Path, data_dir: Path) -> None:
    """Links every entry of a prepared data folder (``text``, ``bin``, ``data.json``, ...; :func:`prepare_data`)
    into ``data_dir`` by relative symlinks, so that a study trains on data prepared once; what the study writes
    there itself (the distilled ``bin-dist``) stays its own."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for entry in sorted(Path(source).iterdir()):
        link = data_dir / entry.name
        if link.is_symlink():
            link.unlink()  # from an attempt that was killed
        if not link.exists():
            link.symlink_to(os.path.relpath(entry.resolve(), data_dir.resolve()))
