"""Bad input to the latent models, the criterions and latent decoding: each meets a one-line ``PluginError`` naming
the flag, raised when fairseq builds the model, criterion or generator (before the first update or batch); good
input right beside it builds. Cases run in-process through fairseq's option parsing on a tiny dictionary; a few
run ``fairseq-train``/``fairseq-generate`` as a user would, and check the one line and the exit status."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fairseq_helpers import PLUGIN_DIR
from plugin_builders import build_for_training, build_generator, write_dicts
from fairseq_nat_study.utils.errors import PluginError

GA, FL = ["--arch", "nat_study_ga_tiny"], ["--arch", "nat_study_fl_tiny"]
ELBO = ["--criterion", "nat_study_elbo"]
NAT_MLE = ["--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle"]
GLAT = ["--arch", "nat_study_glat_tiny", "--criterion", "nat_study_glat"]


@pytest.fixture(scope="module")
def dicts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dicts(tmp_path_factory.mktemp("letters"))


@pytest.fixture(scope="module")
def latent_model(dicts: Path):
    return build_for_training(dicts, [*GA, *ELBO])[1]


# (flags, the message's substring): models (built by fairseq-train before its criterion)
MODEL_CASES = [
    ([*GA, "--latent-dim", "0"], "nat_study_latent: --latent-dim must be >= 1"),
    ([*GA, "--latent-dim", "-3"], "--latent-dim must be >= 1 (the size d_z of the latent vector"),
    ([*GA, "--prior-layers", "0"], "--prior-layers must be >= 1"),
    ([*GA, "--posterior-layers", "-1"], "--posterior-layers must be >= 1"),
    ([*GA, "--length-max-offset", "-1"], "--length-max-offset must be >= 0"),
    ([*FL, "--flow-levels", "0"], "--flow-levels must be >= 1 (levels of the multi-scale flow prior), got 0"),
    ([*FL, "--flow-levels", "4"], "--flow-levels 4 needs --latent-dim > 2^3 = 8 (each level passes half of its "
                                  "features on, and the last level needs at least 2), got --latent-dim 8: use "
                                  "--flow-levels 3 or fewer"),
    ([*FL, "--latent-dim", "4"], "--flow-levels 3 needs --latent-dim > 2^2 = 4"),
    ([*FL, "--latent-dim", "1"], "the flow prior needs --latent-dim >= 2"),
    ([*FL, "--flow-steps", "0"], "--flow-steps must be >= 1"),
    ([*FL, "--flow-conditioner-layers", "0"], "--flow-conditioner-layers must be >= 1"),
    ([*FL, "--flow-heads", "0"], "--flow-heads must be >= 1"),
    ([*FL, "--flow-heads", "3"], "--flow-heads 3 gives 3 head(s) at level 1, which do not divide its 8 features"),
    ([*FL, "--flow-scale-bound", "0"], "--flow-scale-bound must be > 0"),
    ([*FL, "--flow-scale-bound", "inf"], "--flow-scale-bound must be a finite number > 0"),
]

# criterions (nat_study_elbo: every KL/annealing flag; nat_study_mle / nat_study_glat)
CRITERION_CASES = [
    ([*GA, *ELBO, "--kl-budget", "-1"], "nat_study_elbo: --kl-budget must be >= 0"),
    ([*GA, *ELBO, "--kl-budget", "nan"], "--kl-budget must be a finite number >= 0"),
    ([*GA, *ELBO, "--kl-budget-hold-updates", "0", "--kl-budget-anneal-updates", "0"],
     "--kl-budget 1 with --kl-budget-hold-updates 0 and --kl-budget-anneal-updates 0 applies the budget at no "
     "update"),
    ([*GA, *ELBO, "--kl-budget", "0", "--kl-budget-hold-updates", "10"], "schedule a KL budget, but the budget is 0"),
    ([*FL, *ELBO, "--kl-budget-anneal-updates", "10"], "schedule a KL budget, but the budget is 0 (--kl-budget 0, or "
                                                      "the flow prior's default)"),
    ([*GA, *ELBO, "--kl-budget-hold-updates", "-1"], "--kl-budget-hold-updates must be >= 0"),
    ([*GA, *ELBO, "--kl-budget-hold-updates", "80", "--kl-budget-anneal-updates", "40"], "longer than the run"),
    ([*GA, *ELBO, "--kl-anneal-updates", "50"], "--kl-anneal-updates 50 anneals β from --kl-weight-start 1 (the "
                                                "gaussian prior default) to 1, which changes nothing"),
    ([*GA, *ELBO, "--kl-weight-start", "0.1", "--kl-anneal-updates", "0"], "--kl-weight-start 0.1 needs "
                                                                            "--kl-anneal-updates N > 0"),
    ([*GA, *ELBO, "--kl-weight-start", "-0.5", "--kl-anneal-updates", "10"], "--kl-weight-start must be >= 0"),
    ([*GA, *ELBO, "--kl-weight-start", "0.1", "--kl-anneal-updates", "-5"], "--kl-anneal-updates must be >= 0"),
    ([*GA, *ELBO, "--kl-weight-start", "0.1", "--kl-anneal-updates", "200"], "--kl-anneal-updates 200 is longer than "
                                                                             "the run (100 updates"),
    ([*GA, *ELBO, "--label-smoothing", "1"], "nat_study_elbo: --label-smoothing must be >= 0 and < 1"),
    ([*GA, *ELBO, "--run-updates", "-1"], "nat_study_elbo: --run-updates must be >= 0"),
    ([*GA, *ELBO, "--max-update", "0"], "the KL budget's schedule follows the run, but the run has no --max-update"),
    ([*FL, *ELBO, "--max-update", "0"], "the flow prior's KL-weight annealing follows the run"),
    ([*NAT_MLE, "--label-smoothing", "-0.1"], "nat_study_mle: --label-smoothing must be >= 0 and < 1"),
    ([*GLAT, "--glat-ratio-start", "1.5"], "nat_study_glat: --glat-ratio-start must be >= 0 and <= 1"),
    ([*GLAT, "--glat-ratio-end", "-0.1"], "--glat-ratio-end must be >= 0 and <= 1"),
    ([*GLAT, "--glat-anneal-updates", "0"], "--glat-ratio-start 0.5 would never apply"),
    ([*GLAT, "--glat-anneal-updates", "200"], "--glat-anneal-updates 200 is longer than the run"),
    ([*GLAT, "--glat-anneal-updates", "-1"], "--glat-anneal-updates must be >= 0"),
    ([*GLAT, "--run-updates", "-2"], "nat_study_glat: --run-updates must be >= 0"),
]


@pytest.mark.parametrize("flags, message", MODEL_CASES + CRITERION_CASES,
                         ids=[" ".join(f[2:]) for f, _ in MODEL_CASES + CRITERION_CASES])
def test_refused_when_fairseq_train_builds_it(dicts: Path, flags: list[str], message: str) -> None:
    argv = flags if "--criterion" in flags else [*flags, *ELBO]
    with pytest.raises(PluginError) as err:
        build_for_training(dicts, argv)
    assert message in err.value.message
    assert "\n" not in str(err.value) and str(err.value).endswith(err.value.message)


@pytest.mark.parametrize("flags", [
    [*GA, *ELBO],
    [*FL, *ELBO, "--latent-dim", "5"],  # 5 -> 3 -> 2 features: three levels fit
    [*FL, *ELBO, "--flow-heads", "2", "--flow-levels", "2"],
    [*FL, *ELBO, "--kl-weight-start", "1", "--max-update", "0"],  # no annealing: the run needs no length
    [*GA, *ELBO, "--kl-budget", "0", "--kl-weight-start", "0", "--kl-anneal-updates", "100"],
    [*GA, *ELBO, "--kl-budget-hold-updates", "0", "--kl-budget-anneal-updates", "100", "--length-max-offset", "0"],
    [*GLAT, "--glat-ratio-start", "0.3", "--glat-anneal-updates", "0"],  # constant ratio
])
def test_flags_in_range_build(dicts: Path, flags: list[str]) -> None:
    task, model, criterion = build_for_training(dicts, flags)
    assert model is not None and criterion is not None


# generation (the task's latent-search options and fairseq's decoding flags), refused when the generator is built
GENERATION_CASES = [
    (["--latent-search-samples", "0"], "--latent-search-samples must be >= 1"),
    (["--latent-search-samples", "3", "--latent-search-temperature", "0"], "--latent-search-temperature must be > 0"),
    (["--latent-search-samples", "3", "--latent-search-temperature", "-1"], "--latent-search-temperature must be > 0"),
    (["--latent-search-samples", "2", "--latent-search-temperature", "inf"], "must be a finite number > 0"),
    (["--nbest", "0"], "--nbest must be >= 1"),
    (["--iter-decode-max-iter", "-1"], "--iter-decode-max-iter must be >= 0"),
    (["--iter-decode-with-beam", "0"], "--iter-decode-with-beam must be >= 1"),
    (["--iter-decode-eos-penalty", "1"], "--iter-decode-eos-penalty 1: a latent model fixes each candidate's length"),
]


@pytest.mark.parametrize("flags, message", GENERATION_CASES, ids=[" ".join(f) for f, _ in GENERATION_CASES])
def test_refused_when_fairseq_generate_builds_the_generator(dicts: Path, latent_model, flags: list[str],
                                                            message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as end:
        build_generator(dicts, latent_model, flags)
    said = capsys.readouterr().err + str(end.value)
    assert end.value.code not in (0, None) and message in said
    assert "--nbest" not in said or "--nbest" in flags  # the flag at fault is blamed, not another one


def test_length_beam_beyond_the_length_classes_is_refused(dicts: Path) -> None:
    task, model, _ = build_for_training(dicts, [*GA, *ELBO, "--length-max-offset", "2"])  # 5 length classes
    gen = build_generator(dicts, model, ["--iter-decode-with-beam", "6"])
    src = torch.tensor([[4, 5, 6, 2]])
    sample = {"id": torch.tensor([0]), "net_input": {"src_tokens": src, "src_lengths": torch.tensor([4])}}
    with pytest.raises(PluginError, match=r"--iter-decode-with-beam 6 asks for more length candidates than the "
                                          r"model's length predictor has \(5: --length-max-offset 2\)"):
        gen.generate([model], sample)
    assert len(build_generator(dicts, model, ["--iter-decode-with-beam", "5"]).generate([model], sample)[0]) >= 1


def test_target_lengths_outside_the_length_support_are_refused_in_training(dicts: Path) -> None:
    """|y| − |x| = 4 with --length-max-offset 2: training refuses (naming the flag and the offset needed) where it
    used to clamp the class; evaluation's log p(T|x) of the same pair is −inf."""
    task, model, criterion = build_for_training(dicts, [*GA, *ELBO, "--length-max-offset", "2"])
    src, tgt = torch.tensor([[4, 5, 2]]), torch.tensor([[4, 5, 6, 7, 8, 9, 2]])
    sample = {"id": torch.tensor([0]), "nsentences": 1, "ntokens": 7, "target": tgt, "prev_target": tgt,
              "net_input": {"src_tokens": src, "src_lengths": torch.tensor([3])}}
    with pytest.raises(PluginError, match=r"outside the length predictor's support \[-2, \+2\] \(--length-max-offset "
                                          r"2\), up to \+4 tokens.*train with --length-max-offset 4 or more"):
        criterion(model, sample)
    enc = model.encode(src, torch.tensor([3]))
    assert model.length_log_prob(enc, torch.tensor([7])).item() == float("-inf")
    ok = {**sample, "target": tgt[:, -4:], "prev_target": tgt[:, -4:]}  # offset +1: inside the support
    loss, size, log = criterion(model, ok)
    assert torch.isfinite(loss) and size == 4


