"""Paired bootstrap of a BLEU difference between two systems on the same test sentences (Koehn 2004).

A study compares two outputs of one test split (a run trained on raw data against the same model trained on
distilled data; GLAT against NAT-MLE; refinement step K = 0 against the last K). A difference of a few tenths of
BLEU can be the test set's sampling noise: resampling the sentences with replacement, the same resample for both
systems, gives the spread of the difference, and a claim reads a direction only where its 95 % interval excludes 0.

The evaluation stores, for the outputs the findings compare, sacreBLEU's sufficient statistics of every sentence
(:func:`sentence_statistics`: hypothesis and reference lengths, matching and total n-grams for n = 1..4, as the
corpus score sums them), so that the interval is computed from ``results.json`` alone. The statistics are
extracted and scored by the two methods of sacreBLEU's ``BLEU`` class that its own paired test
(``sacrebleu.significance``) uses, ``_extract_corpus_statistics`` and ``_compute_score_from_stats`` (sacreBLEU 2.x;
``requirements/runtime.txt`` pins the version). The statistics are those of
the study's reported BLEU (sacreBLEU, default ``13a`` tokenizer, on detokenised text): the difference on the full
set equals the difference of the reported scores.

This interval covers the test set's sampling only; a rerun of training (another seed, another thread count) moves a
model's BLEU as well, which no test-set resampling measures. :func:`pooled_difference` pools the two over the
training seeds of a study (``study/seeds.py``): each draw picks a seed uniformly, then one paired resample of that
seed's test sentences; the interval is the 2.5 and 97.5 percentiles of the pooled draws.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sacrebleu.metrics import BLEU

#: Resamples of the test set per comparison, and the seed that makes an interval reproducible.
SAMPLES = 10000
SEED = 12345
LEVEL = 0.95
#: Resamples are drawn in batches of this many; the spread of the batches' interval bounds gives the Monte Carlo
#: standard error of each pooled bound. While a bound lies within MC_MARGIN standard errors of 0, more batches are
#: drawn, up to MAX_SAMPLES; a bound still that close reads "level": a reading another seed could flip is not read.
BATCH = 1000
MC_MARGIN = 3.0
MAX_SAMPLES = 200000


def _metric() -> BLEU:
    """The metric of the study's reported BLEU (``analysis/bleu.py: corpus_bleu``)."""
    return BLEU(tokenize="13a")


def sentence_statistics(hyps: Sequence[str], refs: Sequence[str]) -> list[str]:
    """sacreBLEU's sufficient statistics of each sentence, one space-separated line per sentence.

    Args:
        hyps: detokenised hypotheses; refs: detokenised references, one per hypothesis.
    Returns:
        ``N`` strings of 10 integers: hypothesis length, reference length, matches for n = 1..4, totals for n = 1..4.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    if not hyps:
        raise ValueError("no sentences")
    stats = _metric()._extract_corpus_statistics(list(hyps), [list(refs)])
    return [" ".join(str(int(v)) for v in row) for row in stats]


def _matrix(stats: Sequence[str]) -> np.ndarray:
    """[N, 10] float64 array of packed statistics."""
    rows = [[float(v) for v in line.split()] for line in stats]
    if not rows or any(len(r) != len(rows[0]) for r in rows):
        raise ValueError("statistics must be non-empty rows of equal length")
    return np.asarray(rows)


def _scores(sums: np.ndarray) -> np.ndarray:
    """Corpus BLEU (0-100) of each row of summed statistics ``[S, 10]``, as sacreBLEU computes it."""
    metric = _metric()
    return np.array([metric._compute_score_from_stats(list(row)).score for row in sums])


def _paired(stats_a: Sequence[str], stats_b: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The two systems' statistics as ``[N, 10]`` matrices; ValueError when they are not of one test set."""
    a, b = _matrix(stats_a), _matrix(stats_b)
    if a.shape != b.shape:
        raise ValueError(f"statistics of {a.shape[0]} and {b.shape[0]} sentences: not the same test set")
    return a, b


def _full_difference(a: np.ndarray, b: np.ndarray) -> float:
    """BLEU(b) − BLEU(a) on the whole test set (statistics ``[N, 10]``)."""
    return float(_scores(b.sum(0, keepdims=True))[0] - _scores(a.sum(0, keepdims=True))[0])


