"""Mask and skeleton helpers."""
from __future__ import annotations

import torch

from fairseq_nat_study.utils.tensor import length_skeleton, lengths_to_valid_mask, mask_targets, token_mask

PAD, UNK, EOS = 1, 3, 2


def test_valid_mask() -> None:
    m = lengths_to_valid_mask(torch.tensor([1, 3]))
    assert m.tolist() == [[True, False, False], [True, True, True]]


def test_skeleton_layout_is_placeholders_then_eos() -> None:
    sk = length_skeleton(torch.tensor([2, 4]), PAD, UNK, EOS)
    assert sk.tolist() == [[UNK, EOS, PAD, PAD], [UNK, UNK, UNK, EOS]]


def test_mask_targets_keeps_eos_and_pad() -> None:
    y = torch.tensor([[7, 8, EOS, PAD], [9, 9, 9, EOS]])
    assert mask_targets(y, PAD, UNK, EOS).tolist() == [[UNK, UNK, EOS, PAD], [UNK, UNK, UNK, EOS]]
    assert token_mask(y, PAD, EOS).sum().item() == 5


def test_uniform_copy_is_the_same_for_left_and_right_padding() -> None:
    from fairseq.models.nat.nonautoregressive_transformer import _uniform_assignment

    from fairseq_nat_study.modules.nat_decoder import uniform_copy_indices

    tgt_valid = torch.tensor([[True] * 5, [True, True, True, False, False]])
    right = torch.tensor([[True] * 4, [True, True, False, False]])
    left = right.flip(1)
    idx_right = uniform_copy_indices(right, tgt_valid)
    idx_left = uniform_copy_indices(left, tgt_valid)
    # fairseq's own assignment is right for right padding; ours agrees there ...
    expected = _uniform_assignment(right.sum(1), tgt_valid.sum(1)).masked_fill(~tgt_valid, 0)
    assert torch.equal(idx_right, expected)
    # ... and picks the same source tokens when the source is left-padded
    src = torch.tensor([[10, 11, 12, 13], [20, 21, 0, 0]])
    src_left = torch.tensor([[10, 11, 12, 13], [0, 0, 20, 21]])
    assert torch.equal(src.gather(1, idx_right)[tgt_valid], src_left.gather(1, idx_left)[tgt_valid])
    assert idx_left[1, :3].tolist() == [2, 2, 3]  # 2 source tokens over 3 positions: 0, 0.5→0 (round half even), 1
