"""``fairseq-nat-study demo``: the quick study on the synthetic corpus, AR vs NAT-MLE, on a CPU.

synth → fairseq-preprocess → fairseq-train (tiny AR, tiny NAT-MLE) → fairseq-generate → BLEU (sacreBLEU)
and exact per-token log-likelihood of the test references → ``results.json`` and a printed table. The
corpus's exact conditional total correlation C is printed beside the measured gap
NLL(NAT) − NLL(AR), which estimates C from above when both models fit the data (Huang et al. 2022).
Every stage writes a ``.done`` marker and is skipped when rerun, so an interrupted demo resumes.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

logger = logging.getLogger(__name__)

PLUGIN_DIR = str(Path(__file__).resolve().parents[1])

#: Training flags shared by both models (fairseq's own options).
COMMON_TRAIN_FLAGS = [
    "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation", "--optimizer", "adam", "--adam-betas", "(0.9,0.98)",
    "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "200", "--lr", "1e-3", "--max-tokens", "4096",
    "--no-epoch-checkpoints", "--log-interval", "100", "--log-format", "simple", "--cpu",
]


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="working directory (created; reruns resume)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--num-train", type=int, default=10000, help="synthetic training pairs")
    parser.add_argument("--ar-updates", type=int, default=500, help="updates for the AR model")
    parser.add_argument("--nat-updates", type=int, default=1500, help="updates for the NAT-MLE model")


def _stage(out: Path, name: str, fn: Callable[[], Any]) -> None:
    marker = out / f".{name}.done"
    if marker.exists():
        print(f"[demo] {name}: done earlier, skipped", flush=True)
        return
    start = time.time()
    print(f"[demo] {name} ...", flush=True)
    fn()
    marker.write_text(f"{time.time() - start:.1f}\n")
    print(f"[demo] {name}: {time.time() - start:.0f} s", flush=True)


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.analysis.bleu import corpus_bleu, read_lines
    from fairseq_nat_study.analysis.loglik import evaluate_dataset
    from fairseq_nat_study.cli.fairseq_runner import run_fairseq
    from fairseq_nat_study.cli.models import load_model_and_task, load_split
    from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus
    from fairseq_nat_study.distill.extract import parse_hypotheses

    if args.num_train <= 0 or args.ar_updates <= 0 or args.nat_updates <= 0:
        print("fairseq-nat-study demo: error: --num-train, --ar-updates and --nat-updates must be positive")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    raw, bin_dir = out / "data" / "raw", out / "data" / "bin"
    wall = time.time()

    _stage(out, "synth", lambda: write_corpus(SynthConfig(seed=args.seed, num_train=args.num_train), raw))
    _stage(out, "preprocess", lambda: run_fairseq("preprocess", [
        "--source-lang", "src", "--target-lang", "tgt", "--trainpref", raw / "train", "--validpref", raw / "valid",
        "--testpref", raw / "test", "--destdir", bin_dir, "--joined-dictionary", "--workers", "1",
    ], out / "preprocess.log"))

    models = {
        "AR (nat_study_tr_tiny)": ("ar", ["--arch", "nat_study_tr_tiny", "--criterion", "label_smoothed_cross_entropy",
                                           "--label-smoothing", "0.1", "--max-update", str(args.ar_updates)],
                                   ["--beam", "4", "--max-len-a", "1.2", "--max-len-b", "10"]),
        "NAT-MLE (nat_study_nat_tiny)": ("nat", ["--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle",
                                                  "--max-update", str(args.nat_updates)],
                                         ["--iter-decode-max-iter", "0"]),
    }
    refs = read_lines(raw / "test.tgt")
    results: dict[str, Any] = {"stats": json.loads((raw / "stats.json").read_text()), "models": {}}
    for label, (name, train_flags, gen_flags) in models.items():
        ckpt_dir = out / name
        _stage(out, f"train-{name}", lambda: run_fairseq("train", [
            bin_dir, *COMMON_TRAIN_FLAGS, *train_flags, "--save-dir", ckpt_dir, "--seed", str(args.seed),
        ], out / f"train-{name}.log", prefix=f"[{name}] "))
        ckpt = ckpt_dir / "checkpoint_last.pt"
        gen_out = out / f"generate-{name}.txt"
        _stage(out, f"generate-{name}", lambda: run_fairseq("generate", [
            bin_dir, "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation",
            "--path", ckpt, "--gen-subset", "test", "--batch-size", "128", "--cpu", *gen_flags,
        ], out / f"generate-{name}.log", stdout_path=gen_out))
        hyps = parse_hypotheses(gen_out.read_text().splitlines(), len(refs))
        bleu = corpus_bleu(hyps, refs)
        model, task = load_model_and_task(str(ckpt), str(bin_dir))
        ll = evaluate_dataset(model, task, load_split(task, str(bin_dir), "test"))
        results["models"][label] = {
            "bleu": bleu.score, "bleu_signature": bleu.signature, "tokenized_bleu": bleu.tokenized_score,
            "ll_per_token": ll.ll_per_token, "ll_per_sentence": ll.ll_per_sentence, "estimator": ll.estimator,
            "num_hypotheses": len(hyps), "num_references": len(refs),
        }
    _report(results, out, time.time() - wall)
    return 0


def _report(results: dict[str, Any], out: Path, seconds: float) -> None:
    (ar, nat) = results["models"].values()
    test_stats = results["stats"]["splits"]["test"]
    results["C_exact_test_per_sentence"] = test_stats["C"]
    results["C_hat_test_per_sentence"] = ar["ll_per_sentence"] - nat["ll_per_sentence"]
    results["seconds"] = round(seconds, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print("\n| model | BLEU | LL (nats/token) | LL (nats/sentence) | hypotheses |")
    print("|---|---|---|---|---|")
    for label, r in results["models"].items():
        print(f"| {label} | {r['bleu']:.2f} | {r['ll_per_token']:.4f} | {r['ll_per_sentence']:.3f} | "
              f"{r['num_hypotheses']}/{r['num_references']} |")
    print(f"\nBLEU: {ar['bleu_signature']}")
    print(f"Exact C of the test split: {test_stats['C']:.3f} nats/sentence; "
          f"NLL(NAT) - NLL(AR) = {results['C_hat_test_per_sentence']:.3f} nats/sentence "
          "(an estimate of C once both models fit the data)")
    print(f"Results: {out / 'results.json'}  ({seconds:.0f} s)")
