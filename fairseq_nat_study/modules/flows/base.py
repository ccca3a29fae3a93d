"""The flow interface and its containers (nflows convention, as in ``nflows/transforms/base.py``).

``forward(z, valid, ctx) -> (eps, logdet)`` maps a latent to base noise, with logdet = log|det ∂eps/∂z| summed
over the valid positions of each sentence; ``inverse(eps, valid, ctx) -> (z, -logdet)`` maps noise back. There is
no per-instance direction flag: ``InverseFlow`` swaps the two. Every flow keeps padded positions at exactly zero,
and padded input values never change outputs or log-dets.

Each flow implements ``forward_positions`` / ``inverse_positions``, which return the log-det split over target
positions ([B, T]; the Jacobian of every flow here is block-triangular over positions, so the sentence log-det is
the sum of per-position diagonal-block terms). The per-position split lets the latent model attribute
log p(z|x) to positions (LaNMT's per-position KL budget); ``forward`` / ``inverse`` sum it.

``inverse_only(eps, valid, ctx) -> z`` is the inverse map without its log-det, for decoding (the prior mode
f⁻¹(0; x)): the same z as ``inverse``, with none of the log-det work. It zeroes the padding once on the way in
and once on the way out and runs every part's ``inverse_unmasked`` in between: no flow here lets a finite padded
value reach a valid position (attention masks padded keys, everything else acts per position), so the valid
positions are exactly those of ``inverse``. Values computed from parameters alone (the inverse of the 1×1
mixing, the ActNorm scales) are kept in a ``ParameterCache`` while nothing can change them.
"""
from __future__ import annotations

from typing import Callable, Iterable, TypeVar

import torch
from torch import nn

#: What a flow is conditioned on: fairseq's encoder output dict (``encoder_out`` [S, B, C],
#: ``encoder_padding_mask`` [B, S]), or None for unconditional flows.
Context = dict[str, list[torch.Tensor]] | None
T = TypeVar("T")


def mask_positions(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Zeroes the padded positions (``where``, so non-finite padding cannot leak); x [B, T, D], valid [B, T]."""
    return torch.where(valid.unsqueeze(-1), x, 0.0)


def as_dtype(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """x in ``dtype`` (x itself when it already is: no dispatch on the decoding path)."""
    return x if x.dtype == dtype else x.to(dtype)


class ParameterCache:
    """Values computed from a module's parameters alone, reused while they cannot have changed.

    A value is reused only in eval mode without autograd, and only while every tensor it was computed from is
    the same tensor (storage, dtype, device) at the same version: an optimizer step, ``load_state_dict`` or
    ``.to()`` changes one of them, and the value is computed again. Training mode or autograd computes afresh
    (gradients must reach the parameters) and empties the cache, so nothing needs a manual sync. (Writes
    through ``.data`` skip the version counter; optimizers make them only after a training-mode forward pass,
    which has emptied the cache.)
    """

    def __init__(self) -> None:
        self._values: dict[str, tuple[tuple, object]] = {}

    def get(self, module: nn.Module, name: str, sources: Iterable[torch.Tensor], compute: Callable[[], T]) -> T:
        """``compute()``, or its value from an earlier call with the same ``name`` and unchanged ``sources``."""
        if module.training or torch.is_grad_enabled():
            self._values.clear()
            return compute()
        key = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in sources)
        hit = self._values.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]  # type: ignore[return-value]
        value = compute()
        self._values[name] = (key, value)
        return value


class Flow(nn.Module):
    """An invertible map z [B, T, D] -> eps [B, T, D], conditioned on ``ctx``, applied at valid positions."""

    def forward_positions(self, z: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward`` with the log-det per position: -> (eps [B, T, D], logdet [B, T], 0 at padding)."""
        raise NotImplementedError

    def inverse_positions(self, eps: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``inverse`` with the log-det per position: -> (z [B, T, D], logdet [B, T], 0 at padding)."""
        raise NotImplementedError

    def forward(self, z: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent to noise.

        Args:
            z: [B, T, D] latent (padded positions are ignored).
            valid: [B, T] bool, True at real positions.
            ctx: encoder output dict or None.

        Returns:
            eps [B, T, D] (zero at padded positions) and logdet [B] = log|det ∂eps/∂z| over valid positions.
        """
        eps, logdet = self.forward_positions(z, valid, ctx)
        return eps, logdet.sum(1)

    def inverse(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise to latent.

        Args:
            eps: [B, T, D] noise (padded positions are ignored).
            valid: [B, T] bool.
            ctx: encoder output dict or None.

        Returns:
            z [B, T, D] (zero at padded positions) and logdet [B] = log|det ∂z/∂eps| (minus the forward one).
        """
        z, logdet = self.inverse_positions(eps, valid, ctx)
        return z, logdet.sum(1)

    def inverse_only(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> torch.Tensor:
        """The z of ``inverse`` without the log-det (decoding): eps [B, T, D] -> z [B, T, D], zero at padding
        whatever the padding of eps holds."""
        return mask_positions(self.inverse_unmasked(mask_positions(eps, valid), valid, ctx), valid)

    def inverse_unmasked(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> torch.Tensor:
        """The z of ``inverse`` at the valid positions, without the log-det and without zeroing the padding
        (``inverse_only`` does that once for a whole chain). eps [B, T, D] must be finite at padded positions;
        z [B, T, D] is finite there, with no other promise. Flows whose log-det or masks cost work override it."""
        return self.inverse_positions(eps, valid, ctx)[0]


class SequentialFlow(Flow):
    """Composition f_K ∘ … ∘ f_1 (``forward`` runs f_1 first); log-dets add up."""

    def __init__(self, flows: Iterable[Flow]) -> None:
        super().__init__()
        self.flows = nn.ModuleList(flows)

    def forward_positions(self, z: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        total = z.new_zeros(valid.shape)
        for flow in self.flows:
            z, logdet = flow.forward_positions(z, valid, ctx)
            total = total + logdet
        return z, total

    def inverse_positions(self, eps: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        total = eps.new_zeros(valid.shape)
        for flow in reversed(self.flows):
            eps, logdet = flow.inverse_positions(eps, valid, ctx)
            total = total + logdet
        return eps, total

    def inverse_unmasked(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> torch.Tensor:
        for flow in reversed(self.flows):
            eps = flow.inverse_unmasked(eps, valid, ctx)
        return eps


class InverseFlow(Flow):
    """The inverse of ``flow``: its ``forward`` is ``flow.inverse`` and vice versa."""

    def __init__(self, flow: Flow) -> None:
        super().__init__()
        self.flow = flow

    def forward_positions(self, z: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.flow.inverse_positions(z, valid, ctx)

    def inverse_positions(self, eps: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.flow.forward_positions(eps, valid, ctx)
