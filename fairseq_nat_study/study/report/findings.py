"""The papers' findings, each read by code from a study's numbers by a rule fixed before the runs (the report's
findings table).

Every row has ``holds``: True, False, or None when these numbers cannot test it (a model missing from the grid,
too few points, a difference within the test set's sampling noise); the ``evidence`` it was read from; ``no_if``,
the result that would have made it "no"; and, where the synthetic corpus decides the reading whatever the models
do, a ``by_design`` reason (for a yes as much as for a no or an n/a). A row the study cannot test whatever its models
do (its grid lacks a family, its data lack a measure: no training seed changes it) has ``"grid": True``
(:func:`seed_dependent`). A row that read BLEU comparisons names them under ``compared``
(``family_claims.pair``): the reading over seeds pools exactly those.

Rules shared by the rows:
- BLEU comparisons of two outputs of one test split read the paired bootstrap of the difference
  (:mod:`~fairseq_nat_study.study.report.bleu_readings`).
- A claim about several models or runs of one kind (the within-model Pearson r, candidate diversity) holds for
  a majority of those that can test it.
- Ĉ is read in both units (:mod:`~fairseq_nat_study.study.report.c_hat_claims`).
- The within-model r along training is a description (the report's Pearson table), not a finding: BLEU and LL
  rise together from a random start whatever the data, so no outcome could make it "no". The finding reads the
  last checkpoints up to the final one, the trained model.
"""
from __future__ import annotations

from typing import Any

from fairseq_nat_study.study.report.bleu_readings import majority
from fairseq_nat_study.study.report.c_hat_claims import c_hat_claims, mixed_output_claim
from fairseq_nat_study.study.report.correlation import (MIN_POINTS, correlations, excludes_zero, final_point,
                                                        reading_points)
from fairseq_nat_study.study.report.family_claims import (best_bleu_claim, cross_family_example, distillation_bleu_claims,
                                                          diversity_claim, family_claims, ood_flow_claim,
                                                          refinement_claims)
from fairseq_nat_study.study.report.formatting import fmt as _fmt

#: Why the synthetic corpus cannot show the flow-best-LL claim (Lee et al. 2020 measure it on real data).
FLOW_BEST_LL_BY_DESIGN = (
    "by design of the synthetic corpus: every target word depends only on its source phrase, so a left-to-right "
    "AR model represents p(y|x) exactly and can reach −H(Y|X); no model can exceed it, and the flow prior can at "
    "best tie")

#: Why fitted models on the synthetic corpus rank alike in BLEU and LL across families.
ACROSS_FAMILIES_BY_DESIGN = (
    "by design of the synthetic corpus: every raw run is fitted (none was still improving when it stopped), and "
    "what separates a fitted model's LL from −H(Y|X) is the dependence between target tokens it does not model "
    "(up to C), which is what makes the mixed outputs that cost BLEU: the families rank alike on both measures. "
    "The slides' absence of correlation comes from real data, where a flow prior's better density does not "
    "carry over to its translations")

#: Why distillation lowers the LL of the synthetic corpus's references whatever the models.
DISTILLED_LL_BY_DESIGN = (
    "by design of the synthetic corpus: the teacher's beam output keeps one translation of each ambiguous word, "
    "so a model fitted to it puts less mass on the others, which the sampled references hold")

#: A reading's first point below this fraction of its final BLEU lies in the learning phase of the run.
LEARNING_PHASE_FRACTION = 0.5


