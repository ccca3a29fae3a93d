"""The study report: the slides' tables from a study's ``results.json``, as Markdown, PNG plots and JSON.

Tables (Lee et al. 2020): BLEU and per-token LL of every model on raw and distilled data; Pearson r between
BLEU and LL within each model (over its checkpoints), within each family (AR; NAT; latent with the same
prior: all checkpoints of the family) and across families (final checkpoints), with points and 95% intervals;
the fit of every run (``analysis/fit.py``); the refinement table (BLEU, ELBO of the outputs and candidate
diversity at K steps); speed (latency at batch 1, throughput) with their ratios to the AR model on the same
data; the conditional total correlation Ĉ of raw and distilled data
and of the GLAT proxy (Huang et al. 2022). Findings of the papers are checked against the numbers and
stated as holding or not, with no tuning.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

from fairseq_nat_study.analysis.fit import fit_table
from fairseq_nat_study.analysis.ood_table import ood_table


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


def _r_entry(pts: list[dict[str, Any]]) -> dict[str, Any]:
    """{"r", "points", "ci"} of BLEU vs LL per token over ``pts``."""
    r = pearson([p["bleu"] for p in pts], [p["ll_per_token"] for p in pts])
    ci = pearson_interval(r, len(pts))
    return {"r": r, "points": len(pts), "ci": None if ci is None else list(ci)}


def _final(run: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in run["points"] if p["final"])


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def correlations(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pearson r(BLEU, LL per token) per model, per family and across families, for raw and distilled."""
    out: dict[str, Any] = {"per_model": {}, "per_family": {}, "across_families": {}}
    for cond in ("raw", "dist"):
        cond_runs = [r for r in runs if r["data"] == cond]
        for r in cond_runs:
            out["per_model"].setdefault(r["model"], {})[cond] = _r_entry(r["points"])
        for group in sorted({_final(r)["group"] for r in cond_runs}):
            pts = [p for r in cond_runs if _final(r)["group"] == group for p in r["points"]]
            out["per_family"].setdefault(group, {})[cond] = _r_entry(pts)
        out["across_families"][cond] = _r_entry([_final(r) for r in cond_runs])
    return out


