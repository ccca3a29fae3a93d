"""Importing the plugin registers every contracted name (DESIGN.md), with the papers' sizes."""
from __future__ import annotations

import subprocess
import sys
from argparse import Namespace

import pytest
from fairseq.criterions import CRITERION_REGISTRY
from fairseq.models import ARCH_CONFIG_REGISTRY, ARCH_MODEL_REGISTRY
from fairseq.tasks import TASK_REGISTRY

import fairseq_nat_study  # noqa: F401

ARCHS = {
    "nat_study_tr_tiny": "transformer", "nat_study_tr_small": "transformer", "nat_study_tr_base": "transformer",
    "nat_study_tr_large": "transformer", "nat_study_nat_tiny": "nat_study_nat", "nat_study_nat_base": "nat_study_nat",
    "nat_study_ga_tiny": "nat_study_latent", "nat_study_ga_base": "nat_study_latent",
    "nat_study_ga_large": "nat_study_latent", "nat_study_fl_tiny": "nat_study_latent",
    "nat_study_fl_small": "nat_study_latent", "nat_study_fl_base": "nat_study_latent",
    "nat_study_fl_large": "nat_study_latent", "nat_study_glat_tiny": "nat_study_glat",
    "nat_study_glat_base": "nat_study_glat", "nat_study_tr_mini": "transformer", "nat_study_nat_mini": "nat_study_nat",
    "nat_study_glat_mini": "nat_study_glat", "nat_study_ga_mini": "nat_study_latent",
    "nat_study_fl_mini": "nat_study_latent",
}


@pytest.mark.parametrize("arch,model", sorted(ARCHS.items()))
def test_arch_registered_on_model(arch: str, model: str) -> None:
    assert arch in ARCH_MODEL_REGISTRY
    from fairseq.models import MODEL_REGISTRY

    assert ARCH_MODEL_REGISTRY[arch] is MODEL_REGISTRY[model]


def test_criterion_and_task_registered() -> None:
    for name in ("nat_study_mle", "nat_study_elbo", "nat_study_glat"):
        assert name in CRITERION_REGISTRY
    assert "nat_study_translation" in TASK_REGISTRY


def _arch_args(arch: str) -> Namespace:
    args = Namespace()
    ARCH_CONFIG_REGISTRY[arch](args)
    return args


def test_transformer_small_is_five_plus_five_layers_two_heads() -> None:
    a = _arch_args("nat_study_tr_small")
    assert (a.encoder_layers, a.decoder_layers, a.encoder_attention_heads, a.decoder_attention_heads) == (5, 5, 2, 2)
    assert a.encoder_embed_dim == 512


def test_transformer_base_and_large_sizes() -> None:
    b, large = _arch_args("nat_study_tr_base"), _arch_args("nat_study_tr_large")
    assert (b.encoder_embed_dim, b.encoder_ffn_embed_dim, b.encoder_attention_heads, b.encoder_layers) == (512, 2048, 8, 6)
    assert (large.encoder_embed_dim, large.encoder_ffn_embed_dim, large.encoder_attention_heads) == (1024, 4096, 16)


def test_nat_arch_uses_uniform_copy_and_offset_length() -> None:
    a = _arch_args("nat_study_nat_tiny")
    assert a.src_embedding_copy and a.pred_length_offset and a.length_loss_factor == 1.0
    assert a.encoder_embed_dim == 64 and a.decoder_layers == 2


def test_gaussian_latent_archs() -> None:
    tiny, base, large = (_arch_args(f"nat_study_ga_{s}") for s in ("tiny", "base", "large"))
    assert tiny.prior == base.prior == large.prior == "gaussian"
    assert tiny.latent_dim == base.latent_dim == 8
    assert (base.encoder_embed_dim, base.prior_layers, base.posterior_layers) == (512, 3, 6)
    assert (large.encoder_embed_dim, large.encoder_attention_heads) == (1024, 16)
    for a in (tiny, base, large):  # LaNMT's proportions: q deeper than the prior; z in every decoder layer
        assert a.posterior_layers > a.prior_layers and a.no_latent_skip is False
    assert all(_arch_args(f"nat_study_fl_{s}").no_latent_skip is False for s in ("tiny", "small", "base", "large"))


def test_mini_archs_share_one_size_between_tiny_and_base() -> None:
    sizes = {a: _arch_args(f"nat_study_{a}_mini") for a in ("tr", "nat", "glat", "ga", "fl")}
    for a in sizes.values():
        assert (a.encoder_embed_dim, a.decoder_embed_dim, a.encoder_ffn_embed_dim, a.encoder_layers,
                a.decoder_layers, a.encoder_attention_heads) == (128, 128, 512, 3, 3, 4)
    assert sizes["nat"].src_embedding_copy and sizes["glat"].pred_length_offset
    ga, fl = sizes["ga"], sizes["fl"]
    assert (ga.prior, ga.prior_layers, ga.posterior_layers, ga.latent_dim) == ("gaussian", 2, 3, 8)
    assert (fl.prior, fl.flow_levels, fl.flow_steps, fl.flow_conditioner_layers, fl.posterior_layers) == ("flow", 3, 2, 1, 3)


def test_user_values_win_over_arch_defaults() -> None:
    args = Namespace(encoder_layers=3, dropout=0.3)
    ARCH_CONFIG_REGISTRY["nat_study_tr_tiny"](args)
    assert args.encoder_layers == 3 and args.dropout == 0.3 and args.decoder_layers == 2


def test_console_script_lists_subcommands() -> None:
    out = subprocess.run([sys.executable, "-m", "fairseq_nat_study.cli.main", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for name in ("synth", "distill", "bleu", "loglik", "total-correlation", "bench", "report", "study"):
        assert name in out.stdout


@pytest.mark.parametrize("name", ["distill", "report", "study"])
def test_subcommand_help(name: str) -> None:
    out = subprocess.run([sys.executable, "-m", "fairseq_nat_study.cli.main", name, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--out" in out.stdout


def test_user_dir_subcommand_prints_the_plugin_directory_from_anywhere(tmp_path) -> None:
    import fairseq_nat_study

    out = subprocess.run([sys.executable, "-m", "fairseq_nat_study.cli.main", "user-dir"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-1000:]
    from pathlib import Path

    assert Path(out.stdout.strip()) == Path(fairseq_nat_study.__file__).resolve().parent
