"""The vanilla NAT model: exact likelihood terms, padding invariance, single-pass decoding."""
from __future__ import annotations

import pytest
import torch

from fairseq_nat_study.analysis.loglik import evaluate_dataset, make_pair_dataset
from fairseq_nat_study.analysis.loading import load_model_and_task
from fairseq_nat_study.tasks.translation_nat_study import check_model_criterion_pairing


@pytest.fixture(scope="module")
def nat(two_mode):
    return load_model_and_task(str(two_mode.nat), str(two_mode.data))


def test_padding_invariance(nat, two_mode) -> None:
    """A sentence scores the same alone and inside a padded batch of longer sentences."""
    model, task = nat
    src = (two_mode.raw / "test.src").read_text().splitlines()[:6]
    tgt = (two_mode.raw / "test.tgt").read_text().splitlines()[:6]
    batch = evaluate_dataset(model, task, make_pair_dataset(task, src, tgt)).ll
    alone = [evaluate_dataset(model, task, make_pair_dataset(task, [s], [t])).ll[0] for s, t in zip(src, tgt)]
    assert batch == pytest.approx(alone, abs=1e-4)


def test_forward_shapes_and_backward(nat) -> None:
    model, task = nat
    model.train()
    try:
        d = task.target_dictionary
        src = torch.tensor([[d.index("w1"), d.index("a0"), d.eos()]])
        tgt = torch.tensor([[d.index("no"), d.index("problem"), d.eos()]])
        out = model(src, torch.tensor([3]), tgt.masked_fill(tgt.ne(d.eos()), d.unk()), tgt)
        assert out["word_ins"]["out"].shape == (1, 3, len(d))
        assert out["word_ins"]["mask"].tolist() == [[True, True, False]]
        assert out["length"]["out"].shape == (1, 256)
        out["word_ins"]["out"].sum().backward()
        assert model.decoder.layers[0].fc1.weight.grad is not None
    finally:
        model.zero_grad()
        model.eval()


def test_decoding_is_one_idempotent_pass(nat) -> None:
    model, task = nat
    d = task.target_dictionary
    src = torch.tensor([[d.index("w1"), d.index("a0"), d.index("w2"), d.eos()]])
    enc = model.forward_encoder([src, torch.tensor([4])])
    init = model.initialize_output_tokens(enc, src)
    first = model.forward_decoder(init, enc)
    second = model.forward_decoder(first, enc)
    assert torch.equal(first.output_tokens, second.output_tokens)
    tokens = first.output_tokens[0]
    assert tokens[-1].item() == d.eos() and d.unk() not in tokens.tolist()


def test_pairing_errors_name_arch_and_criterion(nat, two_mode) -> None:
    from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion

    from fairseq_nat_study.criterions.mle import NatMleCriterion

    model, task = nat
    ar_model, _ = load_model_and_task(str(two_mode.ar), str(two_mode.data))
    from fairseq_nat_study.criterions.elbo import ElboCriterion
    from fairseq_nat_study.criterions.glat import GlatCriterion

    latent, _ = load_model_and_task(str(two_mode.latent), str(two_mode.data))
    with pytest.raises(ValueError, match="--arch gives a non-autoregressive model .* --criterion is LabelSmoothedCrossEntropy"):
        check_model_criterion_pairing(model, LabelSmoothedCrossEntropyCriterion(task, False, 0.1))
    with pytest.raises(ValueError, match="--arch gives an autoregressive model"):
        check_model_criterion_pairing(ar_model, NatMleCriterion(task))
    elbo = ElboCriterion(task, max_update=10)
    for wrong in (NatMleCriterion(task), GlatCriterion(task, max_update=10)):  # would drop the KL / glance at nothing
        with pytest.raises(ValueError, match="a latent model trains only with nat_study_elbo"):
            check_model_criterion_pairing(latent, wrong)
    with pytest.raises(ValueError, match="use nat_study_mle or nat_study_glat"):
        check_model_criterion_pairing(model, elbo)
    check_model_criterion_pairing(model, NatMleCriterion(task))  # the right pairings pass
    check_model_criterion_pairing(latent, elbo)


def test_the_task_fixes_the_elbo_objective_for_the_model_it_built(two_mode) -> None:
    """fairseq-train builds the model, then the criterion: the task hands the model's prior to nat_study_elbo."""
    from fairseq_nat_study.criterions.elbo import ElboCriterionConfig

    latent, task = load_model_and_task(str(two_mode.latent), str(two_mode.data))
    task._built_model = latent
    from omegaconf import OmegaConf

    cfg = OmegaConf.structured(ElboCriterionConfig(_name="nat_study_elbo", max_update=400))  # as fairseq-train's
    crit = task.build_criterion(cfg)
    assert crit.prior == "gaussian" and (crit.kl_budget, crit.budget_hold, crit.budget_anneal) == (1.0, 200, 200)


@pytest.mark.parametrize("arch, criterion", [("nat_study_ga_tiny", "nat_study_mle"),
                                             ("nat_study_fl_tiny", "nat_study_glat"),
                                             ("nat_study_nat_tiny", "nat_study_elbo")])
def test_fairseq_train_refuses_a_criterion_of_another_family_before_training(arch, criterion, two_mode, tmp_path) -> None:
    from fairseq_helpers import run_train

    with pytest.raises(ValueError, match="--arch gives an? .* model .* --criterion is"):
        run_train(two_mode.data, tmp_path, ["--arch", arch, "--criterion", criterion, "--max-update", "5",
                                            "--max-tokens", "1024"])
    assert not list(tmp_path.glob("*.pt"))
