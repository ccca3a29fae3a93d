"""``build_flow``: the one factory of the flow prior's flow (FlowSeq, Ma et al. 2019), from fairseq model args."""
from __future__ import annotations

from argparse import Namespace

from torch import nn

from fairseq_nat_study.modules.flows.base import Flow
from fairseq_nat_study.modules.flows.conditioners import TransformerConditioner
from fairseq_nat_study.modules.flows.multiscale import multiscale_flow


def build_flow(args: Namespace, latent_dim: int) -> Flow:
    """Multi-scale flow over z [B, T, latent_dim] with source-attending Transformer conditioners.

    Reads (with defaults): ``flow_levels`` (3), ``flow_steps`` (2, steps per level), ``flow_conditioner_layers``
    (1), ``flow_heads`` (None: heads of size 4 where the features allow), ``flow_scale_bound`` (2.0), and the
    decoder sizes that ``TransformerConditioner`` reads.
    """
    layers = int(_get(args, "flow_conditioner_layers", 1))

    def make_conditioner(in_dim: int, out_dim: int) -> nn.Module:
        return TransformerConditioner(args, in_dim, out_dim, layers)

    return multiscale_flow(
        latent_dim, make_conditioner, levels=int(_get(args, "flow_levels", 3)), steps=int(_get(args, "flow_steps", 2)),
        heads=getattr(args, "flow_heads", None), scale_bound=float(_get(args, "flow_scale_bound", 2.0)),
    )


def _get(args: Namespace, name: str, default: float) -> float:
    """``args.name``, or ``default`` when absent or None."""
    value = getattr(args, name, None)
    return default if value is None else value
