"""Range checks of the latent model's options (``models/configs.py``), run when the model is built.

Every numeric flag of ``LatentConfig`` and ``FlowPriorConfig`` is checked before any module is made, so that a
value that cannot mean anything ends ``fairseq-train`` with one line naming the flag (``utils.flag_checks``)
instead of a crash deep in a module or a model that silently differs from what was asked.
"""
from __future__ import annotations

from argparse import Namespace

from fairseq_nat_study.utils.errors import PluginError
from fairseq_nat_study.utils.flag_checks import require_float, require_int

WHERE = "nat_study_latent"


def max_flow_levels(latent_dim: int) -> int:
    """The most levels a multi-scale flow over ``latent_dim`` features can have: each level passes ⌈D/2⌉ features
    on, and the last level needs at least 2 (it is coupled), so L levels need D > 2^(L−1)."""
    levels = 0
    while latent_dim > 2**levels:
        levels += 1
    return levels


def flow_level_dims(latent_dim: int, levels: int) -> list[int]:
    """Features of each level: D, ⌈D/2⌉, … (``levels`` entries)."""
    dims = [latent_dim]
    for _ in range(levels - 1):
        dims.append(dims[-1] - dims[-1] // 2)
    return dims


def check_flow_shape(latent_dim: int, levels: int, heads: int | None) -> None:
    """Raises ``PluginError`` naming ``--flow-levels``/``--flow-heads`` when the flow cannot be built over
    ``latent_dim`` features."""
    most = max_flow_levels(latent_dim)
    if levels > most:
        raise PluginError(
            f"{WHERE}: --flow-levels {levels} needs --latent-dim > 2^{levels - 1} = {2 ** (levels - 1)} (each level "
            f"passes half of its features on, and the last level needs at least 2), got --latent-dim {latent_dim}: "
            + (f"use --flow-levels {most} or fewer, or raise --latent-dim" if most >= 1
               else "the flow prior needs --latent-dim >= 2"))
    if heads is None:
        return
    dims = flow_level_dims(latent_dim, levels)
    for level, dim in enumerate(dims):
        level_heads = max(1, heads // 2**level)
        if dim % level_heads:
            raise PluginError(
                f"{WHERE}: --flow-heads {heads} gives {level_heads} head(s) at level {level + 1}, which do not divide "
                f"its {dim} features (features per level {dims}, heads halve with them); choose --flow-heads "
                "dividing --latent-dim at every level (e.g. 1), or leave it unset (heads of size 4 where possible)")


def check_latent_args(args: Namespace) -> None:
    """Refuses (``PluginError``) every latent-model option out of its range; call after the arch function."""
    require_int(WHERE, "--latent-dim", args.latent_dim, 1, "the size d_z of the latent vector at each target position")
    require_int(WHERE, "--prior-layers", args.prior_layers, 1, "Transformer layers of the Gaussian prior p(z|x), "
                "through which it reads the source")
    require_int(WHERE, "--posterior-layers", args.posterior_layers, 1, "Transformer layers of the posterior q(z|x,y)")
    require_int(WHERE, "--length-max-offset", args.length_max_offset, 0,
                "the length predictor's classes are the offsets T - |x| in [-M, M]")
    if args.prior != "flow":
        return
    require_int(WHERE, "--flow-levels", args.flow_levels, 1, "levels of the multi-scale flow prior")
    require_int(WHERE, "--flow-steps", args.flow_steps, 1, "flow steps (actnorm, 1x1 mixing, coupling) per level")
    require_int(WHERE, "--flow-conditioner-layers", args.flow_conditioner_layers, 1,
                "Transformer layers of each coupling's conditioner, through which the flow reads the source")
    heads = getattr(args, "flow_heads", None)  # no arch sets it: absent unless given
    if heads is not None:
        require_int(WHERE, "--flow-heads", heads, 1, "heads of the invertible 1x1 mixing at the first level")
    require_float(WHERE, "--flow-scale-bound", args.flow_scale_bound, "the bound on each coupling's |log scale|",
                  low=0.0, low_open=True)
    check_flow_shape(args.latent_dim, args.flow_levels, heads)