def findings(runs: list[dict[str, Any]], tc: dict[str, Any], data: dict[str, Any] | None = None,
             mixed: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The papers' claims on these numbers.

    Args:
        runs: the run records (``eval.json`` of each run).
        tc: the Ĉ entries (``raw``, ``dist``, ``glat_proxy``).
        data: the study's ``data.json`` (its ``stats`` hold the exact H and C of a synthetic corpus).
        mixed: NAT-MLE's mass on mixed outputs (``analysis/mixed_output.py``; synthetic corpus only).
    Returns:
        ``[{"claim", "holds", "evidence", "no_if"[, "by_design"]}]``.
    """
    final = {(r["model"], r["data"]): (r, final_point(r)) for r in runs}
    raw = [(r, p) for (m, d), (r, p) in final.items() if d == "raw"]
    stats = (data or {}).get("stats")
    out: list[dict[str, Any]] = []

    def claim(text: str, holds: bool | None, evidence: str, no_if: str, by_design: str | None = None,
              grid: bool = False, compared: list[dict[str, Any]] | tuple = ()) -> None:
        out.append({"claim": text, "holds": holds, "evidence": evidence, "no_if": no_if,
                    **({"by_design": by_design} if by_design else {}), **({"grid": True} if grid else {}),
                    **({"compared": list(compared)} if compared else {})})

    ar_bleu = max((p["bleu"] for _, p in raw if p["group"] == "ar"), default=None)
    if raw:
        best_ll = max(raw, key=lambda rp: rp[1]["ll_per_token"])
        has_flow = any(p["group"] == "latent-flow" for _, p in raw)
        claim("Raw data: the flow-prior model has the best LL of all models (Lee et al. 2020)",
              best_ll[1]["group"] == "latent-flow" if has_flow else None,
              f"best LL: {best_ll[0]['model']} ({best_ll[1]['ll_per_token']})",
              "another model's LL per token above the flow's",
              FLOW_BEST_LL_BY_DESIGN if stats and has_flow and best_ll[1]["group"] == "ar" else None, grid=not has_flow)
        best_bleu_claim(raw, claim, stats)
        family_claims(raw, claim, stats)
        ood_flow_claim(raw, claim)
    pairs = [(final[(m, "raw")][1], final[(m, "dist")][1], m) for (m, d) in final if d == "raw" and (m, "dist") in final]
    if pairs:
        lower = [m for a, b, m in pairs if b["ll_per_token"] < a["ll_per_token"]]
        holds = len(lower) == len(pairs)
        claim("Distillation lowers the LL of the real references, for every model", holds,
              f"lower for {len(lower)}/{len(pairs)}: {', '.join(lower) or 'none'}",
              "a model's distilled LL of the references at or above its raw LL",
              DISTILLED_LL_BY_DESIGN if stats and holds else None)
        distillation_bleu_claims(pairs, ar_bleu, stats, claim)
        diversity_claim(pairs, claim)
    cross_family_example(final, claim)
    corr = correlations(runs)
    _within_model_claims(runs, corr, claim)
    across = corr["across_families"]["raw"]["r"]
    raw_fitted = bool(raw) and all((r.get("training") or {}).get("improving_at_end") is False for r, _ in raw)
    holds = None if across is None else abs(across) < 0.5
    claim("BLEU and LL do not correlate across families (raw)", holds, f"r = {_fmt(across, 3)}",
          "|r| >= 0.5 over the families' final checkpoints",
          ACROSS_FAMILIES_BY_DESIGN if stats and raw_fitted and holds is False and across > 0 else None)
    refinement_claims(final, claim)
    c_hat_claims(tc, stats, claim)
    mixed_output_claim(mixed, claim)
    return out


def seed_dependent(row: dict[str, Any]) -> bool:
    """Whether another training seed could change the row's reading: not when the synthetic corpus decides it
    (``by_design``) or the study cannot test it whatever its models do (``grid``)."""
    return not row.get("by_design") and not row.get("grid")


def _within_model_claims(runs: list[dict[str, Any]], corr: dict[str, Any], claim: Any) -> None:
    """The slides' within-model Pearson r of trained models: positive on raw data, negative on distilled data,
    over the last checkpoints up to the final one. A model can test it when it has :data:`MIN_POINTS` such
    points that do not reach back into its learning phase; its sign is read where its 95% interval excludes 0;
    the claim holds for a majority of the models that can test it."""
    per_model = corr["per_model_last"]
    record = {(r["model"], r["data"]): r for r in runs}
    for cond, sign, word in (("raw", 1, "positively"), ("dist", -1, "negatively")):
        text = (f"{'Raw' if cond == 'raw' else 'Distilled'} data: BLEU and LL correlate {word} within a model "
                f"(over its last checkpoints up to the final one, >= {MIN_POINTS} each, sign read where the 95% "
                "interval excludes 0, a majority of the models that can test it; the slides' Pearson table)")
        no_if = f"the r of most models that can test it {'negative' if sign > 0 else 'positive'}, its interval excluding 0"
        entries = {m: d[cond] for m, d in per_model.items() if d.get(cond, {}).get("r") is not None}
        early = {m: _learning_phase(reading_points(record[(m, cond)], True)) for m in entries}
        rs = {m: e["r"] for m, e in entries.items() if e["points"] >= MIN_POINTS}
        few = sorted(set(entries) - set(rs))
        # a run whose last checkpoints reach back into its learning phase has no reading of its trained model
        young = [m for m in rs if early[m]]
        rs = {m: r for m, r in rs.items() if m not in young}
        # five points of a flat curve give an r of either sign by chance: no evidence for or against the claim
        signed = {m: r for m, r in rs.items() if excludes_zero(entries[m]["ci"])}
        agree = [m for m, r in signed.items() if sign * r > 0]
        against = [m for m in signed if m not in agree]
        spans = [m for m in rs if m not in signed]
        pts = lambda ms: ", ".join(f"{m} {rs[m]:.2f} ({entries[m]['points']} pts)" for m in ms)  # noqa: E731
        phase = ", ".join(f"{m} (BLEU {early[m][1]} at {early[m][0]} updates, {early[m][2]} at the final one)"
                          for m in young)
        claim(text, majority(len(agree), len(against), len(rs)),
              (f"{len(agree)} of {len(rs)} agree" + (f": {pts(agree)}" if agree else "")
               + (f"; against: {pts(against)}" if against else "")
               + (f"; interval spans 0 (sign not read): {pts(spans)}" if spans else ""))
              + (f"; not read (fewer than {MIN_POINTS} points): {', '.join(few)}" if few else "")
              + (f"; not read (its last checkpoints reach back into the learning phase): {phase}" if young else ""),
              no_if)


def _learning_phase(points: list[dict[str, Any]]) -> tuple[int, float, float] | None:
    """(updates, BLEU, final BLEU) of the first of ``points`` when its BLEU is below
    :data:`LEARNING_PHASE_FRACTION` of the final point's (the points reach back into the learning phase)."""
    first, last = points[0], points[-1]
    return ((first["updates"], first["bleu"], last["bleu"])
            if first["bleu"] < LEARNING_PHASE_FRACTION * last["bleu"] else None)
