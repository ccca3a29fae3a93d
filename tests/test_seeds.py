"""A study over training seeds: the ``seeds`` key and ``--seeds``, the driver's folders and shared data, the reading
over seeds (rule, spread, pooled interval) and its report; nothing is trained."""
from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

import pytest

from fairseq_nat_study.analysis.significance import paired_difference, pooled_difference
from fairseq_nat_study.cli.main import main as cli
from fairseq_nat_study.study.config import StudyConfigError, from_dict
from fairseq_nat_study.study.report.seeds import aggregate, markdown, over_seeds, seed_findings, spread
from report_records import results as report_results

TEACHER = {"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 10}
GRID = {"teacher": "tr", "models": [TEACHER, {"name": "nat", "family": "nat", "arch": "nat_study_nat_tiny",
                                              "max_update": 10, "data": ["raw"]}]}

#: sacreBLEU statistics of one sentence: hyp and ref length, matches for n = 1..4, totals for n = 1..4
ROW_A = "10 10 8 6 4 2 10 9 8 7"
ROW_B = "10 10 9 8 7 6 10 9 8 7"
ROW_C = "10 10 10 9 8 7 10 9 8 7"


@pytest.mark.parametrize("seeds, message", [
    ("1 2 3", "seeds: expected a list of integers >= 0, got a string \"1 2 3\"; write it as a list: [1, 2, 3]"),
    ([1, 2.5], "seeds[1]: expected an integer >= 0, got 2.5"),
    ([1, True], "seeds[1]: expected an integer >= 0, got true"),
    ([1, -2], "seeds[1]: must be an integer >= 0, got -2"),
    ([1, 2, 1, 2], "seeds: seed(s) [1, 2] given more than once in [1, 2, 1, 2]"),
    ([], "seeds: an empty list"),
])
def test_bad_seeds_are_refused(seeds: object, message: str) -> None:
    with pytest.raises(StudyConfigError) as err:
        from_dict({**GRID, "seeds": seeds})
    assert message in str(err.value)


def test_seeds_are_recorded_only_where_given() -> None:
    cfg = from_dict({**GRID, "seeds": [3, 1, 2]})
    assert cfg.seeds == [3, 1, 2] and cfg.as_dict()["seeds"] == [3, 1, 2]
    single = from_dict(GRID)
    assert single.seeds == [] and "seeds" not in single.as_dict()  # a single-seed study records what it did before


def test_the_study_tool_refuses_bad_seeds_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "grid.json"
    config.write_text(json.dumps(GRID))
    assert cli(["study", "--config", str(config), "--out", str(tmp_path / "o"), "--seeds", "1", "2", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fairseq-nat-study study: error: --seeds: seed(s) [1] given more than once in [1, 2, 1]"]
    with pytest.raises(SystemExit):
        cli(["study", "--out", str(tmp_path / "o"), "--seeds", "-1"])
    assert "argument --seeds: must be an integer >= 0, got '-1'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_reading_over_seeds() -> None:
    assert over_seeds([True, True, True]) == (True, "yes")
    assert over_seeds([True, True, False]) == (None, "not settled (2 of 3 seeds yes)")
    assert over_seeds([False, False, None]) == (False, "no")
    assert over_seeds([True, None, True]) == (True, "yes")
    assert over_seeds([True, None, None]) == (None, "n/a")  # one seed can test it: too few
    assert over_seeds([False, None, None]) == (None, "n/a")
    assert over_seeds([None, None, None]) == (None, "n/a")
    assert over_seeds([False, True]) == (None, "not settled (1 of 2 seeds yes)")


def _row(claim: str, holds: bool | None, **extra: str) -> dict:
    return {"claim": claim, "holds": holds, "evidence": f"{claim} {holds}", "no_if": f"no if {claim}", **extra}


def test_findings_rows_are_joined_by_claim_and_keep_no_if_and_by_design() -> None:
    why = "by design of the corpus"
    per_seed = [[_row("a", True), _row("b", True), _row("c", True), _row("d", False, by_design=why)],
                [_row("a", True), _row("b", True), _row("c", None), _row("d", False, by_design=why)],
                [_row("a", True), _row("b", False), _row("c", None), _row("d", False), _row("e", True)]]
    rows = {r["claim"]: r for r in seed_findings(per_seed, [1, 2, 7])}
    assert list(rows) == ["a", "b", "c", "d", "e"]
    assert rows["a"]["reading"] == "yes" and rows["a"]["holds"] is True
    assert rows["b"]["reading"] == "not settled (2 of 3 seeds yes)" and rows["b"]["holds"] is None
    assert rows["b"]["per_seed"] == {"1": "yes", "2": "yes", "7": "no"}
    assert rows["c"]["reading"] == "n/a" and rows["c"]["per_seed"] == {"1": "yes", "2": "n/a", "7": "n/a"}
    assert rows["d"]["reading"] == "no" and rows["d"]["by_design"] == {why: [1, 2]}
    assert rows["e"]["reading"] == "n/a" and rows["e"]["per_seed"] == {"1": "missing", "2": "missing", "7": "yes"}
    assert all(r["no_if"] == f"no if {c}" for c, r in rows.items())
    assert rows["b"]["evidence"] == {"1": "b True", "2": "b True", "7": "b False"}


def test_spread_is_the_sample_std_and_the_range() -> None:
    s = spread([1.0, 2.0, None, 4.0, 3.0])
    assert s["n"] == 4 and s["mean"] == 2.5 and s["min"] == 1.0 and s["max"] == 4.0
    assert s["std"] == pytest.approx(math.sqrt(5 / 3))  # sum of squares 5, over n - 1 = 3
    assert spread([2.0])["std"] is None and spread([2.0])["mean"] == 2.0
    assert spread([None, None])["mean"] is None


def _constant(d_row: str, n: int = 20) -> tuple[list[str], list[str]]:
    """Outputs whose every sentence has the same statistics: every resample has the same difference."""
    return [ROW_A] * n, [d_row] * n


def test_pooled_interval_of_constant_differences_spans_them_exactly() -> None:
    d_b = pooled_difference([_constant(ROW_B)])
    d_c = pooled_difference([_constant(ROW_C)])
    assert d_b["low"] == d_b["high"] == d_b["deltas"][0] and 0 < d_b["deltas"][0] < d_c["deltas"][0]
    both = pooled_difference([_constant(ROW_B), _constant(ROW_C, 30)])
    assert both["deltas"] == [d_b["deltas"][0], d_c["deltas"][0]]
    assert (both["low"], both["high"]) == (d_b["deltas"][0], d_c["deltas"][0])
    assert both["mean_delta"] == pytest.approx((d_b["deltas"][0] + d_c["deltas"][0]) / 2, abs=0.006)
    assert both["reading"] == "higher" and both["seeds"] == 2 and both["samples"] == 10000
    # a seed with no difference and one with a gain: the interval holds 0, the reading is level
    tied = pooled_difference([([ROW_A] * 20, [ROW_A] * 20), _constant(ROW_C)])
    assert (tied["low"], tied["high"], tied["reading"]) == (0.0, d_c["deltas"][0], "level")
    back = pooled_difference([(b, a) for a, b in (_constant(ROW_B), _constant(ROW_C))])
    assert (back["low"], back["high"], back["reading"]) == (-d_c["deltas"][0], -d_b["deltas"][0], "lower")


def test_pooled_interval_of_one_seed_is_the_paired_bootstrap() -> None:
    import random

    rng = random.Random(0)
    def rows() -> list[str]:
        return [f"10 10 {rng.randint(5, 10)} {rng.randint(3, 5)} {rng.randint(1, 3)} 1 10 9 8 7" for _ in range(60)]

    a, b = rows(), rows()
    one, paired = pooled_difference([(a, b)]), paired_difference(a, b)
    assert paired["samples"] == 10000  # not extended: its interval is that of the first 10000 resamples
    assert (one["low"], one["high"], one["deltas"]) == (paired["low"], paired["high"], [paired["delta"]])
    with pytest.raises(ValueError, match="no seeds"):
        pooled_difference([])


def _seed_results(seed: int, bleu_shift: float = 0.0, stats_row: str | None = None) -> dict:
    """The report tests' hand-made results as the study of one seed: its BLEU moved by ``bleu_shift``; with
    ``stats_row``, the raw and distilled final outputs of ``fl`` (read by the KD finding) and of ``tr`` (read by
    no finding) carry constant per-sentence statistics."""
    res = report_results()
    res["config"] = {"seed": seed}
    for run in res["runs"]:
        for p in run["points"]:
            p["bleu"] += bleu_shift
    if stats_row:
        for model in ("fl", "tr"):
            finals = {r["data"]: next(p for p in r["points"] if p["final"]) for r in res["runs"] if r["model"] == model}
            finals["raw"]["bleu_stats"], finals["dist"]["bleu_stats"] = _constant(stats_row)
    return res


def test_aggregate_reads_scores_findings_and_comparisons_over_seeds() -> None:
    per_seed = [_seed_results(1, 0.0, ROW_B), _seed_results(2, 1.0, ROW_C), _seed_results(5, 5.0)]
    agg = aggregate(per_seed)
    assert agg["seeds"] == [1, 2, 5]
    scores = {(r["model"], r["data"]): r for r in agg["scores"]}
    tr = scores[("tr", "raw")]["bleu"]  # final BLEU 30 shifted by 0, 1, 5
    assert tr["values"] == [30, 31, 35] and tr["mean"] == 32.0 and (tr["min"], tr["max"]) == (30, 35)
    assert tr["std"] == pytest.approx(math.sqrt((4 + 1 + 9) / 2))
    assert scores[("fl", "raw")]["ll_per_token"]["std"] == 0.0
    c_hat = {r["data"]: r for r in agg["c_hat"]}
    assert set(c_hat) == {"raw", "dist"} and c_hat["raw"]["C_hat_per_sentence"]["mean"] == pytest.approx(0.8)
    # the same numbers in every seed read alike, so a finding reads as in one seed's report
    rows = {f["claim"]: f for f in agg["findings"]}
    best_ll = rows["Raw data: the flow-prior model has the best LL of all models (Lee et al. 2020)"]
    assert best_ll["reading"] == "yes" and best_ll["per_seed"] == {"1": "yes", "2": "yes", "5": "yes"}
    assert best_ll["no_if"] == "another model's LL per token above the flow's"
    # the comparisons the findings read (the best AR against fl; KD on the latent model fl), in the two seeds with
    # statistics: the pooled interval spans their constant differences; tr's raw → dist carries statistics too,
    # but no finding reads it, so it is not pooled
    found = {c["comparison"]: c for c in agg["comparisons"]}
    assert set(found) == {"raw: best AR → fl", "fl: raw → dist"}
    comp = found["fl: raw → dist"]
    assert comp["seeds"] == [1, 2] and found["raw: best AR → fl"]["picked"] == [["tr raw", "fl raw"]] * 2
    assert (comp["low"], comp["high"]) == tuple(comp["deltas"]) and comp["deltas"][0] < comp["deltas"][1]
    text = markdown(agg)
    assert "| tr | raw | 30.00 / 31.00 / 35.00 | 32.00 ± 2.65 [30.00, 35.00] |" in text
    assert "at least 2 seeds can" in text and "sample standard deviation" in text
    claim = "Raw data: the flow-prior model has the best LL of all models (Lee et al. 2020)"
    assert f"| {claim} | yes | yes / yes / yes |" in text
    assert f"| fl: raw → dist | seed 1: 8.00 → 12.00 ({comp['deltas'][0]:+.2f}); seed 2: 9.00 → 13.00" in text
    assert "draws picks one seed uniformly at random" in text


def _fake_study(monkeypatch: pytest.MonkeyPatch, calls: list[tuple[int, Path, Path | None]],
                fail_seed: int | None = None) -> None:
    """Gives ``Study`` a graph of two stages, the data and one that records (seed, folder, shared data) and fails
    for ``fail_seed``, and a ``finish`` that writes the seed's results.json."""
    from fairseq_nat_study.study.pipeline import Study
    from fairseq_nat_study.study.schedule import StageSpec

    def graph(self) -> list[StageSpec]:
        def work() -> None:
            calls.append((self.cfg.seed, self.out, self.shared_data))
            if self.cfg.seed == fail_seed:
                raise RuntimeError("killed")
        return [StageSpec("data", partial(self.stage, "data", self._data), in_process=True),
                StageSpec("work", partial(self.stage, "work", work), after=("data",))]

    def finish(self, seconds: float) -> dict:
        res = {**_seed_results(self.cfg.seed), "config": self.cfg.as_dict()}
        (self.out / "results.json").write_text(json.dumps(res))
        return res
    monkeypatch.setattr(Study, "graph", graph)
    monkeypatch.setattr(Study, "finish", finish)


def test_each_seed_runs_its_own_study_on_the_data_prepared_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    import fairseq_nat_study.study.data_prep as data_prep
    from fairseq_nat_study.study.pipeline import Study
    from fairseq_nat_study.study.seeds import SeedStudy, seed_dir

    prepared: list[int] = []

    def prepare(cfg, seed, out, run, progress=print):
        prepared.append(seed)
        (out / "bin").mkdir(parents=True)
        (out / "data.json").write_text("{}")

    monkeypatch.setattr(data_prep, "prepare_data", prepare)
    calls: list[tuple[int, Path, Path | None]] = []
    _fake_study(monkeypatch, calls, fail_seed=4)
    cfg = from_dict({**GRID, "seed": 9, "seeds": [3, 4, 1]})
    out = tmp_path / "out"
    lines: list[str] = []
    with pytest.raises(RuntimeError):  # one lane: killed in the second seed, before the third starts
        SeedStudy(cfg, out, progress=lines.append, jobs=1).run()
    assert not (out / "stages" / "seed-3.done").exists()  # no seed is finished until every seed's stages are
    _fake_study(monkeypatch, calls)
    agg = SeedStudy(cfg, out, progress=lines.append, jobs=1).run()  # resumed: the first seed's work is not redone
    assert [(s, o, d) for s, o, d in calls] == [(3, out / "seed-3", out / "data"), (4, out / "seed-4", out / "data"),
                                                (4, out / "seed-4", out / "data"), (1, out / "seed-1", out / "data")]
    assert "[study] seed-3: work: done earlier, skipped" in lines  # each seed's stage lines name the seed
    SeedStudy(cfg, out, progress=lines.append).study(4).say("[nat-raw] segment 1/3")
    assert lines[-1] == "[seed-4] [nat-raw] segment 1/3"
    assert prepared == [9]  # once, with the config's seed
    assert seed_dir(out, 4) == out / "seed-4"
    for s in (3, 4, 1):  # every seed's data links the shared data
        assert (out / f"seed-{s}" / "data" / "bin").is_symlink()
        assert (out / f"seed-{s}" / "data" / "bin").resolve() == (out / "data" / "bin").resolve()
        assert json.loads((out / f"seed-{s}" / "results.json").read_text())["config"]["seed"] == s
    assert agg["seeds"] == [3, 4, 1] and agg["data_seed"] == 9 and agg["config"]["seeds"] == [3, 4, 1]
    assert agg["per_seed"] == {"3": "seed-3/results.json", "4": "seed-4/results.json", "1": "seed-1/results.json"}
    assert json.loads((out / "results.json").read_text())["seeds"] == [3, 4, 1]
    assert "[seed 3](seed-3/report.md)" in (out / "report.md").read_text()
    # other seeds into the same directory: refused, as any other config
    with pytest.raises(StudyConfigError, match="started with another config"):
        SeedStudy(from_dict({**GRID, "seed": 9, "seeds": [3, 4]}), out, progress=lambda s: None).run()
    with pytest.raises(StudyConfigError, match="started with another config"):
        Study(from_dict({**GRID, "seed": 9}), out, progress=lambda s: None)._check_config()
    # the report tool renders the reading over seeds again, elsewhere
    assert cli(["report", "--runs", str(out), "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    assert again["per_seed"]["3"] == "../out/seed-3/results.json" and again["data_seed"] == 9
    assert (tmp_path / "again" / "report.md").read_text().replace("../out/", "") == (out / "report.md").read_text()
    assert cli(["report", "--runs", str(out), str(out / "seed-3"), "--out", str(tmp_path / "r")]) == 2
    assert "a study over training seeds is reported alone" in capsys.readouterr().err
    # two lanes: the seeds' stages side by side, each seed's own stages in their order
    calls.clear()
    both = SeedStudy(from_dict({**GRID, "seeds": [5, 6]}), tmp_path / "two", progress=lambda s: None, jobs=2)
    from fairseq_nat_study.study.seeds import joint_graph
    names = [(s.name, s.after) for s in joint_graph({5: both.study(5), 6: both.study(6)})]
    assert names == [("seed-5/data", ()), ("seed-5/work", ("seed-5/data",)),
                     ("seed-6/data", ()), ("seed-6/work", ("seed-6/data",))]
    both.run()
    assert sorted(s for s, _, _ in calls) == [5, 6]


def test_a_single_seed_study_records_no_seeds(tmp_path: Path) -> None:
    from fairseq_nat_study.study.pipeline import check_recorded_config

    check_recorded_config(from_dict(GRID), tmp_path)
    assert "seeds" not in json.loads((tmp_path / "config.json").read_text())
    with pytest.raises(StudyConfigError, match="started with another config"):
        check_recorded_config(from_dict({**GRID, "seeds": [1]}), tmp_path)


def test_shared_data_is_linked_and_the_distilled_data_stays_the_seeds_own(tmp_path: Path) -> None:
    from fairseq_nat_study.study.pipeline import Study

    shared = tmp_path / "data"
    (shared / "bin").mkdir(parents=True)
    (shared / "bin" / "dict.src.txt").write_text("a 1\n")
    (shared / "data.json").write_text('{"tgt": "tgt"}')
    study = Study(from_dict(GRID), tmp_path / "seed-1", progress=lambda s: None, shared_data=shared)
    study._data()
    study._data()  # a rerun of the stage leaves the links as they are
    assert (study.data_dir / "bin" / "dict.src.txt").read_text() == "a 1\n"
    assert study._data_record() == {"tgt": "tgt"}
    study.bin["dist"].mkdir()
    assert not (shared / "bin-dist").exists()