def findings(runs: list[dict[str, Any]], tc: dict[str, Any]) -> list[dict[str, Any]]:
    """The papers' claims, each checked on these numbers: ``holds`` True/False, None when not testable."""
    final = {(r["model"], r["data"]): (r, _final(r)) for r in runs}
    raw = [(r, p) for (m, d), (r, p) in final.items() if d == "raw"]
    out = []

    def claim(text: str, holds: bool | None, evidence: str) -> None:
        out.append({"claim": text, "holds": holds, "evidence": evidence})

    if raw:
        best_ll = max(raw, key=lambda rp: rp[1]["ll_per_token"])
        best_bleu = max(raw, key=lambda rp: rp[1]["bleu"])
        claim("Raw data: the flow-prior model has the best LL of all models (Lee et al. 2020)",
              best_ll[1]["group"] == "latent-flow" if any(p["group"] == "latent-flow" for _, p in raw) else None,
              f"best LL: {best_ll[0]['model']} ({best_ll[1]['ll_per_token']})")
        claim("Raw data: an AR model has the best BLEU", best_bleu[1]["group"] == "ar",
              f"best BLEU: {best_bleu[0]['model']} ({best_bleu[1]['bleu']})")
    pairs = [(final[(m, "raw")][1], final[(m, "dist")][1], m) for (m, d) in final if d == "raw" and (m, "dist") in final]
    if pairs:
        lower = [m for a, b, m in pairs if b["ll_per_token"] < a["ll_per_token"]]
        claim("Distillation lowers the LL of the real references, for every model", len(lower) == len(pairs),
              f"lower for {len(lower)}/{len(pairs)}: {', '.join(lower) or 'none'}")
        non_ar = [(a, b, m) for a, b, m in pairs if a["group"] != "ar"]
        up = [m for a, b, m in non_ar if b["bleu"] > a["bleu"]]
        claim("Distillation raises the BLEU of non-autoregressive models", len(up) == len(non_ar) if non_ar else None,
              f"higher for {len(up)}/{len(non_ar)}: {', '.join(up) or 'none'}")
    corr = correlations(runs)
    per_model = corr["per_model"]
    for cond, sign, word in (("raw", 1, "positively"), ("dist", -1, "negatively")):
        entries = {m: d[cond] for m, d in per_model.items() if d.get(cond, {}).get("r") is not None}
        rs = {m: e["r"] for m, e in entries.items() if e["points"] >= MIN_POINTS}
        few = sorted(set(entries) - set(rs))
        agree = [m for m, r in rs.items() if sign * r > 0]
        claim(f"{'Raw' if cond == 'raw' else 'Distilled'} data: BLEU and LL correlate {word} within a model "
              f"(over its checkpoints, >= {MIN_POINTS} each; the slides' Pearson table)",
              len(agree) == len(rs) if rs else None,
              f"{len(agree)}/{len(rs)}: " + ", ".join(f"{m} {r:.2f} ({entries[m]['points']} pts)" for m, r in rs.items())
              + (f"; not read (fewer than {MIN_POINTS} points): {', '.join(few)}" if few else ""))
    across = corr["across_families"]["raw"]["r"]
    claim("BLEU and LL do not correlate across families (raw)",
          None if across is None else abs(across) < 0.5, f"r = {_fmt(across, 3)}")
    for r, table in [(r, p["refinement"]) for r, p in final.values() if p.get("refinement")]:
        k0, kmax = table[0], table[-1]
        e0, e1 = k0["output_elbo_per_token"], kmax["output_elbo_per_token"]
        claim(f"{r['model']} ({r['data']}): refinement raises the ELBO of the outputs",
              None if e0 is None or e1 is None else e1 > e0,
              f"K={k0['steps']}: {k0['output_elbo_per_token']} → K={kmax['steps']}: {kmax['output_elbo_per_token']}")
    c_raw, c_dist = tc.get("raw", {}).get("C_hat_per_sentence"), tc.get("dist", {}).get("C_hat_per_sentence")
    claim("Distilled data has a lower Ĉ than raw data (Huang et al. 2022)",
          None if c_raw is None or c_dist is None else c_dist < c_raw, f"raw {_fmt(c_raw, 3)}, distilled {_fmt(c_dist, 3)}")
    c_glat = tc.get("glat_proxy", {}).get("C_hat_per_sentence")
    claim("The GLAT proxy has a lower Ĉ than raw data", None if c_raw is None or c_glat is None else c_glat < c_raw,
          f"raw {_fmt(c_raw, 3)}, GLAT proxy {_fmt(c_glat, 3)}")
    return out


