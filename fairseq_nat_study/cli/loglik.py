"""``fairseq-nat-study loglik``: log-likelihood of a split's references under one checkpoint.

Exact for autoregressive and ``nat_study_nat`` models; for latent models the sequence-level IWAE-K estimate
of log p(y|x) (including log p(T|x)) with the ELBO beside it (see :mod:`fairseq_nat_study.scoring.iwae`).
Writes a JSON file with the per-sentence values and the averages, and prints a one-line summary.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from fairseq_nat_study.cli.arg_types import positive_int, seed

logger = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path", required=True, help="checkpoint (.pt) to score with")
    parser.add_argument("--data", required=True, help="binarised data directory (fairseq-preprocess output)")
    parser.add_argument("--subset", default="test", help="split to score")
    parser.add_argument("--iw-samples", type=positive_int, default=100, help="importance samples K for latent models")
    parser.add_argument("--seed", type=seed, default=1, help="seed of the importance samples")
    parser.add_argument("--max-tokens", type=positive_int, default=4096, help="tokens per batch")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--cpu", action="store_true", help="stay on the CPU even if CUDA is available")


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.analysis.loglik import UnsupportedModelError, evaluate_dataset
    from fairseq_nat_study.cli.errors import fail, missing_dir, missing_file, missing_out_dir, too_small_batch

    for message in (missing_out_dir(args.out), missing_file(args.path, "--path", "checkpoint"),
                    missing_dir(args.data, "--data", "binarised data directory")):
        if message is not None:  # before the split is scored: the output must be writable first
            return fail("loglik", message)
    try:
        model, task = load_model_and_task(args.path, args.data, cpu=args.cpu)
        dataset = load_split(task, args.data, args.subset)
    except (FileNotFoundError, UnsupportedModelError, ValueError) as err:
        return fail("loglik", err)
    if (message := too_small_batch(dataset, args.max_tokens)) is not None:
        return fail("loglik", message)
    start = time.time()

    def progress(done: int, total: int) -> None:
        print(f"\rloglik: {done}/{total} sentences", end="", file=sys.stderr, flush=True)

    try:
        result = evaluate_dataset(model, task, dataset, max_tokens=args.max_tokens, progress=progress,
                                  iw_samples=args.iw_samples, seed=args.seed)
    except (UnsupportedModelError, ValueError) as err:
        return fail("loglik", f"--subset {args.subset} of {args.data}: {err}")
    print(file=sys.stderr)
    report = loglik_report(result, args.path, args.subset)
    if "latent_usage" in report:
        u = report["latent_usage"]
        print(f"latent: ELBO {report['elbo_per_token']:.4f} nats/token beside IWAE {report['ll_per_token']:.4f}; "
              f"KL {u['kl_per_token']:.4f} nats/position; {u['active_units']} of {u['latent_dims']} dims active",
              file=sys.stderr)
    report["seconds"] = round(time.time() - start, 2)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(
        f"{args.subset}: {report['num_sentences']} sentences, {report['num_tokens']} tokens, "
        f"LL {report['ll_per_sentence']:.3f} nats/sentence, {report['ll_per_token']:.4f} nats/token "
        f"({report['estimator']}) -> {args.out}"
    )
    return 0


def loglik_report(result: "LoglikResult", path: str, subset: str) -> dict:  # noqa: F821
    """The JSON record of a log-likelihood evaluation (latent models: ``latent_usage`` beside IWAE and ELBO)."""
    from fairseq_nat_study.scoring.iwae import latent_usage

    usage = {"latent_usage": latent_usage(result.extra, sum(result.num_tokens))} if "elbo" in result.extra else {}
    return {
        "checkpoint": path,
        "subset": subset,
        "estimator": result.estimator,
        "num_sentences": len(result.ll),
        "num_tokens": sum(result.num_tokens),
        "ll_per_sentence": result.ll_per_sentence,
        "ll_per_token": result.ll_per_token,
        "token_count_convention": "|y| + 1 (target tokens plus EOS) for every model family",
        **({"elbo_per_token": result.per_token("elbo"), "elbo_per_sentence": sum(result.extra["elbo"]) / max(len(result.ll), 1)}
           if "elbo" in result.extra else {}),
        **usage,
        "sentence_ll": result.ll,
        "sentence_num_tokens": result.num_tokens,
        **{f"sentence_{k}": v for k, v in result.extra.items() if not k.startswith("_")},
    }
