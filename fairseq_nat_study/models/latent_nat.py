"""Latent-variable NAT (Lee et al. 2020, "On the Discrepancy between Density Estimation and Sequence
Generation"; Shu et al. 2020, LaNMT).

p(y, z, T | x) = p(T|x) · p(z|x, T) · Π_t p(y_t | z, x), with one latent vector z_t ∈ R^{d_z} per target
position, trained by the ELBO with a diagonal Gaussian posterior q(z|x,y):

    log p(y|x) ≥ log p(T|x) + E_q[log p(y|z,x)] − KL(q(z|x,y) ‖ p(z|x)).

Parts: fairseq's Transformer encoder; a length predictor (2-layer MLP, offsets); a prior (``--prior``:
a diagonal Gaussian or a multi-scale normalizing flow, FlowSeq-style); a posterior; a factorised decoder
reading Linear(z) at its input and, through skip connections, at every layer (LaNMT). Targets use the ``y </s>``
layout, and z covers the T = |y| + 1 target positions. Decoding (delta posterior, see
``generation/latent_refinement.py``) uses ``prior_mode``, ``posterior_mean`` and ``decode``.
"""
from __future__ import annotations

from argparse import Namespace
from typing import Any

import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.models.nat import FairseqNATModel
from fairseq.models.nat.nonautoregressive_transformer import base_architecture as nat_base_architecture

from fairseq_nat_study.models.checks import check_latent_args
from fairseq_nat_study.models.configs import FlowPriorConfig, LatentConfig, add_args_with_defaults
from fairseq_nat_study.modules.latent_decoder import LatentDecoder
from fairseq_nat_study.modules.length_predictor import LengthPredictor
from fairseq_nat_study.modules.posterior import GaussianPosterior
from fairseq_nat_study.modules.priors.base import Prior
from fairseq_nat_study.modules.priors.gaussian import GaussianPrior
from fairseq_nat_study.utils.args import BIG_SIZES, MINI_SIZES, TINY_SIZES, as_namespace, set_defaults
from fairseq_nat_study.utils.distributions import gaussian_log_prob, reparameterize
from fairseq_nat_study.utils.errors import PluginError
from fairseq_nat_study.utils.tensor import time_first_to_batch_first, token_mask


def build_prior(args: Namespace) -> Prior:
    """The prior named by ``--prior``."""
    if args.prior == "gaussian":
        return GaussianPrior(args, args.latent_dim, args.prior_layers)
    if args.prior == "flow":
        from fairseq_nat_study.modules.priors.flow import FlowPrior  # noqa: PLC0415 (optional part)

        return FlowPrior(args, args.latent_dim)
    raise PluginError(f"nat_study_latent: --prior {args.prior!r}: choose gaussian or flow")


