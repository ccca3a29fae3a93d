"""Training stopped on validation: the patience rule, the record, the final checkpoint, and a real run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fairseq_nat_study.training.early_stopping import ValidationCurve, final_checkpoint, read_record, write_record


def _curve(values: list[float], **kw) -> ValidationCurve:
    c = ValidationCurve("nll_loss", **kw)
    for i, v in enumerate(values):
        c.add(100 * (i + 1), v)
    return c


def test_patience_counts_validations_since_the_first_best() -> None:
    c = _curve([3.0, 2.0, 2.5, 2.0], patience=2)  # a tie does not renew the best: the earlier one stays
    assert c.best_updates() == 200 and c.should_stop()
    assert not _curve([3.0, 2.0, 2.5], patience=2).should_stop()
    assert not _curve([3.0, 2.0, 2.5, 2.6], patience=0).should_stop()  # patience 0: a fixed budget
    # a maximized metric (the ELBO): larger is better
    m = _curve([-3.0, -1.0, -1.5, -2.0], patience=2, maximize=True)
    assert m.best_updates() == 200 and m.should_stop()


def test_no_stop_before_the_schedules_end() -> None:
    assert not _curve([3.0, 2.0, 2.5, 2.6], patience=2, stop_after=500).should_stop()
    assert _curve([3.0, 2.0, 2.5, 2.6, 2.7], patience=2, stop_after=500).should_stop()


def test_record_says_why_and_whether_still_improving(tmp_path: Path) -> None:
    falling = _curve([3.0, 2.0, 1.5], patience=3).record("max_update")
    assert falling["improving_at_end"] is True and falling["best_updates"] == 300 and falling["updates"] == 300
    levelled = _curve([3.0, 2.0, 2.1], patience=3).record("max_update")
    assert levelled["improving_at_end"] is False and levelled["best_updates"] == 200
    stopped = _curve([3.0, 2.0, 2.1, 2.2], patience=2).record("patience")
    assert stopped["stopped"] == "patience" and stopped["improving_at_end"] is False
    write_record(tmp_path, stopped)
    assert read_record(tmp_path) == json.loads(json.dumps(stopped))


def test_missing_validation_is_an_error_that_names_the_cure() -> None:
    with pytest.raises(ValueError, match="disable-validation"):
        ValidationCurve("nll_loss").add(100, None)
    with pytest.raises(ValueError, match="finite"):
        ValidationCurve("nll_loss").add(100, float("nan"))


def test_final_checkpoint_is_the_best_snapshot(tmp_path: Path) -> None:
    (tmp_path / "checkpoint_last.pt").write_bytes(b"x")
    assert final_checkpoint(tmp_path) == tmp_path / "checkpoint_last.pt"  # no record: a plain fairseq-train run
    write_record(tmp_path, _curve([3.0, 2.0, 2.5], patience=1).record("patience"))
    with pytest.raises(FileNotFoundError, match="checkpoint_at_200.pt"):
        final_checkpoint(tmp_path)
    (tmp_path / "checkpoint_at_200.pt").write_bytes(b"x")
    assert final_checkpoint(tmp_path) == tmp_path / "checkpoint_at_200.pt"


@pytest.mark.slow  # trains in several segments in a new process (about 60 s on 2 cores)
def test_segmented_run_validates_each_segment_and_stops_on_patience(tmp_path: Path) -> None:
    """A learning rate of 0 keeps the model fixed, so validation cannot improve after the first segment: with
    patience 2 the run stops after 3 of its 6 segments and its final checkpoint is the first snapshot. The curve
    is read back from the snapshots, so a rerun replays the same decision without training."""
    from fairseq_helpers import PLUGIN_DIR, run_preprocess
    from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus

    write_corpus(SynthConfig(seed=2, num_train=200, num_valid=20, num_test=20), tmp_path / "raw")
    run_preprocess(tmp_path / "raw", tmp_path / "bin")
    save = tmp_path / "run"
    cmd = [sys.executable, "-m", "fairseq_nat_study.training.segmented_train", "--snapshots", "2,4,6,8,10,12",
           "--patience", "2", str(tmp_path / "bin"), "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation",
           "--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle", "--optimizer", "adam", "--lr", "0",
           "--max-tokens", "512", "--save-dir", str(save), "--cpu", "--validate-interval", "1000000",
           "--save-interval", "1000000", "--no-epoch-checkpoints", "--log-format", "simple", "--seed", "1",
           "--best-checkpoint-metric", "nll_loss"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = read_record(save)
    assert record["stopped"] == "patience" and record["best_updates"] == 2 and record["updates"] == 6
    assert [u for u, _ in record["curve"]] == [2, 4, 6]
    assert len({v for _, v in record["curve"]}) == 1  # validation is deterministic: one value, three times
    assert not (save / "checkpoint_at_8.pt").exists()
    assert final_checkpoint(save) == save / "checkpoint_at_2.pt"
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "training to" not in again.stderr
    assert read_record(save) == record
    # patience without validation is refused before any training
    bad = subprocess.run([*cmd[:cmd.index("--save-dir")], "--save-dir", str(tmp_path / "x"), "--disable-validation"],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "--patience needs validation" in bad.stderr


def test_gains_below_one_percent_of_the_best_do_not_renew_it() -> None:
    """A levelled curve that wobbles by fairseq's rounding (the quick study's AR model, bits per token) does not
    count as improving: its best stays where the last real gain was, and patience runs out. A slow crawl
    counts once it adds up to a gain over the best."""
    c = _curve([2.232, 0.291, 0.183, 0.192, 0.183, 0.181, 0.179, 0.201, 0.179, 0.178], patience=3)
    assert c.best_updates() == 300 and c.should_stop()  # 0.183 → 0.178 is not more than 0.01
    assert _curve([2.232, 0.291, 0.183, 0.192, 0.183, 0.181], patience=3).should_stop()  # it stops here
    assert c.record("patience")["min_relative_gain"] == 0.01
    m = _curve([-0.300, -0.2000, -0.1990, -0.1985], patience=2, maximize=True)  # ELBO: +0.5 % is no gain
    assert m.best_updates() == 200 and m.should_stop()
    assert _curve([0.5, 0.40, 0.396, 0.392, 0.389], patience=3).best_updates() == 500  # 0.011 over the best


def test_near_zero_a_gain_must_also_exceed_the_absolute_floor() -> None:
    """A model of distilled data approaches NLL 0: 1 % of 0.05 bits is below fairseq's rounding, so gains also
    need 0.01 in the metric's units; the best stays where the last such gain was (the quick study's distilled AR
    model: 0.062, 0.024, 0.019, 0.021, 0.016 bits per position)."""
    c = _curve([1.392, 0.062, 0.024, 0.019, 0.021, 0.016], patience=3)
    assert c.best_updates() == 300 and c.should_stop()
    assert c.record("patience")["min_absolute_gain"] == 0.01
