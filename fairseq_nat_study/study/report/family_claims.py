"""The findings that compare models and outputs: BLEU between families, distillation, refinement, candidate
diversity, the out-of-distribution LL, and the slides' cross-family example (Lee et al. 2020; Qian et al. 2021).

Each claim is recorded as ``claim(text, holds, evidence, no_if, by_design=None, grid=False, compared=())``:
``holds`` is True, False or None (not testable on these numbers), ``no_if`` the result that would have made it "no",
``by_design`` why the synthetic corpus decides the reading whatever the models do, ``grid`` that the study's grid or
data cannot test it whatever its models do, ``compared`` the BLEU comparisons it read (:func:`pair`), which the
reading over seeds pools (``study/report/seed_comparisons.py``).
"""
from __future__ import annotations

from typing import Any, Callable

from fairseq_nat_study.study.report.bleu_readings import change, direction, majority, paired_note, raised
from fairseq_nat_study.study.report.formatting import fmt as _fmt

Claim = Callable[..., None]
Final = tuple[dict[str, Any], dict[str, Any]]  # (run record, its final point)

#: KL per target position below which a latent model's latent carries nothing for refinement to use.
UNUSED_LATENT_KL = 0.01

#: test-LL gap (nats per position) to the factorized bound −(H + C) within which NAT-MLE counts as at that bound.
FACTORIZED_FIT_TOL = 0.02

#: Why the synthetic corpus cannot rank a latent model below the AR model in BLEU.
SAME_EXPECTED_BLEU_BY_DESIGN = (
    "by design of the synthetic corpus: the reference is one sample of its ambiguous words' equally likely "
    "translations, so every output that picks one whole translation per word has the same expected BLEU; a latent "
    "model that resolves the modes ties the AR model up to sampling noise")

#: Why the synthetic corpus cannot rank one-pass GLAT above NAT-MLE once NAT-MLE is at the factorized bound.
TIED_MARGINALS_BY_DESIGN = (
    "by design of the synthetic corpus: every ambiguous word's translations are equally likely and NAT-MLE is at "
    "the best a factorized model can reach ({gap}); one-pass GLAT decodes per-token marginals too (it reveals "
    "no token at inference), and on tied marginals which translation each token takes is a tie-break, so both have "
    "the same expected BLEU (GLAT's gain in Qian et al. 2021 is on real data)")


def pair(label: str, a: tuple[str, str], b: tuple[str, str], steps: tuple[int, int] | None = None) -> dict[str, Any]:
    """One BLEU comparison a finding read: output ``a`` → output ``b``, each ``(model, data)`` (its final
    checkpoint), with ``steps`` the refinement step counts of a run's K-table entries."""
    side = lambda md, k: {"model": md[0], "data": md[1], **({"steps": k} if k is not None else {})}  # noqa: E731
    return {"label": label, "a": side(a, steps and steps[0]), "b": side(b, steps and steps[1])}


def modes_tied(stats: dict[str, Any] | None) -> bool:
    """True when every ambiguous word of a synthetic corpus has equally likely translations (to 1e-3)."""
    table = (stats or {}).get("phrase_table") or {}
    alternatives = [[q for _, q in alts] for alts in table.values() if len(alts) > 1]
    return bool(alternatives) and all(max(qs) - min(qs) < 1e-3 for qs in alternatives)


def _factorized_gap(run: dict[str, Any], stats: dict[str, Any] | None) -> float | None:
    """How far (nats per position) a factorized run's final test LL lies below −(H + C) of the synthetic test
    split; None without the corpus's statistics."""
    from fairseq_nat_study.study.report.fit import exact_bounds, run_fit

    bounds = exact_bounds(stats)
    return None if bounds is None else run_fit(run, bounds)["gap"]