@register_model("nat_study_latent")
class LatentNATModel(FairseqNATModel):
    """Latent-variable NAT: length p(T|x), prior p(z|x), posterior q(z|x,y), decoder p(y|z,x)."""

    is_latent_model = True

    def __init__(self, args: Namespace, encoder: Any, decoder: LatentDecoder) -> None:
        super().__init__(args, encoder, decoder)
        self.length_predictor = LengthPredictor(args.encoder_embed_dim, args.length_max_offset)
        self.posterior = GaussianPosterior(args, decoder.embed_tokens, args.latent_dim, args.posterior_layers)
        self.prior = build_prior(args)

    @staticmethod
    def add_args(parser: Any) -> None:
        FairseqNATModel.add_args(parser)
        add_args_with_defaults(parser, "nat_study_latent", (LatentConfig(), FlowPriorConfig()))

    @classmethod
    def build_model(cls, args: Any, task: Any) -> "LatentNATModel":
        """fairseq's build, after every latent option is range-checked (``models.checks``)."""
        # fairseq-hydra-train passes a DictConfig, from which fairseq keeps only TransformerConfig's fields
        args = as_namespace(args)
        check_latent_args(args)
        return super().build_model(args, task)

    @classmethod
    def build_decoder(cls, args: Namespace, tgt_dict: Any, embed_tokens: Any) -> LatentDecoder:
        return LatentDecoder(args, tgt_dict, embed_tokens, args.latent_dim)

    @property
    def allow_length_beam(self) -> bool:
        return True

    # ---- pieces shared by training, decoding and likelihood evaluation ------------------------------
    def encode(self, src_tokens: torch.Tensor, src_lengths: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        return self.encoder(src_tokens, src_lengths=src_lengths)

    def length_logits(self, encoder_out: dict[str, list[torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (logits [B, 2M+1] of p(T|x), source lengths [B])."""
        states = time_first_to_batch_first(encoder_out["encoder_out"][0])
        src_valid = ~encoder_out["encoder_padding_mask"][0]
        return self.length_predictor(states, src_valid), src_valid.sum(1)

    def length_log_prob(self, encoder_out: dict[str, list[torch.Tensor]], tgt_len: torch.Tensor) -> torch.Tensor:
        """log p(T|x) [B] (−inf when T is outside the predictor's support)."""
        logits, src_len = self.length_logits(encoder_out)
        cls, in_range = self.length_predictor.target_class(tgt_len, src_len)
        lp = torch.log_softmax(logits.float(), -1).gather(1, cls[:, None]).squeeze(1)
        return lp.masked_fill(~in_range, float("-inf"))

    def posterior_params(self, tgt_tokens: torch.Tensor, encoder_out: dict[str, list[torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x,y): tgt_tokens [B, T] -> (mean, logvar) [B, T, D_z]."""
        return self.posterior(tgt_tokens, tgt_tokens.ne(self.pad), encoder_out)

    def decode(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, list[torch.Tensor]], normalize: bool = False) -> torch.Tensor:
        """p(y|z,x): z [B, T, D_z] -> [B, T, V] logits (or log-probs)."""
        return self.decoder(z, valid, encoder_out, normalize=normalize)

    def log_q(self, z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """log q(z|x,y) [B]."""
        return gaussian_log_prob(z, mean, logvar, valid)

    def kl(self, z: torch.Tensor, mean_q: torch.Tensor, logvar_q: torch.Tensor, valid: torch.Tensor,
           encoder_out: dict[str, list[torch.Tensor]]) -> torch.Tensor:
        """KL(q‖p) per sentence [B]: closed form when the prior has one, else the one-sample Monte Carlo
        estimate log q(z) − log p(z|x) at the reparameterised z."""
        return self.prior.kl_positions(z, mean_q, logvar_q, valid, encoder_out, standard_mean=False).kl.sum(-1)

    # ---- training -----------------------------------------------------------------------------------
    def forward(self, src_tokens: torch.Tensor, src_lengths: torch.Tensor, prev_output_tokens: torch.Tensor,
                tgt_tokens: torch.Tensor, prior_fit: bool = False, standard_mean: bool = True,
                **kwargs: Any) -> dict[str, dict[str, Any]]:
        """One reparameterised sample of the ELBO terms.

        Args:
            src_tokens: [B, S]; src_lengths: [B]; prev_output_tokens: unused (z replaces decoder inputs);
            tgt_tokens: [B, T] reference ``y </s>``.
            prior_fit: also return the per-position KL with q detached (gradient to the prior only), which a
                KL budget needs so that the prior keeps fitting q where the budget holds.
            standard_mean: also return the posterior mean in the prior's standard coordinates (for the active
                latent dims; for the flow prior one more flow pass, without gradient).

        Returns:
            ``word_ins`` (logits of p(y|z,x), targets, real-token mask), ``length`` (logits of p(T|x), class,
            factor 1), ``kl``: ``kl`` [B] nats, ``kl_positions`` [B, T], ``kl_prior_fit`` [B, T] or None,
            ``valid`` [B, T] (the T = |y| + 1 latent positions), ``num_positions`` [B], ``standard_mean``
            [B, T, D_z] or None (the posterior mean in the prior's standard coordinates, detached; for active units).
        """
        encoder_out = self.encode(src_tokens, src_lengths)
        valid = tgt_tokens.ne(self.pad)
        mean_q, logvar_q = self.posterior_params(tgt_tokens, encoder_out)
        z = reparameterize(mean_q, logvar_q) * valid.unsqueeze(-1)
        logits = self.decode(z, valid, encoder_out)
        length_out, src_len = self.length_logits(encoder_out)
        length_tgt = self.length_predictor.training_class(valid.sum(1), src_len)  # refuses lengths out of support
        terms = self.prior.kl_positions(z, mean_q, logvar_q, valid, encoder_out, prior_fit=prior_fit,
                                        standard_mean=standard_mean)
        return {
            "word_ins": {"out": logits, "tgt": tgt_tokens, "mask": token_mask(tgt_tokens, self.pad, self.eos)},
            "length": {"out": length_out, "tgt": length_tgt, "factor": 1.0},
            "kl": {"kl": terms.kl.sum(-1), "kl_positions": terms.kl, "kl_prior_fit": terms.prior_fit, "valid": valid,
                   "num_positions": valid.sum(1), "standard_mean": terms.standard_mean},
        }


def _latent_defaults(args: Namespace) -> None:
    set_defaults(args, latent_dim=8, prior_layers=2, posterior_layers=2, length_max_offset=64, no_latent_skip=False,
                 share_decoder_input_output_embed=True, flow_levels=3, flow_steps=2, flow_conditioner_layers=1,
                 flow_scale_bound=2.0)
    nat_base_architecture(args)


@register_model_architecture("nat_study_latent", "nat_study_ga_tiny")
def nat_study_ga_tiny(args: Namespace) -> None:
    """Gaussian prior, 2-layer encoder/decoder, 1-layer prior, 2-layer posterior, d=64: CPU tests, quick study."""
    set_defaults(args, prior="gaussian", prior_layers=1, posterior_layers=2, **TINY_SIZES)
    _latent_defaults(args)


@register_model_architecture("nat_study_latent", "nat_study_ga_mini")
def nat_study_ga_mini(args: Namespace) -> None:
    """Gaussian prior, d=128, 4 heads, 3+3 layers, 2-layer prior, 3-layer posterior (LaNMT's proportions at half
    its depth): CPU studies of real data."""
    set_defaults(args, prior="gaussian", prior_layers=2, posterior_layers=3, **MINI_SIZES)
    _latent_defaults(args)


@register_model_architecture("nat_study_latent", "nat_study_ga_base")
def nat_study_ga_base(args: Namespace) -> None:
    """Ga-B: Transformer-base sizes (d 512, 8 heads, 6+6 layers), 3-layer prior, 6-layer posterior (LaNMT), d_z 8."""
    set_defaults(args, prior="gaussian", prior_layers=3, posterior_layers=6)
    _latent_defaults(args)


@register_model_architecture("nat_study_latent", "nat_study_ga_large")
def nat_study_ga_large(args: Namespace) -> None:
    """Ga-L: Transformer-big sizes (d 1024, 16 heads, FFN 4096), 3-layer prior, 6-layer posterior, d_z 8."""
    set_defaults(args, prior="gaussian", prior_layers=3, posterior_layers=6, **BIG_SIZES)
    _latent_defaults(args)


@register_model_architecture("nat_study_latent", "nat_study_fl_tiny")
def nat_study_fl_tiny(args: Namespace) -> None:
    """Flow prior, 3 levels × 2 steps, 1-layer conditioners, 2-layer posterior, d=64: CPU tests, quick study."""
    set_defaults(args, prior="flow", **TINY_SIZES)
    _latent_defaults(args)


@register_model_architecture("nat_study_latent", "nat_study_fl_mini")
def nat_study_fl_mini(args: Namespace) -> None:
    """Flow prior (3 levels × 2 steps, 1-layer conditioners), d=128, 4 heads, 3+3 layers, 3-layer posterior:
    CPU studies of real data."""
    set_defaults(args, prior="flow", posterior_layers=3, **MINI_SIZES)
    _latent_defaults(args)


@register_model_architecture("nat_study_latent", "nat_study_fl_small")
def nat_study_fl_small(args: Namespace) -> None:
    """Fl-S: Transformer-base sizes, flow of 3 levels × 2 steps with 1-layer conditioners, 6-layer posterior."""
    set_defaults(args, prior="flow", flow_steps=2, flow_conditioner_layers=1, posterior_layers=6)
    _latent_defaults(args)


@register_model_architecture("nat_study_latent", "nat_study_fl_base")
def nat_study_fl_base(args: Namespace) -> None:
    """Fl-B: Transformer-base sizes, flow of 3 levels × 4 steps with 2-layer conditioners, 6-layer posterior."""
    set_defaults(args, prior="flow", flow_steps=4, flow_conditioner_layers=2, posterior_layers=6)
    _latent_defaults(args)


@register_model_architecture("nat_study_latent", "nat_study_fl_large")
def nat_study_fl_large(args: Namespace) -> None:
    """Fl-L: Transformer-big sizes (d 1024, 16 heads, FFN 4096), flow of 3 levels × 4 steps, 2-layer conditioners,
    6-layer posterior."""
    set_defaults(args, prior="flow", flow_steps=4, flow_conditioner_layers=2, posterior_layers=6, **BIG_SIZES)
    _latent_defaults(args)