def test_help_of_each_model_flag_states_its_default(dicts: Path) -> None:
    from fairseq import options

    parser = options.get_training_parser()
    options.parse_args_and_arch(parser, [str(dicts), "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation",
                                         *FL, *ELBO])
    text = " ".join(parser.format_help().split())
    for expected in ("size d_z of the latent vector at each target position (default: 8)",
                     "Transformer layers of the prior (gaussian) (default: 1 for nat_study_ga_tiny; 2 for "
                     "nat_study_ga_mini; 3 for nat_study_ga_base, nat_study_ga_large)",
                     "(default: 2 for nat_study_fl_mini, nat_study_fl_small, nat_study_fl_tiny; 4 for "
                     "nat_study_fl_base, nat_study_fl_large)",
                     "T - |x| in [-M, M] (default: 64)", "|log scale| bound of each coupling (default: 2)",
                     "label smoothing of the reconstruction NLL, in [0, 1) (default: 0)"):
        assert expected in text, expected


# ---- as a user meets them: fairseq's own tools, one line on stderr, no traceback -------------------------------
def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.mark.parametrize("tool, flags, line", [
    ("fairseq-train", [*GA, *ELBO, "--latent-dim", "0"],
     "fairseq-train: error: nat_study_latent: --latent-dim must be >= 1 (the size d_z of the latent vector at each "
     "target position), got 0"),
    ("fairseq-train", [*GA, *ELBO, "--kl-budget-hold-updates", "0", "--kl-budget-anneal-updates", "0"],
     "fairseq-train: error: nat_study_elbo: --kl-budget 1 with --kl-budget-hold-updates 0 and "
     "--kl-budget-anneal-updates 0 applies the budget at no update; give a hold or an anneal length > 0, or "
     "--kl-budget 0 for no budget"),
    ("fairseq-generate", ["--latent-search-samples", "0"],
     "fairseq-generate: error: --latent-search-samples must be >= 1 (latent starts per length candidate; 1: the "
     "prior mode only), got 0"),
])
def test_fairseq_tools_end_with_the_one_line_error(two_mode, tmp_path: Path, tool: str, flags: list[str],
                                                   line: str) -> None:
    common = [str(two_mode.data), "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation", "--cpu"]
    if tool == "fairseq-train":
        argv = [*common, "--save-dir", str(tmp_path / "ckpt"), "--optimizer", "adam", "--lr", "1e-3",
                "--max-tokens", "1000", "--max-update", "10", *flags]
    else:
        argv = [*common, "--path", str(two_mode.latent), "--gen-subset", "test", *flags]
    env = {**os.environ, "PYTHONPATH": str(Path(PLUGIN_DIR).parent)}
    proc = subprocess.run([_tool(tool), *argv], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == line
    assert "Traceback" not in proc.stderr


def test_nat_target_lengths_outside_fairseqs_length_classes_are_refused(dicts: Path) -> None:
    """The vanilla NAT's length head (fairseq's) has offsets [-128, 127]: a longer pair is refused, not clamped."""
    task, model, criterion = build_for_training(dicts, NAT_MLE)
    src = torch.tensor([[4, 2]])
    tgt = torch.cat([torch.full((1, 130), 5), torch.tensor([[2]])], dim=1)  # offset 131 - 2 = +129
    sample = {"id": torch.tensor([0]), "nsentences": 1, "ntokens": 131, "target": tgt,
              "prev_target": task.inject_noise(tgt), "net_input": {"src_tokens": src, "src_lengths": torch.tensor([2])}}
    with pytest.raises(PluginError, match=r"support \[-128, \+127\] \(fairseq's 256 length classes\), up to \+129"):
        criterion(model, sample)
    short = {**sample, "target": tgt[:, -120:], "prev_target": task.inject_noise(tgt[:, -120:])}
    assert torch.isfinite(criterion(model, short)[0])
