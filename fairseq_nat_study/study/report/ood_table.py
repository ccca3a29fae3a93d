"""The report's out-of-distribution table (the slides' "train on A, test on B"): each run's final checkpoint on
the study's test set and on its OOD test set (``study/ood.py``), BLEU and the LL of the references, with the
exact −H(Y|X) per position of each set where the data are synthetic."""
from __future__ import annotations

from typing import Any

from fairseq_nat_study.study.report.fit import exact_bounds


def ood_table(final: dict[tuple[str, str], dict[str, Any]], data: dict[str, Any]) -> list[str]:
    """Markdown lines of the OOD section ([] when the study has no OOD test set).

    Args:
        final: (model, data condition) -> the run's final point, whose ``ood`` entry holds its OOD scores.
        data: the study's ``data.json`` (``ood``: how the OOD set was made; ``stats``: the synthetic corpus).
    """
    ood = data.get("ood")
    if not ood:
        return []
    if ood.get("kind") == "synth":
        where = (f"the synthetic corpus's phrase table with other sentences: {ood['shift']['min_phrases']}-"
                 f"{ood['shift']['max_phrases']} source words, P(ambiguous word) {ood['shift']['p_ambiguous']}")
    else:
        where = ood.get("source", "a second test set")
    lines = ["## Out of distribution: train on A, test on B", "",
             f"A: the study's test split; B: {ood['sentences']} pairs from {where}. Final checkpoints; LL of the "
             "references in nats per token (IWAE for latent models).", ""]
    test_bounds, ood_bounds = exact_bounds(data.get("stats")), exact_bounds(ood.get("stats"))
    if test_bounds and ood_bounds:
        lines += [f"Exact −H(Y|X) per position: A {-test_bounds['H']:.4f}, B {-ood_bounds['H']:.4f}; exact C per "
                  f"position: A {test_bounds['C']:.4f}, B {ood_bounds['C']:.4f}.", ""]
    lines += ["| model | data | BLEU A | BLEU B | ΔBLEU | LL A | LL B | ΔLL |", "|---|---|---|---|---|---|---|---|"]
    for (model, cond), a in final.items():
        b = a.get("ood")
        if b is None:
            lines.append(f"| {model} | {cond} | {a['bleu']:.2f} | n/a | | {a['ll_per_token']:.3f} | n/a | |")
            continue
        lines.append(f"| {model} | {cond} | {a['bleu']:.2f} | {b['bleu']:.2f} | {b['bleu'] - a['bleu']:+.2f} | "
                     f"{a['ll_per_token']:.3f} | {b['ll_per_token']:.3f} | {b['ll_per_token'] - a['ll_per_token']:+.3f} |")
    return lines + [""]
