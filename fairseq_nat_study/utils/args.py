"""Helpers for legacy argparse architecture functions."""
from __future__ import annotations

from argparse import Namespace
from typing import Any

#: Sizes of every ``*_tiny`` arch: 2+2 layers, d=64, 2 heads, FFN 256 (CPU tests, quick study).
TINY_SIZES: dict[str, object] = dict(
    encoder_embed_dim=64, encoder_ffn_embed_dim=256, encoder_layers=2, encoder_attention_heads=2,
    decoder_embed_dim=64, decoder_ffn_embed_dim=256, decoder_layers=2, decoder_attention_heads=2,
)

#: Sizes of every ``*_mini`` arch: 3+3 layers, d=128, 4 heads, FFN 512 (CPU studies of real data: between the tiny
#: archs and Transformer-base, about 4× a tiny arch's cost per token).
MINI_SIZES: dict[str, object] = dict(
    encoder_embed_dim=128, encoder_ffn_embed_dim=512, encoder_layers=3, encoder_attention_heads=4,
    decoder_embed_dim=128, decoder_ffn_embed_dim=512, decoder_layers=3, decoder_attention_heads=4,
)

#: Transformer-big sizes of every ``*_large`` latent arch (Vaswani et al. 2017): d 1024, 16 heads, FFN 4096.
BIG_SIZES: dict[str, object] = dict(
    encoder_embed_dim=1024, encoder_ffn_embed_dim=4096, encoder_attention_heads=16,
    decoder_embed_dim=1024, decoder_ffn_embed_dim=4096, decoder_attention_heads=16, dropout=0.3,
)


def set_defaults(args: Namespace, **defaults: object) -> None:
    """Sets each option that the user left unset (``None`` or absent); user values always win."""
    for name, value in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)


def as_namespace(args: Any) -> Any:
    """A legacy model's options as an ``argparse.Namespace`` (other objects are returned as they are).

    ``fairseq-hydra-train``, and loading a checkpoint it wrote, build a legacy model from a ``DictConfig``.
    fairseq's ``TransformerConfig.from_namespace`` keeps only its own dataclass fields from one, so options of
    the NAT models (``src_embedding_copy``, ``length_loss_factor``, ``latent_dim`` ...) would be lost and the
    model built differently from the one ``fairseq-train`` builds; from a ``Namespace`` it keeps every option.
    """
    from omegaconf import OmegaConf

    if OmegaConf.is_config(args):
        return Namespace(**OmegaConf.to_container(args, resolve=True))
    return args