def _resampled(a: np.ndarray, b: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """BLEU(b) − BLEU(a) on ``count`` paired resamples of the ``N`` sentences (statistics ``[N, 10]``), ``[count]``;
    drawn in batches of at most :data:`BATCH`."""
    n, out = a.shape[0], []
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        # how often each sentence is drawn in each resample, [size, N]: the same draws weigh both systems
        rows = rng.integers(0, n, size=(size, n)) + n * np.arange(size)[:, None]
        weights = np.bincount(rows.ravel(), minlength=size * n).reshape(size, n).astype(np.float64)
        out.append(_scores(weights @ b) - _scores(weights @ a))
    return np.concatenate(out) if out else np.empty(0)


def paired_difference(stats_a: Sequence[str], stats_b: Sequence[str], *, samples: int = SAMPLES, seed: int = SEED,
                      level: float = LEVEL) -> dict[str, Any]:
    """BLEU(b) − BLEU(a) on the full test set and its paired-bootstrap interval.

    Args:
        stats_a, stats_b: :func:`sentence_statistics` of the two systems on the same ``N`` sentences, in order.
        samples: resamples of the ``N`` sentences (the same resample for both systems) drawn first, and drawn
            again while an interval bound is too close to 0 for the Monte Carlo error to settle its sign.
        level: coverage of the percentile interval.
    Returns:
        ``{"delta", "low", "high", "level", "samples", "sentences", "mc_error", "reading"}``; ``reading`` is
        ``higher`` (b above a: the interval lies above 0 by more than :data:`MC_MARGIN` Monte Carlo standard errors
        of its bound; ``samples`` says how many resamples that took), ``lower`` (below 0 likewise) or ``level`` (the interval holds 0: within the test set's
        sampling noise, or a bound too close to 0 for the bootstrap's own noise to settle); ``mc_error`` is the
        larger standard error of the two bounds.
    """
    a, b = _paired(stats_a, stats_b)
    if samples < 2 * BATCH or samples % BATCH or not 0 < level < 1:
        raise ValueError(f"samples must be a multiple of {BATCH} of at least {2 * BATCH}, and level in (0, 1)")
    n = a.shape[0]
    delta = _full_difference(a, b)
    rng = np.random.default_rng(seed)
    tail = 100 * (1 - level) / 2
    diffs: list[np.ndarray] = []
    bounds: list[np.ndarray] = []

    def draw(count: int) -> None:
        for _ in range(count // BATCH):
            batch = _resampled(a, b, BATCH, rng)
            diffs.append(batch)
            bounds.append(np.percentile(batch, [tail, 100 - tail]))

    def pooled() -> tuple[float, float, float, float]:
        low, high = np.percentile(np.concatenate(diffs), [tail, 100 - tail])
        # the pooled bound's standard error: the batch bounds' spread over sqrt(batches)
        se_low, se_high = np.std(np.asarray(bounds), axis=0, ddof=1) / np.sqrt(len(bounds))
        return float(low), float(high), float(se_low), float(se_high)

    draw(samples)
    low, high, se_low, se_high = pooled()
    while (abs(low) < MC_MARGIN * se_low or abs(high) < MC_MARGIN * se_high) and len(diffs) * BATCH < MAX_SAMPLES:
        draw(samples)
        low, high, se_low, se_high = pooled()
    reading = ("higher" if low > MC_MARGIN * se_low else "lower" if high < -MC_MARGIN * se_high else "level")
    return {"delta": round(delta, 2), "low": round(low, 2), "high": round(high, 2), "level": level,
            "samples": len(diffs) * BATCH, "sentences": n, "mc_error": round(max(se_low, se_high), 3),
            "reading": reading}


def describe(diff: dict[str, Any]) -> str:
    """``+1.76 [+0.9, +2.6]``: the difference and its interval, for the findings' evidence."""
    return f"{diff['delta']:+.2f} [{diff['low']:+.2f}, {diff['high']:+.2f}]"


def pooled_difference(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], *, samples: int = SAMPLES,
                      seed: int = SEED, level: float = LEVEL) -> dict[str, Any]:
    """BLEU(b) − BLEU(a) over several training seeds, its interval pooling the seeds' spread with the test set's
    sampling.

    Each of ``samples`` draws picks one seed uniformly at random, then one paired-bootstrap resample of that
    seed's test sentences (as :func:`paired_difference` draws them); the interval is the percentiles of the pooled
    draws (2.5 and 97.5 at ``level`` 0.95). Two seeds whose differences do not move under resampling give the
    interval spanning exactly their two values; one seed gives :func:`paired_difference`'s first interval.

    Args:
        pairs: per seed, the :func:`sentence_statistics` of the two systems on that seed's test sentences.
    Returns:
        ``{"deltas", "mean_delta", "low", "high", "level", "samples", "seeds", "reading"}``: each seed's difference
        on its full test set, their mean, the pooled interval, and ``higher`` / ``lower`` where the interval lies
        above / below 0, else ``level``.
    """
    if not pairs:
        raise ValueError("no seeds to pool")
    if samples < 1 or not 0 < level < 1:
        raise ValueError("samples must be >= 1 and level in (0, 1)")
    mats = [_paired(sa, sb) for sa, sb in pairs]
    deltas = [_full_difference(a, b) for a, b in mats]
    # which seed each draw takes (its own stream), then each seed's resamples from the bootstrap's stream
    picks = np.random.default_rng([seed, len(mats)]).integers(0, len(mats), size=samples)
    rng = np.random.default_rng(seed)
    draws = np.concatenate([_resampled(a, b, int(count), rng)
                            for (a, b), count in zip(mats, np.bincount(picks, minlength=len(mats)))])
    tail = 100 * (1 - level) / 2
    low, high = (float(v) for v in np.percentile(draws, [tail, 100 - tail]))
    return {"deltas": [round(d, 2) for d in deltas], "mean_delta": round(float(np.mean(deltas)), 2),
            "low": round(low, 2), "high": round(high, 2), "level": level, "samples": samples, "seeds": len(mats),
            "reading": "higher" if low > 0 else "lower" if high < 0 else "level"}
