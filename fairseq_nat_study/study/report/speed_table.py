"""The report's speed section: decoding latency (batch 1) and throughput (large batch) of every run's final
checkpoint, each as its own ratio to AR beam 4 on the same data, with each non-autoregressive decoder's
pass-count limit, and the candidate diversity beside.

``ratio_header`` / ``ratio_cells`` are the columns of one decoder's timings, shared with
``fairseq-nat-study bench``. A study's speed stage (``study/speed_stage.py``) times all runs side by side,
interleaved, in one process; its rows are ``results["speed"]``. Records made by ``fairseq-nat-study evaluate``
(the recipes) time each model in its own evaluation, and the section says so.
"""
from __future__ import annotations

from typing import Any

from fairseq_nat_study.study.report.formatting import cell


def ratio_header(beam: int, large: list[int]) -> list[str]:
    """Column names of one decoder's timings (``ratio_cells``): batch-1 latency and its ratios, then the
    throughput at each larger batch size and its ratio."""
    return (["ms/sentence (batch 1)", f"latency ratio vs AR beam {beam}", "× one NAT pass", "pass-count limit ms",
             "× limit"]
            + [h for b in large for h in (f"sentences/s (batch {b})", f"throughput ratio vs AR beam {beam} (batch {b})")])


def ratio_cells(by_batch: dict[int, dict[str, Any]], large: list[int]) -> list[Any]:
    """The figures under ``ratio_header`` of one decoder, from its ``ratios`` rows keyed by batch size (None where
    a row or a figure is missing)."""
    one = by_batch.get(1, {})
    cells = [one.get(k) for k in ("ms_per_sentence", "latency_ratio_vs_ar", "vs_nat_pass", "limit_ms_per_sentence",
                                  "vs_limit")]
    for b in large:
        cells += [by_batch.get(b, {}).get("sentences_per_second"), by_batch.get(b, {}).get("throughput_ratio_vs_ar")]
    return cells


def latencies(results: dict[str, Any], final: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], float]:
    """(model, data) -> ms/sentence at batch 1 of the run's default decoder."""
    speed = results.get("speed")
    if speed:
        default = {"ar": "beam 4", "nat": "1 pass", "latent": f"K={speed.get('default_steps', 1)}"}
        return {(r["model"], r["data"]): r["ms_per_sentence"] for r in speed["rows"]
                if r["batch_size"] == 1 and r["config"] == default.get(r["family"])}
    return {key: p["speed"]["latency_ms"] for key, p in final.items() if "speed" in p}


def speed_table(results: dict[str, Any], final: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """Markdown lines of the speed section."""
    speed = results.get("speed")
    if speed:
        return _interleaved(speed, final)
    return _separate(final)


def _interleaved(speed: dict[str, Any], final: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    batch = speed["batch"]
    head = ["model", "data", "decoder", *ratio_header(4, [batch]), "BLEU", "diversity"]
    lines = ["## Decoding speed and diversity (final checkpoints, timed side by side)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    keys = list(dict.fromkeys((r["model"], r["data"], r["config"]) for r in speed["rows"]))
    for m, d, config in keys:
        mine = {r["batch_size"]: r for r in speed["rows"] if (r["model"], r["data"], r["config"]) == (m, d, config)}
        p = final.get((m, d), {})
        diversity = None if config.startswith("search") else p.get("diversity")  # search: one output kept
        for entry in p.get("refinement") or []:  # a latent decoder's own K
            if config == f"K={entry['steps']}":
                diversity = entry["diversity"]
        bleu = mine.get(1, mine.get(batch, {})).get("bleu")
        cells = [m, d, config, *ratio_cells(mine, [batch]), bleu, diversity]
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return lines + [
        "", f"Every configuration decoded in one process, {speed['repeats']} passes each, interleaved (each pass times "
        "every configuration in turn), median kept; torch threads: "
        f"{speed['threads']}. Batch 1: {speed['latency_sentences']} sentences drawn at random from the test split "
        f"(seed {speed['seed']}); batch {batch}: the whole split. Latency ratio: AR ms/sentence ÷ the decoder's; "
        "throughput ratio: the decoder's sentences/s ÷ AR's; both against AR beam 4 trained on the same data. "
        "Pass-count limit: the network passes the decoder's algorithm needs, each timed on the same sentences "
        "(`analysis/pass_limit.py`); × limit is what the generator adds. BLEU here: sacreBLEU of the timed "
        "outputs on BPE-joined text against the binarised references (the tables above hold the study's BLEU). "
        "Diversity: 100 − mean pairwise sentence-BLEU of the candidates (n/a for NAT/GLAT: fairseq's NAT generator "
        "keeps only the best length candidate).", ""]


def _separate(final: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    lines = ["## Decoding speed and diversity (final checkpoints, each timed in its own evaluation)", "",
             "| model | data | decoder | ms/sentence (batch 1) | latency ratio vs AR beam 4 (batch 1) | "
             "sentences/s (large batch) | throughput ratio vs AR beam 4 (large batch) | threads | BLEU | diversity |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ar_speed = {d: p["speed"] for (m, d), p in final.items() if p["group"] == "ar" and "speed" in p}
    for (m, d), p in final.items():
        s = p.get("speed", {})
        ar = ar_speed.get(d) if s else None
        latency = round(ar["latency_ms"] / s["latency_ms"], 2) if ar else None
        throughput = round(s["throughput"] / ar["throughput"], 2) if ar else None
        lines.append(f"| {m} | {d} | {s.get('decoder')} | {cell(s.get('latency_ms'))} | {cell(latency)} | "
                     f"{cell(s.get('throughput'))} | {cell(throughput)} | {cell(s.get('threads'))} | "
                     f"{cell(p['bleu'])} | {cell(p.get('diversity'))} |")
    return lines + ["", "Latency ratio: AR ms/sentence ÷ the model's, at batch 1 (sentences drawn at random from the "
                    "test split); throughput ratio: the model's sentences/s ÷ AR's, at the large batch; medians of 5 "
                    "passes, each model timed in its own evaluation, not side by side: for ratios measured "
                    "interleaved and the pass-count limits, run `fairseq-nat-study bench` on the final checkpoints "
                    "(the study's own speed stage does). Diversity n/a for NAT/GLAT: fairseq's NAT generator keeps "
                    "only the best length candidate.", ""]
