"""``fairseq-nat-study evaluate``: the study's evaluation of one training run directory (the recipes' eval stage).

Every saved checkpoint of ``--run-dir`` (``checkpoint_<epoch>_<updates>.pt`` from fairseq's
``--save-interval-updates``, or ``checkpoint_at_<updates>.pt``) gets BLEU and the LL of the real test
references; ``checkpoint_last.pt`` also gets the refinement table, candidate diversity and decoding speed.
Writes ``--out`` (default ``RUN_DIR/eval.json``, which ``fairseq-nat-study collect`` turns into the report); an
existing record is replaced only with ``--force``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from fairseq_nat_study.cli.arg_types import non_negative_int, seed


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", required=True, help="fairseq --save-dir of the run")
    parser.add_argument("--data", required=True, help="the raw data-bin (its test split is scored)")
    parser.add_argument("--refs", required=True, help="tokenized test references, no BPE (prepare's text/test.TGT)")
    parser.add_argument("--name", required=True, help="the run's name in the report, e.g. ga_base")
    parser.add_argument("--condition", choices=("raw", "dist"), required=True, help="what the run was trained on")
    parser.add_argument("--family", choices=("ar", "nat", "glat", "latent"),
                        help="model family (default: read from the checkpoint)")
    parser.add_argument("--lang", required=True, help="target language (for detokenising before sacreBLEU)")
    parser.add_argument("--compound-split", action="store_true", help="also compound-split BLEU (WMT'14 En-De)")
    # the settings a study config's "eval" section also has are range-checked by validate_eval, with its words
    parser.add_argument("--decode-steps", type=int, default=1,
                        help="delta-posterior steps of latent models")
    parser.add_argument("--refine-steps", type=int, nargs="+", default=[0, 1, 2, 4, 8],
                        help="refinement steps of the refinement table")
    parser.add_argument("--length-beam", type=int, default=4, help="length candidates for diversity")
    parser.add_argument("--iw-samples", type=int, default=20, help="importance samples for latent-model LL")
    parser.add_argument("--max-checkpoints", type=non_negative_int, default=0,
                        help="evaluate at most this many saved checkpoints, evenly spread (0: all)")
    parser.add_argument("--last-checkpoints", type=int, default=5,
                        help="also evaluate the last N checkpoints up to the final one: the within-model Pearson r "
                             "of the trained model (0: off)")
    parser.add_argument("--bench-sentences", type=int, default=100, help="sentences timed at batch size 1")
    parser.add_argument("--bench-batch", type=int, default=128, help="batch size of the throughput figure")
    parser.add_argument("--seed", type=seed, default=1, help="seed of sampling and of the timed sentences")
    parser.add_argument("--out", help="the record to write (default: RUN_DIR/eval.json)")
    parser.add_argument("--force", action="store_true", help="replace an existing record at --out")
    parser.add_argument("--cpu", action="store_true", help="stay on the CPU even if CUDA is available")


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.analysis.loglik import UnsupportedModelError
    from fairseq_nat_study.cli.errors import fail, missing_dir, missing_file, missing_out_dir
    from fairseq_nat_study.study.config import EvalConfig, StudyConfigError, validate_eval
    from fairseq_nat_study.study.run_eval import evaluate_run

    out = Path(args.out) if args.out else Path(args.run_dir) / "eval.json"
    for message in (missing_dir(args.run_dir, "--run-dir", "run directory (fairseq's --save-dir)"),
                    missing_dir(args.data, "--data", "binarised data directory"),
                    missing_file(args.refs, "--refs", "reference file"),
                    missing_out_dir(str(out), "--out")):
        if message is not None:
            return fail("evaluate", message)
    if out.exists() and not args.force:
        return fail("evaluate", f"--out {out}: a record is there already; add --force to replace it or give "
                                "another --out")
    ev = EvalConfig(refine_steps=args.refine_steps, decode_steps=args.decode_steps, iw_samples=args.iw_samples,
                    length_beam=args.length_beam, bench_sentences=args.bench_sentences, bench_batch=args.bench_batch,
                    compound_split=args.compound_split, last_checkpoints=args.last_checkpoints)
    try:
        validate_eval(ev)
        refs = Path(args.refs).read_text(encoding="utf-8").splitlines()
    except StudyConfigError as err:
        return fail("evaluate", err)
    except UnicodeDecodeError as err:
        return fail("evaluate", f"--refs {args.refs}: not UTF-8 text ({err.reason} at byte {err.start})")
    try:
        record = evaluate_run(Path(args.run_dir), Path(args.data), refs, ev, name=args.name, data=args.condition,
                              lang=args.lang, compound=args.compound_split, family=args.family, seed=args.seed,
                              cpu=args.cpu, max_checkpoints=args.max_checkpoints,
                              progress=lambda s: print(f"[evaluate] {s}", flush=True), out=out)
    except (FileNotFoundError, ValueError, UnsupportedModelError) as err:
        return fail("evaluate", err)
    final = record["points"][-1]
    print(f"[evaluate] {args.name}-{args.condition}: BLEU {final['bleu']}, LL {final['ll_per_token']} nats/token "
          f"({len(record['points'])} checkpoints) -> {out}")
    return 0
