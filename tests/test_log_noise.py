"""fairseq-train / fairseq-generate with the plugin: hydra's deprecation warnings, torch's pin_memory warning
and DEBUG lines are gone, the batch-size note is logged once per run, and the plugin's own warnings remain."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fairseq_helpers import PLUGIN_DIR

NOISE = ("UserWarning", "version_base", "ConfigStore schema", "strict flag", "pin_memory", "DEBUG")
NOTE = "nat_study_translation batches with required_batch_size_multiple=1"


def _cli(name: str, args: list[str]) -> str:
    """Runs a fairseq console script with the plugin and returns everything it logged and warned."""
    exe = Path(sys.executable).parent / name
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("LOGLEVEL", None)
    proc = subprocess.run([str(exe), *args, "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation", "--cpu"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr  # fairseq-train logs to stdout, warnings go to stderr


@pytest.mark.slow  # a fairseq-train process (about 16 s on 2 cores); generate's log is checked by default
def test_train_logs_no_known_noise_and_the_batch_note_once(two_mode, tmp_path: Path) -> None:
    err = _cli("fairseq-train", [
        str(two_mode.data), "--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle", "--optimizer", "adam",
        "--lr", "1e-3", "--max-tokens", "4096", "--train-subset", "valid", "--max-epoch", "3", "--no-save",
        "--save-dir", str(tmp_path), "--log-format", "simple"])
    assert "end of epoch 3" in err  # three epochs, each with a new train and valid iterator
    assert [n for n in NOISE if n in err] == []
    assert err.count(NOTE) == 1


def test_generate_logs_no_known_noise_but_the_plugins_warning(two_mode) -> None:
    err = _cli("fairseq-generate", [str(two_mode.data), "--path", str(two_mode.nat), "--gen-subset", "valid",
                                    "--batch-size", "16", "--latent-search-temperature", "0.5"])
    assert [n for n in NOISE if n in err] == []
    assert "--latent-search-temperature 0.5 is ignored: it applies to latent models" in err
