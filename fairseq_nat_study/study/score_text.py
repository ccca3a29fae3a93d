"""A finished study run scored on any parallel text (``fairseq-nat-study evaluate --study``).

A study keeps together what its runs need to read new text: the recorded config (``OUT/config.json``: the
languages, whether sacremoses tokenized and lower-cased the text), the data stage's record
(``OUT/data/data.json``: the subword model, BPE codes or SentencePiece, under ``OUT/data``), the dictionaries
(``OUT/data/bin/dict.*.txt``) and each run's checkpoints (``OUT/runs/<model>-<raw|dist>/``; the final one is the
best-on-validation snapshot). :func:`score_text` prepares ``PREFIX.<src>`` / ``PREFIX.<tgt>`` as the study
prepared its test split (tokenized when the study tokenized, the study's subwords applied, binarised with the
study's dictionaries) in a work folder beside the output, then evaluates the run's final checkpoint on it with
the study's evaluation settings: BLEU against the tokenized references, the LL of the references, the
refinement table of a latent model. The record goes to the named output only; a path inside the study directory
is refused, so the study's own records are never overwritten.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from fairseq_nat_study.study.config import StudyConfig, StudyConfigError, build
from fairseq_nat_study.study.text_files import read_parallel, refuse_empty_lines


def load_study(study: Path) -> tuple[StudyConfig, dict[str, Any]]:
    """(the recorded config, the data stage's record) of a finished study directory."""
    paths = [study / "config.json", study / "data" / "data.json"]
    for p in paths:
        if not p.is_file():
            raise StudyConfigError(f"--study {study}: no {p.relative_to(study)} (is it a study's --out, and did its "
                                   "data stage finish? for a study with seeds, give OUT/seed-<s>)")
    cfg = build(json.loads(paths[0].read_text()))
    if cfg.seeds:
        raise StudyConfigError(f"--study {study}: a study with seeds {cfg.seeds}; give one seed's study, "
                               f"{study / 'seed-<s>'}")
    return cfg, json.loads(paths[1].read_text())


def run_directory(study: Path, run: str) -> tuple[Path, str, str]:
    """(the run's folder, its model name, its data condition) for ``--run <model>-<raw|dist>``."""
    model, _, data = run.rpartition("-")
    folder = study / "runs" / run
    if not model or data not in ("raw", "dist"):
        raise StudyConfigError(f"--run {run!r}: expected <model>-raw or <model>-dist (a folder under {study / 'runs'})")
    if not folder.is_dir():
        have = sorted(p.name for p in (study / "runs").glob("*-*") if p.is_dir())
        raise StudyConfigError(f"--run {run}: no run folder {folder}; the study has: {', '.join(have) or 'none'}")
    return folder, model, data


def _segmenter(data_dir: Path, record: dict[str, Any]) -> Callable[[str], str]:
    """The study's subword model as a line → segmented line function (identity for the synthetic corpus)."""
    sub = record.get("subwords")
    if not sub:
        return lambda line: line
    model = data_dir / sub["model"]
    if not model.is_file():
        raise StudyConfigError(f"the study's subword model {model} is missing (data.json names it)")
    if sub["kind"] == "sentencepiece":
        import sentencepiece as spm

        processor = spm.SentencePieceProcessor(model_file=str(model))
        return lambda line: " ".join(processor.encode(line, out_type=str))
    from subword_nmt.apply_bpe import BPE

    with open(model, encoding="utf-8") as handle:
        bpe = BPE(handle)
    return bpe.process_line


def prepare_text(study: Path, cfg: StudyConfig, record: dict[str, Any], prefix: Path, work: Path, *,
                 lowercase: bool = False, join_hyphens: bool = False,
                 progress: Callable[[str], None] = print) -> tuple[Path, list[str], int]:
    """Tokenizes (as the study did), segments and binarises ``prefix.<src|tgt>`` into ``work``; returns (the
    data-bin whose ``test`` split it is, the tokenized references, the number of sentence pairs)."""
    from fairseq_nat_study.study import data_prep
    from fairseq_nat_study.study.ood import join_hyphens as join
    from fairseq_nat_study.utils.fairseq_runner import run_fairseq

    src_lang, tgt_lang = record["src"], record["tgt"]
    src, tgt = read_parallel(prefix, src_lang, tgt_lang, "--test")
    if join_hyphens:
        src, tgt = [join(line) for line in src], [join(line) for line in tgt]
    if lowercase:
        src, tgt = [line.lower() for line in src], [line.lower() for line in tgt]
    if cfg.data.kind == "text" and cfg.data.tokenize:
        progress(f"normalising and tokenizing {len(src)} pairs with sacremoses ({src_lang}, {tgt_lang}) ...")
        src, tgt = data_prep.tokenize_pair(cfg.data, src, tgt, "test")
    refuse_empty_lines(src, tgt, "--test", f"{prefix.name}.{src_lang}/{prefix.name}.{tgt_lang}")
    segment = _segmenter(study / "data", record)
    seg = work / "segmented"
    seg.mkdir(parents=True, exist_ok=True)
    for lang, lines in ((src_lang, src), (tgt_lang, tgt)):
        (seg / f"test.{lang}").write_text("".join(segment(line) + "\n" for line in lines), encoding="utf-8")
    bin_dir, dicts = work / "bin", study / "data" / "bin"
    run_fairseq("preprocess", ["--source-lang", src_lang, "--target-lang", tgt_lang, "--testpref", seg / "test",
                               "--destdir", bin_dir, "--srcdict", dicts / f"dict.{src_lang}.txt",
                               "--tgtdict", dicts / f"dict.{tgt_lang}.txt", "--workers", "1"],
                work / "preprocess.log")
    return bin_dir, tgt, len(src)


def score_text(study: Path, run: str, prefix: Path, out: Path, *, lowercase: bool = False,
               join_hyphens: bool = False, cpu: bool = True, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Scores the final checkpoint of ``study``'s ``run`` on ``prefix.<src|tgt>``; writes the record to ``out``
    (the work files to ``out``'s folder, ``<out stem>.work/``) and returns it.

    Raises:
        StudyConfigError: a bad study, run, text or output path (one line, naming it).
    """
    from fairseq_nat_study.study.run_eval import evaluate_run

    study, out = Path(study), Path(out)
    if out.resolve().is_relative_to(study.resolve()):
        raise StudyConfigError(f"--out {out}: inside the study directory {study}; write the record elsewhere, so "
                               "that the study's own records stay as the study wrote them")
    cfg, record = load_study(study)
    folder, model, data = run_directory(study, run)
    work = out.parent / f"{out.stem}.work"
    bin_dir, refs, n = prepare_text(study, cfg, record, Path(prefix), work, lowercase=lowercase,
                                    join_hyphens=join_hyphens, progress=progress)
    progress(f"{n} sentence pairs of {Path(prefix).name}.{{{record['src']},{record['tgt']}}} prepared as the study's "
             "test split was")
    ev = replace(cfg.eval, last_checkpoints=0)
    extra = {"scored_on": {"text": f"{Path(prefix).name}.{{{record['src']},{record['tgt']}}}", "sentences": n,
                           "lowercase": lowercase, "join_hyphens": join_hyphens, "study": study.name}}
    return evaluate_run(folder, bin_dir, refs, ev, name=model, data=data, lang=record["tgt"],
                        compound=cfg.eval.compound_split, seed=cfg.seed, cpu=cpu, max_checkpoints=1, extra=extra,
                        speed=False, progress=progress, out=out)
