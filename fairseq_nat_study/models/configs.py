"""Option groups of the plugin's models, declared once as dataclasses.

Models extend fairseq's legacy ``FairseqNATModel`` (argparse), so their flags are generated from these
dataclasses with ``gen_parser_from_dataclass(..., delete_default=True)``; the arch functions set defaults.
"""
# No `from __future__ import annotations`: fairseq reads dataclass field types at runtime.
from dataclasses import dataclass, field
from typing import Optional

from fairseq.dataclass import ChoiceEnum, FairseqDataclass

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
