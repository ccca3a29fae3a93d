"""The paired bootstrap of BLEU differences (analysis/significance.py) and the statistics the evaluation stores."""
from __future__ import annotations

import random

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from fairseq_nat_study.analysis.bleu import corpus_bleu
from fairseq_nat_study.analysis.significance import describe, paired_difference, sentence_statistics
from fairseq_nat_study.study.evaluate import bleu_scores

VOCAB = [f"w{i}" for i in range(30)]


def _corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCAB) for _ in range(12)) for _ in range(n)]


def _noisy(refs: list[str], p: float, seed: int) -> list[str]:
    """Each reference word replaced by a random one with probability ``p``."""
    rng = random.Random(seed)
    return [" ".join(w if rng.random() > p else rng.choice(VOCAB) for w in r.split()) for r in refs]


def test_statistics_sum_to_the_reported_corpus_bleu() -> None:
    refs = _corpus(50)
    hyps = _noisy(refs, 0.3, 1)
    stats = sentence_statistics(hyps, refs)
    assert len(stats) == 50 and all(len(s.split()) == 10 for s in stats)
    summed = np.array([[int(v) for v in s.split()] for s in stats]).sum(0)
    assert BLEU()._compute_score_from_stats(list(summed)).score == pytest.approx(corpus_bleu(hyps, refs).score)
    # the evaluation's BLEU and the statistics it stores describe the same output
    scores = bleu_scores(hyps, refs, "en", False, stats=True)
    summed = np.array([[int(v) for v in s.split()] for s in scores["bleu_stats"]]).sum(0)
    assert round(BLEU()._compute_score_from_stats(list(summed)).score, 2) == scores["bleu"]
    assert "bleu_stats" not in bleu_scores(hyps, refs, "en", False)


def test_difference_is_that_of_the_corpus_scores_and_its_interval_reads_a_clear_gain() -> None:
    refs = _corpus(400)
    worse, better = _noisy(refs, 0.35, 1), _noisy(refs, 0.2, 2)
    sa, sb = sentence_statistics(worse, refs), sentence_statistics(better, refs)
    diff = paired_difference(sa, sb)
    exact = corpus_bleu(better, refs).score - corpus_bleu(worse, refs).score
    assert diff["delta"] == pytest.approx(exact, abs=0.005) and exact > 5
    assert diff["low"] > 0 and diff["low"] < diff["delta"] < diff["high"] and diff["reading"] == "higher"
    assert diff["sentences"] == 400 and diff["samples"] == 10000
    back = paired_difference(sb, sa)  # the same resamples: the mirror image
    assert back["delta"] == -diff["delta"] and back["reading"] == "lower"
    assert back["low"] == pytest.approx(-diff["high"], abs=0.011) and back["high"] == pytest.approx(-diff["low"], abs=0.011)
    assert paired_difference(sa, sb) == diff  # seeded: reproducible
    assert describe(diff).startswith(f"+{diff['delta']:.2f} [+")


def test_a_change_within_sampling_noise_reads_level_and_identical_outputs_give_zero() -> None:
    refs = _corpus(300)
    hyps = _noisy(refs, 0.3, 1)
    same = paired_difference(sentence_statistics(hyps, refs), sentence_statistics(hyps, refs))
    assert (same["delta"], same["low"], same["high"], same["reading"]) == (0.0, 0.0, 0.0, "level")
    # two outputs of the same quality that differ sentence by sentence: a difference of noise, interval holds 0
    other = _noisy(refs, 0.3, 2)
    diff = paired_difference(sentence_statistics(hyps, refs), sentence_statistics(other, refs))
    assert diff["low"] < 0 < diff["high"] and diff["reading"] == "level"


