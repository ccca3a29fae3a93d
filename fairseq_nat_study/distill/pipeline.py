"""Sequence-level knowledge distillation (Kim & Rush 2016): an AR teacher decodes a split with beam search and
its best hypotheses replace the references, binarised with the same dictionaries.

The split is cut into shards of ``shard_size`` consecutive sentences, each binarised into its own small
data-bin in ``OUT/.distill/`` and decoded by ``fairseq-generate``. Each finished shard leaves its output and a
``.done`` marker, so a killed run resumes with the shards it had not finished, and its result is byte for byte
that of an uninterrupted run. Shards run in ``workers`` processes at once (one GPU each when several are
present).

The output directory is a complete data-bin: the distilled split's targets, its sources copied byte for
byte, the other splits and both dictionaries copied unchanged. Every sentence keeps its line position; a
missing hypothesis is an error, never a skipped line.

Hypothesis length is capped (``fairseq-generate --max-len-a A --max-len-b B``: at most ``A·|x| + B`` tokens,
|x| the longest source of the batch with its EOS). Unless the cap is given, it is taken from the split itself:
``A = 1`` and ``B`` one less than the largest target-minus-source length difference of its pairs, so that a
teacher that runs on (repeats itself up to fairseq's 200-token default) cannot give a pair a length difference
the raw data never has, and which a NAT's length predictor trained on the raw data would have to support. A split
other than ``train`` is allowed the training split's largest difference where that is larger (its students'
length support comes from the training data). An empty split is refused. ``distill.json`` records the cap, the
largest difference before and after, and how many distilled pairs exceed the raw maximum (possible only where a
batch mixes source lengths).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fairseq_nat_study.utils.config_check import Count, NonNegative, NonNegativeReal
from fairseq_nat_study.utils.fairseq_runner import halted, run_fairseq, say_line

PLUGIN_DIR = str(Path(__file__).resolve().parents[1])


class DistillError(ValueError):
    """Bad input to distillation (missing split, wrong teacher family, a previous run with other settings)."""


@dataclass
class DistillConfig:
    teacher: str
    data: str
    out: str
    subset: str = "train"
    beam: Count = 4
    shard_size: Count = 100_000
    workers: Count = 1
    max_tokens: Count = 8192
    cpu: bool = False
    generate_args: list[str] = field(default_factory=list)
    #: hypothesis length cap ``max_len_a·|x| + max_len_b``; both None: from the split (see the module doc)
    max_len_a: NonNegativeReal | None = None
    max_len_b: NonNegative | None = None


#: fairseq-generate flags that set the length cap, given by DistillConfig's own fields instead
_CAP_FLAGS = ("--max-len-a", "--max-len-b")


def length_offsets(data: Path, subset: str, src: str, tgt: str) -> Any:
    """Target-minus-source length (tokens) of every pair of ``subset``: an int64 array of shape (N,), N the
    split's number of pairs; a DistillError naming the file when a side is missing or the sides differ."""
    from fairseq_nat_study.analysis.loading import split_lengths

    try:
        src_lengths, tgt_lengths = split_lengths(data, subset, src, tgt)
    except (FileNotFoundError, ValueError) as err:
        raise DistillError(str(err)) from err
    return tgt_lengths - src_lengths


def _largest(offsets: Any) -> int:
    """The largest of an array of length differences; 0 for an empty split."""
    return int(offsets.max()) if len(offsets) else 0


def cap_offset(data: Path, subset: str, src: str, tgt: str, offset: int) -> int:
    """The length difference a split's default cap allows: its own largest ``offset``, and for a split other than
    ``train`` the training split's where the data has one (the students' length support comes from training
    data, so a held-out split is not cut shorter than the training split is)."""
    if subset == "train" or not (data / f"train.{src}-{tgt}.{src}.idx").is_file():
        return offset
    return max(offset, _largest(length_offsets(data, "train", src, tgt)))


