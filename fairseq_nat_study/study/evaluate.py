"""Evaluating one checkpoint for the study: BLEU and LL of a test split, and for the final checkpoint the
refinement table, candidate diversity and decoding speed. Everything runs in one process on one model.

* BLEU of the default decoder (AR beam 4; NAT one pass; latent ``decode_steps`` delta-posterior steps),
  sacreBLEU on detokenised text with its signature, tokenized BLEU and (optionally) compound-split BLEU;
  the subword segmentation (BPE ``@@ ``, or SentencePiece pieces: read from the target dictionary) is undone
  in hypotheses, references are the untouched tokenized test text.
* Per-sentence BLEU statistics (``bleu_stats``, ``analysis/significance.py``) of the final checkpoint's output
  and of the first and last refinement step: the findings' paired bootstrap of BLEU differences reads them.
* LL of the *references*: exact for AR/NAT, IWAE-``iw_samples`` with the ELBO beside it for latent models.
* Refinement (latent): for K in ``refine_steps``, BLEU of ŷ_K and the ELBO per token of ŷ_K under the model
  (the quantity delta-posterior inference climbs), and the diversity of the length-beam candidates.
* Latent search (latent, with ``eval.search_samples`` and the AR teacher): BLEU of LaNMT's decoder, the
  teacher's pick among ``search_samples`` prior samples × ``length_beam`` lengths, each refined ``decode_steps``
  times, with its per-sentence statistics (``search``).
* Diversity: 100 − mean pairwise sentence-BLEU between the candidates of one source (AR: the beam's
  n-best; latent: the ``length_beam`` length candidates). fairseq's NAT generator keeps only the best length
  candidate, so NAT/GLAT have no diversity figure (reported as ``None``, not zero).
* Speed (when asked: ``fairseq-nat-study evaluate``; the study times every run side by side in its speed stage,
  ``study/speed_stage.py``): ms/sentence at batch size 1 (``bench_sentences`` sentences drawn at random from
  the split) and sentences/s at ``bench_batch``, median of 5 passes (``analysis.speed``); the thread count is
  recorded.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

import torch

from fairseq_nat_study.analysis.bleu import corpus_bleu, detokenize, remove_subwords, subword_scheme
from fairseq_nat_study.analysis.significance import sentence_statistics
from fairseq_nat_study.analysis.loglik import (to_model_device, evaluate_dataset, iterate_batches, make_pair_dataset,
                                               model_family, model_max_positions)
from fairseq_nat_study.analysis.speed import build_generator, build_search_generator, time_decoder
from fairseq_nat_study.study.config import EvalConfig


def model_group(model: Any) -> str:
    """``ar``, ``nat`` or ``latent-<prior>``: the families whose Pearson r the report gives."""
    family = model_family(model)
    if family == "latent":
        return f"latent-{getattr(model.cfg, 'prior', 'gaussian')}"
    return family


@torch.no_grad()
def decode(model: Any, task: Any, dataset: Any, generator: Any, batch_size: int = 64) -> list[list[str]]:
    """Every candidate of every sentence, best first, in dictionary symbols (BPE kept), in corpus order."""
    out: dict[int, list[str]] = {}
    for sample in iterate_batches(task, dataset, max_tokens=None, max_sentences=batch_size,
                                  max_positions=model_max_positions(model, task)):
        hypos = generator.generate([model], to_model_device(sample, model))
        for i, sid in enumerate(sample["id"].tolist()):
            out[sid] = [task.target_dictionary.string(h["tokens"].int().cpu()) for h in hypos[i]]
    missing = [i for i in range(len(dataset)) if i not in out]
    if missing:
        raise RuntimeError(f"{len(missing)} of {len(dataset)} sentences were not decoded (first ids {missing[:5]})")
    return [out[i] for i in range(len(dataset))]


def bleu_scores(hyps: Sequence[str], refs: Sequence[str], lang: str, compound: bool,
                stats: bool = False, subwords: str = "subword_nmt") -> dict[str, Any]:
    """sacreBLEU (detokenised), tokenized and optionally compound-split BLEU of segmented hypotheses (their
    ``subwords`` segmentation undone first); with ``stats``, also the per-sentence statistics of the sacreBLEU
    score (``bleu_stats``, for the paired bootstrap of ``analysis/significance.py``)."""
    hyps = [remove_subwords(h, subwords) for h in hyps]
    detok_hyps, detok_refs = detokenize(hyps, lang), detokenize(refs, lang)
    result = corpus_bleu(detok_hyps, detok_refs)
    out = {"bleu": round(result.score, 2), "bleu_signature": result.signature}
    if stats:
        out["bleu_stats"] = sentence_statistics(detok_hyps, detok_refs)
    out["tokenized_bleu"] = round(corpus_bleu(hyps, refs, compound=compound).tokenized_score, 2)
    if compound:
        out["compound_split_bleu"] = round(corpus_bleu(hyps, refs, compound=True).compound_split_score or 0.0, 2)
    return out


def diversity(candidates: Sequence[Sequence[str]], subwords: str = "subword_nmt") -> float | None:
    """100 − mean pairwise sentence-BLEU between the candidates of each source (sources with ≥ 2 only), on
    words (the ``subwords`` segmentation undone)."""
    from sacrebleu.metrics import BLEU

    metric = BLEU(tokenize="none", effective_order=True)
    scores = [metric.sentence_score(remove_subwords(a, subwords), [remove_subwords(b, subwords)]).score
              for cands in candidates if len(cands) > 1 for a, b in itertools.permutations(cands, 2)]
    return round(100.0 - sum(scores) / len(scores), 2) if scores else None


def output_elbo_per_token(model: Any, task: Any, sources: Sequence[str], hyps: Sequence[str],
                          seed: int = 1) -> tuple[float | None, int]:
    """ELBO per token of the model's own non-empty outputs ŷ (one posterior sample) and the number of empty
    outputs left out (an empty ŷ has no tokens to score; the count is reported beside the figure)."""
    keep = [i for i, h in enumerate(hyps) if h.strip()]
    if not keep:
        return None, len(hyps)
    pairs = make_pair_dataset(task, [sources[i] for i in keep], [hyps[i] for i in keep])
    result = evaluate_dataset(model, task, pairs, iw_samples=1, seed=seed)
    return result.per_token("elbo"), len(hyps) - len(keep)


def evaluate_checkpoint(model: Any, task: Any, dataset: Any, refs: Sequence[str], ev: EvalConfig, *, lang: str,
                        compound: bool = False, full: bool = False, seed: int = 1, speed: bool = True,
                        progress: Callable[[str], None] = print, teacher: Any = None) -> dict[str, Any]:
    """The study's figures for one checkpoint (``full``: also refinement, diversity, latent search and, with
    ``speed``, the decoding speed of this model alone).

    Args:
        dataset: the binarised test split (sources and references in the task's dictionaries).
        refs: the references as tokenized text (no BPE), one per sentence of ``dataset``.
        teacher: the AR model that ranks latent search's candidates (latent models, ``ev.search_samples`` > 0).
    """
    if len(refs) != len(dataset):
        raise ValueError(f"{len(refs)} reference lines for a split of {len(dataset)} sentences")
    family = model_family(model)
    steps = ev.decode_steps if family == "latent" else 0
    beam = 4 if family == "ar" else 1
    subwords = subword_scheme(task.target_dictionary.symbols)
    hyps = [c[0] for c in decode(model, task, dataset, build_generator(model, task, steps, beam))]
    row: dict[str, Any] = {"group": model_group(model), "num_sentences": len(hyps),
                           "empty_hypotheses": sum(1 for h in hyps if not h.strip()),
                           **bleu_scores(hyps, refs, lang, compound, stats=full, subwords=subwords)}
    progress(f"BLEU {row['bleu']} ({len(hyps)} sentences); log-likelihood of the references ...")
    ll = evaluate_dataset(model, task, dataset, iw_samples=ev.iw_samples, seed=seed)
    row.update(ll_per_token=round(ll.ll_per_token, 4), ll_per_sentence=round(ll.ll_per_sentence, 3),
               estimator=ll.estimator)
    if "elbo" in ll.extra:
        from fairseq_nat_study.scoring.iwae import latent_usage

        row["elbo_per_token"] = round(ll.per_token("elbo"), 4)
        row["latent_usage"] = latent_usage(ll.extra, sum(ll.num_tokens))
    progress(f"LL {row['ll_per_token']} nats/token ({ll.estimator})")
    if not full:
        return row
    sources = [task.source_dictionary.string(dataset.src[i]) for i in range(len(dataset))]
    if family == "ar":
        cands = decode(model, task, dataset, build_generator(model, task, 0, 4))
        row["diversity"] = diversity(cands, subwords)
    elif family == "latent":
        row["refinement"] = []
        ends = {ev.refine_steps[0], ev.refine_steps[-1]} if ev.refine_steps else set()  # compared by the findings
        for k in ev.refine_steps:
            hyps_k = [c[0] for c in decode(model, task, dataset, build_generator(model, task, k, 1))]
            cands = decode(model, task, dataset, build_generator(model, task, k, ev.length_beam))
            elbo, empty = output_elbo_per_token(model, task, sources, hyps_k, seed)
            scores = bleu_scores(hyps_k, refs, lang, compound, stats=k in ends, subwords=subwords)
            entry = {"steps": k, "bleu": scores["bleu"],
                     "output_elbo_per_token": None if elbo is None else round(elbo, 4), "empty_outputs": empty,
                     "diversity": diversity(cands, subwords),
                     **({"bleu_stats": scores["bleu_stats"]} if k in ends else {})}
            row["refinement"].append(entry)
            progress(f"refinement K={k}: BLEU {entry['bleu']}, ELBO(ŷ) {entry['output_elbo_per_token']}, "
                     f"diversity {entry['diversity']}")
        row["diversity"] = next((e["diversity"] for e in row["refinement"] if e["steps"] == steps), None)
        if teacher is not None and ev.search_samples:
            row["search"] = latent_search(model, task, dataset, refs, ev, teacher, lang=lang, compound=compound,
                                          seed=seed, subwords=subwords)
            progress(f"latent search {row['search']['samples']}×{row['search']['length_beam']} + AR: BLEU "
                     f"{row['search']['bleu']}")
    else:
        row["diversity"] = None
    if not speed:
        return row
    row["speed"] = time_default_decoder(model, task, dataset, refs, ev, steps, beam)
    progress(f"speed: {row['speed']['latency_ms']} ms/sentence at batch 1, "
             f"{row['speed']['throughput']} sentences/s at batch {ev.bench_batch}")
    return row


def latent_search(model: Any, task: Any, dataset: Any, refs: Sequence[str], ev: EvalConfig, teacher: Any, *,
                  lang: str, compound: bool, seed: int, subwords: str) -> dict[str, Any]:
    """BLEU (with per-sentence statistics) of LaNMT's decoder: the teacher's pick among ``ev.search_samples``
    prior samples × ``ev.length_beam`` lengths, each refined ``ev.decode_steps`` times."""
    gen = build_search_generator(model, task, teacher, ev.search_samples, ev.length_beam, ev.decode_steps,
                                 ev.search_temperature, seed)
    hyps = [c[0] for c in decode(model, task, dataset, gen)]
    scores = bleu_scores(hyps, refs, lang, compound, stats=True, subwords=subwords)
    return {"samples": ev.search_samples, "length_beam": ev.length_beam, "steps": ev.decode_steps,
            "temperature": ev.search_temperature, "empty_outputs": sum(1 for h in hyps if not h.strip()), **scores}


def time_default_decoder(model: Any, task: Any, dataset: Any, refs: Sequence[str], ev: EvalConfig, steps: int,
                         beam: int) -> dict[str, Any]:
    """Latency (batch 1, ``bench_sentences`` sentences drawn at random) and throughput (``bench_batch``) of the
    default decoder, median of 5 passes each."""
    gen, refs = build_generator(model, task, steps, beam), list(refs)
    sec1, n1, _ = time_decoder(gen, model, task, dataset, 1, ev.bench_sentences, refs, repeats=5)
    secb, nb, _ = time_decoder(gen, model, task, dataset, ev.bench_batch, None, refs, repeats=5)
    return {"latency_ms": round(1000 * sec1 / n1, 3), "throughput": round(nb / secb, 2),
            "batch": ev.bench_batch,
            "decoder": "beam 4" if beam == 4 else (f"K={steps}" if model_family(model) == "latent" else "1 pass"),
            "threads": torch.get_num_threads()}
