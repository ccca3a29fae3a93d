"""Huang et al. 2022, first claim: MLE on a NAT learns token marginals, so on a two-mode corpus it gives the
mixed output ("no course") about the product of the marginals (25%), while an AR model gives it ~0."""
from __future__ import annotations

import math

import pytest

from fairseq_nat_study.analysis.loglik import evaluate_dataset, make_pair_dataset
from fairseq_nat_study.analysis.loading import load_model_and_task
from conftest import TWO_MODE
from fairseq_nat_study.data.synthetic import build_phrase_table

MODES = ("no problem", "of course", "no course", "of problem")


def _mode_shares(ckpt: str, data: str, sources: list[str]) -> list[dict[str, float]]:
    """For each source, p(y_m|x) / Σ_m' p(y_m'|x) over the four combinations of the a0 phrase."""
    model, task = load_model_and_task(ckpt, data)
    table = build_phrase_table(TWO_MODE)
    srcs, tgts = [], []
    for src in sources:
        for mode in MODES:
            words = [mode if w == "a0" else " ".join(table.deterministic[w]) for w in src.split()]
            srcs.append(src)
            tgts.append(" ".join(words))
    ll = evaluate_dataset(model, task, make_pair_dataset(task, srcs, tgts)).ll
    shares = []
    for i in range(len(sources)):
        block = ll[4 * i: 4 * i + 4]
        top = max(block)
        z = sum(math.exp(v - top) for v in block)
        shares.append({m: math.exp(v - top) / z for m, v in zip(MODES, block)})
    return shares


@pytest.fixture(scope="module")
def test_sources(two_mode) -> list[str]:
    return (two_mode.raw / "test.src").read_text().splitlines()[:40]


def test_nat_mle_mixes_modes(two_mode, test_sources) -> None:
    shares = _mode_shares(str(two_mode.nat), str(two_mode.data), test_sources)
    mixed = sum(s["no course"] for s in shares) / len(shares)
    other = sum(s["of problem"] for s in shares) / len(shares)
    assert 0.15 < mixed < 0.35, mixed
    assert 0.15 < other < 0.35, other


def test_latent_model_puts_far_less_mass_on_mixed_output(two_mode, test_sources) -> None:
    """The latent variable carries the dependency between the two tokens (IWAE estimates of each mode)."""
    nat = _mode_shares(str(two_mode.nat), str(two_mode.data), test_sources)
    latent = _mode_shares(str(two_mode.latent), str(two_mode.data), test_sources)
    mixed = lambda shares: sum(s["no course"] + s["of problem"] for s in shares) / len(shares)  # noqa: E731
    assert mixed(latent) < 0.5 * mixed(nat), (mixed(latent), mixed(nat))


def test_ar_does_not_mix_modes(two_mode, test_sources) -> None:
    shares = _mode_shares(str(two_mode.ar), str(two_mode.data), test_sources)
    mixed = sum(s["no course"] + s["of problem"] for s in shares) / len(shares)
    good = [s["no problem"] for s in shares]
    assert mixed < 0.03, mixed
    assert 0.3 < sum(good) / len(good) < 0.7  # both real modes kept