def test_interval_narrows_as_the_square_root_of_the_test_set() -> None:
    """Sixteen times the sentences, a quarter of the width (the bootstrap of a mean-like statistic)."""
    def width(n: int) -> float:
        refs = _corpus(n, seed=n)
        d = paired_difference(sentence_statistics(_noisy(refs, 0.3, 1), refs),
                              sentence_statistics(_noisy(refs, 0.25, 2), refs))
        return d["high"] - d["low"]

    ratio = width(1600) / width(100)
    assert 0.18 < ratio < 0.33


def test_bad_input_is_refused() -> None:
    refs = _corpus(10)
    stats = sentence_statistics(refs, refs)
    with pytest.raises(ValueError, match="not the same test set"):
        paired_difference(stats, stats[:9])
    with pytest.raises(ValueError, match="hypotheses for"):
        sentence_statistics(refs[:9], refs)
    with pytest.raises(ValueError, match="no sentences"):
        sentence_statistics([], [])
    with pytest.raises(ValueError, match="level"):
        paired_difference(stats, stats, level=1.0)


def test_the_evaluation_stores_statistics_of_the_outputs_the_findings_compare(two_mode) -> None:
    """A final checkpoint's evaluation keeps the per-sentence statistics of its default output and of its first
    and last refinement step, each summing to the BLEU it reports; an intermediate checkpoint keeps none."""
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.study.config import EvalConfig
    from fairseq_nat_study.study.evaluate import evaluate_checkpoint

    model, task = load_model_and_task(str(two_mode.latent), str(two_mode.data))
    refs = (two_mode.raw / "test.tgt").read_text().splitlines()
    ev = EvalConfig(refine_steps=[0, 1, 2], iw_samples=2, length_beam=2)
    split = load_split(task, str(two_mode.data), "test")
    row = evaluate_checkpoint(model, task, split, refs, ev, lang="en", full=True, speed=False,
                              progress=lambda s: None)

    def bleu_of(stats: list[str]) -> float:
        summed = np.array([[int(v) for v in s.split()] for s in stats]).sum(0)
        return round(BLEU()._compute_score_from_stats(list(summed)).score, 2)

    assert len(row["bleu_stats"]) == len(refs) and bleu_of(row["bleu_stats"]) == row["bleu"]
    ends = {e["steps"]: e for e in row["refinement"]}
    assert "bleu_stats" not in ends[1]
    for k in (0, 2):
        assert len(ends[k]["bleu_stats"]) == len(refs) and bleu_of(ends[k]["bleu_stats"]) == ends[k]["bleu"]
    assert "bleu_stats" not in evaluate_checkpoint(model, task, split, refs, ev, lang="en", full=False,
                                                   progress=lambda s: None)


def test_a_reading_does_not_depend_on_the_bootstraps_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Near the edge (a gain of about 1.5 BLEU on 2,000 sentences, the interval's low bound ~0.1 above 0) every
    bootstrap seed gives the same reading; resamples are added while a bound is within MC_MARGIN Monte Carlo
    standard errors of 0, and a bound still that close at MAX_SAMPLES reads level."""
    import fairseq_nat_study.analysis.significance as significance

    refs = _corpus(2000)
    sa, sb = sentence_statistics(_noisy(refs, 0.3, 1), refs), sentence_statistics(_noisy(refs, 0.28, 2), refs)
    diffs = [paired_difference(sa, sb, seed=seed) for seed in range(6)]
    assert {d["reading"] for d in diffs} == {"higher"} and all(0 < d["low"] < 0.5 for d in diffs)
    assert all(0 < d["mc_error"] < 0.05 and d["low"] > 3 * d["mc_error"] for d in diffs)
    monkeypatch.setattr(significance, "MC_MARGIN", 1000.0)  # no bound is that far from 0 in Monte Carlo errors
    monkeypatch.setattr(significance, "MAX_SAMPLES", 20000)
    unsettled = paired_difference(sa, sb, seed=0)
    assert unsettled["reading"] == "level" and unsettled["samples"] == 20000  # more drawn, then not read
    with pytest.raises(ValueError, match="multiple of 1000"):
        paired_difference(sa, sb, samples=1500)
