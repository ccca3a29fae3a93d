"""``fairseq-nat-study study`` end to end on a tiny synthetic grid: killed midway, resumed, then checked.

Models are trained for a few dozen updates only: this checks the pipeline (every stage, every sentence,
every table), not the papers' findings.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

#: seven short trainings, a distillation and every evaluation stage: about 3 minutes on 2 CPU cores
pytestmark = pytest.mark.slow

CONFIG = {
    "name": "test grid",
    "data": {"kind": "synth", "num_train": 300, "ood": {"num_test": 30}},
    "teacher": "tr",
    "distill": {"beam": 4, "shard_size": 200},
    "models": [
        {"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 20},
        {"name": "nat", "family": "nat", "arch": "nat_study_nat_tiny", "max_update": 20},
        {"name": "glat", "family": "glat", "arch": "nat_study_glat_tiny", "max_update": 20, "data": ["raw"]},
        {"name": "ga", "family": "latent", "arch": "nat_study_ga_tiny", "max_update": 20, "data": ["raw"]},
        {"name": "fl", "family": "latent", "arch": "nat_study_fl_tiny", "max_update": 20, "data": ["dist"]},
    ],
    "eval": {"refine_steps": [0, 1, 2], "iw_samples": 2, "checkpoints": 2, "bench_sentences": 5, "bench_batch": 64,
             "search_samples": 2},
}


def _cmd(config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "fairseq_nat_study.cli.main", "study", "--config", str(config), "--out", str(out)]


def _in_progress(out: Path) -> tuple[set[str], list[str]]:
    """(stages finished, runs whose training has started and not finished)."""
    done = {p.name[:-len(".done")] for p in (out / "stages").glob("*.done")}
    busy = [log.parent.name for log in (out / "runs").glob("*/train-1.log") if f"train-{log.parent.name}" not in done]
    return done, busy


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, set[str], list[str]]:
    root = tmp_path_factory.mktemp("study")
    config, out = root / "grid.json", root / "out"
    config.write_text(json.dumps(CONFIG))
    # first run: killed (with its fairseq processes) once a training has finished while another one trains
    proc = subprocess.Popen(_cmd(config, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 600
    while True:
        done, busy = _in_progress(out)
        if busy and any(d.startswith("train-") for d in done):
            break
        assert proc.poll() is None, "the study ended before the stage it should be killed in"
        assert time.time() < deadline
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done, busy = _in_progress(out)  # as the kill left them
    assert busy, "no training was interrupted"
    resumed = subprocess.run(_cmd(config, out), capture_output=True, text=True, timeout=1200)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    return out, resumed.stdout, done, busy


def test_resume_skips_finished_stages(study: tuple[Path, str, set[str], list[str]]) -> None:
    from fairseq_nat_study.study.schedule import default_jobs

    out, log, done, busy = study
    assert "data" in done and any(d.startswith("train-") for d in done)
    for stage in done:
        assert f"[study] {stage}: done earlier, skipped" in log
    for run in busy:  # the interrupted trainings ran again, resuming from their snapshots in a second attempt
        assert f"[study] train-{run} ..." in log and (out / "runs" / run / "train-2.log").exists()
    assert f"[study] {default_jobs()} stage(s) side by side" in log
    assert json.loads((out / "results.json").read_text())["schedule"]["jobs"] == default_jobs()


def test_every_run_is_evaluated_on_every_sentence(study: tuple[Path, str, set[str], list[str]]) -> None:
    out, *_ = study
    res = json.loads((out / "results.json").read_text())
    runs = {(r["model"], r["data"]): r for r in res["runs"]}
    assert set(runs) == {("tr", "raw"), ("nat", "raw"), ("glat", "raw"), ("ga", "raw"), ("tr", "dist"),
                         ("nat", "dist"), ("fl", "dist")}
    num_test = res["data"]["sentences"]["test"]
    groups = {}
    for key, run in runs.items():
        assert [p["updates"] for p in run["points"]] == [10, 20], key  # the killed run resumed to its budget
        # validated at the end of each segment, on its own data; the best snapshot is the final checkpoint
        assert [u for u, _ in run["training"]["curve"]] == [10, 20] and run["training"]["best_updates"] == 20, key
        final = run["points"][-1]
        assert final["final"] and final["num_sentences"] == num_test
        # per-sentence BLEU statistics for the findings' paired bootstrap: the final checkpoint's output only
        assert len(final["bleu_stats"]) == num_test and not any("bleu_stats" in p for p in run["points"][:-1])
        assert 0.0 <= final["bleu"] <= 100.0 and final["ll_per_token"] < 0
        assert "speed" not in final  # timed in the speed stage, side by side, not in its own evaluation
        assert final["ood"]["num_sentences"] == 30 and final["ood"]["ll_per_token"] < 0  # the OOD test set
        groups[key] = final["group"]
    assert groups[("glat", "raw")] == "glat" and groups[("fl", "dist")] == "latent-flow"
    assert groups[("ga", "raw")] == "latent-gaussian" and groups[("tr", "dist")] == "ar"
    ga = runs[("ga", "raw")]["points"][-1]
    assert ga["estimator"] == "iwae-2" and ga["ll_per_token"] >= ga["elbo_per_token"] - 1e-6
    assert [e["steps"] for e in ga["refinement"]] == [0, 1, 2]
    assert [len(e.get("bleu_stats", [])) for e in ga["refinement"]] == [num_test, 0, num_test]  # K = 0 and the last
    assert runs[("tr", "raw")]["points"][-1]["diversity"] is not None
    assert runs[("nat", "raw")]["points"][-1]["diversity"] is None
    distill = res["distill"]["train"]
    assert distill["num_sentences"] == res["data"]["sentences"]["train"] and distill["beam"] == 4
    mixed = res["mixed_output"]  # the synthetic corpus: NAT-MLE's mass on mixed outputs of ambiguous words
    assert mixed["model"] == "nat" and mixed["occurrences"] > 0 and 0 < mixed["marginal_product_mixed_mass"] < 1
    tc = res["total_correlation"]
    assert set(tc) == {"raw", "dist", "glat_proxy"} and all("C_hat_per_sentence" in v for v in tc.values())
    speed = {(r["model"], r["data"], r["config"], r["batch_size"]): r for r in res["speed"]["rows"]}
    search = "search 2×4, K=1 + AR"  # latent search ranked by the teacher, timed with the others
    decoders = {"tr": ["beam 4"], "nat": ["1 pass"], "glat": ["1 pass"], "ga": ["K=0", "K=1", search],
                "fl": ["K=0", "K=1", search]}
    batch = res["speed"]["batch"]
    assert set(speed) == {(m, d, c, b) for m, d in runs for c in decoders[m] for b in (1, batch)}
    assert all(r["ms_per_sentence"] > 0 for r in speed.values())
    assert speed["tr", "dist", "beam 4", 1]["latency_ratio_vs_ar"] == 1.0  # each condition against its own AR
    assert speed["ga", "raw", "K=1", 1]["limit_ms_per_sentence"] > 0
    assert speed["fl", "dist", search, 1]["limit_ms_per_sentence"] is None
    for key in (("ga", "raw"), ("fl", "dist")):  # the teacher's pick among 2 samples × 4 lengths, every sentence
        s = runs[key]["points"][-1]["search"]
        assert (s["samples"], s["length_beam"], s["steps"]) == (2, 4, 1) and len(s["bleu_stats"]) == num_test
        assert "search" not in runs[key]["points"][0]


def test_report_has_tables_plots_and_findings(study: tuple[Path, str, set[str], list[str]]) -> None:
    out, *_ = study
    md = (out / "report.md").read_text()
    for heading in ("## BLEU and log-likelihood", "## Pearson r", "## Refinement steps K", "## Decoding speed and diversity (final checkpoints, timed side by side)",
                    "## Latent search with AR rescoring (final checkpoints)",
                    "## Conditional total correlation", "## The papers' findings", "## Out of distribution",
                    "## Fit: validation curve"):
        assert heading in md
    assert "(paired bootstrap, 10000 resamples of the" in md  # KD's BLEU claims read the stored statistics
    for png in ("bleu_vs_ll.png", "bleu_vs_latency.png", "refinement.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    res = json.loads((out / "results.json").read_text())
    assert res["correlations"]["per_model"]["tr"]["raw"]["points"] == 2
    assert len(res["findings"]) >= 6
    again = subprocess.run([sys.executable, "-m", "fairseq_nat_study.cli.main", "report", "--runs", str(out),
                            "--out", str(out / "again")], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (out / "again" / "report.md").read_text() == md


def test_other_config_in_same_directory_is_refused(study: tuple[Path, str, set[str], list[str]],
                                                   tmp_path: Path) -> None:
    out, *_ = study
    other = json.loads(json.dumps(CONFIG))
    other["models"][0]["max_update"] = 21
    (tmp_path / "other.json").write_text(json.dumps(other))
    proc = subprocess.run(_cmd(tmp_path / "other.json", out), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "started with another config" in proc.stderr
