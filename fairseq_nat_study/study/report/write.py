"""The study report: the slides' tables from a study's ``results.json``, as Markdown, PNG plots and JSON.

Tables (Lee et al. 2020): BLEU and per-token LL of every model on raw and distilled data; Pearson r between
BLEU and LL within each model (over its last checkpoints up to the final one, and along training), within
each family (AR; NAT; latent with the same prior: all checkpoints of the family) and across families (final
checkpoints), with points and 95% intervals; the fit of every run (``study/report/fit.py``); the refinement table (BLEU, ELBO of the outputs and candidate
diversity at K steps); speed (latency at batch 1, throughput) with their ratios to the AR model on the same
data and the pass-count limits (``study/report/speed_table.py``); the conditional total correlation Ĉ of raw and distilled data
and of the GLAT proxy (Huang et al. 2022). Findings of the papers are checked against the numbers and
stated as holding or not, with no tuning.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fairseq_nat_study.study.report.correlation import MIN_POINTS, correlations, final_point as _final
from fairseq_nat_study.study.report.findings import findings, seed_dependent
from fairseq_nat_study.study.report.fit import fit_table
from fairseq_nat_study.study.report.formatting import fmt as _fmt
from fairseq_nat_study.study.report.ood_table import ood_table
from fairseq_nat_study.study.report.search_table import search_table
from fairseq_nat_study.study.report.speed_table import latencies, speed_table


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


def _distill_line(distill: dict[str, Any]) -> list[str]:
    """One line on the distillation: the teacher checkpoint (run and snapshot), beam and what it produced."""
    train = distill.get("train")
    if not train:
        return []
    teacher = Path(train["teacher"])
    return [f"Distilled data: the teacher `{teacher.parent.name}/{teacher.name}` decoded "
            f"{train['num_sentences']} training sentences with beam {train['beam']} "
            f"({train['empty_hypotheses']} empty hypotheses, {train.get('unk_tokens', 'n/a')} <unk> tokens).", ""]


def _time_line(results: dict[str, Any]) -> str:
    """Wall time of the last invocation and the stages' own times; with stages side by side (``schedule``) the
    stage times overlap, so their sum is more than the wall time."""
    total = sum(results.get("stage_seconds", {}).values()) / 60
    sched = results.get("schedule")
    if not sched or sched.get("jobs", 1) == 1:
        return f"time: {total:.1f} min over all stages ({results['seconds_this_run']:.0f} s in the last invocation)."
    return (f"time: {results['seconds_this_run'] / 60:.1f} min wall in the last invocation, {sched['jobs']} stages side "
            f"by side with {sched['threads_per_job']} torch thread(s) each on {sched['cores']} cores (the stages' own "
            f"times, which overlap, sum to {total:.1f} min).")


def markdown(results: dict[str, Any]) -> str:
    runs, tc = results["runs"], results.get("total_correlation", {})
    models = list(dict.fromkeys(r["model"] for r in runs))
    final = {(r["model"], r["data"]): _final(r) for r in runs}
    arch = {r["model"]: r["arch"] for r in runs}
    lines = [f"# Study report: {results['name']}", "",
             f"Data: {json.dumps(results['data']['sentences'])} sentence pairs ({results['data']['kind']}); "
             f"hardware: {results['hardware']}; {_time_line(results)}", "",
             *_distill_line(results.get("distill") or {}),
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
        if m in corr["per_model_last"]:
            d_last = corr["per_model_last"][m]
            lines.append(f"| {m}: its last checkpoints up to the final one | {cell(d_last, 'raw')} | "
                         f"{cell(d_last, 'dist')} |")
        lines.append(f"| {m}: its checkpoints along training | {cell(d, 'raw')} | {cell(d, 'dist')} |")
    for g, d in corr["per_family"].items():
        lines.append(f"| family {g}: all its checkpoints | {cell(d, 'raw')} | {cell(d, 'dist')} |")
    lines.append(f"| across families: final checkpoints | {cell(corr['across_families'], 'raw')} | "
                 f"{cell(corr['across_families'], 'dist')} |")
    lines += ["", "n/a: fewer than 3 points or a constant variable (r undefined). Interval: 95%, Fisher's z "
              f"(4 points or more). The r along training describes the run (its learning phase, "
              "where BLEU and LL rise together from a random start whatever the data, weighs in): no outcome could "
              f"make it a \"no\", so the findings do not read it. They read the r over the last checkpoints up to the "
              f"final one (the trained model) from {MIN_POINTS} points up, its sign only where its interval excludes 0, "
              "and a claim holds for a majority of the models that can test it.", ""]
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
    lines += search_table(results, final)
    lines += speed_table(results, final)
    subsets = sorted({e.get("subset", "?") for e in tc.values() if "skipped" not in e})
    split_words = {"valid": "validation", "test": "test", "train": "training"}
    where = ", ".join(split_words.get(s, s) for s in subsets) or "no"
    lines += [f"## Conditional total correlation Ĉ = NLL(NAT-MLE) − NLL(AR) ({where} split{'s' if len(subsets) > 1 else ''})", "",
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
              "## The papers' findings on these numbers", "",
              "Each claim is read by the rule its row states; the last column says what result would have made it "
              "\"no\". \"By design\" marks a reading the synthetic corpus decides whatever the models do.", "",
              "| claim | holds | evidence | \"no\" if |", "|---|---|---|---|"]
    rows = findings(runs, tc, results["data"], results.get("mixed_output"))
    for f in rows:
        holds = "n/a" if f["holds"] is None else ("yes" if f["holds"] else "no")
        why = f"; {f['by_design']}" if "by_design" in f else ""
        lines.append(f"| {f['claim']} | {holds}{', by design' if why else ''} | {f['evidence']}{why} | "
                     f"{f.get('no_if', '')} |")
    lines += one_seed_lines(rows, (results.get("config") or {}).get("seed"))
    stages = results.get("stage_seconds", {})
    if stages:
        lines += ["", "## Stage times (wall seconds)", "", "| stage | s |", "|---|---|"]
        lines += [f"| {name} | {sec:.0f} |" for name, sec in stages.items()]
    drawn = results.get("plots", ["bleu_vs_ll.png", "bleu_vs_latency.png"] + (["refinement.png"] if refinement else []))
    lines += ["", "Plots: " + ", ".join(f"`{name}`" for name in drawn) + "."]
    return "\n".join(lines) + "\n"


def one_seed_lines(rows: list[dict[str, Any]], seed: int | None) -> list[str]:
    """What one training seed cannot settle: the findings whose reading rests on the trained models (neither
    decided by the synthetic corpus's design nor untestable by the study's grid), named with this seed's reading.
    A study run with ``--seeds`` reads them over seeds instead (``study/report/seeds.py``)."""
    word = lambda f: "n/a" if f["holds"] is None else ("yes" if f["holds"] else "no")  # noqa: E731
    moved = [f for f in rows if seed_dependent(f)]
    fixed = len(rows) - len(moved)
    return ["", "### What one training seed cannot settle", "",
            f"Every model of this study was trained once (seed {seed}). A finding is evidence when it reads alike over "
            "training seeds (`fairseq-nat-study study --seeds 1 2 3`: each seed trains the whole grid; the report "
            f"then reads every row over the seeds). Of the {len(rows)} rows above, {fixed} do not depend on the "
            "trained models (by design of the synthetic corpus, or not testable with this grid or data); the "
            f"other {len(moved)} rest on the models this seed trained, and one seed cannot settle them "
            "(another seed, machine or thread count trains other models, whose BLEU can differ by more than the "
            "test set's sampling interval):", ""] + [f"- {f['claim']}: {word(f)} with seed {seed}" for f in moved]


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
    latency = latencies(results, {(r["model"], r["data"]): _final(r) for r in runs})
    timed = [(r, ms) for r in runs if (ms := latency.get((r["model"], r["data"]))) is not None]
    if timed:  # none without a speed stage: no empty plot
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for r, ms in timed:
            ax.scatter(ms, _final(r)["bleu"], marker="o" if r["data"] == "raw" else "s")
            ax.annotate(f"{r['model']} ({r['data']})", (ms, _final(r)["bleu"]), fontsize=7)
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
               "findings": findings(results["runs"], results.get("total_correlation", {}), results["data"],
                                    results.get("mixed_output"))}
    results["plots"] = plots(results, out)
    (out / "report.md").write_text(markdown(results))
    (out / "results.json").write_text(json.dumps(results, indent=1))
