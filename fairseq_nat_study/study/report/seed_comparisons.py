"""The findings' BLEU comparisons pooled over training seeds (``study/seeds.py``).

In each seed the findings compare two outputs of the test split by the paired bootstrap
(:mod:`~fairseq_nat_study.study.report.bleu_readings`), and every findings row names the comparisons it read
(``compared``, made by ``family_claims.pair``): the best AR model against each non-AR model and the best NAT-MLE
model against each GLAT model (raw data), each NAT, GLAT and latent model's raw against its distilled output, the
flow-prior model with the best LL against the Gaussian-prior model + KD with the best BLEU, and each latent run's
first against its last refinement step count. :func:`comparisons` takes those pairs from one seed's findings, so the
pooling compares what the findings compared and nothing else.

A "best" output is picked in each seed, so a pooled comparison can join different models of one role; the per-seed
picks are recorded. :func:`pooled_table` pools each comparison over the seeds that have it
(:func:`~fairseq_nat_study.analysis.significance.pooled_difference`: a seed drawn uniformly, then a paired resample
of that seed's test sentences; 2.5 and 97.5 percentiles of the pooled draws).
"""
from __future__ import annotations

from typing import Any

from fairseq_nat_study.analysis.significance import pooled_difference
from fairseq_nat_study.study.report.correlation import final_point

#: a side of a comparison: (the output's name, its point: ``bleu`` and ``bleu_stats``)
Side = tuple[str, dict[str, Any]]

POOLED_RULE = (
    "Pooled interval: each of its draws picks one seed uniformly at random, then one paired-bootstrap resample of "
    "that seed's test sentences (the same resample for both outputs); the interval is the 2.5 and 97.5 percentiles "
    "of the pooled draws, so it holds the spread over training seeds and the test set's sampling together. Reading: "
    "higher or lower where the interval excludes 0, level where it holds 0.")


def comparisons(results: dict[str, Any]) -> dict[str, tuple[Side, Side]]:
    """Label → (output a, output b) of every BLEU comparison the findings read in one seed's results (its
    ``findings`` rows), where both outputs carry per-sentence statistics of as many sentences."""
    final = {(r["model"], r["data"]): final_point(r) for r in results["runs"]}

    def side(ref: dict[str, Any]) -> Side | None:
        point = final.get((ref["model"], ref["data"]))
        if point is None or "steps" not in ref:
            return None if point is None else (f"{ref['model']} {ref['data']}", point)
        entry = next((k for k in point.get("refinement") or [] if k["steps"] == ref["steps"]), None)
        return None if entry is None else (f"K={ref['steps']}", entry)

    pairs: dict[str, tuple[Side, Side]] = {}
    for row in results["findings"]:
        for c in row.get("compared", []):
            a, b = side(c["a"]), side(c["b"])
            if (a and b and a[1].get("bleu_stats") and b[1].get("bleu_stats")
                    and len(a[1]["bleu_stats"]) == len(b[1]["bleu_stats"])):
                pairs[c["label"]] = (a, b)
    return pairs


def pooled_comparisons(per_seed: list[dict[str, Any]], seeds: list[int]) -> list[dict[str, Any]]:
    """Every comparison of :func:`comparisons` pooled over the seeds that have it (each seed's results with its
    ``findings`` rows).

    Returns:
        ``[{"comparison", "seeds", "picked", "bleu", **pooled_difference(...)}]``: the seeds pooled, the outputs
        each seed compared, their BLEU scores, the per-seed differences and the pooled interval.
    """
    found = [comparisons(r) for r in per_seed]
    labels = list(dict.fromkeys(label for c in found for label in c))
    out = []
    for label in labels:
        have = [(s, c[label]) for s, c in zip(seeds, found) if label in c]
        pooled = pooled_difference([(a[1]["bleu_stats"], b[1]["bleu_stats"]) for _, (a, b) in have])
        out.append({"comparison": label, **pooled, "seeds": [s for s, _ in have],
                    "picked": [[a[0], b[0]] for _, (a, b) in have],
                    "bleu": [[a[1]["bleu"], b[1]["bleu"]] for _, (a, b) in have]})
    return out


def pooled_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of the pooled comparisons (none when no seed carries per-sentence statistics)."""
    if not rows:
        return []
    lines = ["## BLEU comparisons pooled over seeds", "",
             "| comparison | per seed: BLEU a → b (Δ) | mean Δ | pooled 95% interval | reading |",
             "|---|---|---|---|---|"]
    for r in rows:
        picks = "best" in r["comparison"]  # name the outputs each seed picked
        per_seed = "; ".join(f"seed {s}: {a:.2f} → {b:.2f} ({d:+.2f})" + (f" [{pa} → {pb}]" if picks else "")
                             for s, (a, b), d, (pa, pb) in zip(r["seeds"], r["bleu"], r["deltas"], r["picked"]))
        lines.append(f"| {r['comparison']} | {per_seed} | {r['mean_delta']:+.2f} | [{r['low']:+.2f}, {r['high']:+.2f}] "
                     f"| {r['reading']} |")
    samples = sorted({r["samples"] for r in rows})
    return lines + ["", f"{POOLED_RULE} {samples[-1]} pooled draws per comparison; best outputs are picked in each "
                    "seed as the findings pick them (named in brackets).", ""]
