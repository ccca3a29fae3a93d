"""Importance-weighted log-likelihood of latent NAT models (Burda et al. 2016), per sentence.

With z_k ~ q(z|x,y), k = 1..K:

    log p(y|x) ≈ IWAE_K = log p(T|x) + logsumexp_k[log p(y|z_k,x) + log p(z_k|x) − log q(z_k|x,y)] − log K
    ELBO        = log p(T|x) + (1/K) Σ_k [log p(y|z_k,x) + log p(z_k|x) − log q(z_k|x,y)]

Both come from the same K samples, so IWAE_K ≥ ELBO holds for every sentence (log-mean-exp ≥ mean), and
E[IWAE_K] grows with K towards log p(y|x).

Beside them, how much the latent is used: KL(q‖p) per sentence (closed form for the Gaussian prior, the mean
over the K samples of log q − log p for the flow), KL per latent dim (Gaussian prior) and the moments of the
posterior mean from which ``latent_usage`` counts active units (Burda et al. 2016).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from fairseq_nat_study.utils.distributions import reparameterize
from fairseq_nat_study.utils.latent_usage import active_dims, posterior_mean_variances
from fairseq_nat_study.utils.losses import token_nll
from fairseq_nat_study.utils.tensor import token_mask


@torch.no_grad()
def latent_log_weights(model: Any, sample: dict[str, Any], num_samples: int, generator: torch.Generator | None = None,
                       max_rows: int = 1024, usage: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """log importance weights of K posterior samples, and log p(T|x).

    Args:
        model: a ``nat_study_latent`` model in eval mode.
        sample: a translation batch (``target`` [B, T] right-padded ``y </s>``).
        num_samples: K ≥ 1.
        max_rows: at most this many (sentence, sample) rows per forward pass.
        usage: if given, filled with per-sentence [B] tensors: ``kl`` (KL(q‖p) in nats), ``_kl_dim_<d>``
            (Gaussian prior: KL of latent dim d), and the posterior-mean moments ``_zm*``.

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
    if usage is not None:
        usage.update(sentence_usage(model, mean_q, logvar_q, valid, encoder_out))
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
        if usage is not None and not model.prior.closed_form_kl:
            mc = (log_qz - log_pz).view(bsz, k).double().sum(1) / num_samples
            usage["kl"] = usage.get("kl", torch.zeros_like(mc)) + mc
    return torch.cat(chunks, 1).double(), length_lp.double()


def sentence_usage(model: Any, mean_q: torch.Tensor, logvar_q: torch.Tensor, valid: torch.Tensor,
                   encoder_out: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Per-sentence [B] diagnostics of q(z|x,y): closed-form KL and KL per dim (Gaussian prior), and the moments
    of the posterior mean in the prior's standard coordinates (each a per-sentence sum, so a split's totals are
    their sums)."""
    out: dict[str, torch.Tensor] = {}
    per_dim = model.prior.kl_dims(mean_q, logvar_q, valid, encoder_out)
    if per_dim is not None:
        per_dim = per_dim.double().sum(1)  # [B, D]
        out["kl"] = per_dim.sum(1)
        for d in range(per_dim.size(1)):
            out[f"_kl_dim_{d}"] = per_dim[:, d]
    # the posterior mean in the prior's N(0, I) coordinates; per-sentence sums of posterior_mean_moments' terms
    standard = model.prior.standardize(mean_q, valid, encoder_out).double() * valid.unsqueeze(-1)
    out["_zm_n"] = valid.sum(1).double()
    for d in range(standard.size(-1)):
        out[f"_zm1_{d}"] = standard[..., d].sum(1)
        out[f"_zm2_{d}"] = (standard[..., d] ** 2).sum(1)
    return out


def latent_usage(extra: dict[str, list[float]], num_tokens: int) -> dict[str, Any]:
    """A split's latent usage from the per-sentence ``sentence_usage`` values of ``evaluate_dataset``.

    Returns: ``kl_per_token`` (nats per target position, T = |y| + 1), ``kl_per_dim_per_token`` (list, or None
    for a prior that does not factorise over dims), ``posterior_mean_variance`` per dim, ``active_units``
    (dims with variance > 0.01) and ``latent_dims``.
    """
    sums = {k: sum(v) for k, v in extra.items() if k.startswith("_zm")}
    dims = sorted(int(k.rsplit("_", 1)[1]) for k in extra if k.startswith("_kl_dim_"))
    variances = posterior_mean_variances(sums)
    return {
        "kl_per_token": sum(extra["kl"]) / max(num_tokens, 1) if "kl" in extra else None,
        "kl_per_dim_per_token": [sum(extra[f"_kl_dim_{d}"]) / max(num_tokens, 1) for d in dims] if dims else None,
        "posterior_mean_variance": variances,
        "active_units": active_dims(sums),
        "latent_dims": len(variances),
    }


def iwae_scorer(num_samples: int, seed: int = 1):
    """A scorer for ``evaluate_dataset``: (IWAE_K [B], |y|+1 [B], {"elbo", "kl", ``_``-prefixed usage sums: [B]})
    with a seeded generator."""
    state: dict[str, torch.Generator] = {}

    def score(model: Any, sample: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        device = sample["target"].device
        if "gen" not in state:
            state["gen"] = torch.Generator(device=device).manual_seed(seed)
        usage: dict[str, torch.Tensor] = {}
        log_w, length_lp = latent_log_weights(model, sample, num_samples, state["gen"], usage=usage)
        iwae = length_lp + torch.logsumexp(log_w, 1) - math.log(num_samples)
        elbo = length_lp + log_w.mean(1)
        return iwae, sample["target"].ne(model.pad).sum(1), {"elbo": elbo, **usage}

    return score
