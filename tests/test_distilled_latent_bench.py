"""examples/benchmarks/distilled_latent.py: the figures it reads from fairseq's validation lines and a run's
training record, and its refusal of a study without a distilled latent run."""
from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "benchmarks" / "distilled_latent.py"

LOG = """INFO:fairseq_cli.train:begin training
INFO:valid:epoch 005 | valid on 'valid' subset | loss 0.362 | reconstruction 0.166 | kl 0.0378 | kl_used 0.038 | length_nll 0.585 | elbo_per_token -0.2507 | kl_weight 1 | kl_budget 0.004 | active_dims 1 | wps 28419.7 | num_updates 500
INFO:valid:epoch 006 | valid on 'valid' subset | loss 0.273 | reconstruction 0.149 | kl 0.0116 | elbo_per_token -0.189 | kl_budget 0 | active_dims 0 | num_updates 600 | best_elbo_per_token -0.189
INFO:train:epoch 006 | loss 0.2 | num_updates 600
"""


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("distilled_latent", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_valid_lines_read_every_term_by_update_count(bench) -> None:
    got = bench.valid_lines(LOG)
    assert sorted(got) == [500, 600]  # the training line is not a validation
    assert got[500] == {"elbo_per_token": -0.2507, "reconstruction": 0.166, "kl": 0.0378, "active_dims": 1.0,
                        "kl_budget": 0.004}
    assert got[600]["elbo_per_token"] == -0.189 and got[600]["kl"] == 0.0116 and "kl_weight" not in got[600]


def test_summary_reads_the_best_and_the_last_validation_of_a_run(bench, tmp_path: Path) -> None:
    (tmp_path / "train-1.log").write_text(LOG)
    (tmp_path / "training.json").write_text(json.dumps({"best_updates": 500, "updates": 600, "stopped": "patience"}))
    s = bench.summary(tmp_path)
    assert s["stopped"] == "patience at 600" and s["best"] == 500
    assert s["at_best"]["elbo_per_token"] == -0.2507 and s["at_last"]["kl"] == 0.0116
    assert bench.slug("KL weight annealed, no budget") == "KL_weight_annealed_no_budget"
    with pytest.raises(SystemExit, match="no training.json"):
        bench.summary(tmp_path / "missing")


def test_a_study_without_distilled_data_is_refused(tmp_path: Path) -> None:
    from fairseq_nat_study.study.config_source import quick_config

    (tmp_path / "config.json").write_text(json.dumps(asdict(quick_config())))  # the quick study, never run
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "none")], capture_output=True, text=True)
    assert proc.returncode != 0 and "not a study's --out directory" in proc.stderr
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode != 0 and "holds no distilled data" in proc.stderr
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--model", "tr_tiny"], capture_output=True,
                          text=True)
    assert proc.returncode != 0 and "no latent model 'tr_tiny'" in proc.stderr
