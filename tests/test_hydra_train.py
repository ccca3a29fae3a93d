"""``fairseq-hydra-train`` with the plugin's configs (``fairseq_nat_study/config/``): every family trains a few
updates, writes a checkpoint that the plugin's tools load, and builds the same model as ``fairseq-train
--arch``; overrides of the plugin's criterion fields reach the checkpoint. NAT-MLE runs by default, the
other families in the slow suite (one new process each: 15-40 s on 2 cores)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from fairseq_helpers import PLUGIN_DIR, run_preprocess
from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus

ROOT = Path(PLUGIN_DIR).parent
CONFIG_DIR = Path(PLUGIN_DIR) / "config"

#: config name -> (arch, criterion, family, criterion overrides checked in the checkpoint)
FAMILIES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "ar_tiny": ("nat_study_tr_tiny", "label_smoothed_cross_entropy", "ar", {"label_smoothing": 0.2}),
    "nat_tiny": ("nat_study_nat_tiny", "nat_study_mle", "nat", {"label_smoothing": 0.05}),
    "glat_tiny": ("nat_study_glat_tiny", "nat_study_glat", "nat", {"glat_ratio_start": 0.4}),
    "ga_tiny": ("nat_study_ga_tiny", "nat_study_elbo", "latent", {"kl_budget": 0.5}),
    "fl_tiny": ("nat_study_fl_tiny", "nat_study_elbo", "latent", {"kl_anneal_updates": 2}),
}
#: model options that differ between the archs' values and fairseq's defaults
OPTIONS = ("encoder_layers", "decoder_embed_dim", "src_embedding_copy", "pred_length_offset", "length_loss_factor",
           "latent_dim", "prior", "prior_layers", "flow_levels")


@pytest.fixture(scope="module")
def data_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hydra")
    write_corpus(SynthConfig(seed=1, num_train=64, num_valid=9, num_test=9), root / "raw")
    run_preprocess(root / "raw", root / "bin")
    return root / "bin"


def hydra_train(config: str, data: Path, save_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    """``fairseq-hydra-train --config-dir fairseq_nat_study/config --config-name CONFIG`` in a new process, 3
    updates on the CPU, validating and saving once at the end."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "fairseq_cli.hydra_train", "--config-dir", str(CONFIG_DIR), "--config-name", config,
         f"task.data={data}", f"checkpoint.save_dir={save_dir}", "common.cpu=true", "common.log_interval=1",
         "optimization.max_update=3", "dataset.validate_interval=1000", "checkpoint.save_interval=1000",
         "checkpoint.no_epoch_checkpoints=true", *overrides],
        cwd=save_dir.parent, env=env, capture_output=True, text=True, timeout=600)


def argparse_model(data: Path, arch: str, criterion: str) -> Any:
    """The model ``fairseq-train --arch ARCH`` builds (untrained)."""
    from fairseq import options, tasks

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [str(data), "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation",
                                                "--arch", arch, "--criterion", criterion, "--cpu"])
    return tasks.setup_task(args).build_model(args)


@pytest.mark.parametrize("config", [
    pytest.param("ar_tiny", marks=pytest.mark.slow),
    "nat_tiny",
    pytest.param("glat_tiny", marks=pytest.mark.slow),
    pytest.param("ga_tiny", marks=pytest.mark.slow),
    pytest.param("fl_tiny", marks=pytest.mark.slow),
])
def test_every_family_trains_through_fairseq_hydra_train(config: str, data_bin: Path, tmp_path: Path) -> None:
    from fairseq import checkpoint_utils

    from fairseq_nat_study.analysis.loading import load_model_and_task
    from fairseq_nat_study.analysis.loglik import model_family

    arch, criterion, family, crit_overrides = FAMILIES[config]
    save_dir = tmp_path / "run"
    done = hydra_train(config, data_bin, save_dir, *(f"criterion.{k}={v}" for k, v in crit_overrides.items()))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "num_updates=3" in done.stdout or "num_updates 3" in done.stdout
    ckpt = save_dir / "checkpoint_last.pt"
    assert ckpt.is_file() and (save_dir / ".hydra" / "config.yaml").is_file()
    assert not (tmp_path / "outputs").exists()  # hydra's record goes beside the checkpoints, nowhere else

    cfg = checkpoint_utils.load_checkpoint_to_cpu(str(ckpt))["cfg"]
    assert cfg.model._name == arch and cfg.criterion._name == criterion
    assert cfg.common.user_dir == str(Path(PLUGIN_DIR).resolve())
    assert {k: cfg.criterion[k] for k in crit_overrides} == crit_overrides
    assert cfg.optimization.max_update == 3

    model, task = load_model_and_task(str(ckpt), str(data_bin))
    assert model_family(model) == family and task.cfg.noise == "full_mask"
    reference = argparse_model(data_bin, arch, criterion)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    for option in OPTIONS:  # the same options as fairseq-train's model, not fairseq's transformer defaults
        assert getattr(model.args, option, None) == getattr(reference.args, option, None), option


def test_criterion_configs_merge_over_fairseq_default_criterion() -> None:
    """``criterion._name=nat_study_*`` over fairseq's default ``cross_entropy`` node, which carries
    ``sentence_avg``: the plugin's criterion dataclasses accept it."""
    from fairseq.dataclass.utils import merge_with_parent

    import fairseq_nat_study
    from fairseq_nat_study.criterions.elbo import ElboCriterionConfig
    from fairseq_nat_study.criterions.glat import GlatCriterionConfig
    from fairseq_nat_study.criterions.mle import NatMleCriterionConfig

    fairseq_nat_study.register()
    for name, dc in (("nat_study_mle", NatMleCriterionConfig), ("nat_study_glat", GlatCriterionConfig),
                     ("nat_study_elbo", ElboCriterionConfig)):
        root = OmegaConf.create({"optimization": {"sentence_avg": False, "max_update": 7},
                                 "criterion": {"_name": name, "sentence_avg": "${optimization.sentence_avg}",
                                               "label_smoothing": 0.1}})
        merged = merge_with_parent(dc(), root.criterion)
        assert merged.label_smoothing == 0.1 and merged.sentence_avg is False
        assert name == "nat_study_mle" or merged.max_update == 7
