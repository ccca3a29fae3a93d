"""Exact per-sentence log-likelihoods of references under AR and NAT models: the one score that decoding
(an AR teacher reranking candidates, :mod:`fairseq_nat_study.generation.reranking`) and analysis
(:mod:`fairseq_nat_study.analysis.loglik`) share, below both.

- AR (any fairseq encoder-decoder): ``log p(y|x) = Σ_t log p(y_t|y_<t,x)`` over ``y </s>`` (EOS included).
- NAT (``nat_study_nat``): ``log p(y|x) = log p(T|x) + Σ_t log p(y_t|x,T)`` with ``T = |y| + 1``.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from fairseq_nat_study.utils.losses import length_nll
from fairseq_nat_study.utils.tensor import mask_targets


class UnsupportedModelError(TypeError):
    """A checkpoint of a model family this analysis cannot score exactly."""


def model_family(model: Any) -> str:
    """``"ar"``, ``"nat"`` (``nat_study_nat``/GLAT) or ``"latent"``; raises for other families."""
    from fairseq.models.nat import FairseqNATModel

    from fairseq_nat_study.models.vanilla_nat import VanillaNATModel

    if getattr(model, "is_latent_model", False):
        return "latent"
    if isinstance(model, VanillaNATModel):
        return "nat"
    if isinstance(model, FairseqNATModel):
        raise UnsupportedModelError(
            f"{type(model).__name__} is a fairseq NAT model with its own target layout and no exact "
            "likelihood here; use a nat_study_* model"
        )
    if not hasattr(model, "get_normalized_probs") or not hasattr(model, "decoder"):
        raise UnsupportedModelError(f"{type(model).__name__} is not an encoder-decoder translation model")
    return "ar"


@torch.no_grad()
def sentence_log_likelihoods(model: Any, sample: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact ``log p(y|x)`` of each reference in a batch.

    Args:
        model: an AR fairseq model or a ``nat_study_nat`` model, in eval mode.
        sample: a fairseq translation batch (``net_input``, ``target`` [B, T] right-padded ``y </s>``).

    Returns:
        (ll [B] float64 nats, num_tokens [B] long = |y| + 1).
    """
    target = sample["target"]
    pad = model.decoder.dictionary.pad()
    num_tokens = target.ne(pad).sum(1)
    family = model_family(model)
    net_input = sample["net_input"]
    if family == "ar":
        net_output = model(**net_input)
        log_probs = model.get_normalized_probs(net_output, log_probs=True).float()
        token_lp = log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1).masked_fill(target.eq(pad), 0.0)
        return token_lp.sum(1).double(), num_tokens
    if family == "nat":
        token_lp, length_lp = nat_token_log_probs(model, sample)
        return (token_lp.sum(1) + length_lp).double(), num_tokens
    raise UnsupportedModelError("latent models are scored by the importance-weighted estimator")


@torch.no_grad()
def nat_token_log_probs(model: Any, sample: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """The terms of a NAT model's exact ``log p(y|x) = log p(T|x) + Σ_t log p(y_t|x,T)``.

    Args:
        model: a ``nat_study_nat`` (or GLAT) model in eval mode.
        sample: a translation batch (``target`` [B, T] right-padded ``y </s>``).

    Returns:
        (token log-probabilities [B, T] float, 0 at EOS and pads; log p(T|x) [B] float, −inf where the
        reference length is a class the length head cannot predict).
    """
    net_input, target = sample["net_input"], sample["target"]
    decoder_in = mask_targets(target, model.decoder.dictionary.pad(), model.unk, model.eos)
    out = model(net_input["src_tokens"], net_input["src_lengths"], decoder_in, target)
    word = out["word_ins"]
    # log p(y_t|x,T) at the real-token positions (utils.losses.token_nll, per position and negated)
    log_probs = torch.log_softmax(word["out"].float(), dim=-1)
    token_lp = log_probs.gather(-1, word["tgt"].unsqueeze(-1)).squeeze(-1).masked_fill(~word["mask"], 0.0)
    length_lp = -length_nll(out["length"]["out"], out["length"]["tgt"])
    return token_lp, length_lp.masked_fill(~_length_in_range(model, net_input, target), -math.inf)


def _length_in_range(model: Any, net_input: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """[B] bool: the reference length is a class the length head can predict (else p(T|x) = 0)."""
    pad = model.decoder.dictionary.pad()
    tgt_len = target.ne(pad).sum(1)
    if getattr(model.decoder, "pred_length_offset", False):
        src_len = net_input["src_tokens"].ne(model.encoder.dictionary.pad()).sum(1)
        cls = tgt_len - src_len + 128
    else:
        cls = tgt_len
    return (cls >= 0) & (cls <= 255)
