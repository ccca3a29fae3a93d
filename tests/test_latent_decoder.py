"""The latent decoder p(y|z,x): z reaches every layer through the skip connections (LaNMT), and only the first
layer without them."""
from __future__ import annotations

from argparse import Namespace

import pytest
import torch
from fairseq.data import Dictionary

from fairseq_nat_study.modules.latent_decoder import LatentDecoder


def _decoder(skip: bool) -> LatentDecoder:
    d = Dictionary()
    for w in "abcdef":
        d.add_symbol(w)
    args = Namespace(decoder_embed_dim=16, decoder_attention_heads=2, decoder_ffn_embed_dim=32, encoder_embed_dim=16,
                     decoder_layers=3, max_target_positions=64, dropout=0.0, attention_dropout=0.0,
                     activation_dropout=0.0, decoder_normalize_before=False, activation_fn="relu",
                     share_decoder_input_output_embed=True, no_latent_skip=not skip)
    return LatentDecoder(args, d, torch.nn.Embedding(len(d), 16, padding_idx=d.pad()), latent_dim=4).double().eval()


@pytest.mark.parametrize("skip", [True, False])
def test_z_reaches_later_layers_only_through_the_skips(skip: bool) -> None:
    dec = _decoder(skip)
    assert (dec.z_skip is not None and len(dec.z_skip) == 2) == skip
    with torch.no_grad():
        dec.z_proj.weight.zero_()  # cut z from the first layer's input
    enc = {"encoder_out": [torch.randn(5, 2, 16, dtype=torch.float64)],
           "encoder_padding_mask": [torch.zeros(2, 5, dtype=torch.bool)]}
    valid = torch.tensor([[True, True, True], [True, True, False]])
    z = torch.randn(2, 3, 4, dtype=torch.float64)
    out, out_other = dec(z, valid, enc), dec(z + 1.0, valid, enc)
    changed = (out - out_other).abs().max().item()
    assert (changed > 1e-6) == skip, changed
