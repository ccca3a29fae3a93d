"""The findings' BLEU comparisons pooled over training seeds (``study/seeds.py``).

In each seed the findings compare two outputs of the test split by the paired bootstrap
(:mod:`~fairseq_nat_study.study.report.bleu_readings`). :func:`comparisons` names the same comparisons in one
seed's results, picking the outputs as the findings pick them (``study/report/family_claims.py``):

- raw data, the best AR model by BLEU against every non-AR model;
- raw data, the best NAT-MLE model by BLEU against every GLAT model;
- every model, raw against distilled data;
- the flow-prior model on raw data with the best LL against the Gaussian-prior model on distilled data with the
  best BLEU (the slides' cross-family example);
- every run with a refinement table, K = its first against its last step count.

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
    """Label → (output a, output b) of every BLEU comparison the findings read in one seed's results, where both
    outputs carry per-sentence statistics of as many sentences."""
    final = {(r["model"], r["data"]): final_point(r) for r in results["runs"]}
    raw = {m: p for (m, d), p in final.items() if d == "raw"}
    pairs: dict[str, tuple[Side, Side]] = {}

    def best(points: dict[str, dict[str, Any]], key: str) -> Side | None:
        return max(points.items(), key=lambda mp: mp[1][key]) if points else None

    ar = best({m: p for m, p in raw.items() if p["group"] == "ar"}, "bleu")
    nat = best({m: p for m, p in raw.items() if p["group"].startswith("nat")}, "bleu")
    for m, p in raw.items():
        if ar and p["group"] != "ar":
            pairs[f"raw: best AR → {m}"] = (ar, (m, p))
        if nat and p["group"].startswith("glat"):
            pairs[f"raw: best NAT-MLE → {m}"] = (nat, (m, p))
    for (m, d), p in final.items():
        if d == "raw" and (m, "dist") in final:
            pairs[f"{m}: raw → dist"] = ((f"{m} raw", p), (f"{m} dist", final[(m, "dist")]))
    flow = best({m: p for (m, d), p in final.items() if d == "raw" and p["group"] == "latent-flow"}, "ll_per_token")
    gauss = best({m: p for (m, d), p in final.items() if d == "dist" and p["group"] == "latent-gaussian"}, "bleu")
    if flow and gauss:
        pairs["flow raw (best LL) → Gaussian dist (best BLEU)"] = (flow, gauss)
    for (m, d), p in final.items():
        table = p.get("refinement") or []
        if len(table) > 1:
            k0, kmax = table[0], table[-1]
            pairs[f"{m} ({d}): K={k0['steps']} → K={kmax['steps']}"] = ((f"K={k0['steps']}", k0),
                                                                        (f"K={kmax['steps']}", kmax))
    return {label: (a, b) for label, (a, b) in pairs.items()
            if a[1].get("bleu_stats") and b[1].get("bleu_stats") and len(a[1]["bleu_stats"]) == len(b[1]["bleu_stats"])}


def pooled_comparisons(per_seed: list[dict[str, Any]], seeds: list[int]) -> list[dict[str, Any]]:
    """Every comparison of :func:`comparisons` pooled over the seeds that have it.

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
