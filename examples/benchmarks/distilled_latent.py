"""Does a Gaussian latent model's unused latent on distilled data cost it ELBO? Retrains a study's latent run on
its distilled data with the KL budget kept longer, and sets the true ELBO it reaches beside the study's run.

The study's run (``RUN = STUDY/runs/<model>-dist``) anneals the per-position KL budget over ``--run-updates``
(the model's ``schedule_updates``). Three variants, trained side by side with one torch thread each, with the
study's own flags otherwise (same data, arch, seed, optimiser, validation every ``valid_every`` updates,
patience, cap):

- ``annealed over the cap``: the budget is held for the first half of the cap and annealed to 0 at the cap;
- ``budget held``: the budget (1 nat per position) is never annealed, so the latent stays in use; the selection
  metric is still the true ELBO, which pays the whole KL;
- ``KL weight annealed, no budget``: the flow prior's kind of objective (no budget; the KL weight rises from 0.1
  to 1 over the schedule), which finds a code shared between positions on the two-mode corpus
  (``docs/BENCHMARKS.md``).

For each run it prints, at its best validation, the true ELBO per token, the reconstruction per token, the KL
per position and the active dims (fairseq's validation line), and at its last validation the same. A variant
whose true ELBO is no better than the study's run although it keeps more KL shows that the latent's
information costs more KL than it saves in reconstruction on these data.

    python examples/benchmarks/distilled_latent.py STUDY_OUT [--model ga_tiny] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from fairseq_nat_study.study.config import build
from fairseq_nat_study.study.pipeline import train_args
from fairseq_nat_study.training.early_stopping import read_record

TERMS = ("elbo_per_token", "reconstruction", "kl", "active_dims", "kl_budget")


def slug(name: str) -> str:
    """A variant's folder name: ``"budget held"`` → ``budget_held``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")


def valid_lines(log_text: str) -> dict[int, dict[str, float]]:
    """``{updates: {term: value}}`` from the ``valid on`` lines of a fairseq-train log."""
    out: dict[int, dict[str, float]] = {}
    for line in log_text.splitlines():
        if "valid on" not in line:
            continue
        fields = dict(f.strip().split(" ", 1) for f in line.split("|")[1:] if " " in f.strip())
        try:
            out[int(float(fields["num_updates"]))] = {t: float(fields[t]) for t in TERMS if t in fields}
        except (KeyError, ValueError):
            continue
    return out


def summary(run_dir: Path) -> dict[str, object]:
    """Best and last validation of a segmented run (its ``training.json`` and its logs)."""
    record = read_record(run_dir)
    if record is None:
        raise SystemExit(f"distilled_latent: {run_dir} has no training.json (not trained, or still training)")
    values: dict[int, dict[str, float]] = {}
    for log in sorted(run_dir.glob("*.log")):  # the study's train-<attempt>.log, or a variant's train.log
        values.update(valid_lines(log.read_text(errors="replace")))
    best, last = record["best_updates"], record["updates"]
    return {"stopped": f"{record['stopped']} at {last}", "best": best, "at_best": values.get(best, {}),
            "at_last": values.get(last, {})}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study", type=Path, help="a study's --out directory with a distilled latent run")
    p.add_argument("--model", default="ga_tiny", help="the latent model's name in the study's config")
    p.add_argument("--out", type=Path, default=None, help="where the variants train (default STUDY/distilled_latent)")
    args = p.parse_args()
    recorded = args.study / "config.json"
    if not recorded.is_file():
        raise SystemExit(f"distilled_latent: {args.study} is not a study's --out directory (no config.json)")
    cfg = build(json.loads(recorded.read_text()))  # the config the study recorded, read back as the study does
    spec = next((m for m in cfg.models if m.name == args.model), None)
    if spec is None or spec.family != "latent":
        raise SystemExit(f"distilled_latent: no latent model {args.model!r} in {args.study / 'config.json'}")
    study_run, data = args.study / "runs" / f"{spec.name}-dist", args.study / "data" / "bin-dist"
    if not (data / "dict.tgt.txt").is_file():
        raise SystemExit(f"distilled_latent: {data} holds no distilled data (run the study first)")
    out = args.out or args.study / "distilled_latent"
    cap, never = spec.max_update, 10 ** 7
    variants = {
        "annealed over the cap": (["--run-updates", str(cap)], cap),
        "budget held": (["--run-updates", str(never), "--kl-budget-hold-updates", str(never),
                         "--kl-budget-anneal-updates", "0"], spec.schedule()),
        "KL weight annealed, no budget": (["--run-updates", str(spec.schedule()), "--kl-budget", "0",
                                           "--kl-weight-start", "0.1", "--kl-anneal-updates", str(spec.schedule())],
                                          spec.schedule()),
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = []
    for name, (schedule, stop_after) in variants.items():
        run_dir = out / slug(name)
        run_dir.mkdir(parents=True, exist_ok=True)
        if read_record(run_dir) is not None:
            print(f"{name}: trained already ({run_dir})", file=sys.stderr)
            continue
        cmd = [sys.executable, "-m", "fairseq_nat_study.training.segmented_train",
               *train_args(cfg, spec, data, run_dir, cpu=True, stop_after=stop_after, extra=tuple(schedule))]
        print(f"{name}: training in {run_dir} (log {run_dir}/train.log) ...", file=sys.stderr, flush=True)
        # appended: a killed variant resumes from its snapshots and keeps the validation lines logged before
        procs.append((name, subprocess.Popen(cmd, stdout=open(run_dir / "train.log", "a"), stderr=subprocess.STDOUT,
                                             env=env)))
    for name, proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"distilled_latent: {name} failed; see its train.log")
    rows = {f"study ({spec.schedule()}-update schedule)": summary(study_run),
            **{name: summary(out / slug(name)) for name in variants}}
    print(f"{spec.name} on distilled data (validation split of the distilled data; KL in nats per position)")
    print("| run | stopped | best at | ELBO/token | reconstruction | KL | active dims | last: ELBO/token | KL |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, s in rows.items():
        b, last = s["at_best"], s["at_last"]
        print(f"| {name} | {s['stopped']} | {s['best']} | {b.get('elbo_per_token')} | {b.get('reconstruction')} | "
              f"{b.get('kl')} | {b.get('active_dims')} | {last.get('elbo_per_token')} | {last.get('kl')} |")
    (out / "distilled_latent.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
