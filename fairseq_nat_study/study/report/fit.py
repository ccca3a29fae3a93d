"""Is a study's model fitted? Its LL curve over the checkpoints against the exact bounds of the synthetic corpus.

For each run (model × data) of a study: the per-token LL of the test references at every checkpoint, the best
LL any model can reach on the split (−H(Y|X) per position, from the corpus's exact statistics), for a
factorized model (NAT-MLE, GLAT) the best a factorized model can reach (−(H(Y|X) + C) per position), and
whether the run was still improving when it stopped. A run trained with a validation curve
(``training.json``, :mod:`~fairseq_nat_study.training.early_stopping`) is still improving when its best validation
value is its last one and it stopped at its update cap, not by patience; a run without one, when its test LL
rose by more than ``IMPROVING_TOL`` nats per token over its last segment. A finding drawn from runs that were
still improving compares unfinished runs, and the report says so instead of presenting them as fitted.

The validation curve is shown in nats per target position: NLL (``nll_loss``, fairseq's bits × ln 2), or −ELBO
for latent models (an upper bound on their NLL); beside it the exact H(Y|X) of the raw validation split (a
distilled run validates on distilled data, whose entropy is not known).
"""
from __future__ import annotations

import math
from typing import Any

#: LL gain per token over the last training segment above which a run counts as still improving.
IMPROVING_TOL = 0.01

#: groups whose decoder factorizes over positions given x (their LL cannot pass −(H + C)).
FACTORIZED_GROUPS = ("nat", "glat")


def exact_bounds(stats: dict[str, Any] | None, split: str = "test") -> dict[str, float] | None:
    """{"H", "C"} per target position (|y| + 1 positions, the LL's denominator) of a synthetic split, or None."""
    s = (stats or {}).get("splits", {}).get(split, {})
    if not all(key in s for key in ("num_target_tokens", "num_sentences", "H_joint", "C")):
        return None
    positions = s["num_target_tokens"] + s["num_sentences"]
    return {"H": s["H_joint"] * s["num_sentences"] / positions, "C": s["C"] * s["num_sentences"] / positions}


#: validation points shown per run in the table (the full curve is in results.json)
SHOWN_POINTS = 6


def valid_nats(training: dict[str, Any]) -> list[tuple[int, float]]:
    """The validation curve of a ``training.json`` record as [(updates, nats per target position)]: NLL, or
    −ELBO for a latent model's ``elbo_per_token``."""
    to_nats = {"nll_loss": math.log(2), "loss": math.log(2), "elbo_per_token": -1.0}.get(training["metric"])
    if to_nats is None:
        return []
    return [(u, v * to_nats) for u, v in training["curve"]]


def run_fit(run: dict[str, Any], bounds: dict[str, float] | None,
            valid_bounds: dict[str, float] | None = None) -> dict[str, Any]:
    """The fit of one run: its LL curve [(updates, LL/token)], the bound that applies, the gap to it,
    its validation curve and stop (when recorded) and ``still_improving`` (None: no curve to read)."""
    curve = [(p["updates"], p["ll_per_token"]) for p in sorted(run["points"], key=lambda p: p["updates"])
             if p.get("ll_per_token") is not None]
    group = next((p["group"] for p in run["points"] if p["final"]), run["points"][-1]["group"])
    bound = None
    if bounds is not None:
        bound = -(bounds["H"] + bounds["C"]) if group in FACTORIZED_GROUPS else -bounds["H"]
    last_gain = curve[-1][1] - curve[-2][1] if len(curve) >= 2 else None
    improving = None if last_gain is None else last_gain > IMPROVING_TOL
    training = run.get("training")
    valid, valid_bound = [], None
    if training:
        valid = valid_nats(training)
        improving = bool(training["improving_at_end"])
        if valid_bounds is not None and run["data"] == "raw":
            valid_bound = valid_bounds["H"] + (valid_bounds["C"] if group in FACTORIZED_GROUPS else 0.0)
    return {"model": run["model"], "data": run["data"], "group": group, "curve": curve, "bound": bound,
            "gap": None if bound is None or not curve else bound - curve[-1][1], "last_gain": last_gain,
            "valid_curve": valid, "valid_bound": valid_bound, "training": training, "still_improving": improving}


def _shown(curve: list[tuple[int, float]], best: int | None) -> str:
    """At most ``SHOWN_POINTS`` points of a validation curve, evenly spread, the best in bold."""
    keep = curve if len(curve) <= SHOWN_POINTS else [curve[round(i * (len(curve) - 1) / (SHOWN_POINTS - 1))]
                                                       for i in range(SHOWN_POINTS)]
    if best is not None and best not in dict(keep):
        keep = sorted([*keep, (best, dict(curve)[best])])
    return ", ".join(f"**{u}: {v:.3f}**" if u == best else f"{u}: {v:.3f}" for u, v in keep)


def _stop_cell(training: dict[str, Any] | None) -> str:
    if not training:
        return "fixed budget"
    how = f"patience {training['patience']}" if training["stopped"] == "patience" else "update cap"
    return f"{how} at {training['updates']}; best at {training['best_updates']}"


def fit_table(runs: list[dict[str, Any]], stats: dict[str, Any] | None) -> tuple[list[str], list[dict[str, Any]]]:
    """(Markdown lines, per-run fits) of the report's fit section."""
    bounds, valid_bounds = exact_bounds(stats), exact_bounds(stats, "valid")
    fits = [run_fit(r, bounds, valid_bounds) for r in runs]
    lines = ["## Fit: validation curve and LL of the test references along training", ""]
    if bounds is not None:
        lines += [f"Exact values of the synthetic test split: H(Y|X) = {bounds['H']:.4f} and C = {bounds['C']:.4f} "
                  "nats per target position. Bound: the best LL per token any model can reach, −H(Y|X); for a "
                  "factorized model (NAT-MLE, GLAT), −(H(Y|X) + C).", ""]
    if valid_bounds is not None:
        lines += [f"Validation (nats per target position; NLL, or −ELBO for latent models; the best in bold): the "
                  f"raw validation split's exact H(Y|X) is {valid_bounds['H']:.4f}, and H(Y|X) + C = "
                  f"{valid_bounds['H'] + valid_bounds['C']:.4f} for a factorized model. Distilled runs validate on "
                  "the distilled validation split.", ""]
    lines += ["| model | data | validation at updates | best possible | stopped | test LL per token at updates | "
              "bound | gap | |", "|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v, d=3: "n/a" if v is None else f"{v:.{d}f}"  # noqa: E731
    for f in fits:
        curve = ", ".join(f"{u}: {ll:.3f}" for u, ll in f["curve"])
        best = f["training"]["best_updates"] if f["training"] else None
        valid = _shown(f["valid_curve"], best) if f["valid_curve"] else "not recorded"
        flag = {True: "**still improving**", False: "levelled", None: "one checkpoint"}[f["still_improving"]]
        lines.append(f"| {f['model']} | {f['data']} | {valid} | {fmt(f['valid_bound'])} | {_stop_cell(f['training'])} "
                     f"| {curve} | {fmt(f['bound'])} | {fmt(f['gap'])} | {flag} |")
    unfinished = [f"{f['model']}-{f['data']}" for f in fits if f["still_improving"]]
    if unfinished:
        lines += ["", f"**Unfinished runs**: {', '.join(unfinished)} were still improving when training stopped (the "
                  "best validation value was the last, at the update cap; without a validation curve: a test LL gain "
                  f"above {IMPROVING_TOL} nats per token over the last segment); the findings below compare them "
                  "before they were fitted. Raise their max_update."]
    return lines + [""], fits
