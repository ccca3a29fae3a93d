"""``fairseq-nat-study bench``: decoding latency and throughput of several checkpoints, side by side.

Example: ``fairseq-nat-study bench --path ar.pt --path ga.pt --data BIN --batch-size 1 128
--refine-steps 0 1 2 4`` prints a Markdown table (ms/sentence, sentences/s, speed-up over AR beam search at
the same batch size, BLEU of the timed outputs) and writes JSON with ``--out``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys

import torch


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path", action="append", required=True, help="checkpoint (repeat for several)")
    parser.add_argument("--data", required=True, help="binarised data directory")
    parser.add_argument("--subset", default="test")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1, 128])
    parser.add_argument("--refine-steps", type=int, nargs="+", default=[0, 1, 2, 4], help="K for latent models")
    parser.add_argument("--beam", type=int, default=4, help="beam size of AR models")
    parser.add_argument("--latency-sentences", type=int, default=100, help="sentences timed at batch size 1")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per configuration (fastest kept)")
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--cpu", action="store_true")


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.analysis.loglik import UnsupportedModelError, model_family
    from fairseq_nat_study.analysis.speed import benchmark, speedups
    from fairseq_nat_study.cli.errors import fail, missing_out_dir

    for flag, values in (("--batch-size", args.batch_size), ("--latency-sentences", [args.latency_sentences]),
                         ("--repeats", [args.repeats]), ("--beam", [args.beam])):
        if min(values) < 1:
            return fail("bench", f"{flag} must be >= 1, got {min(values)}")
    if min(args.refine_steps) < 0:
        return fail("bench", f"--refine-steps must be >= 0, got {min(args.refine_steps)}")
    if (message := missing_out_dir(args.out)) is not None:
        return fail("bench", message)
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
        tgt = first_task.target_dictionary
        refs = [tgt.string(dataset.tgt[i]) for i in range(len(dataset))]
    except (FileNotFoundError, ValueError) as err:
        return fail("bench", err)
    rows = speedups(benchmark(
        models, lambda task: load_split(task, args.data, args.subset), refs, args.batch_size, args.refine_steps,
        args.beam, args.latency_sentences, progress=lambda line: print(line, file=sys.stderr, flush=True),
        repeats=args.repeats,
    ))
    hardware = {"device": str(next(models[0][1].parameters()).device),
                "torch_threads": torch.get_num_threads(), "processor": platform.processor() or platform.machine()}
    print(f"\nhardware: {hardware}; AR length cap 1.2·|x| + 10; subset {args.subset} ({len(refs)} sentences); "
          f"fastest of {args.repeats} passes\n")
    print("| model | decoder | batch | sentences | ms/sentence | sentences/s | speed-up vs AR | BLEU |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['config']} | {r['batch_size']} | {r['sentences']} | {r['ms_per_sentence']} | "
              f"{r['sentences_per_second']} | {r['speedup_vs_ar']} | {r['bleu']} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"hardware": hardware, "subset": args.subset, "rows": rows}, f, indent=1)
    return 0
