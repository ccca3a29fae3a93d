"""NAT decoder whose uniform source copy is correct for left-padded sources.

fairseq's ``NATransformerDecoder.forward_copying_source`` maps target position t to source index
``round(t · (|x| − 1) / (T − 1))`` counted from column 0, which assumes right-padded sources. fairseq's
translation tasks left-pad sources by default, so in a batch of mixed source lengths the shorter sentences
copied pad embeddings and a sentence scored differently alone and in a batch. This subclass offsets the
indices by each row's first valid column.

It also reads glancing inputs (Qian et al. 2021, GLAT): where the decoder input holds a real target token
instead of ``<unk>``, that token's embedding replaces the copied source embedding. A vanilla NAT never
sees such inputs (its decoder input is all ``<unk>`` and EOS), so one decoder serves NAT and GLAT.
Everything else is fairseq's decoder.
"""
from __future__ import annotations

import torch
from fairseq.models.nat.nonautoregressive_transformer import NATransformerDecoder


def uniform_copy_indices(src_valid: torch.Tensor, tgt_valid: torch.Tensor) -> torch.Tensor:
    """Source column copied to each target position (Gu et al. 2018's uniform copy).

    Args:
        src_valid: [B, S] bool, True at real source tokens (one contiguous run per row, either padding side).
        tgt_valid: [B, T] bool, True at real target positions (right-padded).

    Returns:
        [B, T] long column indices into the source; 0 at target padding.
    """
    src_len = src_valid.sum(1).float()
    tgt_len = tgt_valid.sum(1).float()
    step = (src_len - 1) / (tgt_len - 1).clamp(min=1)
    pos = torch.arange(tgt_valid.size(1), device=tgt_valid.device).float()
    idx = torch.round(step[:, None] * pos[None, :]).long()
    first = src_valid.long().argmax(1)  # first real column: 0 when right-padded, #pads when left-padded
    return (idx + first[:, None]).masked_fill(~tgt_valid, 0)


class UniformCopyNATDecoder(NATransformerDecoder):
    """fairseq's NAT decoder with a padding-side-independent uniform copy of the source embeddings."""

    def forward_copying_source(self, src_embeds: torch.Tensor, src_masks: torch.Tensor, tgt_masks: torch.Tensor) -> torch.Tensor:
        """Args: src_embeds [B, S, C]; src_masks [B, S] bool valid; tgt_masks [B, T] bool valid.
        Returns: [B, T, C] copied source embeddings."""
        idx = uniform_copy_indices(src_masks, tgt_masks)
        return torch.gather(src_embeds, 1, idx.unsqueeze(-1).expand(*idx.size(), src_embeds.size(-1)))

    def forward_embedding(self, prev_output_tokens: torch.Tensor, states: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder inputs [B, T, C] and padding mask [B, T]; revealed target tokens replace copied states."""
        if states is not None:
            revealed = (prev_output_tokens.ne(self.unk) & prev_output_tokens.ne(self.eos)
                        & prev_output_tokens.ne(self.padding_idx))
            if revealed.any():
                target_embeds = self.embed_scale * self.embed_tokens(prev_output_tokens)
                states = torch.where(revealed.unsqueeze(-1), target_embeds.type_as(states), states)
        return super().forward_embedding(prev_output_tokens, states)
