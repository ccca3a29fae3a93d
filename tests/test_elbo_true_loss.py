"""``nat_study_elbo``'s logged ``loss`` is the true −ELBO per token at every update, whatever the KL budget, the KL
weight or the label smoothing (what fairseq-validate reports and fairseq-train keeps checkpoint_best.pt by); the
objective training minimises is logged apart as ``objective`` and differs exactly where a budget, a weight < 1 or
smoothing applies."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from fairseq import metrics

from plugin_builders import build_for_training, write_dicts
from fairseq_nat_study.criterions.elbo import ElboCriterion
from fairseq_nat_study.utils.losses import length_nll, token_nll

SRC = torch.tensor([[4, 5, 6, 7, 2], [1, 1, 8, 9, 2]])  # left-padded sources (pad 1, EOS 2)
TGT = torch.tensor([[4, 5, 6, 2, 1], [7, 8, 9, 10, 2]])  # right-padded targets "y </s>"


@pytest.fixture(scope="module")
def dicts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dicts(tmp_path_factory.mktemp("letters"))


def _sample() -> dict:
    return {"id": torch.arange(2), "nsentences": 2, "ntokens": 9, "target": TGT, "prev_target": TGT,
            "net_input": {"src_tokens": SRC, "src_lengths": torch.tensor([5, 3])}}


def _true_neg_elbo(model, seed: int) -> float:
    """−[log p(T|x) + log p(y|z,x) − KL(q‖p)] summed over the batch, one sample z drawn after ``seed``."""
    torch.manual_seed(seed)
    out = model(SRC, torch.tensor([5, 3]), TGT, TGT)
    words = out["word_ins"]
    _, nll = token_nll(words["out"], words["tgt"], words["mask"])
    len_nll = length_nll(out["length"]["out"], out["length"]["tgt"])
    return float(nll.sum() + out["kl"]["kl_positions"].sum() + len_nll.sum())


def _logged(criterion: ElboCriterion, model, update: int, seed: int) -> dict:
    criterion.set_num_updates(update)
    torch.manual_seed(seed)
    loss, size, log = criterion(model, _sample())
    assert float(log["objective"]) == pytest.approx(float(loss))  # the objective is what backward() sees
    return {"loss": float(log["loss"]), "objective": float(log["objective"]), "size": size}


@pytest.mark.parametrize("arch, late", [("nat_study_ga_tiny", 1000), ("nat_study_fl_tiny", 1000)])
def test_loss_is_the_true_negative_elbo_at_every_update(dicts: Path, arch: str, late: int) -> None:
    """Defaults over a 1000-update run: Gaussian b = 1 until 500 then to 0 at 1000; flow β 0.1 -> 1 by 333."""
    _, model, criterion = build_for_training(dicts, ["--arch", arch, "--criterion", "nat_study_elbo",
                                                     "--max-update", str(late)])
    model.eval()
    expected = _true_neg_elbo(model, seed=3)
    early, end = _logged(criterion, model, 0, seed=3), _logged(criterion, model, late, seed=3)
    assert early["size"] == end["size"] == 9  # |y| + 1 positions
    assert early["loss"] == pytest.approx(expected, rel=1e-5) and end["loss"] == pytest.approx(expected, rel=1e-5)
    # where the budget (Gaussian) or β = 0.1 (flow) applies the objective is another number; at the end, the same
    assert abs(early["objective"] - early["loss"]) > 1e-3
    assert end["objective"] == pytest.approx(end["loss"], rel=1e-6)


def test_label_smoothing_changes_the_objective_not_the_loss(dicts: Path) -> None:
    _, model, plain = build_for_training(dicts, ["--arch", "nat_study_ga_tiny", "--criterion", "nat_study_elbo",
                                                 "--kl-budget", "0"])
    _, _, smoothed = build_for_training(dicts, ["--arch", "nat_study_ga_tiny", "--criterion", "nat_study_elbo",
                                                "--kl-budget", "0", "--label-smoothing", "0.2"])
    model.eval()
    a, b = _logged(plain, model, 50, seed=5), _logged(smoothed, model, 50, seed=5)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-6) and a["objective"] == pytest.approx(a["loss"], rel=1e-6)
    assert b["objective"] > b["loss"] + 1e-3 or b["objective"] < b["loss"] - 1e-3


def test_reduced_loss_is_minus_elbo_per_token_in_bits_and_objective_is_logged(dicts: Path) -> None:
    _, model, criterion = build_for_training(dicts, ["--arch", "nat_study_ga_tiny", "--criterion", "nat_study_elbo"])
    model.eval()
    criterion.set_num_updates(0)  # budget 1: objective above the loss
    _, _, log = criterion(model, _sample())
    with metrics.aggregate(new_root=True) as agg:
        ElboCriterion.reduce_metrics([log, log])
        values = agg.get_smoothed_values()
    assert values["loss"] == pytest.approx(round(-values["elbo_per_token"] / math.log(2), 3), abs=2e-3)
    assert values["loss"] == pytest.approx(float(log["loss"]) / 9 / math.log(2), abs=1e-3)
    assert values["objective"] == pytest.approx(float(log["objective"]) / 9 / math.log(2), abs=1e-3)
    assert values["objective"] > values["loss"]
