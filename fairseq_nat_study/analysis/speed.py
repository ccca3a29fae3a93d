"""Decoding speed: latency at batch size 1 and throughput at a large batch, measured side by side.

Every configuration (model × decoder) decodes the same sentences of one split in the same process. The
configurations are interleaved: each repeat times one pass of every configuration in turn, so slow periods of
a shared machine fall on all of them alike, and each configuration reports the median of its passes.

- Latency (batch 1): ``latency_sentences`` sentences drawn uniformly at random (seeded) from the split, so
  their lengths are representative of it (the first sentences of fairseq's iterator are the shortest).
- Throughput (large batch): the whole split in batches of that size.
- Pass-count limit (batch 1, NAT and latent decoders): the same sentences with each network pass the
  algorithm needs timed on its own (``analysis.pass_limit``).

AR beam search is length-capped (``max_len = 1.2·|x| + 10``) so that an under-trained model cannot loop to 200
tokens.
"""
from __future__ import annotations

import random
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch

from fairseq_nat_study.analysis.bleu import corpus_bleu
from fairseq_nat_study.analysis.loglik import to_model_device, iterate_batches, model_family, model_max_positions
from fairseq_nat_study.analysis.pass_limit import pass_limit_seconds

#: AR length cap used for every benchmark (the same for every model).
AR_MAX_LEN_A, AR_MAX_LEN_B = 1.2, 10


@dataclass
class SpeedRow:
    model: str
    family: str
    config: str
    batch_size: int
    sentences: int
    seconds: float  #: median over the repeats of one pass over the sentences
    ms_per_sentence: float
    sentences_per_second: float
    bleu: float
    limit_ms_per_sentence: float | None = None  #: pass-count limit (batch 1, NAT and latent), median
    threads: int = 1


@dataclass
class _Config:
    name: str
    family: str
    label: str
    model: Any
    task: Any
    generator: Any
    dataset: Any
    #: whether the pass-count limit applies (one candidate per sentence: not latent search)
    limit: bool = True


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


def build_search_generator(model: Any, task: Any, teacher: Any, samples: int, length_beam: int, steps: int,
                           temperature: float = 1.0, seed: int = 1) -> Any:
    """LaNMT's decoder for a latent model: ``samples`` prior samples at ``temperature`` for each of the
    ``length_beam`` most likely lengths, ``steps`` delta-posterior steps each, the distinct outputs ranked by the
    AR ``teacher``'s log p(ŷ|x) (:class:`~fairseq_nat_study.generation.reranking.WithTeacher`; its
    ``generate([model], sample)`` runs both models)."""
    from fairseq_nat_study.generation.latent_refinement import LatentRefinementGenerator
    from fairseq_nat_study.generation.reranking import WithTeacher

    if model_family(model) != "latent" or model_family(teacher) != "ar":
        raise ValueError(f"latent search ranks a latent model's candidates with an AR teacher, got a "
                         f"{model_family(model)} model and a {model_family(teacher)} teacher")
    teacher.eval()
    return WithTeacher(LatentRefinementGenerator(task.target_dictionary, max_iter=steps, beam_size=length_beam,
                                                 reranking=True, latent_samples=samples, temperature=temperature,
                                                 seed=seed), teacher)


def search_label(samples: int, length_beam: int, steps: int) -> str:
    """The speed table's name of a latent-search decoder."""
    return f"search {samples}×{length_beam}, K={steps} + AR"


def decoders_for(model: Any, task: Any, beam: int, refine_steps: list[int]) -> list[tuple[str, Any]]:
    """(label, generator) pairs to time for one model."""
    family = model_family(model)
    if family == "ar":
        return [(f"beam {beam}", build_generator(model, task, 0, beam))]
    if family == "nat":
        return [("1 pass", build_generator(model, task, 0, 1))]
    return [(f"K={k}", build_generator(model, task, k, 1)) for k in refine_steps]


def latency_samples(task: Any, dataset: Any, model: Any, n: int | None, seed: int = 1) -> list[dict[str, Any]]:
    """Batches of one sentence each: ``n`` sentences drawn uniformly without replacement (seeded; all if None
    or n ≥ the split), in id order."""
    ids = list(range(len(dataset)))
    if n is not None and n < len(ids):
        ids = sorted(random.Random(seed).sample(ids, n))
    return [to_model_device(dataset.collater([dataset[i]]), model) for i in ids]


def throughput_batches(task: Any, dataset: Any, model: Any, batch_size: int) -> list[dict[str, Any]]:
    """The whole split in batches of ``batch_size`` sentences."""
    return [to_model_device(b, model) for b in iterate_batches(task, dataset, max_tokens=None, max_sentences=batch_size,
                                                               max_positions=model_max_positions(model, task))]


def time_pass(generator: Any, model: Any, task: Any, batches: list[dict[str, Any]]) -> tuple[float, dict[int, str], dict[int, int]]:
    """One timed pass over ``batches`` -> (seconds spent in ``generate``, best hypothesis and steps per id)."""
    seconds, hyps, steps = 0.0, {}, {}
    for sample in batches:
        start = time.perf_counter()
        out = generator.generate([model], sample)
        if next(model.parameters()).is_cuda:
            torch.cuda.synchronize()  # GPU work is asynchronous: time it to completion
        seconds += time.perf_counter() - start
        for i, sid in enumerate(sample["id"].tolist()):
            hyps[sid] = task.target_dictionary.string(out[i][0]["tokens"].int().cpu())
            steps[sid] = int(out[i][0].get("steps") or 0)
    return seconds, hyps, steps