def best_bleu_claim(raw: list[Final], claim: Claim, stats: dict[str, Any] | None) -> None:
    """An AR model has the best BLEU (raw data): the best AR output against every non-AR output of the test split.
    Yes when every non-AR output is lower, no when one is higher, not testable when one is level. On a synthetic
    corpus with tied modes a latent model at or above the AR model is a tie by design."""
    text = "Raw data: an AR model has the best BLEU"
    no_if = "a non-AR model's BLEU above the best AR model's"
    best = max(raw, key=lambda rp: rp[1]["bleu"])
    ar = [(r, p) for r, p in raw if p["group"] == "ar"]
    others = [(r, p) for r, p in raw if p["group"] != "ar"]
    if not ar or not others:
        claim(text, None, f"best BLEU: {best[0]['model']} ({best[1]['bleu']}); the grid needs an AR and a non-AR model",
              no_if, grid=True)
        return
    ar_run, ar_point = max(ar, key=lambda rp: rp[1]["bleu"])
    moves = [(r["model"], p, direction(ar_point, p)) for r, p in others]
    readings = {mv[0] for *_, mv in moves}
    holds = False if "higher" in readings else (True if readings == {"lower"} else None)
    at_or_above = [p for _, p, mv in moves if mv[0] != "lower"]
    why = (SAME_EXPECTED_BLEU_BY_DESIGN if modes_tied(stats) and at_or_above
           and all(p["group"].startswith("latent") for p in at_or_above) else None)
    claim(text, holds,
          f"best BLEU: {best[0]['model']} ({best[1]['bleu']}); AR {ar_run['model']} → each non-AR model "
          f"({paired_note([mv for *_, mv in moves])}): "
          + ", ".join(f"{m} {change(ar_point, p, mv)}" for m, p, mv in moves), no_if, why,
          compared=[pair(f"raw: best AR → {m}", (ar_run["model"], "raw"), (m, "raw")) for m, _, _ in moves])


def family_claims(raw: list[Final], claim: Claim, stats: dict[str, Any] | None) -> None:
    """GLAT against NAT-MLE in BLEU (on tied modes with NAT-MLE at the factorized bound, a tie by design), the
    latent models against NAT-MLE in LL (final checkpoints, raw data)."""
    def of(prefix: str) -> list[tuple[str, dict[str, Any]]]:
        return [(r["model"], p) for r, p in raw if p["group"].startswith(prefix)]

    nat, glat, latent = of("nat"), of("glat"), of("latent")
    text = "Raw data: GLAT reaches at least NAT-MLE's BLEU (Qian et al. 2021)"
    no_if = "a GLAT model's BLEU below the best NAT-MLE model's"
    if nat and glat:
        best_nat = max(nat, key=lambda mp: mp[1]["bleu"])
        moves = [(m, p, direction(best_nat[1], p)) for m, p in glat]
        readings = {mv[0] for _, _, mv in moves}
        # "at least": yes when every GLAT model is higher or, point against point, equal; no when one is lower
        holds = (False if "lower" in readings else
                 True if readings == {"higher"} or not any(mv[1] for _, _, mv in moves) else None)
        gap = _factorized_gap(next(r for r, _ in raw if r["model"] == best_nat[0]), stats)
        why = (TIED_MARGINALS_BY_DESIGN.format(gap=f"test LL {gap:.4f} nats/position from −(H + C)")
               if modes_tied(stats) and gap is not None and gap <= FACTORIZED_FIT_TOL and holds is not True else None)
        claim(text, holds, f"NAT-MLE {best_nat[0]} → GLAT ({paired_note([mv for *_, mv in moves])}): "
              + ", ".join(f"{m} {change(best_nat[1], p, mv)}" for m, p, mv in moves), no_if, why,
              compared=[pair(f"raw: best NAT-MLE → {m}", (best_nat[0], "raw"), (m, "raw")) for m, _, _ in moves])
    else:
        claim(text, None, "the grid has no raw NAT-MLE and GLAT pair", no_if, grid=True)
    text = "Raw data: every latent model has a higher LL than NAT-MLE"
    no_if = "a latent model's LL per token at or below the best NAT-MLE model's"
    if nat and latent:
        best_nat = max(nat, key=lambda mp: mp[1]["ll_per_token"])
        ok = [m for m, p in latent if p["ll_per_token"] > best_nat[1]["ll_per_token"]]
        claim(text, len(ok) == len(latent), f"NAT-MLE {best_nat[0]} {best_nat[1]['ll_per_token']}; latent "
              + ", ".join(f"{m} {p['ll_per_token']}" for m, p in latent), no_if)
    else:
        claim(text, None, "the grid has no raw NAT-MLE and latent models", no_if, grid=True)