def length_cap(cfg: DistillConfig, max_offset: int) -> tuple[float, int] | None:
    """(A, B) of the hypothesis length cap: the config's, else ``(1, max_offset - 1)`` from the split (B at least
    0; fairseq counts |x| with its EOS, so a hypothesis is then at most ``max_offset`` tokens longer than its
    source in a batch of equal source lengths); None when ``generate_args`` set the cap themselves. Error when
    both do, or when only one of A and B is given."""
    in_args = [a for a in cfg.generate_args if a.split("=", 1)[0] in _CAP_FLAGS]
    given = (cfg.max_len_a is not None, cfg.max_len_b is not None)
    if in_args and any(given):
        raise DistillError(f"the length cap is given twice: {' '.join(in_args)} in --generate-args and "
                           "--max-len-a/--max-len-b; give it once")
    if in_args:
        return None
    if given[0] != given[1]:
        raise DistillError("give --max-len-a and --max-len-b together (or neither: the cap is then taken from "
                           "the split's longest length difference)")
    if all(given):
        return float(cfg.max_len_a), int(cfg.max_len_b)
    return 1.0, max(int(max_offset) - 1, 0)


def language_pair(data: Path) -> tuple[str, str]:
    """(source, target) language of a data-bin, from its file names; error when there is none."""
    from fairseq.data.data_utils import infer_language_pair

    src, tgt = infer_language_pair(str(data))
    if src is None or not (data / f"dict.{src}.txt").is_file() or not (data / f"dict.{tgt}.txt").is_file():
        raise DistillError(f"--data {data}: not a fairseq-preprocess output (no <split>.<src>-<tgt>.* files and dicts)")
    return src, tgt


def check_teacher_is_autoregressive(path: str) -> str:
    """The teacher's arch; error unless it is an autoregressive encoder-decoder (not a NAT or latent model)."""
    from fairseq.models import ARCH_MODEL_REGISTRY, FairseqEncoderDecoderModel
    from fairseq.models.nat import FairseqNATModel

    from fairseq_nat_study.registration import register
    from fairseq_nat_study.utils.checkpoint import read_fairseq_checkpoint

    register()
    try:
        state = read_fairseq_checkpoint(path, "--teacher")
    except (FileNotFoundError, ValueError) as err:
        raise DistillError(str(err)) from err
    model_cfg = state["cfg"]["model"]
    arch = getattr(model_cfg, "arch", None) or model_cfg.get("_name")
    model_cls = ARCH_MODEL_REGISTRY.get(arch)
    if model_cls is None or not issubclass(model_cls, FairseqEncoderDecoderModel) or issubclass(model_cls, FairseqNATModel):
        raise DistillError(f"--teacher {path}: arch {arch} is not an autoregressive encoder-decoder model "
                           "(distillation decodes with an AR teacher, e.g. nat_study_tr_*)")
    return arch


def _write_shard_bin(data: Path, dest: Path, subset: str, src: str, tgt: str, lo: int, hi: int) -> None:
    """Sentences ``[lo, hi)`` of ``subset`` as the same split of a data-bin at ``dest`` (dictionaries copied)."""
    from fairseq.data import Dictionary, data_utils, indexed_dataset

    dest.mkdir(parents=True, exist_ok=True)
    for lang in (src, tgt):
        shutil.copyfile(data / f"dict.{lang}.txt", dest / f"dict.{lang}.txt")
        name = f"{subset}.{src}-{tgt}.{lang}"
        dataset = data_utils.load_indexed_dataset(str(data / name), None)
        vocab = len(Dictionary.load(str(data / f"dict.{lang}.txt")))
        builder = indexed_dataset.make_builder(str(dest / f"{name}.bin"), impl="mmap", vocab_size=vocab)
        for i in range(lo, hi):
            builder.add_item(dataset[i])
        builder.finalize(str(dest / f"{name}.idx"))


