"""``fairseq-nat-study bench``: decoding latency and throughput of several checkpoints, side by side.

Example: ``fairseq-nat-study bench --path ar.pt --path nat.pt --path ga.pt --data BIN --batch-size 1 128
--refine-steps 0 1 2 4`` prints a Markdown table, one row per decoder: latency at batch 1 (ms/sentence, its
ratio to AR beam search, to one NAT pass and to the decoder's pass-count limit) and throughput at each larger
batch size (sentences/s and its ratio to AR beam search at that size), all measured in one run with the
configurations interleaved (``analysis.speed``); writes JSON with ``--out``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys

import torch

from fairseq_nat_study.cli.arg_types import non_negative_int, positive_int, seed


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path", action="append", required=True, help="checkpoint (repeat for several)")
    parser.add_argument("--data", required=True, help="binarised data directory")
    parser.add_argument("--subset", default="test", help="split to decode")
    parser.add_argument("--batch-size", type=positive_int, nargs="+", default=[1, 128],
                        help="batch sizes: 1 times latency, larger ones throughput")
    parser.add_argument("--refine-steps", type=non_negative_int, nargs="+", default=[0, 1, 2, 4],
                        help="K for latent models")
    parser.add_argument("--beam", type=positive_int, default=4, help="beam size of AR models")
    parser.add_argument("--latency-sentences", type=positive_int, default=100,
                        help="sentences timed at batch size 1, drawn at random from the split (seeded)")
    parser.add_argument("--repeats", type=positive_int, default=5,
                        help="interleaved timed passes per configuration (median kept)")
    parser.add_argument("--seed", type=seed, default=1, help="seed of the batch-1 sentence sample")
    parser.add_argument("--threads", type=positive_int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--cpu", action="store_true", help="stay on the CPU even if CUDA is available")


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.analysis.loglik import UnsupportedModelError, model_family
    from fairseq_nat_study.analysis.speed import benchmark, ratios, reference_strings
    from fairseq_nat_study.cli.errors import fail, missing_dir, missing_file, missing_out_dir

    for message in (missing_out_dir(args.out), *(missing_file(p, "--path", "checkpoint") for p in args.path),
                    missing_dir(args.data, "--data", "binarised data directory")):
        if message is not None:
            return fail("bench", message)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        models = []
        for path in args.path:  # every checkpoint is loaded and checked before any timing
            model, task = load_model_and_task(path, args.data, cpu=args.cpu)
            try:
                model_family(model)
            except UnsupportedModelError as err:
                raise ValueError(f"--path {path}: {err}") from err
            models.append((path, model, task))
        first_task = models[0][2]
        dataset = load_split(first_task, args.data, args.subset)
        refs = reference_strings(first_task, dataset)
    except (FileNotFoundError, ValueError) as err:
        return fail("bench", err)
    rows = ratios(benchmark(
        models, lambda task: load_split(task, args.data, args.subset), refs, args.batch_size, args.refine_steps,
        args.beam, args.latency_sentences, progress=lambda line: print(line, file=sys.stderr, flush=True),
        repeats=args.repeats, seed=args.seed,
    ))
    hardware = {"device": str(next(models[0][1].parameters()).device),
                "torch_threads": torch.get_num_threads(), "processor": platform.processor() or platform.machine()}
    print(f"\nhardware: {hardware}; AR length cap 1.2·|x| + 10; subset {args.subset} ({len(refs)} sentences); "
          f"batch 1: {args.latency_sentences} sentences drawn at random (seed {args.seed}); median of "
          f"{args.repeats} interleaved passes\n")
    print("\n".join(markdown_table(rows, args.beam)))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"hardware": hardware, "subset": args.subset, "repeats": args.repeats, "seed": args.seed,
                       "rows": rows}, f, indent=1)
    return 0


def markdown_table(rows: list[dict], beam: int) -> list[str]:
    """One row per decoder: batch-1 latency and its ratios, then throughput per larger batch size."""
    from fairseq_nat_study.study.report.formatting import cell
    from fairseq_nat_study.study.report.speed_table import ratio_cells, ratio_header

    large = sorted({r["batch_size"] for r in rows if r["batch_size"] > 1})
    head = ["model", "decoder", *ratio_header(beam, large), "BLEU"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    keys = list(dict.fromkeys((r["model"], r["config"]) for r in rows))
    for key in keys:
        mine = {r["batch_size"]: r for r in rows if (r["model"], r["config"]) == key}
        cells = [*key, *ratio_cells(mine, large), mine[max(mine)]["bleu"]]
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return lines
