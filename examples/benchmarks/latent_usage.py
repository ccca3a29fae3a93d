"""Measures whether latent models use their latent, on a split of the synthetic corpus (exact C known).

For NAT-MLE: exact log-likelihood and BLEU (one pass). For each latent model: KL per target position and active
dims (from the importance-weighted evaluation), IWAE and ELBO per token, BLEU at K = 0 and K = 1 (one length
candidate, as the study decodes), the share of sentences whose output one refinement step changes, and the
ELBO of the model's own outputs at K = 0 and K = 1. Prints a table with each criterion and writes JSON.

    python examples/benchmarks/latent_usage.py --data BIN --stats synth/stats.json --refs synth/valid.tgt \
        --nat nat.pt --latent ga=ga.pt --latent fl=fl.pt --out latent_usage.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from fairseq_nat_study.scoring.iwae import latent_usage
from fairseq_nat_study.analysis.loglik import evaluate_dataset
from fairseq_nat_study.analysis.speed import build_generator
from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
from fairseq_nat_study.study.evaluate import bleu_scores, decode, output_elbo_per_token


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--stats", required=True, help="stats.json of the synthetic corpus")
    p.add_argument("--refs", required=True, help="reference text of --subset")
    p.add_argument("--subset", default="valid")
    p.add_argument("--nat", required=True)
    p.add_argument("--latent", action="append", required=True, help="NAME=CHECKPOINT")
    p.add_argument("--iw-samples", type=int, default=100)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(2)
    split = json.loads(Path(args.stats).read_text())["splits"][args.subset]
    c_per_token = split["C"] / (split["num_target_tokens"] / split["num_sentences"] + 1)  # per |y| + 1 positions
    refs = Path(args.refs).read_text().splitlines()
    out: dict = {"subset": args.subset, "exact_C_per_sentence": split["C"], "exact_C_per_position": c_per_token,
                 "exact_H_per_position": split["H_joint"] / (split["num_target_tokens"] / split["num_sentences"] + 1)}

    nat, task = load_model_and_task(args.nat, args.data)
    dataset = load_split(task, args.data, args.subset)
    sources = [task.source_dictionary.string(dataset.src[i]) for i in range(len(dataset))]
    nat_hyps = [c[0] for c in decode(nat, task, dataset, build_generator(nat, task, 0, 1))]
    out["nat"] = {"ll_per_token": evaluate_dataset(nat, task, dataset).ll_per_token,
                  "bleu": bleu_scores(nat_hyps, refs, "en", False)["bleu"]}
    print(f"NAT-MLE: LL {out['nat']['ll_per_token']:.4f} nats/token (exact), BLEU {out['nat']['bleu']}")
    print(f"exact: H(Y|X) {out['exact_H_per_position']:.4f}, C {c_per_token:.4f} nats per target position (|y| + 1)")

    for spec in args.latent:
        name, path = spec.split("=", 1)
        start = time.time()
        model, task = load_model_and_task(path, args.data)
        ll = evaluate_dataset(model, task, dataset, iw_samples=args.iw_samples, seed=1)
        usage = latent_usage(ll.extra, sum(ll.num_tokens))
        hyps = {k: [c[0] for c in decode(model, task, dataset, build_generator(model, task, k, 1))] for k in (0, 1)}
        changed = sum(a != b for a, b in zip(hyps[0], hyps[1])) / len(refs)
        elbo_out = {k: output_elbo_per_token(model, task, sources, hyps[k], seed=1)[0] for k in (0, 1)}
        row = {
            "kl_per_position": usage["kl_per_token"], "active_dims": usage["active_units"],
            "latent_dims": usage["latent_dims"], "posterior_mean_variance": usage["posterior_mean_variance"],
            "kl_per_dim_per_position": usage["kl_per_dim_per_token"],
            "iwae_per_token": ll.ll_per_token, "elbo_per_token": ll.per_token("elbo"),
            "bleu_k0": bleu_scores(hyps[0], refs, "en", False)["bleu"],
            "bleu_k1": bleu_scores(hyps[1], refs, "en", False)["bleu"],
            "changed_by_one_step": changed, "output_elbo_k0": elbo_out[0], "output_elbo_k1": elbo_out[1],
            "seconds": round(time.time() - start, 1),
        }
        row["criteria"] = {
            "KL per position >= C/2": row["kl_per_position"] >= 0.5 * c_per_token,
            "active dims >= 2": row["active_dims"] >= 2,
            "one step changes >= 5% of outputs": changed >= 0.05,
            "one step raises the ELBO of the outputs": elbo_out[1] > elbo_out[0],
            "IWAE LL beats NAT-MLE's exact LL": row["iwae_per_token"] > out["nat"]["ll_per_token"],
            "BLEU at K=1 >= NAT-MLE's": row["bleu_k1"] >= out["nat"]["bleu"],
        }
        out[name] = row
        print(f"{name}: KL {row['kl_per_position']:.4f} nats/position (C/2 = {0.5 * c_per_token:.4f}); active dims "
              f"{row['active_dims']} of {row['latent_dims']}; IWAE {row['iwae_per_token']:.4f}, ELBO "
              f"{row['elbo_per_token']:.4f} nats/token; BLEU K=0 {row['bleu_k0']}, K=1 {row['bleu_k1']}; one step "
              f"changes {100 * changed:.1f}% of outputs, ELBO(ŷ) {elbo_out[0]:.4f} -> {elbo_out[1]:.4f}")
        for text, ok in row["criteria"].items():
            print(f"  {'yes' if ok else 'NO '}  {text}")
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