def _generate_shard(cfg: DistillConfig, work: Path, shard: int, num_shards: int, n: int, src: str, tgt: str,
                    cap: tuple[float, int] | None) -> None:
    """fairseq-generate on one shard (hypotheses capped at ``cap``) -> ``shard-<i>.txt`` with corpus-wide ids
    (written whole, then renamed) and its ``.done`` marker."""
    lo, hi = shard * cfg.shard_size, min(n, (shard + 1) * cfg.shard_size)
    shard_bin = work / f"shard-{shard}-bin"
    _write_shard_bin(Path(cfg.data), shard_bin, cfg.subset, src, tgt, lo, hi)
    out_txt = work / f"shard-{shard}.txt"
    partial = work / f"shard-{shard}.txt.partial"
    args = [shard_bin, "--path", cfg.teacher, "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation",
            "--gen-subset", cfg.subset, "--beam", str(cfg.beam), "--nbest", "1", "--max-tokens", str(cfg.max_tokens),
            *cfg.generate_args]
    if cap is not None:
        args += ["--max-len-a", f"{cap[0]:g}", "--max-len-b", str(cap[1])]
    if cfg.cpu:
        args.append("--cpu")
    env = None
    if not cfg.cpu and cfg.workers > 1:
        import torch

        if torch.cuda.device_count() > 1:  # one GPU per worker process
            env = {"CUDA_VISIBLE_DEVICES": str(shard % torch.cuda.device_count())}
    start = time.time()
    run_fairseq("generate", args, work / f"shard-{shard}.log", echo=lambda line: False, stdout_path=partial, env=env)
    count = 0
    with partial.open() as lines, (work / f"shard-{shard}.txt.ids").open("w") as shifted:
        for line in lines:  # shard-local ids -> corpus ids
            if line[:2] in ("S-", "T-", "H-", "D-", "P-"):
                local, rest = line[2:].split("\t", 1)
                line = f"{line[:2]}{int(local) + lo}\t{rest}"
                count += line.startswith("H-")
            shifted.write(line)
    (work / f"shard-{shard}.txt.ids").replace(out_txt)
    partial.unlink()
    shutil.rmtree(shard_bin)
    (work / f"shard-{shard}.done").write_text(f"{count}\n")
    say_line(f"[distill] shard {shard + 1}/{num_shards}: {count} hypotheses ({time.time() - start:.0f} s)")


def _decode_shards(cfg: DistillConfig, work: Path, todo: list[int], num_shards: int, n: int, src: str,
                   tgt: str, cap: tuple[float, int] | None) -> None:
    """Decodes the shards ``todo``, ``cfg.workers`` at once. When one fails or the wait is interrupted (Ctrl-C),
    the shards not started are dropped and the running fairseq processes stopped before the error goes on: the
    finished shards keep their ``.done`` markers and a rerun decodes the others."""
    pool = ThreadPoolExecutor(max_workers=min(cfg.workers, max(len(todo), 1)))
    futures = [pool.submit(_generate_shard, cfg, work, i, num_shards, n, src, tgt, cap) for i in todo]
    try:
        for future in futures:
            future.result()
    except BaseException:
        for future in futures:
            future.cancel()
        with halted():  # no shard starts a new fairseq-generate while the workers wind down
            pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)


def _collect(work: Path, num_shards: int, num_sentences: int) -> list[str]:
    """The best hypothesis of every sentence in corpus order, from all shards (error if any is missing)."""
    from fairseq_nat_study.distill.extract import parse_hypotheses

    lines: list[str] = []
    for shard in range(num_shards):
        lines.extend((work / f"shard-{shard}.txt").read_text().splitlines())
    return parse_hypotheses(lines, num_sentences)


def _binarise(lines: list[str], dictionary: Any, prefix: Path) -> int:
    """Writes ``prefix.{bin,idx}`` with fairseq's mmap builder; returns the number of ``<unk>`` tokens."""
    from fairseq.data import indexed_dataset

    builder = indexed_dataset.make_builder(f"{prefix}.bin", impl="mmap", vocab_size=len(dictionary))
    unks = 0
    for line in lines:
        ids = dictionary.encode_line(line, add_if_not_exist=False, append_eos=True).long()
        unks += int(ids.eq(dictionary.unk()).sum())
        builder.add_item(ids)
    builder.finalize(f"{prefix}.idx")
    return unks


