"""The report's latent-search section: LaNMT's decoder (prior samples × lengths, refined, ranked by the AR
teacher) beside the K-step decoder of the same latent run, each with its BLEU, its distance to the teacher's
BLEU and its latency against AR beam 4 (the slides' BLEU-versus-speed table).

It reads each latent run's ``search`` entry (``study/evaluate.py``) and, where the study timed it, the speed
stage's rows (``study/speed_stage.py``): one process, configurations interleaved.
"""
from __future__ import annotations

from typing import Any

from fairseq_nat_study.study.report.formatting import fmt


def _latency(speed: dict[str, Any] | None, model: str, data: str, config: str) -> dict[str, Any]:
    """The batch-1 speed row of one decoder of one run ({} when it was not timed)."""
    rows = (speed or {}).get("rows") or []
    return next((r for r in rows if (r["model"], r["data"], r["config"], r["batch_size"]) == (model, data, config, 1)),
                {})


def search_table(results: dict[str, Any], final: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """Markdown lines of the section; none when no latent run has a latent-search figure."""
    from fairseq_nat_study.analysis.speed import search_label

    runs = [(m, d, p) for (m, d), p in final.items() if p.get("search")]
    if not runs:
        return []
    teacher = (results.get("config") or {}).get("teacher")
    teacher_bleu = (final.get((teacher, "raw")) or {}).get("bleu")
    speed = results.get("speed")
    lines = ["## Latent search with AR rescoring (final checkpoints)", "",
             "| model | data | decoder | BLEU | behind the teacher | ms/sentence (batch 1) | latency ratio vs AR beam 4 |",
             "|---|---|---|---|---|---|---|"]
    for m, d, p in runs:
        s = p["search"]
        default = f"K={s['steps']}"
        for config, label, bleu in ((default, f"{default}, one length", p["bleu"]),
                                    (search_label(s["samples"], s["length_beam"], s["steps"]),
                                     f"{s['samples']} samples × {s['length_beam']} lengths, K={s['steps']}, "
                                     "ranked by the teacher", s["bleu"])):
            timed = _latency(speed, m, d, config)
            behind = None if teacher_bleu is None else teacher_bleu - bleu
            lines.append(f"| {m} | {d} | {label} | {fmt(bleu)} | {fmt(behind)} | {fmt(timed.get('ms_per_sentence'))} "
                         f"| {fmt(timed.get('latency_ratio_vs_ar'))} |")
    temps = sorted({p["search"]["temperature"] for _, _, p in runs})
    lines += ["", f"Behind the teacher: BLEU of the AR teacher `{teacher}` (raw, beam 4: {fmt(teacher_bleu)}) minus "
              "the decoder's. Latent search draws its prior samples at temperature "
              f"{', '.join(f'{t:g}' for t in temps)}, each sentence from its own seeded stream, refines each candidate "
              "and keeps the one the teacher scores highest (log p(ŷ|x)); its latency includes the teacher's scoring. "
              "Latency: the speed stage's interleaved batch-1 timings (n/a where the study ran no speed stage).", ""]
    return lines
