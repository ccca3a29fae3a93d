"""Huang et al. 2022, first claim: MLE on a NAT learns token marginals, so on a two-mode corpus it gives the
mixed output ("no course") about the product of the marginals (25%), while an AR model gives it ~0."""
from __future__ import annotations

import math

import pytest

from fairseq_nat_study.analysis.loglik import evaluate_dataset, make_pair_dataset
from fairseq_nat_study.analysis.loading import load_model_and_task
from conftest import TWO_MODE
from fairseq_nat_study.data.phrase_table import build_phrase_table

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


def test_mixed_output_mass_closed_form() -> None:
    """a0 ("no problem" | "of course" at 50/50): the mixed outputs "no course" and "of problem" get 0.25 each
    under the product of the marginals; a model with the marginals exactly puts 0.5 on them, one that always
    says "no problem" puts 0."""
    from fairseq_nat_study.analysis.mixed_output import ambiguous_spans, mixed_masses

    alts = [(("no", "problem"), 0.5), (("of", "course"), 0.5)]
    half = [{"no": math.log(0.5), "of": math.log(0.5)}, {"problem": math.log(0.5), "course": math.log(0.5)}]
    assert mixed_masses(alts, half) == (pytest.approx(0.5), pytest.approx(0.5))
    sure = [{"no": 0.0, "of": -math.inf}, {"problem": 0.0, "course": -math.inf}]
    assert mixed_masses(alts, sure) == (pytest.approx(0.0), pytest.approx(0.5))
    table = {"w1": [(("t1a", "t1b"), 1.0)], "w2": [(("t2",), 1.0)], "a0": alts}
    assert ambiguous_spans(["w1", "w2", "a0"], table) == [(3, alts)]
    with pytest.raises(ValueError, match="'zz' is not in the corpus's phrase table"):
        ambiguous_spans(["zz"], table)


def test_nat_mle_puts_the_marginal_product_mass_on_mixed_outputs(two_mode) -> None:
    """The fixture NAT-MLE on the two-mode test split: one a0 per sentence, whose mixed outputs the product of
    the marginals gives 0.5; the factorized model, trained by MLE, puts about that much on them (the AR model
    decodes none, test_ar_does_not_mix_modes)."""
    import json

    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from conftest import NUM_TEST
    from fairseq_nat_study.analysis.mixed_output import nat_mixed_output

    stats = json.loads((two_mode.raw / "stats.json").read_text())
    nat, task = load_model_and_task(str(two_mode.nat), str(two_mode.data))
    got = nat_mixed_output(nat, task, load_split(task, str(two_mode.data), "test"), stats)
    assert got["occurrences"] == got["sentences"] == NUM_TEST
    assert got["marginal_product_mixed_mass"] == pytest.approx(0.5)
    assert 0.35 < got["nat_mixed_mass"] < 0.6, got
