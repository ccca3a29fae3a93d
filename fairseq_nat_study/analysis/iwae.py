"""Importance-weighted log-likelihood of latent NAT models (Burda et al. 2016), per sentence.

With z_k ~ q(z|x,y), k = 1..K:

    log p(y|x) ≈ IWAE_K = log p(T|x) + logsumexp_k[log p(y|z_k,x) + log p(z_k|x) − log q(z_k|x,y)] − log K
    ELBO        = log p(T|x) + (1/K) Σ_k [log p(y|z_k,x) + log p(z_k|x) − log q(z_k|x,y)]

Both come from the same K samples, so IWAE_K ≥ ELBO holds for every sentence (log-mean-exp ≥ mean), and
E[IWAE_K] grows with K towards log p(y|x).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from fairseq_nat_study.utils.distributions import reparameterize
from fairseq_nat_study.utils.losses import token_nll
from fairseq_nat_study.utils.tensor import token_mask


@torch.no_grad()
def latent_log_weights(model: Any, sample: dict[str, Any], num_samples: int, generator: torch.Generator | None = None,
                       max_rows: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """log importance weights of K posterior samples, and log p(T|x).

    Args:
        model: a ``nat_study_latent`` model in eval mode.
        sample: a translation batch (``target`` [B, T] right-padded ``y </s>``).
        num_samples: K ≥ 1.
        max_rows: at most this many (sentence, sample) rows per forward pass.

    Returns:
        (log_w [B, K], log p(T|x) [B]).
    """
    if num_samples < 1:
        raise ValueError(f"--iw-samples must be >= 1, got {num_samples}")
    net_input, target = sample["net_input"], sample["target"]
    pad, eos = model.pad, model.eos
    bsz = target.size(0)
    valid, words = target.ne(pad), token_mask(target, pad, eos)
    encoder_out = model.encode(net_input["src_tokens"], net_input["src_lengths"])
    length_lp = model.length_log_prob(encoder_out, valid.sum(1))
    mean_q, logvar_q = model.posterior_params(target, encoder_out)
    per_pass = max(1, min(num_samples, max_rows // max(bsz, 1)))
    chunks = []
    for start in range(0, num_samples, per_pass):
        k = min(per_pass, num_samples - start)
        rows = torch.arange(bsz, device=target.device).repeat_interleave(k)
        enc_k = model.encoder.reorder_encoder_out(encoder_out, rows)
        z = reparameterize(mean_q[rows], logvar_q[rows], generator=generator) * valid[rows].unsqueeze(-1)
        logits = model.decode(z, valid[rows], enc_k)
        log_py = -token_nll(logits, target[rows], words[rows])[1]
        log_pz = model.prior.log_prob(z, valid[rows], enc_k)
        log_qz = model.log_q(z, mean_q[rows], logvar_q[rows], valid[rows])
        chunks.append((log_py + log_pz - log_qz).view(bsz, k))
    return torch.cat(chunks, 1).double(), length_lp.double()


def iwae_scorer(num_samples: int, seed: int = 1):
    """A scorer for ``evaluate_dataset``: (IWAE_K [B], |y|+1 [B], {"elbo": [B]}) with a seeded generator."""
    state: dict[str, torch.Generator] = {}

    def score(model: Any, sample: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        device = sample["target"].device
        if "gen" not in state:
            state["gen"] = torch.Generator(device=device).manual_seed(seed)
        log_w, length_lp = latent_log_weights(model, sample, num_samples, state["gen"])
        iwae = length_lp + torch.logsumexp(log_w, 1) - math.log(num_samples)
        elbo = length_lp + log_w.mean(1)
        return iwae, sample["target"].ne(model.pad).sum(1), {"elbo": elbo}

    return score
