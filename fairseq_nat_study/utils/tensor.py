"""Tensor helpers shared by models, criterions and analysis (batch-first, bool masks)."""
from __future__ import annotations

import torch


def lengths_to_valid_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Bool mask of valid positions.

    Args:
        lengths: [B] integer lengths.
        max_len: width of the mask (default: ``lengths.max()``).

    Returns:
        [B, max_len] bool, True where ``position < length``.
    """
    width = int(lengths.max()) if max_len is None else max_len
    return torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]


def length_skeleton(lengths: torch.Tensor, pad: int, unk: int, eos: int) -> torch.Tensor:
    """Decoder input of a non-autoregressive model for given target lengths.

    The target layout is fairseq's translation layout ``y_1 .. y_n </s>``: ``n`` placeholders then EOS, so a
    length ``T`` counts the EOS (``T = n + 1``).

    Args:
        lengths: [B] target lengths including EOS (each >= 2).

    Returns:
        [B, max(lengths)] long: ``unk`` at the ``T - 1`` token positions, ``eos`` at position ``T - 1``,
        ``pad`` after it.
    """
    tokens = torch.full((lengths.size(0), int(lengths.max())), pad, dtype=torch.long, device=lengths.device)
    tokens.masked_fill_(lengths_to_valid_mask(lengths, tokens.size(1)), unk)
    tokens.scatter_(1, (lengths - 1)[:, None], eos)
    return tokens


def mask_targets(tokens: torch.Tensor, pad: int, unk: int, eos: int) -> torch.Tensor:
    """Replaces every real token of a right-padded ``y </s>`` batch by ``unk`` (the NAT decoder input).

    Args:
        tokens: [B, T] long.

    Returns:
        [B, T] long with the same pads and EOS.
    """
    keep = tokens.eq(pad) | tokens.eq(eos)
    return tokens.masked_fill(~keep, unk)


def token_mask(tokens: torch.Tensor, pad: int, eos: int) -> torch.Tensor:
    """[B, T] bool: True at real target tokens (not pad, not EOS)."""
    return tokens.ne(pad) & tokens.ne(eos)


def time_first_to_batch_first(x: torch.Tensor) -> torch.Tensor:
    """fairseq's encoder ``T x B x C`` to the plugin's ``B x T x C``."""
    return x.transpose(0, 1)
