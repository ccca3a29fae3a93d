"""The C sweep: its config, each corpus's figures from a study's results, and the findings read both ways."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairseq_nat_study.study.config import StudyConfigError
from fairseq_nat_study.study.report.sweep_report import gaps, slope, spearman, sweep_findings, write_sweep_report
from fairseq_nat_study.study.sweep import (collect, corpus_config, corpus_dir, corpus_point, knob, load_sweep,
                                           real_points)

ROOT = Path(__file__).resolve().parent.parent


def _point(c: float, excess: float, gap_raw: float, gap_kd: float, gap_glat: float, c_hat: float) -> dict:
    """A corpus whose AR model scores LL −0.5 and BLEU 90, with the given NAT-MLE excess and gaps."""
    models = {"ar:raw": {"bleu": 90.0, "ll_per_token": -0.5}, "nat:raw": {"bleu": 90.0 - gap_raw, "ll_per_token": -0.5 - excess},
              "nat:dist": {"bleu": 90.0 - gap_kd, "ll_per_token": -1.0}, "glat:raw": {"bleu": 90.0 - gap_glat, "ll_per_token": -0.9}}
    return {"ambiguity": c, "C_per_token": c, "models": models,
            "C_hat_per_token": {"raw": {"value": c_hat, "exact": c}, "dist": {"value": 0.01, "exact": 0.0}}}


def _read(points: list[dict]) -> dict[str, bool | None]:
    return {f["claim"][:30]: f["holds"] for f in sweep_findings(points)}


def test_the_sweep_findings_hold_on_a_fitted_sweep_and_fail_where_they_should() -> None:
    cs = [0.0, 0.03, 0.06, 0.09, 0.12]
    fitted = [_point(c, c + 0.002, 40 * c, 20 * c, 25 * c, 0.95 * c + 0.001) for c in cs]
    got = sweep_findings(fitted)
    assert [f["holds"] for f in got] == [True, True, True, True, True]
    assert got[0]["evidence"].startswith("slope 1.000, r 1.000 over 5 corpora")
    assert all(f["no_if"] for f in got)
    # NAT-MLE losing twice C: slope 2, outside [0.8, 1.2]
    assert _read([_point(c, 2 * c, 40 * c, 20 * c, 25 * c, c) for c in cs])["NAT-MLE's NLL excess over the "] is False
    # a BLEU gap that does not rise with C
    flat = [_point(c, c, g, 0.0, 0.0, c) for c, g in zip(cs, [3.0, 1.0, 2.0, 0.5, 1.5])]
    assert _read(flat)["The AR − NAT-MLE BLEU gap rise"] is False
    # KD above raw NAT-MLE on one corpus with C > 0 (C = 0 is not read: both gaps are 0 there)
    kd_bad = [_point(c, c, 40 * c, (60 if c == 0.06 else 20) * c, 25 * c, c) for c in cs]
    assert _read(kd_bad)["KD (NAT-MLE on distilled data)"] is False and _read(kd_bad)["GLAT's BLEU gap to the AR mode"] is True
    assert _read(fitted[:2])["NAT-MLE's NLL excess over the "] is None  # two corpora: no slope read


def test_slope_and_spearman_on_known_numbers() -> None:
    assert slope([0, 1, 2], [1, 3, 5]) == pytest.approx(2.0)
    assert slope([1, 1], [0, 3]) is None
    assert spearman([1, 2, 3, 4], [10, 20, 15, 40]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [5, 5, 6]) == pytest.approx(0.8660254, abs=1e-6)  # tied ranks averaged


def test_a_corpus_point_reads_the_final_checkpoints_and_the_exact_c_of_each_split() -> None:
    def run(model: str, group: str, data: str, bleu: float, ll: float) -> dict:
        return {"model": model, "data": data, "points": [{"final": False, "bleu": 1.0, "ll_per_token": -9.0, "group": group},
                                                         {"final": True, "bleu": bleu, "ll_per_token": ll, "group": group}]}
    stats = {"splits": {"test": {"num_sentences": 10, "num_target_tokens": 90, "H_joint": 2.0, "C": 1.0},
                        "valid": {"num_sentences": 20, "num_target_tokens": 180, "H_joint": 2.0, "C": 0.5}}}
    study = {"data": {"stats": stats}, "runs": [run("tr", "ar", "raw", 80.0, -0.3), run("nat", "nat", "raw", 70.0, -0.45),
                                                run("nat", "nat", "dist", 75.0, -0.8)],
             "total_correlation": {"raw": {"subset": "valid", "C_hat_per_token": 0.06},
                                   "dist": {"subset": "valid", "C_hat_per_token": 0.01}}}
    p = corpus_point(study, 0.5)
    assert p["C_per_token"] == pytest.approx(0.1) and p["H_per_token"] == pytest.approx(0.2)  # over 100 positions
    assert p["C_hat_per_token"]["raw"] == {"value": 0.06, "subset": "valid", "exact": pytest.approx(0.05)}
    assert p["C_hat_per_token"]["dist"]["exact"] == 0.0  # a deterministic teacher's output
    g = gaps(p)
    assert g["excess"] == pytest.approx(0.15) and g["raw"] == pytest.approx(10.0) and g["kd"] == pytest.approx(5.0)
    assert g["glat"] is None


def test_each_bleu_gap_carries_its_paired_bootstrap_interval_in_point_and_report(tmp_path: Path) -> None:
    from fairseq_nat_study.analysis.bleu import corpus_bleu
    from fairseq_nat_study.analysis.significance import sentence_statistics

    refs = [f"the cat {i} sat on the mat number {i}" for i in range(40)]
    hyps = {"ar": refs, "nat": [r if i % 3 else "the the cat" for i, r in enumerate(refs)]}

    def run(model: str, group: str, data: str) -> dict:
        out = hyps[model]
        return {"model": model, "data": data, "points": [
            {"final": True, "group": group, "bleu": round(corpus_bleu(out, refs).score, 2), "ll_per_token": -1.0,
             "bleu_stats": sentence_statistics(out, refs)}]}
    study = {"data": {"stats": None}, "runs": [run("ar", "ar", "raw"), run("nat", "nat", "raw")]}
    p = corpus_point(study, 0.1, "p_ambiguous")
    (raw,) = p["gap_intervals"].values()  # no KD or GLAT run: their gaps have no interval
    assert raw["delta"] == pytest.approx(gaps(p)["raw"], abs=0.01) and raw["low"] < raw["delta"] < raw["high"]
    assert raw["reading"] == "higher" and list(p["gap_intervals"]) == ["raw"]
    write_sweep_report({"name": "t", "knob": "p_ambiguous", "points": [p, {**p, "p_ambiguous": 0.2}]}, tmp_path)
    assert f"{gaps(p)['raw']:.2f} [{raw['low']:+.2f}, {raw['high']:+.2f}] | n/a | n/a |" in (tmp_path / "report.md").read_text()


def test_sweep_configs_are_checked_before_any_corpus_runs(tmp_path: Path) -> None:
    base, values = load_sweep(ROOT / "examples/sweep/quick.json")
    assert values == [0.0, 0.25, 0.5, 0.75, 1.0] and "ambiguity" not in base
    assert corpus_config(base, 0.25).data.ambiguity == 0.25
    for change, message in (({"ambiguity": [0.5]}, "at least two numbers"),
                            ({"ambiguity": [0.5, 0.2]}, "increasing and distinct"),
                            ({"ambiguity": [0, 1.5]}, "ambiguity must be in \\[0, 1\\]"),
                            ({"ambiguity": [0, "a"]}, "list of at least two numbers"),
                            ({"data": {"kind": "text", "dir": "x"}}, "synthetic corpus")):
        path = tmp_path / "sweep.json"
        path.write_text(json.dumps({**json.loads((ROOT / "examples/sweep/quick.json").read_text()), **change}))
        with pytest.raises(StudyConfigError, match=message):
            load_sweep(path)


def test_a_sweep_over_the_share_of_ambiguous_words_varies_only_that_share(tmp_path: Path) -> None:
    base, values = load_sweep(ROOT / "examples/sweep/tied.json")
    assert knob(base) == "p_ambiguous" and values == [0.0, 0.1, 0.2, 0.3, 0.4]
    data = corpus_config(base, 0.2).data
    assert (data.p_ambiguous, data.ambiguity, data.preset) == (0.2, 1.0, "aligned")
    assert corpus_dir(tmp_path, 0.2, "p_ambiguous") == tmp_path / "p_ambiguous_0.2"
    assert knob(load_sweep(ROOT / "examples/sweep/full.json")[0]) == "ambiguity"
    tied = {k: v for k, v in json.loads((ROOT / "examples/sweep/tied.json").read_text()).items() if k != "real"}
    for change, message in (({"ambiguity": [0, 1]}, "exactly one of \\['ambiguity', 'p_ambiguous'\\] \\(a list of "
                                                    "values\\), got \\['ambiguity', 'p_ambiguous'\\]"),
                            ({"p_ambiguous": [0, 1.5]}, "p_ambiguous \\(--p-ambiguous\\) must be in \\[0, 1\\]"),
                            ({"p_ambiguous": [0.1, 0.2], "data": {**tied["data"], "p_ambiguous": 0.3}},
                             "data.p_ambiguous is what the sweep varies"),
                            ({"data": {**tied["data"], "preset": "two_mode"}}, "two_mode preset has exactly one")):
        (tmp_path / "bad.json").write_text(json.dumps({**tied, **change}))
        with pytest.raises(StudyConfigError, match=message):
            load_sweep(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text(json.dumps({k: v for k, v in tied.items() if k != "p_ambiguous"}))
    with pytest.raises(StudyConfigError, match="got neither"):
        load_sweep(tmp_path / "bad.json")


def test_collect_names_each_point_by_the_knob_and_the_report_heads_its_column_so(tmp_path: Path) -> None:
    stats = {"splits": {"test": {"num_sentences": 10, "num_target_tokens": 90, "H_joint": 2.0, "C": 1.0}}}
    run = {"model": "tr", "data": "raw", "points": [{"final": True, "bleu": 80.0, "ll_per_token": -0.3, "group": "ar"}]}
    for p in (0.1, 0.3):
        (tmp_path / f"p_ambiguous_{p:g}").mkdir()
        (tmp_path / f"p_ambiguous_{p:g}" / "results.json").write_text(json.dumps(
            {"data": {"stats": stats}, "runs": [run], "total_correlation": {}}))
    results = collect(tmp_path, [0.1, 0.3], "t", "p_ambiguous")
    assert results["knob"] == "p_ambiguous" and [p["p_ambiguous"] for p in results["points"]] == [0.1, 0.3]
    write_sweep_report(results, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| p_ambiguous | exact C |" in md and "\n| 0.3 | 0.1000 | -0.3000 | n/a |" in md
    assert "the share of source words that are ambiguous" in md


def test_the_report_renders_every_corpus_and_finding(tmp_path: Path) -> None:
    cs = [0.0, 0.05, 0.1]
    write_sweep_report({"name": "t", "points": [_point(c, c, 40 * c, 20 * c, 25 * c, c) for c in cs]}, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert md.count("\n| 0.05 |") == 1 and "| KD (NAT-MLE on distilled data)'s BLEU gap" in md
    assert (tmp_path / "c_sweep.png").stat().st_size > 1000
    assert len(json.loads((tmp_path / "results.json").read_text())["findings"]) == 5


def test_real_corpora_are_points_at_their_c_hat_and_are_not_read_by_the_findings(tmp_path: Path) -> None:
    def run(model: str, group: str, data: str, bleu: float, ll: float) -> dict:
        return {"model": model, "data": data, "points": [{"final": True, "bleu": bleu, "ll_per_token": ll, "group": group}]}
    study = {"data": {"kind": "text"}, "runs": [run("tr", "ar", "raw", 30.0, -2.2), run("nat", "nat", "raw", 20.0, -3.0),
                                                run("nat", "nat", "dist", 24.0, -3.4)],
             "total_correlation": {"raw": {"subset": "valid", "C_hat_per_token": 0.9},
                                   "dist": {"subset": "valid", "C_hat_per_token": 0.5}}}
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "results.json").write_text(json.dumps(study))
    config = json.loads((ROOT / "examples/sweep/quick.json").read_text())
    config["real"] = [{"name": "Text X→Y", "results": "real/results.json"}]
    (tmp_path / "sweep.json").write_text(json.dumps(config))
    base, _ = load_sweep(tmp_path / "sweep.json")
    assert base["real"] == [{"name": "Text X→Y", "results": str((tmp_path / "real" / "results.json").resolve()),
                             "given": "real/results.json"}]
    assert corpus_config(base, 0.5).data.ambiguity == 0.5  # the per-corpus study config has no 'real'
    (point,) = real_points(base)
    assert point["results"] == "real/results.json"  # as the config gives it, no path of this machine
    assert point["C_per_token"] is None and point["C_hat_per_token"]["raw"] == {"value": 0.9, "subset": "valid", "exact": None}
    assert gaps(point)["excess"] == pytest.approx(0.8) and gaps(point)["raw"] == pytest.approx(10.0)
    cs = [0.0, 0.05, 0.1]
    synthetic = [_point(c, c, 40 * c, 20 * c, 25 * c, c) for c in cs]
    write_sweep_report({"name": "t", "points": synthetic, "real": [point]}, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| Text X→Y | 0.9000 | 0.5000 | -2.2000 | -3.0000 | 0.8000 | 30.00 | 10.00 | 6.00 | n/a |" in md
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["findings"] == sweep_findings(synthetic)  # the real point changes no reading
    for entries, message in (([{"name": "a"}], "each 'real' entry"), ({"name": "a"}, "must be a list"),
                             ([{"name": "a", "results": "missing.json"}], "no study results at")):
        (tmp_path / "bad.json").write_text(json.dumps({**config, "real": entries}))
        with pytest.raises(StudyConfigError, match=message):
            load_sweep(tmp_path / "bad.json")
