"""Per-sentence NLLs and the nat_study_mle criterion against hand-computed values."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from fairseq_nat_study.criterions.mle import NatMleCriterion
from fairseq_nat_study.utils.losses import length_nll, token_nll
from fairseq_nat_study.utils.errors import PluginError


def test_token_nll_matches_brute_force() -> None:
    logits = torch.randn(2, 3, 5, dtype=torch.float64)
    target = torch.tensor([[1, 2, 0], [4, 4, 3]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    loss, nll = token_nll(logits, target, mask)
    for b in range(2):
        expected = sum(-torch.log_softmax(logits[b, t], -1)[target[b, t]].item() for t in range(3) if mask[b, t])
        assert nll[b].item() == pytest.approx(expected, rel=1e-6)
    assert torch.equal(loss, nll)


def test_label_smoothing_closed_form() -> None:
    logits = torch.zeros(1, 1, 4)  # uniform: -log p = log 4 for every class
    loss, nll = token_nll(logits, torch.tensor([[2]]), torch.tensor([[True]]), label_smoothing=0.1)
    assert nll.item() == pytest.approx(math.log(4))
    assert loss.item() == pytest.approx(math.log(4))  # (1-ε)·log4 + ε·log4
    logits = torch.tensor([[[2.0, 0.0]]])
    loss, nll = token_nll(logits, torch.tensor([[0]]), torch.tensor([[True]]), label_smoothing=0.2)
    lp = torch.log_softmax(logits[0, 0], -1)
    assert loss.item() == pytest.approx(0.8 * -lp[0].item() + 0.2 * -lp.mean().item(), rel=1e-6)


def test_bad_label_smoothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="label_smoothing"):
        token_nll(torch.zeros(1, 1, 2), torch.zeros(1, 1, dtype=torch.long), torch.ones(1, 1, dtype=torch.bool), 1.5)


def test_length_nll() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    assert length_nll(logits, torch.tensor([1])).item() == pytest.approx(math.log(4))


class _FixedModel:
    """Returns hand-built NAT terms whatever the input."""

    def __init__(self, terms):
        self.terms = terms

    def __call__(self, *args):
        return self.terms


def _criterion(ls: float = 0.0) -> NatMleCriterion:
    task = SimpleNamespace(target_dictionary=SimpleNamespace(pad=lambda: 1))
    return NatMleCriterion(task, label_smoothing=ls)


def test_mle_criterion_sums_token_and_weighted_length_terms() -> None:
    logits = torch.log(torch.tensor([[[0.5, 0.5], [0.9, 0.1], [0.5, 0.5]]]))  # B=1, T=3 (last is EOS)
    target = torch.tensor([[0, 1, 1]])
    terms = {
        "word_ins": {"out": logits, "tgt": target, "mask": torch.tensor([[True, True, False]])},
        "length": {"out": torch.log(torch.tensor([[0.2, 0.8]])), "tgt": torch.tensor([1]), "factor": 0.5},
    }
    sample = {"net_input": {"src_tokens": None, "src_lengths": None}, "prev_target": None, "target": target}
    loss, sample_size, log = _criterion()(_FixedModel(terms), sample)
    tok = -math.log(0.5) - math.log(0.1)
    assert loss.item() == pytest.approx(tok + 0.5 * -math.log(0.8), rel=1e-6)
    assert sample_size == 3  # two tokens + one EOS, as an AR criterion counts
    assert log["token_nll"].item() == pytest.approx(tok, rel=1e-6)
    assert log["length_nll"].item() == pytest.approx(-math.log(0.8), rel=1e-6)


def test_mle_criterion_rejects_autoregressive_output() -> None:
    sample = {"net_input": {"src_tokens": None, "src_lengths": None}, "prev_target": None, "target": torch.zeros(1, 2)}
    with pytest.raises(PluginError, match="nat_study_mle needs a non-autoregressive model"):
        _criterion()(_FixedModel((torch.zeros(1, 2, 3), {})), sample)
