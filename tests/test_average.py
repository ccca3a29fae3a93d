"""``fairseq-nat-study average``: parameters averaged, integer/bool buffers kept, every family loads and decodes."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from fairseq_nat_study.utils.averaging import average_states
from fairseq_nat_study.utils.checkpoint import load_checkpoint_state


def test_floats_are_averaged_and_flags_kept() -> None:
    a = {"w": torch.tensor([1.0, 2.0]), "initialized": torch.tensor(True), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "initialized": torch.tensor(True), "n": torch.tensor(3)}
    out = average_states([a, b], ["a", "b"])
    assert torch.equal(out["w"], torch.tensor([2.0, 4.0])) and out["initialized"].dtype == torch.bool
    with pytest.raises(ValueError, match="non-float buffer differs"):
        average_states([a, {**b, "initialized": torch.tensor(False)}], ["a", "b"])
    with pytest.raises(ValueError, match="other parameters"):
        average_states([a, {"w": b["w"]}], ["a", "b"])


# the flow (bool ActNorm buffers) in the default suite; the other families with the slow tests
@pytest.mark.parametrize("family", [pytest.param(f, marks=pytest.mark.slow) for f in ("ar", "nat", "glat", "latent")]
                         + ["flow"])
def test_every_family_averages_and_decodes(family, two_mode, two_mode_glat, two_mode_flow, tmp_path) -> None:
    from fairseq_helpers import run_generate

    last = {"ar": two_mode.ar, "nat": two_mode.nat, "glat": two_mode_glat, "latent": two_mode.latent,
            "flow": two_mode_flow}[family]
    shifted = tmp_path / "shifted.pt"  # a second checkpoint of the same model: every float tensor + 0.01
    state = load_checkpoint_state(str(last))
    state["model"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in state["model"].items()}
    torch.save(state, shifted)
    out = tmp_path / "avg.pt"
    proc = subprocess.run([sys.executable, "-m", "fairseq_nat_study.cli.main", "average", "--inputs", str(shifted),
                           str(last), "--output", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    states = [load_checkpoint_state(str(p))["model"] for p in (shifted, last, out)]
    for key, value in states[2].items():
        if value.is_floating_point():
            assert torch.allclose(value, states[1][key] + 0.005, atol=1e-6), key
        else:
            assert torch.equal(value, states[1][key]), key
    assert any(v.dtype == torch.bool for v in states[2].values()) == (family == "flow")  # ActNorm flags
    hyps = [l for l in run_generate(two_mode.data, out, subset="valid").splitlines() if l.startswith("H-")]
    assert len(hyps) == 101


@pytest.mark.slow  # new processes per case (about 15 s on 2 cores)
def test_bad_inputs_are_named(tmp_path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    for argv, message in ((["--inputs", str(garbage)], "garbage.pt is not a readable fairseq checkpoint"),
                          (["--inputs", str(tmp_path / "missing.pt")], "no checkpoint at"),
                          (["--inputs", str(tmp_path)], "give --num-update-checkpoints"),
                          (["--inputs", str(tmp_path), "--num-update-checkpoints", "2"], "0 interval checkpoints")):
        proc = subprocess.run([sys.executable, "-m", "fairseq_nat_study.cli.main", "average", *argv, "--output",
                               str(tmp_path / "o.pt")], capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-1000:]
