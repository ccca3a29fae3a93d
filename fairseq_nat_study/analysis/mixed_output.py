"""How much probability a NAT model puts on *mixed* outputs, against the product of the data's marginals
(synthetic corpus, where every ambiguous word's alternatives are known).

An ambiguous source word translates to one of k equal-length phrases (``no problem`` / ``of course``). A
*mixed* output takes its tokens from different alternatives (``no course``): the data never produces it. A
model that factorizes over positions and has learnt the data's marginals puts on the mixed outputs of one
occurrence the mass the product of the marginals gives, Σ_mixed Π_j P(y_j = m_j | x) (for ``a0``: 0.5), and an
AR model that fits the data puts on them 0. For each occurrence of an ambiguous word in a split this module
reads the NAT's per-position distributions over the word's target positions (decoder input: every target
token replaced by ``<unk>``, as in scoring) and sums its probability of every mixed output; the study compares
the mean over occurrences with the same mean for the product of the data's marginals.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import torch

from fairseq_nat_study.utils.tensor import mask_targets

#: the NAT's mixed-output mass must lie within this relative distance of the marginal product's
MIXED_TOLERANCE = 0.2

Phrases = list[tuple[tuple[str, ...], float]]


def phrase_table(stats: dict[str, Any]) -> dict[str, Phrases]:
    """``{source word: [(target tokens, probability), ...]}`` from a synthetic corpus's ``stats.json``."""
    return {w: [(tuple(p.split()), float(q)) for p, q in alts] for w, alts in stats["phrase_table"].items()}


def ambiguous_spans(words: Sequence[str], table: dict[str, Phrases]) -> list[tuple[int, Phrases]]:
    """(first target position, alternatives) of every ambiguous word of a source sentence."""
    spans, at = [], 0
    for w in words:
        if w not in table:
            raise ValueError(f"source word {w!r} is not in the corpus's phrase table")
        alts = table[w]
        if len(alts) > 1:
            spans.append((at, alts))
        at += len(alts[0][0])
    return spans


def mixed_masses(alts: Phrases, position_log_probs: Sequence[dict[str, float]]) -> tuple[float, float]:
    """(model mass, marginal-product mass) on the mixed outputs of one occurrence.

    Args:
        alts: the word's alternatives (equal length L) with their probabilities.
        position_log_probs: for each of the L positions, the model's log-probability of every token that any
            alternative has there.
    """
    length = len(alts[0][0])
    marginals = [{} for _ in range(length)]
    for phrase, q in alts:
        for j, tok in enumerate(phrase):
            marginals[j][tok] = marginals[j].get(tok, 0.0) + q
    observed = {phrase for phrase, _ in alts}
    model = product = 0.0
    for combo in itertools.product(*(sorted(m) for m in marginals)):
        if combo in observed:
            continue
        model += math.exp(sum(position_log_probs[j][tok] for j, tok in enumerate(combo)))
        product += math.prod(marginals[j][tok] for j, tok in enumerate(combo))
    return model, product


@torch.no_grad()
def nat_mixed_output(nat: Any, task: Any, dataset: Any, stats: dict[str, Any], max_tokens: int = 4096) -> dict[str, Any]:
    """Mean mass a NAT model puts on the mixed outputs of each ambiguous-word occurrence of ``dataset``, beside
    the product of the data's marginals and the data's own 0, as a JSON-ready dict."""
    from fairseq_nat_study.analysis.loglik import iterate_batches, model_max_positions
    from fairseq_nat_study.analysis.total_correlation import nat_log_probs

    table = phrase_table(stats)
    src_dict, tgt_dict = task.source_dictionary, task.target_dictionary
    model_mass, product_mass, sentences = [], [], 0
    for sample in iterate_batches(task, dataset, max_tokens, max_positions=model_max_positions(nat, task)):
        if not sample:
            continue
        net_input, target = sample["net_input"], sample["target"]
        lp = nat_log_probs(nat, sample, mask_targets(target, nat.pad, nat.unk, nat.eos))
        for b in range(target.size(0)):
            src = net_input["src_tokens"][b]
            words = [src_dict[i] for i in src[src.ne(src_dict.pad()) & src.ne(src_dict.eos())].tolist()]
            spans = ambiguous_spans(words, table)
            sentences += bool(spans)
            for start, alts in spans:
                per_position = [{tok: float(lp[b, start + j, tgt_dict.index(tok)]) for tok in {p[j] for p, _ in alts}}
                                for j in range(len(alts[0][0]))]
                m, p = mixed_masses(alts, per_position)
                model_mass.append(m)
                product_mass.append(p)
    n = len(model_mass)
    if n == 0:
        return {"occurrences": 0, "note": "the split has no ambiguous word"}
    nat_mean, product_mean = sum(model_mass) / n, sum(product_mass) / n
    return {"occurrences": n, "sentences": sentences, "nat_mixed_mass": nat_mean,
            "marginal_product_mixed_mass": product_mean, "data_mixed_mass": 0.0,
            "relative_gap": abs(nat_mean - product_mean) / product_mean if product_mean > 0 else None,
            "note": "mean over occurrences of an ambiguous word of the probability of its mixed outputs "
                    "(tokens from different alternatives)"}
