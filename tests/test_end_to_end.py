"""Stock fairseq CLIs with ``--user-dir``: every sentence decoded, fresh-process checkpoint loading, and
the plugin's log-likelihood equal to the criterion's."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import NUM_TEST
from fairseq_helpers import PLUGIN_DIR, run_generate
from fairseq_nat_study.analysis.loglik import evaluate_dataset, iterate_batches
from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
from fairseq_nat_study.distill.extract import parse_hypotheses


def test_fairseq_generate_nat_in_fresh_process_decodes_every_sentence(two_mode) -> None:
    """A new process, no environment override, default --required-batch-size-multiple (8), 101 sentences."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCH_FORCE")}
    out = subprocess.run(
        [sys.executable, "-m", "fairseq_cli.generate", str(two_mode.data), "--user-dir", PLUGIN_DIR,
         "--task", "nat_study_translation", "--path", str(two_mode.nat), "--gen-subset", "test", "--cpu",
         "--batch-size", "16", "--iter-decode-max-iter", "10", "--print-step"],
        capture_output=True, text=True, env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    hyps = parse_hypotheses(lines, NUM_TEST)
    assert len(hyps) == NUM_TEST
    # one parallel pass; fairseq's early stop ends decoding at the first repeated pass (step 1 of 10)
    steps = [int(line.split("\t")[1]) for line in lines if line.startswith("I-")]
    assert len(steps) == NUM_TEST and set(steps) == {1}
    assert "BLEU4" in out.stdout


def test_fairseq_generate_ar_decodes_every_sentence(two_mode) -> None:
    out = run_generate(two_mode.data, two_mode.ar, ["--beam", "4"])
    hyps = parse_hypotheses(out.splitlines(), NUM_TEST)
    refs = (two_mode.raw / "test.tgt").read_text().splitlines()
    swap = {"no problem": "of course", "of course": "no problem"}
    other_mode = [r.replace("no problem", "\0").replace("of course", swap["of course"]).replace("\0", swap["no problem"])
                  for r in refs]
    valid = sum(h in (r, o) for h, r, o in zip(hyps, refs, other_mode))
    assert valid >= 0.8 * NUM_TEST  # the AR model fits the corpus: outputs are one of the two valid modes


def test_nat_length_beam_keeps_every_sentence(two_mode) -> None:
    out = run_generate(two_mode.data, two_mode.nat, ["--iter-decode-with-beam", "3", "--iter-decode-max-iter", "0"])
    assert len(parse_hypotheses(out.splitlines(), NUM_TEST)) == NUM_TEST


def test_loglik_equals_criterion_on_validation(two_mode) -> None:
    """The exact LL of the analysis and the training criterion's NLL are the same number (λ=1, ε=0)."""
    from fairseq_nat_study.criterions.mle import NatMleCriterion

    model, task = load_model_and_task(str(two_mode.nat), str(two_mode.data))
    dataset = load_split(task, str(two_mode.data), "valid")
    result = evaluate_dataset(model, task, dataset)
    criterion = NatMleCriterion(task)
    loss_sum, size = 0.0, 0
    with torch.no_grad():
        for sample in iterate_batches(task, dataset):
            sample["prev_target"] = task.inject_noise(sample["target"])
            _, sample_size, log = criterion(model, sample)
            loss_sum += float(log["token_nll"] + log["length_nll"])
            size += sample_size
    assert size == sum(result.num_tokens)
    assert -loss_sum / size == pytest.approx(result.ll_per_token, rel=1e-5)


def test_loglik_cli_writes_contract_keys(two_mode, tmp_path) -> None:
    out_json = tmp_path / "ll.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fairseq_nat_study.cli.main", "loglik", "--path", str(two_mode.ar),
         "--data", str(two_mode.data), "--subset", "test", "--out", str(out_json), "--cpu"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out_json.read_text())
    for key in ("ll_per_sentence", "ll_per_token", "estimator", "num_sentences", "num_tokens"):
        assert key in report
    assert report["num_sentences"] == NUM_TEST and report["estimator"] == "exact-ar"
    assert report["ll_per_token"] < 0
    assert report["ll_per_token"] == pytest.approx(sum(report["sentence_ll"]) / report["num_tokens"])


@pytest.mark.slow  # a new process (about 12 s on 2 cores); the tools' bad-input table checks such refusals in-process
def test_loglik_cli_names_a_missing_split(two_mode, tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fairseq_nat_study.cli.main", "loglik", "--path", str(two_mode.nat),
         "--data", str(two_mode.data), "--subset", "nosuchsplit", "--out", str(tmp_path / "x.json"), "--cpu"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "--subset nosuchsplit" in proc.stderr and str(two_mode.data) in proc.stderr


def test_source_longer_than_the_model_positions_is_a_clear_error(two_mode) -> None:
    from fairseq_nat_study.analysis.loglik import make_pair_dataset

    model, task = load_model_and_task(str(two_mode.ar), str(two_mode.data))
    too_long = " ".join(["w1"] * (model.max_positions()[0] + 5))
    with pytest.raises(ValueError, match="longer than the model takes, the first at line 1 of the split: source"):
        evaluate_dataset(model, task, make_pair_dataset(task, [too_long], ["t1"]))
