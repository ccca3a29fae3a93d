"""Option groups of the plugin's models, declared once as dataclasses.

Models extend fairseq's legacy ``FairseqNATModel`` (argparse), so their flags are generated from these
dataclasses with ``gen_parser_from_dataclass(..., delete_default=True)``; the arch functions set defaults.
``add_args_with_defaults`` writes those defaults, arch by arch, into each flag's ``--help`` (the parser itself
has no default to show: the arch function fills it in after parsing). Ranges are checked in ``models/checks.py``.
"""
# No `from __future__ import annotations`: fairseq reads dataclass field types at runtime.
from argparse import Namespace
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Optional

from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.dataclass.utils import gen_parser_from_dataclass

PRIOR_CHOICES = ChoiceEnum(["gaussian", "flow"])


@dataclass
class LatentConfig(FairseqDataclass):
    latent_dim: int = field(default=8, metadata={"help": "size d_z of the latent vector at each target position"})
    prior: PRIOR_CHOICES = field(default="gaussian", metadata={"help": "prior p(z|x): diagonal gaussian or flow"})
    prior_layers: int = field(default=2, metadata={"help": "Transformer layers of the prior (gaussian)"})
    posterior_layers: int = field(default=2, metadata={"help": "Transformer layers of the posterior q(z|x,y)"})
    no_latent_skip: bool = field(
        default=False, metadata={"help": "feed z only to the decoder's first layer (ablation; by default z reaches "
                                         "every decoder layer through skip connections, as in LaNMT)"}
    )
    length_max_offset: int = field(default=64, metadata={"help": "length predictor classes: T - |x| in [-M, M]"})


@dataclass
class FlowPriorConfig(FairseqDataclass):
    flow_levels: int = field(default=3, metadata={"help": "flow prior: levels of the multi-scale flow (half the "
                                                          "features factor out to N(0, I) after each level)"})
    flow_steps: int = field(default=2, metadata={"help": "flow prior: steps per level (actnorm, 1x1 mixing, coupling)"})
    flow_conditioner_layers: int = field(
        default=1, metadata={"help": "flow prior: Transformer layers of each coupling's conditioner"}
    )
    flow_heads: Optional[int] = field(
        default=None, metadata={"help": "flow prior: heads of the invertible 1x1 mixing at the first level "
                                        "(default: heads of size 4 where the features allow)"}
    )
    flow_scale_bound: float = field(default=2.0, metadata={"help": "flow prior: |log scale| bound of each coupling"})


#: Options of ``LatentConfig`` that only one prior reads (every ``FlowPriorConfig`` option: the flow).
PRIOR_OF_OPTION = {"prior_layers": "gaussian"}


def arch_defaults(model_name: str, name: str, applies: Callable[[Namespace], bool] | None = None) -> dict[str, Any]:
    """The default of option ``name`` under each arch of ``model_name`` (the arch function run on no flags),
    for the archs where ``applies`` holds -> {arch: value}."""
    from fairseq.models import ARCH_CONFIG_REGISTRY, ARCH_MODEL_INV_REGISTRY  # noqa: PLC0415 (filled at import)

    values = {}
    for arch in ARCH_MODEL_INV_REGISTRY.get(model_name, []):
        args = Namespace()
        ARCH_CONFIG_REGISTRY[arch](args)
        if applies is None or applies(args):
            values[arch] = getattr(args, name, None)
    return values


def default_help(values: dict[str, Any]) -> str:
    """``(default: V)`` when every arch agrees, else ``(default: V1 for a, b; V2 for c)``; "" when none."""
    by_value: dict[str, list[str]] = {}
    for arch, value in values.items():
        by_value.setdefault(f"{value:g}" if isinstance(value, float) else str(value), []).append(arch)
    if not by_value:
        return ""
    if len(by_value) == 1:
        return f"(default: {next(iter(by_value))})"
    return "(default: " + "; ".join(f"{v} for {', '.join(sorted(a))}" for v, a in by_value.items()) + ")"


def add_args_with_defaults(parser: Any, model_name: str, configs: tuple[FairseqDataclass, ...]) -> None:
    """fairseq's flags of ``configs`` (without parser defaults), each ``--help`` ending with the default that the
    archs of ``model_name`` give it (an option of one prior: the archs of that prior). Flags whose help already
    states a default, and on/off switches, keep their help."""
    for config in configs:
        gen_parser_from_dataclass(parser, config, delete_default=True)
    names = {f.name: "flow" if isinstance(config, FlowPriorConfig) else PRIOR_OF_OPTION.get(f.name)
             for config in configs for f in fields(config) if not f.name.startswith("_")}
    for action in parser._actions:  # an argument group shares its parser's list
        if action.dest not in names or not action.help or "(default" in action.help or action.nargs == 0:
            continue
        prior = names[action.dest]
        applies = None if prior is None else (lambda args, prior=prior: getattr(args, "prior", None) == prior)
        shown = default_help(arch_defaults(model_name, action.dest, applies))
        if shown:
            action.help = f"{action.help} {shown}"

