"""Is a study's model fitted? Its LL curve over the checkpoints against the exact bounds of the synthetic corpus.

For each run (model × data) of a study: the per-token LL of the test references at every checkpoint, the best
LL any model can reach on the split (−H(Y|X) per position, from the corpus's exact statistics), for a
factorized model (NAT-MLE, GLAT) the best a factorized model can reach (−(H(Y|X) + C) per position), and
whether the run was still improving when it stopped: LL up by more than ``IMPROVING_TOL`` nats per token over
its last segment. A finding drawn from runs that were still improving compares unfinished runs, and the report
says so instead of presenting them as fitted.
"""
from __future__ import annotations

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


def run_fit(run: dict[str, Any], bounds: dict[str, float] | None) -> dict[str, Any]:
    """The fit of one run: its LL curve [(updates, LL/token)], the bound that applies, the gap to it, and
    ``still_improving`` (None with one checkpoint: no curve to read)."""
    curve = [(p["updates"], p["ll_per_token"]) for p in sorted(run["points"], key=lambda p: p["updates"])
             if p.get("ll_per_token") is not None]
    group = next((p["group"] for p in run["points"] if p["final"]), run["points"][-1]["group"])
    bound = None
    if bounds is not None:
        bound = -(bounds["H"] + bounds["C"]) if group in FACTORIZED_GROUPS else -bounds["H"]
    last_gain = curve[-1][1] - curve[-2][1] if len(curve) >= 2 else None
    return {"model": run["model"], "data": run["data"], "group": group, "curve": curve, "bound": bound,
            "gap": None if bound is None or not curve else bound - curve[-1][1], "last_gain": last_gain,
            "still_improving": None if last_gain is None else last_gain > IMPROVING_TOL}


def fit_table(runs: list[dict[str, Any]], stats: dict[str, Any] | None) -> tuple[list[str], list[dict[str, Any]]]:
    """(Markdown lines, per-run fits) of the report's fit section."""
    bounds = exact_bounds(stats)
    fits = [run_fit(r, bounds) for r in runs]
    lines = ["## Fit: LL of the test references along training", ""]
    if bounds is not None:
        lines += [f"Exact values of the synthetic test split: H(Y|X) = {bounds['H']:.4f} and C = {bounds['C']:.4f} "
                  "nats per target position. Bound: the best LL per token any model can reach, −H(Y|X); for a "
                  "factorized model (NAT-MLE, GLAT), −(H(Y|X) + C).", ""]
    lines += ["| model | data | LL per token at updates | bound | gap | last segment | |", "|---|---|---|---|---|---|---|"]
    fmt = lambda v, d=3: "n/a" if v is None else f"{v:.{d}f}"  # noqa: E731
    for f in fits:
        curve = ", ".join(f"{u}: {ll:.3f}" for u, ll in f["curve"])
        flag = {True: "**still improving**", False: "levelled", None: "one checkpoint"}[f["still_improving"]]
        gain = "n/a" if f["last_gain"] is None else f"{f['last_gain']:+.3f}"
        lines.append(f"| {f['model']} | {f['data']} | {curve} | {fmt(f['bound'])} | {fmt(f['gap'])} | {gain} | {flag} |")
    unfinished = [f"{f['model']}-{f['data']}" for f in fits if f["still_improving"]]
    if unfinished:
        lines += ["", f"**Unfinished runs**: {', '.join(unfinished)} gained more than {IMPROVING_TOL} nats per token "
                  "over their last segment; the findings below compare them before they were fitted."]
    return lines + [""], fits
