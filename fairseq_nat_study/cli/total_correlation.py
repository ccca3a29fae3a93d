"""``fairseq-nat-study total-correlation``: Ĉ = NLL(NAT-MLE) − NLL(AR) of a split, per sentence and per token.

See :mod:`fairseq_nat_study.analysis.total_correlation` for what the estimate is and is not. With
``--glat-ratio r`` it estimates the GLAT proxy's Ĉ on the unrevealed tokens. ``--stats`` (a synthetic corpus's
``stats.json``) prints the exact C of the split beside the estimate.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ar", required=True, help="autoregressive checkpoint")
    parser.add_argument("--nat", required=True, help="NAT-MLE (or GLAT) checkpoint trained on the same data")
    parser.add_argument("--data", required=True, help="binarised data directory")
    parser.add_argument("--subset", default="test")
    parser.add_argument("--glat-ratio", type=float, default=0.0, help="> 0: the GLAT proxy with this ratio")
    parser.add_argument("--seed", type=int, default=1, help="seed of the glancing positions")
    parser.add_argument("--stats", help="stats.json of a synthetic corpus: print the exact C beside Ĉ")
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--cpu", action="store_true")


def estimate(ar: Any, ar_task: Any, nat: Any, nat_task: Any, data: str, subset: str, glat_ratio: float = 0.0,
             seed: int = 1, max_tokens: int = 4096) -> dict[str, Any]:
    """Ĉ of one split as a JSON-ready dict (raises ValueError on mismatched models)."""
    import torch

    from fairseq_nat_study.analysis.loglik import evaluate_dataset, iterate_batches, model_family, model_max_positions
    from fairseq_nat_study.analysis.total_correlation import glat_proxy_terms, same_dictionaries
    from fairseq_nat_study.cli.models import load_split

    if model_family(ar) != "ar":
        raise ValueError(f"--ar: {type(ar).__name__} is not an autoregressive model")
    if model_family(nat) != "nat":
        raise ValueError(f"--nat: {type(nat).__name__} is not a nat_study_nat/nat_study_glat model")
    if not same_dictionaries(ar_task, nat_task):
        raise ValueError("--ar and --nat use different dictionaries; both must be trained on the same binarised data")
    if not 0.0 <= glat_ratio <= 1.0:
        raise ValueError(f"--glat-ratio must be in [0, 1], got {glat_ratio}")
    dataset = load_split(nat_task, data, subset)
    n = len(dataset)
    if glat_ratio == 0.0:
        ll_ar = evaluate_dataset(ar, ar_task, dataset, max_tokens)
        ll_nat = evaluate_dataset(nat, nat_task, dataset, max_tokens)
        lar, lnat, ntok = ll_ar.ll, ll_nat.ll, ll_ar.num_tokens
        estimator, tokens_counted = "raw: NLL_NAT - NLL_AR over y </s> (length/EOS included)", "|y| + 1"
    else:
        lar, lnat, ntok = [0.0] * n, [0.0] * n, [0] * n
        gen = torch.Generator().manual_seed(seed)
        positions = model_max_positions(nat, nat_task)
        for sample in iterate_batches(nat_task, dataset, max_tokens, max_positions=positions):
            if not sample:
                continue
            a, b, k = glat_proxy_terms(nat, ar, sample, glat_ratio, gen)
            for i, sid in enumerate(sample["id"].tolist()):
                lnat[sid], lar[sid], ntok[sid] = float(a[i]), float(b[i]), int(k[i])
        estimator, tokens_counted = f"glat-proxy r={glat_ratio}: unrevealed tokens only", "unrevealed tokens"
    c_hat = [a - b for a, b in zip(lar, lnat)]
    return {
        "subset": subset, "estimator": estimator, "num_sentences": n, "num_tokens": sum(ntok),
        "tokens_counted": tokens_counted,
        "C_hat_per_sentence": sum(c_hat) / n, "C_hat_per_token": sum(c_hat) / max(sum(ntok), 1),
        "nll_ar_per_sentence": -sum(lar) / n, "nll_nat_per_sentence": -sum(lnat) / n,
        "note": "difference of two upper bounds (NLL_NAT >= H + C, NLL_AR >= H in expectation): "
                "close to C only when both models fit the data",
        "sentence_C_hat": c_hat,
    }


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.analysis.loglik import UnsupportedModelError
    from fairseq_nat_study.cli.models import load_model_and_task

    try:
        ar, ar_task = load_model_and_task(args.ar, args.data, cpu=args.cpu)
        nat, nat_task = load_model_and_task(args.nat, args.data, cpu=args.cpu)
        print(f"total-correlation: scoring {args.subset} with both models ...", file=sys.stderr, flush=True)
        report = estimate(ar, ar_task, nat, nat_task, args.data, args.subset, args.glat_ratio, args.seed, args.max_tokens)
    except (FileNotFoundError, ValueError, UnsupportedModelError) as err:
        print(f"fairseq-nat-study total-correlation: error: {err}", file=sys.stderr)
        return 2
    line = (f"{args.subset}: Ĉ = {report['C_hat_per_sentence']:.4f} nats/sentence, "
            f"{report['C_hat_per_token']:.4f} nats/token ({report['estimator']})")
    if args.stats:
        with open(args.stats) as f:
            exact = json.load(f)["splits"].get(args.subset)
        if exact is not None:
            report["C_exact_per_sentence"] = exact["C"]
            line += f"; exact C of the split: {exact['C']:.4f} nats/sentence"
    report.update(ar_checkpoint=args.ar, nat_checkpoint=args.nat, data=args.data)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(line + f" -> {args.out}")
    return 0
