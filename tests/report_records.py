"""Hand-made run records for the report's and the findings' tests: points of known BLEU and LL."""
from __future__ import annotations


def point(updates: int, bleu: float, ll: float, group: str, final: bool = False, **extra: object) -> dict:
    return {"updates": updates, "final": final, "bleu": bleu, "ll_per_token": ll, "group": group,
            "tokenized_bleu": bleu, "estimator": "exact", "bleu_signature": "sig", **extra}


def results() -> dict:
    ar = [point(u, 10 * u - 20, u - 6.0, "ar", u == 5) for u in range(1, 6)]  # BLEU 30 at LL -1 (final)
    ar_d = [point(u, b, ll, "ar", u == 5) for u, b, ll in
            ((1, 5, -4.5), (2, 8, -4.0), (3, 10, -3.5), (4, 25, -3.0), (5, 31, -2.5))]
    refine = [{"steps": 0, "bleu": 5.0, "output_elbo_per_token": -1.2, "diversity": 40.0},
              {"steps": 4, "bleu": 6.0, "output_elbo_per_token": -0.9, "diversity": 30.0}]
    fl = [point(1, 4, -2.0, "latent-flow"), point(2, 6, -1.5, "latent-flow"),
          point(3, 8, -0.5, "latent-flow", True, refinement=refine)]
    fl_d = [point(3, 12, -2.6, "latent-flow", True)]
    runs = [{"model": "tr", "arch": "a", "data": "raw", "points": ar}, {"model": "fl", "arch": "f", "data": "raw", "points": fl},
            {"model": "tr", "arch": "a", "data": "dist", "points": ar_d}, {"model": "fl", "arch": "f", "data": "dist", "points": fl_d}]
    tc = {"raw": {"C_hat_per_sentence": 0.8, "C_hat_per_token": 0.1, "ar": "tr", "nat": "n", "estimator": "e"},
          "dist": {"C_hat_per_sentence": 0.3, "C_hat_per_token": 0.05, "ar": "tr", "nat": "n", "estimator": "e"},
          "glat_proxy": {"skipped": "no glat"}}
    return {"name": "t", "runs": runs, "total_correlation": tc, "data": {"sentences": {"test": 3}, "kind": "synth"},
            "hardware": {}, "seconds_this_run": 1.0}
