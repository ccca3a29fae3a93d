"""How much a latent model uses its latent: summable moments of the posterior mean and the active-units count
(Burda et al. 2016, §5.2: unit u is active when Cov_data(E_q[z_u]) > 0.01), pooled over every target position.

Burda et al. measure z under a fixed N(0, I) prior. A learned prior p(z|x) fixes no scale (the decoder's Linear(z)
absorbs any), so the posterior mean is first read in the prior's standard coordinates, where the prior is
N(0, I): (μ_q − μ_p) / σ_p for the Gaussian prior, f(μ_q; x) for the flow prior (``Prior.standardize``). For a
N(0, I) prior this is Burda et al.'s definition; a collapsed posterior (q = p) has no active dims.
The moments are sums, so batches, validation splits and data-parallel workers add up exactly.
"""
from __future__ import annotations

import torch

#: Burda et al. (2016): a latent unit is active when Cov_data(E_q[z_u]) exceeds this.
ACTIVE_UNIT_THRESHOLD = 0.01


def posterior_mean_moments(mean_q: torch.Tensor, valid: torch.Tensor) -> dict[str, float]:
    """Count, Σ μ_d and Σ μ_d² of the posterior mean over the valid positions, per latent dim d.

    Args: mean_q [B, T, D]; valid [B, T] bool. Returns: {``_zm_n``, ``_zm1_<d>``, ``_zm2_<d>``} floats.
    """
    m = mean_q.detach().double()[valid]  # [N, D]
    out = {"_zm_n": float(m.size(0))}
    for d, (s1, s2) in enumerate(zip(m.sum(0).tolist(), (m * m).sum(0).tolist())):
        out[f"_zm1_{d}"], out[f"_zm2_{d}"] = s1, s2
    return out


def posterior_mean_variances(sums: dict[str, float]) -> list[float]:
    """Var_data(E_q[z_d]) per latent dim from summed ``posterior_mean_moments``."""
    n = sums.get("_zm_n", 0.0)
    dims = sorted(int(k.rsplit("_", 1)[1]) for k in sums if k.startswith("_zm1_"))
    if n <= 1:
        return [0.0 for _ in dims]
    return [sums[f"_zm2_{d}"] / n - (sums[f"_zm1_{d}"] / n) ** 2 for d in dims]


def active_dims(sums: dict[str, float], threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Latent dims whose posterior-mean variance across the data exceeds ``threshold``."""
    return sum(v > threshold for v in posterior_mean_variances(sums))
