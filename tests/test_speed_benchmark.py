"""The speed benchmark's pieces: representative batch-1 sentences, separate latency and throughput ratios,
the pass-count limit of each decoder."""
from __future__ import annotations

import pytest
import torch
from fairseq.data import LanguagePairDataset

from fairseq_nat_study.analysis.pass_limit import limit_seconds, pass_times
from fairseq_nat_study.analysis.speed import SpeedRow, latency_samples, ratios
from fairseq_nat_study.cli.bench import markdown_table
from test_decoding_equivalence import _model, _sample


def test_batch_one_sentences_are_a_seeded_random_sample_not_the_shortest() -> None:
    model, d = _model("nat_study_ga_tiny")
    lengths = list(range(1, 201))  # sentence i has i + 1 tokens
    src = [torch.full((n,), d.nspecial, dtype=torch.long) for n in lengths]
    dataset = LanguagePairDataset(src, torch.tensor(lengths), d, src, torch.tensor(lengths), d)
    batches = latency_samples(None, dataset, model, 40, seed=1)
    ids = [int(b["id"][0]) for b in batches]
    assert all(len(b["id"]) == 1 for b in batches) and len(set(ids)) == 40 and ids == sorted(ids)
    assert ids == [int(b["id"][0]) for b in latency_samples(None, dataset, model, 40, seed=1)]
    assert ids != [int(b["id"][0]) for b in latency_samples(None, dataset, model, 40, seed=2)]
    assert 70 < sum(lengths[i] for i in ids) / 40 < 130  # mean length near the split's (100.5), not 20.5
    assert len(latency_samples(None, dataset, model, None)) == 200


def _row(family: str, config: str, bs: int, ms: float, limit: float | None = None) -> SpeedRow:
    return SpeedRow("m-" + family, family, config, bs, 100, ms / 10, ms, round(1000 / ms, 2), 1.0, limit, 1)


def test_latency_and_throughput_ratios_are_separate() -> None:
    rows = [_row("ar", "beam 4", 1, 16.0), _row("ar", "beam 4", 128, 1.0),
            _row("nat", "1 pass", 1, 2.0, 1.6), _row("nat", "1 pass", 128, 0.1),
            _row("latent", "K=1", 1, 5.0, 4.0), _row("latent", "K=1", 128, 0.4)]
    out = {(r["family"], r["batch_size"]): r for r in ratios(rows)}
    assert out["latent", 1]["latency_ratio_vs_ar"] == 3.2 and out["latent", 1]["throughput_ratio_vs_ar"] is None
    assert out["latent", 128]["throughput_ratio_vs_ar"] == 2.5 and out["latent", 128]["latency_ratio_vs_ar"] is None
    assert out["latent", 1]["vs_nat_pass"] == 2.5 and out["latent", 1]["vs_limit"] == 1.25
    assert out["ar", 1]["vs_limit"] is None
    table = markdown_table(ratios(rows), 4)
    assert "latency ratio vs AR beam 4" in table[0] and "throughput ratio vs AR beam 4 (batch 128)" in table[0]
    assert "speed-up" not in "\n".join(table)
    assert table[-1].split(" | ")[2:5] == ["5.0", "3.2", "2.5"]


def test_pass_count_limit_counts_the_passes_of_the_algorithm() -> None:
    latent = {"encoder": 1.0, "prior": 2.0, "decoder": 3.0, "posterior": 5.0}
    assert limit_seconds(latent, 0) == 6.0  # encoder + prior mode + one decoder pass
    assert limit_seconds(latent, 1) == 14.0  # Gaussian/flow K=1: + a posterior and a second decoder pass
    assert limit_seconds(latent, 3) == 30.0
    assert limit_seconds({"encoder": 1.0, "decoder": 3.0}, 0) == 4.0


@pytest.mark.parametrize("arch,keys", [("nat_study_fl_tiny", {"encoder", "prior", "decoder", "posterior"}),
                                       ("nat_study_nat_tiny", {"encoder", "decoder"})])
def test_pass_times_time_every_pass(arch: str, keys: set[str]) -> None:
    model, d = _model(arch)
    times = pass_times(model, "nat" if "nat_tiny" in arch else "latent", _sample(d, [1]))
    assert set(times) == keys and all(t > 0 for t in times.values())


@pytest.mark.slow  # times every fixture model (about 18 s on 2 cores)
def test_study_speed_stage_times_every_run_side_by_side_against_the_ar_of_its_data(two_mode) -> None:
    from fairseq_nat_study.study.config import EvalConfig
    from fairseq_nat_study.study.speed_stage import measure_speed

    runs = [("tr", "raw", two_mode.ar), ("nat", "raw", two_mode.nat), ("ga", "raw", two_mode.latent),
            ("tr", "dist", two_mode.ar), ("ga", "dist", two_mode.latent)]
    ev = EvalConfig(decode_steps=1, bench_sentences=4, bench_batch=16)
    seen: list[str] = []
    out = measure_speed(runs, two_mode.data, ev, progress=seen.append)
    rows = {(r["model"], r["data"], r["config"], r["batch_size"]): r for r in out["rows"]}
    decoders = {"tr": ["beam 4"], "nat": ["1 pass"], "ga": ["K=0", "K=1"]}
    assert set(rows) == {(m, d, c, b) for m, d, _ in runs for c in decoders[m] for b in (1, 16)}
    assert out["threads"] == torch.get_num_threads() and out["repeats"] == 5 and out["default_steps"] == 1
    for (m, d, c, b), r in rows.items():
        ar = rows["tr", d, "beam 4", b]  # each condition against its own AR row, from the same run
        if b == 1:
            assert r["sentences"] == 4 and r["latency_ratio_vs_ar"] == round(ar["ms_per_sentence"] / r["ms_per_sentence"], 2)
            assert (r["limit_ms_per_sentence"] is None) == (m == "tr")
        else:
            assert r["throughput_ratio_vs_ar"] == round(r["sentences_per_second"] / ar["sentences_per_second"], 2)
    assert rows["ga", "raw", "K=1", 1]["vs_nat_pass"] is not None and rows["ga", "dist", "K=1", 1]["vs_nat_pass"] is None
    assert any("repeat 5/5" in line for line in seen)