def distillation_bleu_claims(pairs: list[tuple[dict[str, Any], dict[str, Any], str]], ar_bleu: float | None,
                             stats: dict[str, Any] | None, claim: Claim) -> None:
    """KD raises the BLEU of NAT-MLE and GLAT, and of the latent models. Every member higher: yes; any lower: no;
    otherwise (some level within noise): not testable. On a synthetic corpus with tied modes, a latent model
    that resolves the modes on raw data (BLEU at least the AR model's) has nothing for KD to remove."""
    for label, members in (("NAT-MLE and GLAT models", ("nat", "glat")), ("latent models", ("latent",))):
        runs = [(a, b, m, direction(a, b)) for a, b, m in pairs if a["group"].startswith(members)]
        up = [m for a, b, m, mv in runs if mv[0] == "higher"]
        down = [m for a, b, m, mv in runs if mv[0] == "lower"]
        resolved = [m for a, b, m, mv in runs if m not in up and ar_bleu is not None and a["bleu"] >= ar_bleu]
        holds = None if not runs else (True if len(up) == len(runs) else (False if down else None))
        why = None
        if (modes_tied(stats) and label.startswith("latent") and resolved and len(up) + len(resolved) == len(runs)
                and holds is not True):
            why = (f"by design of the synthetic corpus: {', '.join(resolved)} already resolves the modes on raw "
                   f"data (raw BLEU at or above the AR model's {_fmt(ar_bleu)}), and every consistent choice of "
                   "modes has the same expected BLEU against a sampled reference: distillation has no mixed "
                   "outputs to remove")
        level = [m for a, b, m, mv in runs if mv[0] == "level"]
        evidence = (f"higher for {len(up)}/{len(runs)}"
                    + (f", within noise for {', '.join(level)}" if level and runs[0][3][1] else "")
                    + f" ({paired_note([mv for *_, mv in runs])}): "
                    + ", ".join(f"{m} {change(a, b, mv)}" for a, b, m, mv in runs))
        claim(f"Distillation raises the BLEU of {label}", holds, evidence,
              "a member's distilled BLEU below its raw BLEU", why,
              compared=[pair(f"{m}: raw → dist", (m, "raw"), (m, "dist")) for _, _, m, _ in runs])


def cross_family_example(final: dict[tuple[str, str], Final], claim: Claim) -> None:
    """The slides' example of the discrepancy: the Gaussian-prior model trained on distilled data translates
    better than the flow-prior model trained on raw data, whose LL of the references is higher."""
    text = ("Gaussian + KD translates better than the raw flow, whose LL is higher (the slides' cross-family "
            "example of the discrepancy)")
    no_if = "Gaussian + KD's BLEU below the raw flow's while the flow's LL is higher"
    ga = [(m, p) for (m, d), (r, p) in final.items() if d == "dist" and p["group"] == "latent-gaussian"]
    fl = [(m, p) for (m, d), (r, p) in final.items() if d == "raw" and p["group"] == "latent-flow"]
    if not ga or not fl:
        claim(text, None, "the grid needs a Gaussian-prior model on distilled data and a flow-prior model on raw data",
              no_if, grid=True)
        return
    (g_model, g), (f_model, f) = max(ga, key=lambda mp: mp[1]["bleu"]), max(fl, key=lambda mp: mp[1]["ll_per_token"])
    moved = direction(f, g)
    premise = f["ll_per_token"] > g["ll_per_token"]
    claim(text, raised(moved) if premise else None,
          f"BLEU flow raw → Gaussian dist {change(f, g, moved)}; LL per token flow raw {f['ll_per_token']}, "
          f"Gaussian dist {g['ll_per_token']}" + ("" if premise else "; the flow's LL is not higher: no example"),
          no_if, compared=[pair("flow raw (best LL) → Gaussian dist (best BLEU)", (f_model, "raw"), (g_model, "dist"))])


