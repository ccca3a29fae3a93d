"""A study's reading over training seeds: from the ``results.json`` of each seed's study to one aggregate report.

A finding is evidence only if it survives a rerun with another training seed. :func:`aggregate` is a pure function
of the per-seed results (each a normal study's ``results.json``, its ``config.seed`` the training seed):

- BLEU and LL per token (final checkpoints) of every run in every seed, with the mean and two spreads: the
  sample standard deviation over the seeds (n − 1 in the denominator; none with one seed) and the range
  (min–max); Ĉ of each data condition likewise.
- Every finding read over the seeds by one rule (:data:`RULE`, :func:`over_seeds`): **yes** when it reads yes in
  every seed that can test it and at least :data:`MIN_SEEDS` seeds can; **no** when it reads no in every such
  seed (again at least :data:`MIN_SEEDS`); **n/a** when fewer than :data:`MIN_SEEDS` seeds can test it; otherwise
  **not settled (k of n seeds yes)**, n the seeds that can test it. The per-seed readings stand beside it, a
  ``by_design`` reason is kept with the seeds it applies to, and every row keeps its ``no_if``.
- The findings' BLEU comparisons pooled over seeds and test sentences
  (:mod:`~fairseq_nat_study.study.report.seed_comparisons`).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

from fairseq_nat_study.study.report.correlation import final_point
from fairseq_nat_study.study.report.findings import findings
from fairseq_nat_study.study.report.formatting import fmt as _fmt
from fairseq_nat_study.study.report.seed_comparisons import pooled_comparisons, pooled_table

#: seeds that must be able to test a finding before it reads yes or no over seeds
MIN_SEEDS = 2

RULE = (f"A finding reads **yes** over seeds when it reads yes in every seed that can test it and at least "
        f"{MIN_SEEDS} seeds can; **no** when it reads no in every such seed (again at least {MIN_SEEDS}); **n/a** "
        f"when fewer than {MIN_SEEDS} seeds can test it; otherwise **not settled (k of n seeds yes)**, n the seeds "
        "that can test it.")

SPREAD = ("mean ± sample standard deviation over the seeds (n − 1 in the denominator), then the range [min, max]; "
          "with one seed no standard deviation")


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """``{"values", "n", "mean", "std", "min", "max"}`` of the values that are not None (``std``: the sample
    standard deviation, None with fewer than two values; all None with no value)."""
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    mean = sum(xs) / n if n else None
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
    return {"values": list(values), "n": n, "mean": mean, "std": std,
            "min": min(xs) if xs else None, "max": max(xs) if xs else None}


def over_seeds(readings: Sequence[bool | None]) -> tuple[bool | None, str]:
    """A finding's reading over seeds by :data:`RULE`: (``holds``: True, False or None, the words)."""
    testable = [r for r in readings if r is not None]
    yes = sum(1 for r in testable if r)
    if len(testable) < MIN_SEEDS:
        return None, "n/a"
    if yes == len(testable):
        return True, "yes"
    if yes == 0:
        return False, "no"
    return None, f"not settled ({yes} of {len(testable)} seeds yes)"


def _word(holds: bool | None) -> str:
    return "n/a" if holds is None else "yes" if holds else "no"


def seed_findings(per_seed: list[list[dict[str, Any]]], seeds: list[int]) -> list[dict[str, Any]]:
    """The findings rows of every seed joined by claim and read over the seeds.

    Args:
        per_seed: each seed's findings rows (``{"claim", "holds", "evidence", "no_if"[, "by_design"]}``).
        seeds: the seed of each list.
    Returns:
        ``[{"claim", "holds", "reading", "per_seed", "evidence", "no_if", "by_design"}]``: ``per_seed`` and
        ``evidence`` map each seed to its reading (``yes``/``no``/``n/a``; ``missing`` where the seed has no such
        row) and its evidence, ``by_design`` each reason to the seeds it applies to.
    """
    rows = [{f["claim"]: f for f in rows} for rows in per_seed]
    out = []
    for claim in dict.fromkeys(f["claim"] for fs in per_seed for f in fs):
        mine = {s: r[claim] for s, r in zip(seeds, rows) if claim in r}
        holds, reading = over_seeds([f["holds"] for f in mine.values()])
        design: dict[str, list[int]] = {}
        for s, f in mine.items():
            if f.get("by_design"):
                design.setdefault(f["by_design"], []).append(s)
        out.append({"claim": claim, "holds": holds, "reading": reading,
                    "per_seed": {str(s): _word(mine[s]["holds"]) if s in mine else "missing" for s in seeds},
                    "evidence": {str(s): f["evidence"] for s, f in mine.items()},
                    "no_if": " / ".join(dict.fromkeys(f["no_if"] for f in mine.values() if f.get("no_if"))),
                    "by_design": design})
    return out


