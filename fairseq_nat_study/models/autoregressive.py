"""Autoregressive baselines Tr-S/B/L (and a CPU-test size) on fairseq's ``transformer`` model.

Sizes follow Lee et al. 2020 ("On the Discrepancy between Density Estimation and Sequence Generation"):
Tr-B and Tr-L are Vaswani et al.'s base and big Transformers; Tr-S has 5 encoder and 5 decoder layers with
2 attention heads. Each arch sets only its own sizes and delegates the rest to fairseq's
``base_architecture``.
"""
from __future__ import annotations

from argparse import Namespace

from fairseq.models import register_model_architecture
from fairseq.models.transformer import base_architecture, transformer_vaswani_wmt_en_de_big

from fairseq_nat_study.utils.args import MINI_SIZES, TINY_SIZES, set_defaults


@register_model_architecture("transformer", "nat_study_tr_tiny")
def nat_study_tr_tiny(args: Namespace) -> None:
    """2+2 layers, d=64, 2 heads: for CPU tests and the quick study."""
    set_defaults(args, **TINY_SIZES)
    base_architecture(args)


@register_model_architecture("transformer", "nat_study_tr_mini")
def nat_study_tr_mini(args: Namespace) -> None:
    """3+3 layers, d=128, 4 heads, FFN 512: CPU studies of real data."""
    set_defaults(args, **MINI_SIZES)
    base_architecture(args)


@register_model_architecture("transformer", "nat_study_tr_small")
def nat_study_tr_small(args: Namespace) -> None:
    """Tr-S: 5+5 layers, 2 heads, d=512 (Lee et al. 2020)."""
    set_defaults(
        args, encoder_layers=5, decoder_layers=5, encoder_attention_heads=2, decoder_attention_heads=2,
    )
    base_architecture(args)


@register_model_architecture("transformer", "nat_study_tr_base")
def nat_study_tr_base(args: Namespace) -> None:
    """Tr-B: Transformer base (6+6 layers, d=512, 8 heads, FFN 2048)."""
    base_architecture(args)


@register_model_architecture("transformer", "nat_study_tr_large")
def nat_study_tr_large(args: Namespace) -> None:
    """Tr-L: Transformer big (6+6 layers, d=1024, 16 heads, FFN 4096, dropout 0.3)."""
    transformer_vaswani_wmt_en_de_big(args)