def refinement_claims(final: dict[tuple[str, str], Final], claim: Claim) -> None:
    """Delta-posterior refinement raises the ELBO of the outputs and BLEU (each latent run), lowers the
    candidates' diversity (over latent runs), and gains less for the flow prior than for the Gaussian prior."""
    gains: dict[str, dict[str, float]] = {}
    diversity: list[tuple[str, float, float]] = []
    groups: dict[str, set[str]] = {}
    for (_, data), (_, p) in final.items():
        if p.get("refinement"):
            groups.setdefault(data, set()).add(p["group"])
    # a flow and a Gaussian model refined on the same data; whether both use their latent is the models' doing
    pairs_in_grid = any({"latent-flow", "latent-gaussian"} <= g for g in groups.values())
    for (model, data), (r, p) in final.items():
        table = p.get("refinement")
        if not table:
            continue
        k0, kmax = table[0], table[-1]
        kl = (p.get("latent_usage") or {}).get("kl_per_token")
        unused = kl is not None and kl < UNUSED_LATENT_KL
        why = (f"; not testable: the latent is unused (KL {kl:.4f} nats/position < {UNUSED_LATENT_KL}), so refinement "
               "has nothing to change") if unused else ""
        e0, e1 = k0["output_elbo_per_token"], kmax["output_elbo_per_token"]
        claim(f"{model} ({data}): refinement raises the ELBO of the outputs",
              None if e0 is None or e1 is None or unused else e1 > e0,
              f"K={k0['steps']}: {e0} → K={kmax['steps']}: {e1}{why}",
              f"the outputs' ELBO at K={kmax['steps']} at or below K={k0['steps']}")
        moved = direction(k0, kmax)
        claim(f"{model} ({data}): refinement raises BLEU", None if unused else raised(moved),
              f"K={k0['steps']} → K={kmax['steps']}: {change(k0, kmax, moved)}{why}",
              f"BLEU at K={kmax['steps']} below K={k0['steps']}",
              compared=[pair(f"{model} ({data}): K={k0['steps']} → K={kmax['steps']}", (model, data), (model, data),
                             (k0["steps"], kmax["steps"]))])
        if not unused:
            gains.setdefault(data, {})[p["group"]] = kmax["bleu"] - k0["bleu"]
            if k0.get("diversity") is not None and kmax.get("diversity") is not None:
                diversity.append((f"{model} ({data})", k0["diversity"], kmax["diversity"]))
    text = "Refinement gains less BLEU for the flow prior than for the Gaussian prior (same data)"
    both = {d: g for d, g in gains.items() if {"latent-flow", "latent-gaussian"} <= set(g)}
    less = [d for d, g in both.items() if g["latent-flow"] < g["latent-gaussian"]]
    claim(text, None if not both else len(less) == len(both),
          "; ".join(f"{d}: flow {g['latent-flow']:+.2f}, Gaussian {g['latent-gaussian']:+.2f} BLEU (K=0 → last K, "
                    "point against point)" for d, g in sorted(both.items()))
          or "the grid needs a flow and a Gaussian model on the same data, both using their latent",
          "the flow's BLEU gain at or above the Gaussian's on some data", grid=not pairs_in_grid)
    lower = [n for n, a, b in diversity if b < a]
    claim("Refinement lowers the candidates' diversity (latent models)",
          majority(len(lower), len(diversity) - len(lower), len(diversity)),
          ", ".join(f"{n} {a} → {b}" for n, a, b in diversity) or "no latent run with diversity at both ends",
          "diversity at the last K at or above K=0 for most latent runs")


def diversity_claim(pairs: list[tuple[dict[str, Any], dict[str, Any], str]], claim: Claim) -> None:
    """Distillation lowers the diversity of the candidates (models that decode several: AR beam, latent)."""
    both = [(m, a["diversity"], b["diversity"]) for a, b, m in pairs
            if a.get("diversity") is not None and b.get("diversity") is not None]
    lower = [m for m, a, b in both if b < a]
    claim("Distillation lowers the candidates' diversity", majority(len(lower), len(both) - len(lower), len(both)),
          ", ".join(f"{m} {a} → {b}" for m, a, b in both) or "no model with diversity on raw and distilled data",
          "distilled diversity at or above raw diversity for most models")


def ood_flow_claim(raw: list[Final], claim: Claim) -> None:
    """Out of distribution, the flow-prior model has the best LL of the references (raw data)."""
    text = "Out of distribution (raw data): the flow-prior model has the best LL of all models"
    scored = [(r["model"], p["group"], p["ood"]["ll_per_token"]) for r, p in raw
              if (p.get("ood") or {}).get("ll_per_token") is not None]
    if not scored or not any(g == "latent-flow" for _, g, _ in scored):
        claim(text, None, "the grid needs a flow-prior model scored on an out-of-distribution set",
              "another model's OOD LL per token above the flow's", grid=True)
        return
    best = max(scored, key=lambda s: s[2])
    claim(text, best[1] == "latent-flow", "OOD LL per token: " + ", ".join(f"{m} {v}" for m, _, v in scored),
          "another model's OOD LL per token above the flow's")
