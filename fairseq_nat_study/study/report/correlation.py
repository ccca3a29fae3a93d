"""Pearson r between BLEU and the log-likelihood of the references, as the slides compute it: within a model
over its last checkpoints up to the final one (the trained model) and over checkpoints spread along its
training, within a family over all its checkpoints, across families over the final checkpoints; each with its
number of points and a 95% interval (Fisher's z)."""
from __future__ import annotations

import math
from typing import Any, Sequence


def final_point(run: dict[str, Any]) -> dict[str, Any]:
    """The final checkpoint's entry of a run record."""
    return next(p for p in run["points"] if p["final"])


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson r; None with fewer than 3 points or a constant variable (r is undefined, not 0)."""
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} x values but {len(ys)} y values")
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / math.sqrt(sxx * syy)


#: Points a within-model r needs before the findings table reads its sign (the slides' tables use >= 5).
MIN_POINTS = 5


def pearson_interval(r: float | None, n: int, z_crit: float = 1.959963984540054) -> tuple[float, float] | None:
    """The 95% confidence interval of Pearson r over n points (Fisher's z: tanh(atanh r ± 1.96/√(n−3)));
    None when r is undefined or n < 4."""
    if r is None or n < 4:
        return None
    if abs(r) >= 1.0:
        return (r, r)
    z, half = math.atanh(r), z_crit / math.sqrt(n - 3)
    return (math.tanh(z - half), math.tanh(z + half))


def reading_points(run: dict[str, Any], last: bool) -> list[dict[str, Any]]:
    """The points a within-model r reads: every evaluated checkpoint of the run (along training), or only those
    the evaluation marked as its last ones up to the final one (``last``)."""
    return [p for p in run["points"] if p.get("last")] if last else run["points"]


def excludes_zero(ci: Sequence[float] | None) -> bool:
    """Whether a 95% interval of r lies wholly on one side of 0 (False without an interval)."""
    return ci is not None and (ci[0] > 0 or ci[1] < 0)


def r_entry(pts: list[dict[str, Any]]) -> dict[str, Any]:
    """{"r", "points", "ci"} of BLEU vs LL per token over ``pts``."""
    r = pearson([p["bleu"] for p in pts], [p["ll_per_token"] for p in pts])
    ci = pearson_interval(r, len(pts))
    return {"r": r, "points": len(pts), "ci": None if ci is None else list(ci)}


def correlations(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pearson r(BLEU, LL per token) per model (``per_model``: every evaluated checkpoint, along training;
    ``per_model_last``: the last checkpoints up to the final one, where the evaluation marked them), per family
    and across families, for raw and distilled."""
    out: dict[str, Any] = {"per_model": {}, "per_model_last": {}, "per_family": {}, "across_families": {}}
    for cond in ("raw", "dist"):
        cond_runs = [r for r in runs if r["data"] == cond]
        for r in cond_runs:
            out["per_model"].setdefault(r["model"], {})[cond] = r_entry(reading_points(r, last=False))
            last = reading_points(r, last=True)
            if last:
                out["per_model_last"].setdefault(r["model"], {})[cond] = r_entry(last)
        for group in sorted({final_point(r)["group"] for r in cond_runs}):
            pts = [p for r in cond_runs if final_point(r)["group"] == group for p in r["points"]]
            out["per_family"].setdefault(group, {})[cond] = r_entry(pts)
        out["across_families"][cond] = r_entry([final_point(r) for r in cond_runs])
    return out