def score_rows(per_seed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BLEU and LL per token of every run's final checkpoint in each seed (None where a seed lacks the run),
    with their :func:`spread`."""
    finals = [{(r["model"], r["data"]): final_point(r) for r in res["runs"]} for res in per_seed]
    out = []
    for model, data in dict.fromkeys(key for f in finals for key in f):
        points = [f.get((model, data)) for f in finals]
        out.append({"model": model, "data": data, **{key: spread([p.get(key) if p else None for p in points])
                                                     for key in ("bleu", "ll_per_token")}})
    return out


def c_hat_rows(per_seed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ĉ per sentence and per token of each data condition in each seed, with their :func:`spread`."""
    tcs = [res.get("total_correlation") or {} for res in per_seed]
    labels = dict.fromkeys(label for tc in tcs for label, e in tc.items() if "skipped" not in e)
    return [{"data": label, **{key: spread([(tc.get(label) or {}).get(key) for tc in tcs])
                               for key in ("C_hat_per_sentence", "C_hat_per_token")}} for label in labels]


def aggregate(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """The reading over seeds of the per-seed results (each a study's ``results.json``; findings computed where a
    results dict has none): ``{"name", "seeds", "data", "rule", "spread", "scores", "c_hat", "findings",
    "comparisons"}``."""
    if not per_seed:
        raise ValueError("no per-seed results")
    seeds = [res["config"]["seed"] for res in per_seed]
    rows = [res["findings"] if "findings" in res else
            findings(res["runs"], res.get("total_correlation", {}), res["data"], res.get("mixed_output"))
            for res in per_seed]
    return {"name": per_seed[0]["name"], "seeds": seeds, "data": per_seed[0]["data"], "rule": RULE, "spread": SPREAD,
            "scores": score_rows(per_seed), "c_hat": c_hat_rows(per_seed), "findings": seed_findings(rows, seeds),
            "comparisons": pooled_comparisons([{**res, "findings": r} for res, r in zip(per_seed, rows)], seeds)}


def _spread_cell(s: dict[str, Any], digits: int) -> str:
    if s["mean"] is None:
        return "n/a"
    std = f" ± {s['std']:.{digits}f}" if s["std"] is not None else ""
    return f"{s['mean']:.{digits}f}{std} [{s['min']:.{digits}f}, {s['max']:.{digits}f}]"


def _values(s: dict[str, Any], digits: int) -> str:
    return " / ".join(_fmt(v, digits) for v in s["values"])


def markdown(agg: dict[str, Any]) -> str:
    """The aggregate report: scores per seed with their spread, Ĉ, the findings over seeds, pooled comparisons."""
    seeds = agg["seeds"]
    per_seed = agg.get("per_seed") or {}
    links = ", ".join(f"[seed {s}]({per_seed[str(s)].rsplit('/', 1)[0] + '/report.md'})" if str(s) in per_seed
                      else f"seed {s}" for s in seeds)
    lines = [f"# Study report over {len(seeds)} training seeds: {agg['name']}", "",
             f"Training seeds {', '.join(map(str, seeds))}: each trains the whole grid, its AR teacher and its "
             f"distillation (fairseq `--seed`) on the same data"
             + (f" (prepared once with seed {agg['data_seed']})" if "data_seed" in agg else "")
             + f". Each seed's own report: {links}.", "",
             f"## BLEU and log-likelihood per seed (final checkpoints; seeds {' / '.join(map(str, seeds))})", "",
             "| model | data | BLEU per seed | BLEU mean ± std [min, max] | LL/token per seed | LL/token mean ± std "
             "[min, max] |", "|---|---|---|---|---|---|"]
    for r in agg["scores"]:
        lines.append(f"| {r['model']} | {r['data']} | {_values(r['bleu'], 2)} | {_spread_cell(r['bleu'], 2)} | "
                     f"{_values(r['ll_per_token'], 3)} | {_spread_cell(r['ll_per_token'], 3)} |")
    lines += ["", f"Spread: {agg['spread']}. n/a: a seed without the run.", ""]
    if agg["c_hat"]:
        lines += ["## Ĉ per seed (nats/sentence)", "",
                  "| data | per seed | mean ± std [min, max] | per token: mean ± std [min, max] |", "|---|---|---|---|"]
        lines += [f"| {r['data']} | {_values(r['C_hat_per_sentence'], 3)} | {_spread_cell(r['C_hat_per_sentence'], 3)} "
                  f"| {_spread_cell(r['C_hat_per_token'], 4)} |" for r in agg["c_hat"]]
        lines.append("")
    lines += ["## The papers' findings over seeds", "", agg["rule"] + " Each seed reads a finding by the rule its "
              "row states in the seed's own report (its evidence is there); the last column says what would have "
              "made it \"no\". \"By design\" marks a reading the synthetic corpus decides whatever the models do, "
              "with the seeds where it does.", "",
              f"| claim | over seeds | per seed ({' / '.join(map(str, seeds))}) | \"no\" if |", "|---|---|---|---|"]
    for f in agg["findings"]:
        design = f["by_design"]
        where = "" if not design else (", by design" if sum(map(len, design.values())) == len(seeds) else
                                       ", by design in seeds " + ", ".join(str(s) for v in design.values() for s in v))
        why = "".join(f"; by design (seed{'s' if len(v) > 1 else ''} {', '.join(map(str, v))}): {reason}"
                      for reason, v in design.items())
        lines.append(f"| {f['claim']} | {f['reading']}{where} | {' / '.join(f['per_seed'].values())}{why} | "
                     f"{f['no_if']} |")
    lines += ["", *pooled_table(agg["comparisons"])]
    return "\n".join(lines) + "\n"


def write_seeds_report(per_seed: list[dict[str, Any]], paths: list[Path], out: Path,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Writes the aggregate ``report.md`` and ``results.json`` to ``out``; ``paths``: each seed's
    ``results.json`` (recorded relative to ``out``), ``extra``: keys recorded beside the aggregate (the config,
    the data's seed). Returns the aggregate."""
    out.mkdir(parents=True, exist_ok=True)
    agg = {**aggregate(per_seed), **(extra or {})}
    agg["per_seed"] = {str(s): os.path.relpath(Path(p).resolve(), out.resolve()).replace(os.sep, "/")
                       for s, p in zip(agg["seeds"], paths)}
    (out / "report.md").write_text(markdown(agg))
    (out / "results.json").write_text(json.dumps(agg, indent=1))
    return agg
