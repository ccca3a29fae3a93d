"""Decoding speed: latency at batch size 1 and throughput at large batch, measured side by side.

Every configuration decodes the same sentences of one split in the same process, several times, and the
fastest pass is reported (the least disturbed by other work on the machine); AR beam search is
length-capped (``max_len = 1.2·|x| + 10``) so that an under-trained model cannot loop to 200 tokens.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch

from fairseq_nat_study.analysis.bleu import corpus_bleu
from fairseq_nat_study.analysis.loglik import to_model_device, iterate_batches, model_family, model_max_positions

#: AR length cap used for every benchmark (the same for every model).
AR_MAX_LEN_A, AR_MAX_LEN_B = 1.2, 10


@dataclass
class SpeedRow:
    model: str
    family: str
    config: str
    batch_size: int
    sentences: int
    seconds: float
    ms_per_sentence: float
    sentences_per_second: float
    bleu: float


def build_generator(model: Any, task: Any, steps: int, beam: int, seed: int = 1) -> Any:
    """AR: beam search of width ``beam`` (length cap ``AR_MAX_LEN_A·|x| + AR_MAX_LEN_B``); NAT: one pass over
    ``beam`` length candidates; latent: ``steps`` delta-posterior steps over ``beam`` length candidates (latent
    search and the ELBO ranking seeded by ``seed``)."""
    from argparse import Namespace

    if model_family(model) == "ar":
        from fairseq.sequence_generator import SequenceGenerator

        return SequenceGenerator([model], task.target_dictionary, beam_size=beam, max_len_a=AR_MAX_LEN_A,
                                 max_len_b=AR_MAX_LEN_B)
    return task.build_generator([model], Namespace(iter_decode_max_iter=steps, iter_decode_with_beam=beam, seed=seed))


def decoders_for(model: Any, task: Any, beam: int, refine_steps: list[int]) -> list[tuple[str, Any]]:
    """(label, generator) pairs to time for one model."""
    family = model_family(model)
    if family == "ar":
        return [(f"beam {beam}", build_generator(model, task, 0, beam))]
    if family == "nat":
        return [("1 pass", build_generator(model, task, 0, 1))]
    return [(f"K={k}", build_generator(model, task, k, 1)) for k in refine_steps]


def time_decoder(generator: Any, model: Any, task: Any, dataset: Any, batch_size: int, limit: int | None,
                 refs: list[str], repeats: int = 3) -> tuple[float, int, float]:
    """Decodes the first ``limit`` sentences (all if None) ``repeats`` times.

    Returns:
        (seconds spent in ``generate`` in the fastest pass, sentences per pass, BLEU of the outputs). The
        fastest pass is the one least disturbed by other work on the machine; a warm-up batch is not timed.
    """
    batches = [to_model_device(b, model) for b in iterate_batches(task, dataset, max_tokens=None, max_sentences=batch_size,
                                                                  max_positions=model_max_positions(model, task))]
    if limit is not None:
        kept, count = [], 0
        for sample in batches:
            if count >= limit:
                break
            kept.append(sample)
            count += len(sample["id"])
        batches = kept
    generator.generate([model], batches[0])  # warm-up (allocations, lazy init)
    best, hyps = float("inf"), {}
    for _ in range(repeats):
        seconds = 0.0
        for sample in batches:
            start = time.perf_counter()
            out = generator.generate([model], sample)
            if next(model.parameters()).is_cuda:
                torch.cuda.synchronize()  # GPU work is asynchronous: time it to completion
            seconds += time.perf_counter() - start
            for i, sid in enumerate(sample["id"].tolist()):
                hyps[sid] = task.target_dictionary.string(out[i][0]["tokens"].int().cpu())
        best = min(best, seconds)
    ids = sorted(hyps)
    bleu = corpus_bleu([hyps[i] for i in ids], [refs[i] for i in ids]).score
    return best, len(ids), bleu


@torch.no_grad()
def benchmark(models: list[tuple[str, Any, Any]], dataset_for: Callable[[Any], Any], refs: list[str],
              batch_sizes: list[int], refine_steps: list[int], beam: int = 4, latency_sentences: int = 100,
              progress: Callable[[str], None] = print, repeats: int = 3) -> list[SpeedRow]:
    """Times every decoder of every model at every batch size, on the same sentences."""
    rows = []
    for name, model, task in models:
        dataset = dataset_for(task)
        for label, generator in decoders_for(model, task, beam, refine_steps):
            for bs in batch_sizes:
                limit = latency_sentences if bs == 1 else None
                seconds, n, bleu = time_decoder(generator, model, task, dataset, bs, limit, refs, repeats)
                row = SpeedRow(name, model_family(model), label, bs, n, round(seconds, 4),
                               round(1000 * seconds / n, 3), round(n / seconds, 2), round(bleu, 2))
                progress(f"bench: {name} {label} batch {bs}: {row.ms_per_sentence} ms/sentence, "
                         f"{row.sentences_per_second} sentences/s, BLEU {row.bleu}")
                rows.append(row)
    return rows


def speedups(rows: list[SpeedRow]) -> list[dict[str, Any]]:
    """Each row with its speed-up over the AR row of the same batch size (sentences/s ratio)."""
    base = {r.batch_size: r.sentences_per_second for r in rows if r.family == "ar"}
    return [{**asdict(r), "speedup_vs_ar": round(r.sentences_per_second / base[r.batch_size], 2)
             if r.batch_size in base else None} for r in rows]