def _check_resume(work: Path, settings: dict[str, Any]) -> None:
    """A work directory from a run with other settings would mix two distillations: refuse it."""
    meta = work / "settings.json"
    if meta.exists():
        earlier = json.loads(meta.read_text())
        if earlier != settings:
            diff = sorted(k for k in set(earlier) | set(settings) if earlier.get(k) != settings.get(k))
            raise DistillError(f"{work} holds a distillation with other settings ({', '.join(diff)}); "
                               "remove it or choose another --out")
    else:
        work.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps(settings, indent=1))


def distill(cfg: DistillConfig) -> dict[str, Any]:
    """Distils ``cfg.subset`` of ``cfg.data`` into ``cfg.out`` (resuming a killed run); returns the summary
    that is also written to ``OUT/distill.json``."""
    from fairseq.data import Dictionary

    if cfg.beam < 1 or cfg.shard_size < 1 or cfg.workers < 1:
        raise DistillError("--beam, --shard-size and --workers must be positive")
    data, out = Path(cfg.data), Path(cfg.out)
    if not data.is_dir():
        raise DistillError(f"--data: no binarised data directory at {data}")
    if out.resolve() == data.resolve():
        raise DistillError("--out must differ from --data (the raw split is kept)")
    src, tgt = language_pair(data)
    raw_offsets = length_offsets(data, cfg.subset, src, tgt)  # the split read once: its size and its offsets
    n = len(raw_offsets)
    if n == 0:
        raise DistillError(f"--subset {cfg.subset}: the split in {data} holds no sentences; nothing to distil")
    arch = check_teacher_is_autoregressive(cfg.teacher)
    raw_offset = _largest(raw_offsets)
    cap = length_cap(cfg, cap_offset(data, cfg.subset, src, tgt, raw_offset))
    num_shards = max(1, math.ceil(n / cfg.shard_size))
    work = out / ".distill"
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("out", "workers")}
    settings.update(teacher=str(Path(cfg.teacher).resolve()), data=str(data.resolve()), num_shards=num_shards,
                    length_cap=None if cap is None else list(cap))
    _check_resume(work, settings)

    start = time.time()
    todo = [i for i in range(num_shards) if not (work / f"shard-{i}.done").exists()]
    say_line(f"[distill] {cfg.subset}: {n} sentences, teacher {arch}, beam {cfg.beam}, {num_shards} shard(s), "
             f"{num_shards - len(todo)} done earlier, "
             + ("length cap from --generate-args" if cap is None else f"at most {cap[0]:g}·|x| + {cap[1]} tokens"))
    _decode_shards(cfg, work, todo, num_shards, n, src, tgt, cap)

    hyps = _collect(work, num_shards, n)
    (work / f"{cfg.subset}.{tgt}").write_text("".join(h + "\n" for h in hyps))
    for item in data.iterdir():  # dictionaries, the other splits, this split's sources
        if item.is_file() and not item.name.startswith(f"{cfg.subset}.{src}-{tgt}.{tgt}."):
            shutil.copyfile(item, out / item.name)
    unks = _binarise(hyps, Dictionary.load(str(data / f"dict.{tgt}.txt")), out / f"{cfg.subset}.{src}-{tgt}.{tgt}")
    offsets = length_offsets(out, cfg.subset, src, tgt)
    if len(offsets) != n:
        raise RuntimeError(f"distilled {cfg.subset} of {out} does not have {n} sentences")
    summary = {**settings, "out": str(out), "num_sentences": n, "empty_hypotheses": sum(1 for h in hyps if not h.strip()),
               "unk_tokens": unks, "max_offset_raw": raw_offset, "max_offset_distilled": _largest(offsets),
               "beyond_raw_max_offset": int((offsets > raw_offset).sum()),
               "seconds_this_run": round(time.time() - start, 1)}
    (out / "distill.json").write_text(json.dumps(summary, indent=1))
    say_line(f"[distill] wrote {out} ({n} sentences, {summary['empty_hypotheses']} empty hypotheses, {unks} <unk>; "
             f"largest length difference {summary['max_offset_distilled']:+d}, raw {raw_offset:+d})")
    if summary["beyond_raw_max_offset"]:
        say_line(f"[distill] note: {summary['beyond_raw_max_offset']} distilled pair(s) are longer than the raw "
                 f"split's largest length difference ({raw_offset:+d} tokens)")
    return summary
