"""``fairseq-nat-study study --seeds`` end to end on a tiny synthetic grid: two seeds, each with its own teacher and
distillation, on one corpus; then the reading over seeds. Models train for a few updates: this checks the
driver and the aggregate, not the findings."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: two seeds of three short trainings, a distillation and every evaluation stage
pytestmark = pytest.mark.slow

CONFIG = {
    "name": "seeds grid",
    "data": {"kind": "synth", "num_train": 200, "num_test": 40, "ood": None},
    "teacher": "tr",
    "distill": {"beam": 2, "shard_size": 200},
    "models": [
        {"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 10},
        {"name": "nat", "family": "nat", "arch": "nat_study_nat_tiny", "max_update": 10, "data": ["raw"]},
    ],
    "eval": {"refine_steps": [0, 1], "iw_samples": 2, "checkpoints": 1, "last_checkpoints": 0,
             "bench_sentences": 5, "bench_batch": 16},
}


def test_two_seeds_train_on_one_corpus_and_are_read_together(tmp_path: Path) -> None:
    config, out = tmp_path / "grid.json", tmp_path / "out"
    config.write_text(json.dumps(CONFIG))
    cmd = [sys.executable, "-m", "fairseq_nat_study.cli.main", "study", "--config", str(config), "--out", str(out),
           "--seeds", "4", "7"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    per_seed = {s: json.loads((out / f"seed-{s}" / "results.json").read_text()) for s in (4, 7)}
    for s, res in per_seed.items():
        assert res["config"]["seed"] == s and "seeds" not in res["config"]
        assert (out / f"seed-{s}" / "data" / "bin").resolve() == (out / "data" / "bin").resolve()
        # the seed's own teacher distilled its own data
        assert f"seed-{s}/runs/tr-raw" in res["distill"]["train"]["teacher"]
        assert not (out / f"seed-{s}" / "data" / "bin-dist").is_symlink()
    assert per_seed[4]["data"] == per_seed[7]["data"]  # one corpus
    agg = json.loads((out / "results.json").read_text())
    assert agg["seeds"] == [4, 7] and agg["data_seed"] == 1
    scores = {(r["model"], r["data"]): r for r in agg["scores"]}
    assert set(scores) == {("tr", "raw"), ("nat", "raw"), ("tr", "dist")}
    bleu = [next(p for p in r["points"] if p["final"])["bleu"] for r in per_seed[4]["runs"] if r["model"] == "tr"]
    assert scores[("tr", "raw")]["bleu"]["values"][0] == bleu[0]
    # the findings read the AR model against NAT-MLE; no finding reads the AR model's raw → dist, so it is not pooled
    assert {c["comparison"] for c in agg["comparisons"]} == {"raw: best AR → nat"}
    assert all(c["seeds"] == [4, 7] and c["low"] <= c["high"] for c in agg["comparisons"])
    assert "## The papers' findings over seeds" in (out / "report.md").read_text()
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # finished: nothing runs again
    assert rerun.returncode == 0 and "[study] seed-4: done earlier, skipped" in rerun.stdout
    other = subprocess.run(cmd[:-1] + ["8"], capture_output=True, text=True, timeout=300)
    assert other.returncode == 2 and "started with another config" in other.stderr