def time_decoder(generator: Any, model: Any, task: Any, dataset: Any, batch_size: int, limit: int | None,
                 refs: list[str], repeats: int = 5, seed: int = 1) -> tuple[float, int, float]:
    """One configuration alone: ``repeats`` passes over the batch-1 sample of ``limit`` sentences (batch size 1)
    or over the whole split. Returns (median seconds of a pass, sentences, BLEU of the outputs)."""
    batches = (latency_samples(task, dataset, model, limit, seed) if batch_size == 1
               else throughput_batches(task, dataset, model, batch_size))
    generator.generate([model], batches[0])  # warm-up (allocations, lazy init)
    times, hyps = [], {}
    for _ in range(repeats):
        seconds, hyps, _ = time_pass(generator, model, task, batches)
        times.append(seconds)
    ids = sorted(hyps)
    return statistics.median(times), len(ids), corpus_bleu([hyps[i] for i in ids], [refs[i] for i in ids]).score


@torch.no_grad()
def benchmark(models: list[tuple[str, Any, Any]], dataset_for: Callable[[Any], Any], refs: list[str],
              batch_sizes: list[int], refine_steps: list[int], beam: int = 4, latency_sentences: int | None = 100,
              progress: Callable[[str], None] = print, repeats: int = 5, seed: int = 1,
              extra: dict[str, list[tuple[str, Any]]] | None = None) -> list[SpeedRow]:
    """Times every decoder of every model at every batch size, interleaved, on the same sentences; ``extra``
    adds (label, generator) decoders by model name (latent search with AR rescoring: no pass-count limit)."""
    configs = []
    for name, model, task in models:
        model.eval()
        dataset = dataset_for(task)
        for label, generator in decoders_for(model, task, beam, refine_steps):
            configs.append(_Config(name, model_family(model), label, model, task, generator, dataset))
        for label, generator in (extra or {}).get(name, []):
            configs.append(_Config(name, model_family(model), label, model, task, generator, dataset, limit=False))
    threads, rows = torch.get_num_threads(), []
    for bs in batch_sizes:
        batches = [latency_samples(c.task, c.dataset, c.model, latency_sentences, seed) if bs == 1
                   else throughput_batches(c.task, c.dataset, c.model, bs) for c in configs]
        times: list[list[float]] = [[] for _ in configs]
        limits: list[list[float]] = [[] for _ in configs]
        outputs: list[tuple[dict[int, str], dict[int, int]]] = []
        for c, b in zip(configs, batches):
            _, hyps, steps = time_pass(c.generator, c.model, c.task, b[:1])  # warm-up (allocations, caches)
            outputs.append((hyps, steps))
        for rep in range(repeats):
            for i, (c, b) in enumerate(zip(configs, batches)):
                seconds, hyps, steps = time_pass(c.generator, c.model, c.task, b)
                times[i].append(seconds)
                outputs[i] = (hyps, steps)
                if bs == 1 and c.family in ("nat", "latent") and c.limit:
                    limits[i].append(sum(pass_limit_seconds(c.model, c.family, s, steps[int(s["id"][0])])
                                         for s in b))
            progress(f"bench: batch {bs}: repeat {rep + 1}/{repeats} done")
        for i, c in enumerate(configs):
            hyps = outputs[i][0]
            ids = sorted(hyps)
            seconds, n = statistics.median(times[i]), len(ids)
            bleu = corpus_bleu([hyps[j] for j in ids], [refs[j] for j in ids]).score
            limit = round(1000 * statistics.median(limits[i]) / n, 3) if limits[i] else None
            row = SpeedRow(c.name, c.family, c.label, bs, n, round(seconds, 4), round(1000 * seconds / n, 3),
                           round(n / seconds, 2), round(bleu, 2), limit, threads)
            progress(f"bench: {c.name} {c.label} batch {bs}: {row.ms_per_sentence} ms/sentence, "
                     f"{row.sentences_per_second} sentences/s, limit {limit} ms/sentence, BLEU {row.bleu}")
            rows.append(row)
    return rows


def ratios(rows: list[SpeedRow]) -> list[dict[str, Any]]:
    """Each row with its ratios, all measured in the same run:

    - ``latency_ratio_vs_ar`` (batch 1): AR ms/sentence ÷ this ms/sentence (> 1: lower latency than AR);
    - ``throughput_ratio_vs_ar`` (larger batches): this sentences/s ÷ AR sentences/s at the same batch size;
    - ``vs_nat_pass`` (batch 1): this ms/sentence ÷ that of one NAT pass;
    - ``vs_limit`` (batch 1): this ms/sentence ÷ its pass-count limit.
    The AR reference is the first AR row of the batch size; the NAT reference the first NAT row."""
    ar = {}
    nat_ms = None
    for r in rows:
        if r.family == "ar":
            ar.setdefault(r.batch_size, r)
        if r.family == "nat" and r.batch_size == 1 and nat_ms is None:
            nat_ms = r.ms_per_sentence
    out = []
    for r in rows:
        base = ar.get(r.batch_size)
        latency = throughput = None
        if base is not None and r.batch_size == 1:
            latency = round(base.ms_per_sentence / r.ms_per_sentence, 2)
        elif base is not None:
            throughput = round(r.sentences_per_second / base.sentences_per_second, 2)
        out.append({**asdict(r), "latency_ratio_vs_ar": latency, "throughput_ratio_vs_ar": throughput,
                    "vs_nat_pass": round(r.ms_per_sentence / nat_ms, 2) if nat_ms and r.batch_size == 1 else None,
                    "vs_limit": round(r.ms_per_sentence / r.limit_ms_per_sentence, 2)
                    if r.limit_ms_per_sentence else None})
    return out


def reference_strings(task: Any, dataset: Any) -> list[str]:
    """The binarised references of a split as dictionary strings, in id order (what ``benchmark`` scores the
    timed outputs against)."""
    return [task.target_dictionary.string(dataset.tgt[i]) for i in range(len(dataset))]