def latent_usage_table(final: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """Markdown lines: how much each latent model uses z (KL per position, active units; IWAE beside the ELBO)."""
    rows = [(m, d, p) for (m, d), p in final.items() if p.get("latent_usage")]
    if not rows:
        return []
    lines = ["## Latent usage (test references)", "",
             "| model | data | KL nats/position | active dims | KL per dim (nats/position) | ELBO/token | IWAE/token |",
             "|---|---|---|---|---|---|---|"]
    for m, d, p in rows:
        u = p["latent_usage"]
        per_dim = ", ".join(f"{v:.3f}" for v in u["kl_per_dim_per_token"]) if u["kl_per_dim_per_token"] else "n/a"
        lines.append(f"| {m} | {d} | {_fmt(u['kl_per_token'], 4)} | {u['active_units']} of {u['latent_dims']} | "
                     f"{per_dim} | {_fmt(p.get('elbo_per_token'), 3)} | {_fmt(p.get('ll_per_token'), 3)} |")
    return lines + ["", "Active dims: latent dims whose posterior mean varies across the test data (variance > 0.01, "
                    "Burda et al. 2016). KL per dim: Gaussian prior only (a flow prior does not factorise over dims); "
                    "the flow's KL is the Monte Carlo estimate over the importance samples.", ""]


def markdown(results: dict[str, Any]) -> str:
    runs, tc = results["runs"], results.get("total_correlation", {})
    models = list(dict.fromkeys(r["model"] for r in runs))
    final = {(r["model"], r["data"]): _final(r) for r in runs}
    arch = {r["model"]: r["arch"] for r in runs}
    lines = [f"# Study report: {results['name']}", "",
             f"Data: {json.dumps(results['data']['sentences'])} sentence pairs ({results['data']['kind']}); "
             f"hardware: {results['hardware']}; time: {sum(results.get('stage_seconds', {}).values()) / 60:.1f} min "
             f"over all stages ({results['seconds_this_run']:.0f} s in the last invocation).", "",
             "## BLEU and log-likelihood (final checkpoints; LL of the real test references, nats/token)", "",
             "| model | arch | group | BLEU raw | BLEU dist | tok. BLEU raw | tok. BLEU dist | LL raw | LL dist | estimator |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        a, b = final.get((m, "raw"), {}), final.get((m, "dist"), {})
        lines.append(f"| {m} | {arch[m]} | {(a or b).get('group')} | {_fmt(a.get('bleu'))} | {_fmt(b.get('bleu'))} | "
                     f"{_fmt(a.get('tokenized_bleu'))} | {_fmt(b.get('tokenized_bleu'))} | {_fmt(a.get('ll_per_token'), 3)} | "
                     f"{_fmt(b.get('ll_per_token'), 3)} | {(a or b).get('estimator')} |")
    sig = next(iter(final.values()))["bleu_signature"]
    lines += ["", f"BLEU: sacreBLEU `{sig}` on detokenised text; tok. BLEU on the tokenized text "
              "(BPE removed). Latent models decode with the delta posterior at the configured K.", ""]
    corr = correlations(runs)
    lines += ["## Pearson r between BLEU and LL", "", "| over | raw | dist |", "|---|---|---|"]
    cell = lambda d, c: _r_cell(d.get(c, {}))  # noqa: E731
    for m, d in corr["per_model"].items():
        lines.append(f"| {m}: its checkpoints | {cell(d, 'raw')} | {cell(d, 'dist')} |")
    for g, d in corr["per_family"].items():
        lines.append(f"| family {g}: all its checkpoints | {cell(d, 'raw')} | {cell(d, 'dist')} |")
    lines.append(f"| across families: final checkpoints | {cell(corr['across_families'], 'raw')} | "
                 f"{cell(corr['across_families'], 'dist')} |")
    lines += ["", "n/a: fewer than 3 points or a constant variable (r undefined). Interval: 95%, Fisher's z "
              f"(4 points or more). The findings read a within-model r from {MIN_POINTS} points up.", ""]
    lines += fit_table(runs, results["data"].get("stats"))[0]
    lines += latent_usage_table(final)
    lines += ood_table(final, results["data"])
    refinement = [(m, d, final[(m, d)]["refinement"]) for (m, d) in final if final[(m, d)].get("refinement")]
    if refinement:
        steps = [e["steps"] for e in refinement[0][2]]
        lines += ["## Refinement steps K (delta posterior)", "", "| model | data | measure | " +
                  " | ".join(f"K={k}" for k in steps) + " |", "|---|---|---|" + "---|" * len(steps)]
        for m, d, table in refinement:
            for key, label in (("bleu", "BLEU"), ("output_elbo_per_token", "ELBO(ŷ)/token"), ("diversity", "diversity")):
                lines.append(f"| {m} | {d} | {label} | " + " | ".join(_fmt(e[key]) for e in table) + " |")
        lines += ["", "ELBO(ŷ): the ELBO per token of the model's own output at K steps; diversity: 100 − mean "
                  "pairwise sentence-BLEU of the length-beam candidates.", ""]
    lines += ["## Speed and diversity (final checkpoints, same machine)", "",
              "| model | data | decoder | ms/sentence (batch 1) | latency ratio vs AR beam 4 (batch 1) | "
              "sentences/s (large batch) | throughput ratio vs AR beam 4 (large batch) | threads | BLEU | diversity |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    ar_speed = {d: p["speed"] for (m, d), p in final.items() if p["group"] == "ar" and "speed" in p}
    for (m, d), p in final.items():
        s = p.get("speed", {})
        ar = ar_speed.get(d) if s else None
        latency = round(ar["latency_ms"] / s["latency_ms"], 2) if ar else None
        throughput = round(s["throughput"] / ar["throughput"], 2) if ar else None
        lines.append(f"| {m} | {d} | {s.get('decoder')} | {_fmt(s.get('latency_ms'))} | {_fmt(latency)} | "
                     f"{_fmt(s.get('throughput'))} | {_fmt(throughput)} | {_fmt(s.get('threads'))} | "
                     f"{_fmt(p['bleu'])} | {_fmt(p.get('diversity'))} |")
    lines += ["", "Latency ratio: AR ms/sentence ÷ the model's, at batch 1 (sentences drawn at random from the "
              "test split); throughput ratio: the model's sentences/s ÷ AR's, at the large batch; medians of 5 "
              "passes, each model timed in its own evaluation stage. For ratios measured side by side (interleaved) "
              "and the pass-count limits, run `fairseq-nat-study bench` on the final checkpoints."]
    subsets = sorted({e.get("subset", "?") for e in tc.values() if "skipped" not in e})
    split_words = {"valid": "validation", "test": "test", "train": "training"}
    where = ", ".join(split_words.get(s, s) for s in subsets) or "no"
    lines += ["", "Diversity n/a for NAT/GLAT: fairseq's NAT generator keeps only the best length candidate.", "",
              f"## Conditional total correlation Ĉ = NLL(NAT-MLE) − NLL(AR) ({where} split{'s' if len(subsets) > 1 else ''})", "",
              "| data | Ĉ nats/sentence | Ĉ nats/token | models | estimator |", "|---|---|---|---|---|"]
    for label, e in tc.items():
        if "skipped" in e:
            lines.append(f"| {label} | n/a | n/a | | {e['skipped']} |")
        else:
            lines.append(f"| {label} | {e['C_hat_per_sentence']:.3f} | {e['C_hat_per_token']:.4f} | "
                         f"{e['ar']} / {e['nat']} | {e['estimator']} |")
    smoothed = sorted({e["ar"] for e in tc.values() if e.get("ar_label_smoothing")})
    if smoothed:
        lines.append(f"\nĈ uses a label-smoothed AR model ({', '.join(smoothed)}): its NLL cannot reach H(Y|X), "
                     "so Ĉ is biased upward; add an AR model trained with `--label-smoothing 0` to the grid.")
    stats = results["data"].get("stats")
    for subset in subsets if stats else []:
        if subset in stats.get("splits", {}):
            lines.append(f"\nExact C of the synthetic {split_words.get(subset, subset)} split: "
                         f"{stats['splits'][subset]['C']:.3f} nats/sentence.")
    lines += ["", "Ĉ is a difference of two upper bounds: close to C only when both models fit the data.", "",
              "## The papers' findings on these numbers", "", "| claim | holds | evidence |", "|---|---|---|"]
    for f in findings(runs, tc):
        lines.append(f"| {f['claim']} | {'n/a' if f['holds'] is None else ('yes' if f['holds'] else 'no')} | {f['evidence']} |")
    stages = results.get("stage_seconds", {})
    if stages:
        lines += ["", "## Stage times (wall seconds)", "", "| stage | s |", "|---|---|"]
        lines += [f"| {name} | {sec:.0f} |" for name, sec in stages.items()]
    lines += ["", "Plots: `bleu_vs_ll.png`, `bleu_vs_latency.png`" + (", `refinement.png`" if refinement else "") + "."]
    return "\n".join(lines) + "\n"


def _r_cell(entry: dict[str, Any]) -> str:
    """``r (n pts, 95% CI [lo, hi])`` for the Pearson table."""
    text = f"{_fmt(entry.get('r'), 3)} ({entry.get('points', 0)} pts"
    ci = entry.get("ci")
    return text + (f", CI [{ci[0]:.2f}, {ci[1]:.2f}])" if ci else ")")


def plots(results: dict[str, Any], out: Path) -> list[str]:
    """BLEU vs LL (every checkpoint; final ones large), BLEU vs latency, refinement curves -> PNG names."""
    import logging

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its import logs at DEBUG when the root logger does
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs, written = results["runs"], []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        written.append(name)

    def labels(ax: Any, xlabel: str, ylabel: str, title: str = "") -> None:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in runs:
        pts, style = r["points"], "o-" if r["data"] == "raw" else "s--"
        ax.plot([p["ll_per_token"] for p in pts], [p["bleu"] for p in pts], style, alpha=0.7, label=f"{r['model']} ({r['data']})")
    labels(ax, "LL of the references (nats/token)", "BLEU", "BLEU vs log-likelihood (lines: checkpoints of one run)")
    ax.legend(fontsize=7)
    save(fig, "bleu_vs_ll.png")
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in runs:
        if "speed" in (p := _final(r)):
            ax.scatter(p["speed"]["latency_ms"], p["bleu"], marker="o" if r["data"] == "raw" else "s")
            ax.annotate(f"{r['model']} ({r['data']})", (p["speed"]["latency_ms"], p["bleu"]), fontsize=7)
    ax.set_xscale("log")
    labels(ax, "latency at batch 1 (ms/sentence, log scale)", "BLEU", "BLEU vs decoding latency")
    save(fig, "bleu_vs_latency.png")
    tables = [(r, _final(r)["refinement"]) for r in runs if _final(r).get("refinement")]
    if tables:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.8))
        for r, t in tables:
            ks = [e["steps"] for e in t]
            a1.plot(ks, [e["bleu"] for e in t], "o-", label=f"{r['model']} ({r['data']})")
            elbo = [math.nan if e["output_elbo_per_token"] is None else e["output_elbo_per_token"] for e in t]
            a2.plot(ks, elbo, "o-", label=f"{r['model']} ({r['data']})")
        labels(a1, "refinement steps K", "BLEU")
        labels(a2, "refinement steps K", "ELBO of the output (nats/token)")
        a2.legend(fontsize=7)
        save(fig, "refinement.png")
    plt.close("all")
    return written


def write_report(results: dict[str, Any], out: Path) -> None:
    """Writes ``report.md``, the PNG plots and ``results.json`` (with correlations and findings) to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    results = {**results, "correlations": correlations(results["runs"]),
               "findings": findings(results["runs"], results.get("total_correlation", {}))}
    results["plots"] = plots(results, out)
    (out / "report.md").write_text(markdown(results))
    (out / "results.json").write_text(json.dumps(results, indent=1))


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", nargs="+", required=True, help="study directories (each with results.json)")
    parser.add_argument("--out", required=True, help="directory for report.md, plots and results.json")


def main(args: argparse.Namespace) -> int:
    merged: dict[str, Any] | None = None
    for d in args.runs:
        path = Path(d) / "results.json"
        if not path.is_file():
            print(f"fairseq-nat-study report: error: --runs {d}: no results.json (has its study finished?)", file=sys.stderr)
            return 2
        res = json.loads(path.read_text())
        if merged is None:
            merged = res
        else:
            merged = {**merged, "name": f"{merged['name']} + {res['name']}", "runs": merged["runs"] + res["runs"]}
    assert merged is not None
    write_report(merged, Path(args.out))
    print(f"wrote {Path(args.out) / 'report.md'}")
    return 0
