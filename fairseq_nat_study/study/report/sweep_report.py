"""The C sweep's reading (Huang et al. 2022): NAT-MLE's loss to the AR model against the exact C of each corpus.

Per target position on each corpus's test split (final checkpoints):
- the NLL excess of NAT-MLE over the AR model, ``LL_AR − LL_NAT``: at least C for a factorized model and about
  C when both models fit (the AR model can reach H, NAT-MLE H + C);
- the BLEU gap ``BLEU_AR − BLEU_X`` for X = NAT-MLE on raw data, NAT-MLE on distilled data (KD) and GLAT;
- Ĉ of the raw data against its exact C.

Findings, each with the rule fixed before the runs and what would have made it "no": the excess against C has
a least-squares slope in [0.8, 1.2] with Pearson r >= 0.95; NAT-MLE's BLEU gap rises with C (Spearman >= 0.9);
KD's and GLAT's gaps are below raw NAT-MLE's on every corpus with C > 0; Ĉ against C has a slope in [0.8, 1.2].

Real corpora (``results["real"]``, studies of real data with models of the same size) stand beside the synthetic
ones at their Ĉ per position, the only estimate of C they have; they are described, not read by the findings.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fairseq_nat_study.study.report.correlation import pearson
from fairseq_nat_study.study.report.formatting import fmt

SLOPE_RANGE = (0.8, 1.2)
MIN_R = 0.95
MIN_SPEARMAN = 0.9
#: a corpus counts as having C > 0 above this (nats per position)
C_ZERO = 1e-6
#: the data keys a sweep may vary (``study/sweep.py``): (the range of its values, what it changes)
KNOBS = {"ambiguity": ("λ in [0, 1]", "λ: the weight of each ambiguous word's translation probabilities against its "
                                      "most likely translation"),
         "p_ambiguous": ("P(ambiguous word) in [0, 1]", "the share of source words that are ambiguous, each with the "
                                                        "preset's own translation probabilities")}
#: the knob of a sweep that names none (results written before the second knob existed)
DEFAULT_KNOB = "ambiguity"
#: the BLEU gaps to the AR model: name -> the model (``group:data``) whose BLEU the AR model's is compared with
GAP_MODELS = {"raw": "nat:raw", "kd": "nat:dist", "glat": "glat:raw"}


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ys on xs (with an intercept); None with fewer than 2 distinct xs."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return None if n < 2 or sxx == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation (Pearson r of the ranks, ties averaged)."""
    def ranks(vs: list[float]) -> list[float]:
        order = sorted(range(len(vs)), key=lambda i: vs[i])
        out = [0.0] * len(vs)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and vs[order[j + 1]] == vs[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2
            i = j + 1
        return out
    return pearson(ranks(xs), ranks(ys))


def gaps(point: dict[str, Any]) -> dict[str, float | None]:
    """{"excess", "raw", "kd", "glat"}: NAT-MLE's NLL excess over the AR model and the BLEU gaps to the AR model."""
    m = point["models"]
    ar, nat = m.get("ar:raw"), m.get("nat:raw")
    gap = lambda other: None if ar is None or other is None else ar["bleu"] - other["bleu"]  # noqa: E731
    return {"excess": None if ar is None or nat is None else ar["ll_per_token"] - nat["ll_per_token"],
            **{name: gap(m.get(key)) for name, key in GAP_MODELS.items()}}


def sweep_findings(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sweep's findings: ``[{"claim", "holds", "evidence", "no_if"}]``."""
    out: list[dict[str, Any]] = []
    cs = [p["C_per_token"] for p in points]
    g = [gaps(p) for p in points]

    def linear(text: str, ys: list[float | None], xs: list[float], label: str) -> None:
        pairs = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
        b = slope(*map(list, zip(*pairs))) if len(pairs) >= 3 else None
        r = pearson(*map(list, zip(*pairs))) if len(pairs) >= 3 else None
        holds = None if b is None or r is None else SLOPE_RANGE[0] <= b <= SLOPE_RANGE[1] and r >= MIN_R
        out.append({"claim": text, "holds": holds,
                    "evidence": f"slope {fmt(b, 3)}, r {fmt(r, 3)} over {len(pairs)} corpora ({label})",
                    "no_if": f"a slope outside [{SLOPE_RANGE[0]}, {SLOPE_RANGE[1]}] or r < {MIN_R}"})

    linear("NAT-MLE's NLL excess over the AR model grows as C (slope ≈ 1 against the exact C per position)",
           [x["excess"] for x in g], cs, "LL_AR − LL_NAT on the test split")
    pairs = [(c, x["raw"]) for c, x in zip(cs, g) if c is not None and x["raw"] is not None]
    rho = spearman(*map(list, zip(*pairs))) if len(pairs) >= 3 else None
    out.append({"claim": "The AR − NAT-MLE BLEU gap rises with C", "holds": None if rho is None else rho >= MIN_SPEARMAN,
                "evidence": f"Spearman {fmt(rho, 3)} over {len(pairs)} corpora: "
                            + ", ".join(f"C {c:.3f}: {gap:+.2f}" for c, gap in pairs),
                "no_if": f"Spearman < {MIN_SPEARMAN}"})
    for key, label in (("kd", "KD (NAT-MLE on distilled data)"), ("glat", "GLAT")):
        rows = [(c, x["raw"], x[key]) for c, x in zip(cs, g)
                if c is not None and c > C_ZERO and x["raw"] is not None and x[key] is not None]
        above = [c for c, raw, other in rows if other >= raw]
        out.append({"claim": f"{label}'s BLEU gap to the AR model is below raw NAT-MLE's at every C > 0",
                    "holds": None if not rows else not above,
                    "evidence": ", ".join(f"C {c:.3f}: {other:+.2f} vs {raw:+.2f}" for c, raw, other in rows)
                                or "no corpus with C > 0 and both gaps",
                    "no_if": "a corpus with C > 0 where its gap is at or above raw NAT-MLE's"})
    linear("Ĉ of the raw data tracks the exact C (slope ≈ 1)", [p["C_hat_per_token"]["raw"]["value"] for p in points],
           [p["C_hat_per_token"]["raw"]["exact"] for p in points], "Ĉ per token on the Ĉ split")
    return out


def sweep_markdown(results: dict[str, Any]) -> str:
    """The sweep's report: the table of corpora and the findings."""
    knob = results.get("knob", DEFAULT_KNOB)
    changes = KNOBS[knob][1] if knob in KNOBS else knob
    lines = [f"# The C sweep: {results['name']}", "",
             f"Corpora of the synthetic family differing in `{knob}` ({changes}). "
             "Per target position (|y| + 1) on each corpus's test split, final checkpoints; Ĉ on the split it "
             "was estimated on, beside its exact C (0 for distilled data). A BLEU gap is BLEU_AR − BLEU_X with, in "
             "brackets, its paired-bootstrap 95 % interval over the test sentences (one training seed: the interval "
             "leaves out the spread of a rerun of training).", "",
             f"| {knob} | exact C | LL AR | LL NAT-MLE | excess | BLEU AR | gap raw | gap KD | gap GLAT | Ĉ raw (exact) "
             "| Ĉ dist (exact) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in results["points"]:
        ch = p["C_hat_per_token"]
        lines.append(f"| {p[knob]:g} | {fmt(p['C_per_token'], 4)} | {_model_cells(p)} | "
                     f"{fmt(ch['raw']['value'], 4)} ({fmt(ch['raw']['exact'], 4)}) | "
                     f"{fmt(ch['dist']['value'], 4)} ({fmt(ch['dist']['exact'], 4)}) |")
    lines += _real_lines(results.get("real") or [])
    lines += ["", "## Findings", "", "| claim | holds | evidence | \"no\" if |", "|---|---|---|---|"]
    for f in results["findings"]:
        word = "n/a" if f["holds"] is None else ("yes" if f["holds"] else "no")
        lines.append(f"| {f['claim']} | {word} | {f['evidence']} | {f['no_if']} |")
    return "\n".join(lines) + "\n\nPlot: `c_sweep.png`.\n"


def _real_lines(real: list[dict[str, Any]]) -> list[str]:
    """The real corpora's table: Ĉ per position (their x in the plot) and the same figures as the synthetic rows."""
    if not real:
        return []
    lines = ["", "## Real corpora (models of the same size)", "",
             "Each at its Ĉ of raw data per position (validation split), the only estimate of C a real corpus has; "
             "the findings below read the synthetic corpora only.", "",
             "| corpus | Ĉ raw | Ĉ dist | LL AR | LL NAT-MLE | excess | BLEU AR | gap raw | gap KD | gap GLAT |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in real:
        ch = p["C_hat_per_token"]
        lines.append(f"| {p['name']} | {fmt(ch['raw']['value'], 4)} | {fmt(ch['dist']['value'], 4)} | {_model_cells(p)} |")
    return lines


def _model_cells(p: dict[str, Any]) -> str:
    """A corpus's model cells, synthetic or real: LL AR | LL NAT-MLE | excess | BLEU AR | gap raw | gap KD | gap GLAT,
    each gap with its paired-bootstrap interval where the point has one."""
    m, g, spans = p["models"], gaps(p), p.get("gap_intervals") or {}
    ll = lambda k: fmt((m.get(k) or {}).get("ll_per_token"), 4)  # noqa: E731

    def gap(key: str) -> str:
        span = spans.get(key)
        return fmt(g[key]) + (f" [{span['low']:+.2f}, {span['high']:+.2f}]" if span else "")

    return (f"{ll('ar:raw')} | {ll('nat:raw')} | {fmt(g['excess'], 4)} | {fmt((m.get('ar:raw') or {}).get('bleu'))} | "
            f"{gap('raw')} | {gap('kd')} | {gap('glat')}")


def sweep_plot(results: dict[str, Any], out: Path) -> str:
    """``c_sweep.png``: the NLL excess, the BLEU gaps and Ĉ against the exact C."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = results["points"]
    cs = [p["C_per_token"] for p in pts]
    g = [gaps(p) for p in pts]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    top = max([c for c in cs if c is not None] + [1e-3])
    axes[0].plot([0, top], [0, top], "k:", label="excess = C")
    axes[0].plot(cs, [x["excess"] for x in g], "o-", label="LL_AR − LL_NAT")
    axes[0].set(xlabel="exact C (nats/position)", ylabel="NLL excess (nats/position)", title="NAT-MLE vs AR")
    for key, label in (("raw", "NAT-MLE"), ("kd", "NAT-MLE + KD"), ("glat", "GLAT")):
        axes[1].plot(cs, [x[key] for x in g], "o-", label=label)
    axes[1].set(xlabel="exact C (nats/position)", ylabel="BLEU_AR − BLEU", title="BLEU gap to AR")
    for p in results.get("real") or []:  # at Ĉ per position: a real corpus has no exact C
        x, g_real = p["C_hat_per_token"]["raw"]["value"], gaps(p)
        if x is None:
            continue
        if g_real["excess"] is not None:
            axes[0].plot([x], [g_real["excess"]], "s", label=f"{p['name']} (at Ĉ)")
        if g_real["raw"] is not None:
            axes[1].plot([x], [g_real["raw"]], "s", label=f"{p['name']}: NAT-MLE (at Ĉ)")
    if results.get("real"):  # real corpora sit far right of the synthetic ones: a scale linear near 0, log beyond
        for ax in axes[:2]:
            ax.set_xscale("symlog", linthresh=0.2)
    exact = [p["C_hat_per_token"]["raw"]["exact"] for p in pts]
    axes[2].plot([0, top], [0, top], "k:", label="Ĉ = C")
    axes[2].plot(exact, [p["C_hat_per_token"]["raw"]["value"] for p in pts], "o-", label="Ĉ raw")
    axes[2].set(xlabel="exact C (nats/position)", ylabel="Ĉ (nats/position)", title="Ĉ against C")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "c_sweep.png", dpi=110)
    plt.close(fig)
    return "c_sweep.png"


def write_sweep_report(results: dict[str, Any], out: Path) -> None:
    """Writes ``results.json`` (with the findings), ``report.md`` and ``c_sweep.png`` to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    results = {**results, "findings": sweep_findings(results["points"])}
    results["plot"] = sweep_plot(results, out)
    (out / "report.md").write_text(sweep_markdown(results))
    (out / "results.json").write_text(json.dumps(results, indent=1))
