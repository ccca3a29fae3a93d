"""GLAT (Qian et al. 2021): the vanilla NAT model trained with glancing (criterion ``nat_study_glat``).

The model is ``nat_study_nat`` itself (its decoder reads revealed target tokens, see
``modules/nat_decoder.py``); registering it under its own name keeps GLAT checkpoints recognisable and
gives the GLAT archs. All schedule logic lives in the criterion.
"""
from __future__ import annotations

from argparse import Namespace

from fairseq.models import register_model, register_model_architecture

from fairseq_nat_study.models.vanilla_nat import (VanillaNATModel, nat_study_nat_base, nat_study_nat_mini,
                                                  nat_study_nat_tiny)


@register_model("nat_study_glat")
class GlatNATModel(VanillaNATModel):
    """Vanilla NAT p(y|x) = p(T|x) Π_t p(y_t|x,T), trained by glancing."""


@register_model_architecture("nat_study_glat", "nat_study_glat_base")
def nat_study_glat_base(args: Namespace) -> None:
    """Transformer-base sizes, as ``nat_study_nat_base``."""
    nat_study_nat_base(args)


@register_model_architecture("nat_study_glat", "nat_study_glat_mini")
def nat_study_glat_mini(args: Namespace) -> None:
    """3+3 layers, d=128, 4 heads: CPU studies of real data."""
    nat_study_nat_mini(args)


@register_model_architecture("nat_study_glat", "nat_study_glat_tiny")
def nat_study_glat_tiny(args: Namespace) -> None:
    """2+2 layers, d=64: CPU tests and the quick study."""
    nat_study_nat_tiny(args)
