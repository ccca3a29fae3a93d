"""Invertible multi-head 1×1 convolution over features (Glow's invertible 1×1 convolution with the LU
parametrisation, Kingma & Dhariwal 2018, §3.2; split into heads as FlowSeq's ``InvertibleMultiHeadFlow``,
Ma et al. 2019, §3.3).

The D features of each position are split into H heads of size h = D / H, interleaved: feature ``i·H + j`` is
entry i of head j, so every head mixes features from both coupling halves. One h×h matrix, shared by the heads,

    W = P · L · (U + diag(sign_s · exp(log_s)))

with P a fixed permutation, L unit lower-triangular and U strictly upper-triangular, maps each head vector:
eps = W x. log|det W| = Σ log_s, so logdet = H · Σ log_s per valid position. The inverse applies
W⁻¹ = U'⁻¹ L⁻¹ Pᵀ (two triangular solves on the h×h matrix Pᵀ) to all heads at once, as the D×D matrix
W⁻¹ ⊗ I_H over the interleaved features: one matrix product per call. In eval mode without autograd the factors
and W⁻¹ are computed once and kept while the parameters are unchanged (``ParameterCache``: an update or a reload
recomputes them, nothing to sync).
"""
from __future__ import annotations

import torch
from torch import nn

from fairseq_nat_study.modules.flows.base import Context, Flow, ParameterCache, mask_positions


def default_heads(dim: int) -> int:
    """Heads of size 4 when D is a multiple of 4, else one head over all features."""
    return dim // 4 if dim % 4 == 0 else 1


class InvertibleMultiHeadLinear(Flow):
    """eps_t = (I_H ⊗ W) z_t per position, W an LU-parametrised h×h matrix shared by the H heads."""

    def __init__(self, dim: int, heads: int | None = None) -> None:
        """Args: dim: features D; heads: H, dividing D (default ``default_heads(D)``).

        W starts as a random orthogonal matrix (QR of a Gaussian, torch's default RNG)."""
        super().__init__()
        heads = default_heads(dim) if heads is None else heads
        if heads < 1 or dim % heads != 0:
            raise ValueError(f"{heads} heads do not divide {dim} features")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        q, _ = torch.linalg.qr(torch.randn(self.head_dim, self.head_dim, dtype=torch.float64))
        perm, lower, upper = torch.linalg.lu(q)
        diag = torch.diagonal(upper)
        self.register_buffer("perm", perm.float())
        self.register_buffer("sign_s", torch.sign(diag).float())
        self.lower = nn.Parameter(torch.tril(lower, -1).float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_s = nn.Parameter(torch.log(diag.abs()).float())
        self._cache = ParameterCache()

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}"

    def _sources(self) -> tuple[torch.Tensor, ...]:
        return self.perm, self.sign_s, self.lower, self.upper, self.log_s

    def factors(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(P, L, U') [h, h] in ``dtype``, with W = P L U' and U' = U + diag(sign_s · exp(log_s))."""
        return self._cache.get(self, f"factors {dtype}", self._sources(), lambda: self._factorize(dtype))

    def _factorize(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        eye = torch.eye(self.head_dim, dtype=dtype, device=self.lower.device)
        lower = torch.tril(self.lower.to(dtype), -1) + eye
        diag = self.sign_s.to(dtype) * torch.exp(self.log_s.to(dtype))
        upper = torch.triu(self.upper.to(dtype), 1) + torch.diag(diag)
        return self.perm.to(dtype), lower, upper

    def weight(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """W = P L U' -> [h, h]."""
        def compute() -> torch.Tensor:
            perm, lower, upper = self.factors(dtype)
            return perm @ lower @ upper

        return self._cache.get(self, f"weight {dtype}", self._sources(), compute)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] -> [B, T, h, H] (head j holds features j, j + H, …)."""
        return x.reshape(*x.shape[:-1], self.head_dim, self.heads)

    def _logdet(self, valid: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """H · Σ log_s at every valid position -> [B, T]."""
        return self.heads * self.log_s.to(dtype).sum() * valid.to(dtype)

    def forward_positions(self, z: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        z = mask_positions(z, valid)
        eps = torch.matmul(self.weight(z.dtype), self._heads(z)).reshape(z.shape)
        return eps, self._logdet(valid, z.dtype)

    def inverse_matrix(self, dtype: torch.dtype) -> torch.Tensor:
        """W⁻¹ ⊗ I_H -> [D, D]: z = eps @ (W⁻¹ ⊗ I_H)ᵀ inverts every head of every position."""
        def compute() -> torch.Tensor:
            perm, lower, upper = self.factors(dtype)
            inv = torch.linalg.solve_triangular(lower, perm.T, upper=False, unitriangular=True)
            inv = torch.linalg.solve_triangular(upper, inv, upper=True)
            return torch.kron(inv.contiguous(), torch.eye(self.heads, dtype=dtype, device=inv.device))

        return self._cache.get(self, f"inverse {dtype}", self._sources(), compute)

    def inverse_positions(self, eps: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        z = nn.functional.linear(mask_positions(eps, valid), self.inverse_matrix(eps.dtype))
        return z, -self._logdet(valid, eps.dtype)

    def inverse_unmasked(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> torch.Tensor:
        return nn.functional.linear(eps, self.inverse_matrix(eps.dtype))
