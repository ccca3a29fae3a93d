"""``fairseq-nat-study evaluate``: the study's evaluation of one training run directory (the recipes' eval stage).

Every saved checkpoint of ``--run-dir`` (``checkpoint_<epoch>_<updates>.pt`` from fairseq's
``--save-interval-updates``, or ``checkpoint_at_<updates>.pt``) gets BLEU and the LL of the real test
references; ``checkpoint_last.pt`` also gets the refinement table, candidate diversity and decoding speed.
Writes ``--out`` (default ``RUN_DIR/eval.json``, which ``fairseq-nat-study collect`` turns into the report); an
existing record is replaced only with ``--force``.

With ``--study OUT --run <model>-<raw|dist> --test PREFIX --out FILE`` it scores a finished study run's final
checkpoint on any parallel text ``PREFIX.<src>`` / ``PREFIX.<tgt>``, prepared as the study prepared its test split
(:mod:`~fairseq_nat_study.study.score_text`), with the study's evaluation settings; ``--out`` may not lie inside
the study directory.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from fairseq_nat_study.cli.arg_types import non_negative_int, seed


#: the refusal to replace an existing record without --force (both modes)
_RECORD_THERE = "--out {out}: a record is there already; add --force to replace it or give another --out"


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", help="a finished study's --out (OUT/seed-<s> for a study with seeds): score one of "
                                         "its runs on --test; needs --run, --test and --out")
    parser.add_argument("--run", help="with --study: the run, <model>-raw or <model>-dist (its folder under OUT/runs)")
    parser.add_argument("--test", help="with --study: parallel text PREFIX.<src> and PREFIX.<tgt>, raw or tokenized as "
                                       "the study's data were given")
    parser.add_argument("--lowercase", action="store_true", help="with --study: lower-case --test first")
    parser.add_argument("--join-hyphens", action="store_true",
                        help="with --study: join WMT's split hyphens (a ##AT##-##AT## b -> a-b) of --test first")
    parser.add_argument("--run-dir", help="fairseq --save-dir of the run (without --study)")
    parser.add_argument("--data", help="the raw data-bin (its test split is scored; without --study)")
    parser.add_argument("--refs", help="tokenized test references, no BPE (prepare's text/test.TGT; without --study)")
    parser.add_argument("--name", help="the run's name in the report, e.g. ga_base (without --study)")
    parser.add_argument("--condition", choices=("raw", "dist"), help="what the run was trained on (without --study)")
    parser.add_argument("--family", choices=("ar", "nat", "glat", "latent"),
                        help="model family (default: read from the checkpoint)")
    parser.add_argument("--lang", help="target language (for detokenising before sacreBLEU; without --study)")
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

    if args.study:
        return _score_study_run(args)
    missing = [f"--{k.replace('_', '-')}" for k in ("run_dir", "data", "refs", "name", "condition", "lang")
               if not getattr(args, k)]
    if missing:
        return fail("evaluate", f"the following arguments are required: {', '.join(missing)} (or score a study's "
                                "run with --study, --run, --test and --out)")
    out = Path(args.out) if args.out else Path(args.run_dir) / "eval.json"
    for message in (missing_dir(args.run_dir, "--run-dir", "run directory (fairseq's --save-dir)"),
                    missing_dir(args.data, "--data", "binarised data directory"),
                    missing_file(args.refs, "--refs", "reference file"),
                    missing_out_dir(str(out), "--out")):
        if message is not None:
            return fail("evaluate", message)
    if out.exists() and not args.force:
        return fail("evaluate", _RECORD_THERE.format(out=out))
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


def _score_study_run(args: argparse.Namespace) -> int:
    """``--study`` mode: a finished study run scored on ``--test`` (:func:`~fairseq_nat_study.study.score_text.score_text`)."""
    from fairseq_nat_study.analysis.loglik import UnsupportedModelError
    from fairseq_nat_study.cli.errors import fail, missing_dir, missing_out_dir
    from fairseq_nat_study.study.config import StudyConfigError
    from fairseq_nat_study.study.score_text import score_text

    missing = [flag for flag, value in (("--run", args.run), ("--test", args.test), ("--out", args.out)) if not value]
    if missing:
        return fail("evaluate", f"--study needs {', '.join(missing)} (the run, the text to score, the record to write)")
    for message in (missing_dir(args.study, "--study", "study directory (a study's --out)"),
                    missing_out_dir(args.out, "--out")):
        if message is not None:
            return fail("evaluate", message)
    out = Path(args.out)
    if out.exists() and not args.force:
        return fail("evaluate", _RECORD_THERE.format(out=out))
    try:
        record = score_text(Path(args.study), args.run, Path(args.test), out, lowercase=args.lowercase,
                            join_hyphens=args.join_hyphens, cpu=args.cpu,
                            progress=lambda s: print(f"[evaluate] {s}", flush=True))
    except (StudyConfigError, FileNotFoundError, ValueError, UnsupportedModelError) as err:
        return fail("evaluate", err)
    except UnicodeDecodeError as err:
        return fail("evaluate", f"--test {args.test}: not UTF-8 text ({err.reason} at byte {err.start})")
    final = record["points"][-1]
    print(f"[evaluate] {args.run} on {record['scored_on']['text']}: BLEU {final['bleu']}, LL {final['ll_per_token']} "
          f"nats/token ({record['scored_on']['sentences']} sentences) -> {out}")
    return 0
