"""The study's speed stage: the final checkpoint of every run decoded side by side in one process, the
configurations interleaved (``analysis.speed.benchmark``), written to ``OUT/speed.json``.

Each run is timed with its study decoder (AR beam 4; NAT one pass; latent K = 0 and K = ``decode_steps``, one
length candidate; with ``eval.search_samples``, also latent search with the AR teacher's rescoring) on the real
test split: latency at batch 1 over ``bench_sentences`` sentences drawn at random
(seeded), throughput at ``bench_batch``, the median of 5 interleaved passes, and for NAT and latent decoders
the pass-count limit (``analysis.pass_limit``). Ratios are taken within a data condition (raw runs against the
raw AR model, distilled runs against the distilled one), all from the same run of the benchmark.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from fairseq_nat_study.study.config import EvalConfig

#: interleaved timed passes per configuration (the median is kept)
REPEATS = 5


def measure_speed(runs: Sequence[tuple[str, str, Path]], data_bin: Path, ev: EvalConfig, *, seed: int = 1,
                  cpu: bool = True, progress: Callable[[str], None] = print,
                  teacher: Path | None = None) -> dict[str, Any]:
    """Times every run's final checkpoint, interleaved.

    Args:
        runs: (model name, data condition ``raw``/``dist``, checkpoint) of each run.
        data_bin: the binarised real data (its ``test`` split is decoded).
        teacher: the AR checkpoint that ranks latent search's candidates (timed with ``eval.search_samples``).
    Returns:
        ``{"threads", "repeats", "latency_sentences", "batch", "seed", "rows"}``; each row is a
        ``SpeedRow`` with its ratios (``analysis.speed.ratios``), ``model`` and ``data`` naming the run.
    """
    import torch

    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.analysis.loglik import model_family
    from fairseq_nat_study.analysis.speed import (benchmark, build_search_generator, ratios, reference_strings,
                                                  search_label)

    if not runs:
        raise ValueError("no runs to time")
    labels: dict[str, tuple[str, str]] = {}
    models, extra = [], {}
    ranker = load_model_and_task(str(teacher), str(data_bin), cpu=cpu)[0] if teacher and ev.search_samples else None
    for name, data, ckpt in runs:
        model, task = load_model_and_task(str(ckpt), str(data_bin), cpu=cpu)
        label = f"{name} ({data})"
        labels[label] = (name, data)
        models.append((label, model, task))
        if ranker is not None and model_family(model) == "latent":
            extra[label] = [(search_label(ev.search_samples, ev.length_beam, ev.decode_steps),
                             build_search_generator(model, task, ranker, ev.search_samples, ev.length_beam,
                                                    ev.decode_steps, ev.search_temperature, seed))]
    first_task = models[0][2]
    test = load_split(first_task, str(data_bin), "test")
    refs = reference_strings(first_task, test)
    steps = sorted({0, ev.decode_steps})
    progress(f"timing {len(models)} final checkpoints side by side: batch 1 ({ev.bench_sentences} sentences) and "
             f"batch {ev.bench_batch}, {REPEATS} interleaved passes each")
    rows = benchmark(models, lambda task: load_split(task, str(data_bin), "test"), refs, [1, ev.bench_batch], steps,
                     beam=4, latency_sentences=ev.bench_sentences, progress=progress, repeats=REPEATS, seed=seed,
                     extra=extra)
    out = []
    for data in ("raw", "dist"):
        mine = [r for r in rows if labels[r.model][1] == data]
        out += [{**row, "model": labels[row["model"]][0], "data": data} for row in ratios(mine)]
    return {"threads": torch.get_num_threads(), "repeats": REPEATS, "latency_sentences": ev.bench_sentences,
            "batch": ev.bench_batch, "seed": seed, "default_steps": ev.decode_steps, "rows": out}
