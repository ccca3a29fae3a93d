"""Conditional total correlation of a data set, estimated from two trained models (Huang et al. 2022).

For data p(y|x) with target length known, C = Σ_i H(y_i|x) − H(y|x) ≥ 0, and for any factorised (NAT) model
KL(p ‖ p_NAT) ≥ C. Estimator:

    Ĉ = NLL_NAT-MLE − NLL_AR      (per sentence, then averaged; per token by Σ (|y| + 1))

on the same references, both models trained on the same data. E[NLL_AR] = H(y|x) + KL(p ‖ p_AR) bounds
H(y|x) from above and E[NLL_NAT] = H(y|x) + KL(p ‖ p_NAT) bounds H(y|x) + C from above: Ĉ is a difference of
two upper bounds, not a bound itself. It approaches C when both models are close to their optima (the AR
to the data, the NAT to the data's marginals); an under-fitted NAT biases it up, an under-fitted AR down.

GLAT proxy (``ratio`` r > 0): the NAT's first pass predicts ŷ; N = ⌊r · Hamming(ŷ, y)⌋ random target positions
are revealed; Ĉ_r = NLL_NAT(unrevealed | x, revealed) − NLL_AR(unrevealed | x) over the unrevealed tokens
(the AR scores the same positions by teacher forcing; length and EOS terms are left out of both). The two
terms do not condition on the same information: the NAT sees revealed tokens anywhere in the sentence,
including after the position it predicts, the AR only the prefix. Ĉ_r can therefore fall below 0; it
measures how much easier the glimpse makes the NAT's task, not a total correlation of a fixed distribution.
"""
from __future__ import annotations

from typing import Any

import torch

from fairseq_nat_study.modules.glancing import glancing_mask
from fairseq_nat_study.utils.tensor import mask_targets, token_mask


def ar_token_log_probs(model: Any, sample: dict[str, Any]) -> torch.Tensor:
    """Teacher-forced log p(y_t|y_<t,x) [B, T] of an AR model (0 at padding)."""
    out = model(**sample["net_input"])
    lp = model.get_normalized_probs(out, log_probs=True).float()
    target = sample["target"]
    return lp.gather(-1, target.unsqueeze(-1)).squeeze(-1).masked_fill(target.eq(model.decoder.dictionary.pad()), 0.0)


def nat_log_probs(model: Any, sample: dict[str, Any], decoder_in: torch.Tensor) -> torch.Tensor:
    """log p(·|x, T, decoder input) [B, T, V] of a NAT model at every target position (float32)."""
    net_input = sample["net_input"]
    out = model(net_input["src_tokens"], net_input["src_lengths"], decoder_in, sample["target"])
    return torch.log_softmax(out["word_ins"]["out"].float(), -1)


def nat_token_log_probs(model: Any, sample: dict[str, Any], decoder_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(y_t|x, T, decoder input) [B, T] of a NAT model, and its argmax prediction [B, T]."""
    target = sample["target"]
    lp = nat_log_probs(model, sample, decoder_in)
    return lp.gather(-1, target.unsqueeze(-1)).squeeze(-1), lp.argmax(-1)


@torch.no_grad()
def glat_proxy_terms(nat: Any, ar: Any, sample: dict[str, Any], ratio: float,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sentence log-likelihoods of the unrevealed tokens under the NAT (given the glimpse) and the AR.

    Returns:
        (ll_nat [B], ll_ar [B], number of unrevealed tokens [B]).
    """
    target = sample["target"]
    pad, unk, eos = nat.pad, nat.unk, nat.eos
    words = token_mask(target, pad, eos)
    masked = mask_targets(target, pad, unk, eos)
    _, predicted = nat_token_log_probs(nat, sample, masked)
    revealed = glancing_mask(predicted, target, words, ratio, generator)
    nat_lp, _ = nat_token_log_probs(nat, sample, torch.where(revealed, target, masked))
    keep = words & ~revealed
    ar_lp = ar_token_log_probs(ar, sample)
    return (nat_lp * keep).sum(1).double(), (ar_lp * keep).sum(1).double(), keep.sum(1)


def same_dictionaries(task_a: Any, task_b: Any) -> bool:
    """True when two tasks use identical source and target vocabularies (same symbols, same order)."""
    return (task_a.source_dictionary.symbols == task_b.source_dictionary.symbols
            and task_a.target_dictionary.symbols == task_b.target_dictionary.symbols)


def estimate(ar: Any, ar_task: Any, nat: Any, nat_task: Any, data: str, subset: str, glat_ratio: float = 0.0,
             seed: int = 1, max_tokens: int = 4096) -> dict[str, Any]:
    """Ĉ of one split as a JSON-ready dict (raises ValueError on mismatched models)."""
    from fairseq_nat_study.analysis.loading import load_split
    from fairseq_nat_study.analysis.loglik import evaluate_dataset, iterate_batches, model_family, model_max_positions

    if model_family(ar) != "ar":
        raise ValueError(f"--ar: {type(ar).__name__} is not an autoregressive model")
    if model_family(nat) != "nat":
        raise ValueError(f"--nat: {type(nat).__name__} is not a nat_study_nat/nat_study_glat model")
    if not same_dictionaries(ar_task, nat_task):
        raise ValueError("--ar and --nat use different dictionaries; both must be trained on the same binarised data")
    if not 0.0 <= glat_ratio <= 1.0:
        raise ValueError(f"--glat-ratio must be in [0, 1], got {glat_ratio}")
    dataset = load_split(nat_task, data, subset)
    n = len(dataset)
    if glat_ratio == 0.0:
        ll_ar = evaluate_dataset(ar, ar_task, dataset, max_tokens)
        ll_nat = evaluate_dataset(nat, nat_task, dataset, max_tokens)
        lar, lnat, ntok = ll_ar.ll, ll_nat.ll, ll_ar.num_tokens
        estimator, tokens_counted = "raw: NLL_NAT - NLL_AR over y </s> (length/EOS included)", "|y| + 1"
    else:
        lar, lnat, ntok = [0.0] * n, [0.0] * n, [0] * n
        gen = torch.Generator().manual_seed(seed)
        positions = model_max_positions(nat, nat_task)
        for sample in iterate_batches(nat_task, dataset, max_tokens, max_positions=positions):
            if not sample:
                continue
            a, b, k = glat_proxy_terms(nat, ar, sample, glat_ratio, gen)
            for i, sid in enumerate(sample["id"].tolist()):
                lnat[sid], lar[sid], ntok[sid] = float(a[i]), float(b[i]), int(k[i])
        estimator, tokens_counted = f"glat-proxy r={glat_ratio}: unrevealed tokens only", "unrevealed tokens"
    c_hat = [a - b for a, b in zip(lar, lnat)]
    return {
        "subset": subset, "estimator": estimator, "num_sentences": n, "num_tokens": sum(ntok),
        "tokens_counted": tokens_counted,
        "C_hat_per_sentence": sum(c_hat) / n, "C_hat_per_token": sum(c_hat) / max(sum(ntok), 1),
        "nll_ar_per_sentence": -sum(lar) / n, "nll_nat_per_sentence": -sum(lnat) / n,
        "note": "difference of two upper bounds (NLL_NAT >= H + C, NLL_AR >= H in expectation): "
                "close to C only when both models fit the data",
        "sentence_C_hat": c_hat,
    }
