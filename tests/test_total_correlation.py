"""Ĉ = NLL(NAT-MLE) − NLL(AR) against the exact C of the synthetic corpus; raw > distilled; raw > GLAT proxy."""
from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import pytest

from fairseq_nat_study.analysis.loading import load_model_and_task
from fairseq_nat_study.analysis.total_correlation import estimate


def _estimate(ar_path, nat_path, data, subset="test", ratio=0.0):
    ar, ar_task = load_model_and_task(str(ar_path), str(data))
    nat, nat_task = load_model_and_task(str(nat_path), str(data))
    return estimate(ar, ar_task, nat, nat_task, str(data), subset, glat_ratio=ratio)


@pytest.fixture(scope="module")
def raw_estimate(two_mode):
    return _estimate(two_mode.ar, two_mode.nat, two_mode.data)


def test_raw_estimate_is_near_the_exact_c(raw_estimate, two_mode) -> None:
    exact = json.loads((two_mode.raw / "stats.json").read_text())["splits"]["test"]["C"]
    assert exact == pytest.approx(math.log(2))  # one 50/50 two-token phrase per sentence
    # short training: a loose bound here; the 10% bound with converged models is the slow test
    assert abs(raw_estimate["C_hat_per_sentence"] - exact) < 0.35 * exact, raw_estimate["C_hat_per_sentence"]
    assert raw_estimate["num_sentences"] == 101
    assert raw_estimate["C_hat_per_token"] == pytest.approx(
        sum(raw_estimate["sentence_C_hat"]) / raw_estimate["num_tokens"])


@pytest.mark.slow  # trains its own AR and NAT-MLE on the distilled corpus (about 2 minutes)
def test_distilled_corpus_has_lower_c_hat(raw_estimate, two_mode_distilled) -> None:
    distilled = _estimate(two_mode_distilled.ar, two_mode_distilled.nat, two_mode_distilled.data)
    # beam search keeps one mode per source, so the distilled corpus has C ≈ 0; measured 0.36 vs 0.80 raw
    assert distilled["C_hat_per_sentence"] < 0.75 * raw_estimate["C_hat_per_sentence"], distilled["C_hat_per_sentence"]


def test_glat_proxy_has_lower_c_hat(raw_estimate, two_mode, two_mode_glat) -> None:
    proxy = _estimate(two_mode.ar, two_mode_glat, two_mode.data, ratio=0.5)
    assert proxy["C_hat_per_sentence"] < raw_estimate["C_hat_per_sentence"], proxy["C_hat_per_sentence"]
    assert proxy["num_tokens"] < raw_estimate["num_tokens"]  # only unrevealed tokens are counted


def test_cli_rejects_swapped_models(two_mode, tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fairseq_nat_study.cli.main", "total-correlation", "--ar", str(two_mode.nat),
         "--nat", str(two_mode.ar), "--data", str(two_mode.data), "--out", str(tmp_path / "c.json")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2 and "--ar:" in proc.stderr


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "tiny models trained for a fixed number of updates do not reach the held-out optimum: measured Ĉ 0.816 nats "
    "per sentence (log 2 = 0.693); the NAT-MLE overfits with more updates (6,000: Ĉ 1.046). Needs training "
    "stopped on validation loss"))
def test_converged_models_recover_c_within_ten_percent(tmp_path) -> None:
    from conftest import COMMON, TWO_MODE
    from fairseq_helpers import run_preprocess, run_train
    from fairseq_nat_study.data.synthetic import write_corpus

    # 20,000 pairs, not the fixtures' 3,000: on 3,000 both models memorise which mode each training sentence
    # takes (AR LL per sentence −0.54 on train, above the exact −log 2, and −1.18 on test; NAT −0.97 / −2.48),
    # and Ĉ on the test split was 1.30 against log 2. On 20,000 pairs the AR model fits in 1,500 updates (test LL
    # −0.688 per sentence, exact −log 2) while NAT-MLE after 3,000 is still 0.12 nats above the factorized bound
    # −2 log 2 (−1.504; Ĉ 0.816), and after 6,000 further from it (Ĉ 1.046): it overfits before it fits
    write_corpus(dataclasses.replace(TWO_MODE, num_train=20000), tmp_path / "raw")
    run_preprocess(tmp_path / "raw", tmp_path / "bin")
    run_train(tmp_path / "bin", tmp_path / "ar", ["--arch", "nat_study_tr_tiny", "--criterion", "cross_entropy",
                                                 "--max-update", "1500", *COMMON])
    run_train(tmp_path / "bin", tmp_path / "nat", ["--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle",
                                                  "--max-update", "3000", *COMMON])
    result = _estimate(tmp_path / "ar" / "checkpoint_last.pt", tmp_path / "nat" / "checkpoint_last.pt", tmp_path / "bin")
    assert abs(result["C_hat_per_sentence"] - math.log(2)) < 0.1 * math.log(2), result["C_hat_per_sentence"]
