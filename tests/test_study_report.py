"""The study's config validation, data preparation errors and report maths (no training here)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fairseq_nat_study.study.report.correlation import excludes_zero
from fairseq_nat_study.study.report.write import correlations, findings, markdown, pearson, pearson_interval
from fairseq_nat_study.study.config import StudyConfigError, from_dict, load_config, quick_config
from fairseq_nat_study.study.data_prep import _read_pair
from fairseq_nat_study.study.evaluate import diversity

TEACHER = {"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 10}


def test_quick_config_is_valid_and_trains_raw_before_distilled() -> None:
    cfg = quick_config()
    order = [d for _, d in cfg.runs()]
    assert order == sorted(order, key=lambda d: d != "raw") and "dist" in order
    assert {m.family for m in cfg.models} == {"ar", "nat", "latent"}
    assert all(m.patience > 0 and m.valid_every > 0 for m in cfg.models)  # every run stops on validation
    assert cfg.data.preset == "aligned"
    # the findings profile: every family, both priors
    findings_cfg = load_config(str(Path(__file__).resolve().parents[1] / "examples" / "study" / "synthetic_findings.json"))
    assert {m.family for m in findings_cfg.models} == {"ar", "nat", "glat", "latent"}
    assert {m.arch for m in findings_cfg.models} >= {"nat_study_ga_tiny", "nat_study_fl_tiny"}
    # its test split is 4x the quick study's: bootstrap intervals of BLEU differences half as wide
    assert findings_cfg.data.num_test == 4 * cfg.data.num_test == 2000


def test_multi30k_cpu_profile_trains_every_family_on_the_full_data_and_stops_on_validation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAT_STUDY_DATA", "/data")
    cfg = load_config(str(Path(__file__).resolve().parents[1] / "examples" / "study" / "multi30k_en_de_cpu.json"))
    assert cfg.data.max_train == 0  # every training pair
    assert {m.family for m in cfg.models} == {"ar", "nat", "glat", "latent"}
    assert all(m.patience > 0 and m.valid_every > 0 for m in cfg.models)
    # selection and early stopping read the validation lines only; the test split is disjoint from them
    (v0, v1), (t0, t1) = cfg.data.valid_lines, cfg.data.test_lines
    assert v1 <= t0 or t1 <= v0
    # Ĉ needs an AR trained by plain MLE
    assert any(m.family == "ar" and "--label-smoothing" in m.flags
               and m.flags[m.flags.index("--label-smoothing") + 1] == "0" for m in cfg.models)


def test_snapshots_follow_the_validation_interval_or_the_checkpoint_count() -> None:
    from fairseq_nat_study.study.config import ModelSpec

    spec = ModelSpec("n", "nat", "nat_study_nat_tiny", 1000, valid_every=300)
    assert spec.snapshots(5) == [300, 600, 900, 1000] and spec.schedule() == 1000  # the cap is always the last
    assert ModelSpec("n", "nat", "nat_study_nat_tiny", 10).snapshots(3) == [3, 6, 10]
    assert ModelSpec("g", "glat", "nat_study_glat_tiny", 1000, schedule_updates=400).schedule() == 400


@pytest.mark.parametrize("raw, message", [
    ({"models": [TEACHER], "teacher": "tr", "bogus": 1}, "unknown key(s) ['bogus']"),
    ({"models": [{**TEACHER, "max_updates": 3}], "teacher": "tr"}, "models[0]: unknown key(s) ['max_updates']"),
    ({"models": [TEACHER], "teacher": "nat"}, "teacher: 'nat' must name an AR model"),
    ({"models": [TEACHER, {**TEACHER, "family": "nat", "name": "n", "arch": "nat_study_nat_tiny"}], "teacher": "n"},
     "teacher: 'n'"),
    ({"models": [TEACHER, {**TEACHER, "family": "nat", "name": "n", "arch": "nat_study_ga_tiny"}], "teacher": "tr"},
     "models[n]: family 'nat' but arch 'nat_study_ga_tiny' builds a latent-variable model"),
    ({"models": [TEACHER, {**TEACHER, "family": "latent", "name": "g", "arch": "nat_study_glat_tiny"}],
      "teacher": "tr"}, "models[g]: family 'latent' but arch 'nat_study_glat_tiny' builds a non-autoregressive model"),
    ({"models": [{**TEACHER, "family": "nat"}], "teacher": "tr"}, "builds an autoregressive model"),
    ({"models": [{**TEACHER, "arch": "nat_study_tr_tiniest"}], "teacher": "tr"},
     "'nat_study_tr_tiniest' is not a registered fairseq architecture"),
    ({"models": [TEACHER, TEACHER], "teacher": "tr"}, "duplicate names"),
    ({"models": [{**TEACHER, "family": "rnn"}], "teacher": "tr"}, "family: 'rnn'"),
    ({"models": [{**TEACHER, "data": ["raw", "kd"]}], "teacher": "tr"}, "data: ['raw', 'kd']"),
    ({"models": [TEACHER], "teacher": "tr", "data": {"kind": "text"}}, "data.dir: required"),
    ({"models": [TEACHER], "teacher": "tr", "data": {"num_test": 0}}, "data.num_test (--num-test) must be > 0, got 0"),
    ({"models": [TEACHER], "teacher": "tr", "data": {"num_train": -3}}, "data.num_train (--num-train) must be > 0"),
    ({"models": [TEACHER], "teacher": "tr", "data": {"preset": "tied"}},
     "data.preset (--preset) must be one of ('default', 'two_mode', 'aligned', 'unequal'), got 'tied'"),
    ({"models": [TEACHER], "teacher": "tr", "data": {"kind": "text", "dir": "/d", "num_test": 900}},
     "data.num_test: synthetic data only"),
    ({"models": [], "teacher": "tr"}, "the grid is empty"),
    ({"models": [TEACHER], "teacher": "tr", "distill": {"beams": 4}}, "distill: unknown key(s) ['beams']"),
    ({"models": [TEACHER], "teacher": "tr", "train": {"max_tokens": 5}}, "train: only a 'flags' list"),
    ({"models": [{**TEACHER, "valid_every": 11}], "teacher": "tr"}, "models[tr].valid_every: must be in [0, max_update = 10]"),
    ({"models": [{**TEACHER, "patience": -1}], "teacher": "tr"}, "models[tr].patience: must be in [0, "),
    ({"models": [{**TEACHER, "schedule_updates": 20}], "teacher": "tr"}, "models[tr].schedule_updates: must be in"),
    ({"models": [{**TEACHER, "valid_every": 2}], "teacher": "tr", "teacher_updates": 5},
     "teacher_updates: 5 is not one of the snapshots of 'tr' ([2, 4, 6, 8, 10])"),
    ({"models": [TEACHER], "teacher": "tr", "teacher_updates": -2}, "teacher_updates: -2 is not one of the snapshots"),
    ({"models": [TEACHER], "teacher": "tr", "eval": {"last_checkpoints": -1}},
     "eval.last_checkpoints (--last-checkpoints): must be >= 0, got -1"),
])
def test_bad_configs_name_the_problem(raw: dict, message: str) -> None:
    with pytest.raises(StudyConfigError) as err:
        from_dict(raw)
    assert message in str(err.value)


def test_config_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StudyConfigError, match="no file"):
        load_config(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(StudyConfigError, match="not valid JSON"):
        load_config(str(tmp_path / "bad.json"))
    (tmp_path / "ok.json").write_text(json.dumps({"models": [TEACHER], "teacher": "tr",
                                                  "data": {"kind": "text", "dir": "corpus"}}))
    assert load_config(str(tmp_path / "ok.json")).data.dir == str((tmp_path / "corpus").resolve())
    shipped = Path(__file__).resolve().parents[1] / "examples" / "study"
    monkeypatch.setenv("NAT_STUDY_DATA", str(tmp_path))
    for path in shipped.glob("*.json"):  # every shipped config validates
        assert load_config(str(path)).models


def test_text_data_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "train.en").write_text("a\nb\nc\n")
    (tmp_path / "train.de").write_text("x\ny\n")
    cfg = from_dict({"models": [TEACHER], "teacher": "tr",
                     "data": {"kind": "text", "dir": str(tmp_path), "src": "en", "tgt": "de"}}).data
    with pytest.raises(StudyConfigError, match=r"train.en has 3 lines but .*train.de has 2"):
        _read_pair(cfg, "train")
    (tmp_path / "train.de").write_text("x\n\nz\n")
    with pytest.raises(StudyConfigError, match=r"1 empty lines .*\[2\]"):
        _read_pair(cfg, "train")
    (tmp_path / "valid.en").write_text("a\nb\n")
    (tmp_path / "valid.de").write_text("x\ny\n")
    cfg.valid_lines = [1, 5]
    with pytest.raises(StudyConfigError, match=r"valid_lines: \[1, 5\] is not a \[first, end\) slice of 2"):
        _read_pair(cfg, "valid")
    cfg.valid_lines = [1, 2]
    assert _read_pair(cfg, "valid") == (["b"], ["y"])
    with pytest.raises(StudyConfigError, match="no file"):
        _read_pair(cfg, "test")


def test_pearson_matches_numpy_and_is_undefined_when_it_should_be() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=20), rng.normal(size=20)
    assert pearson(list(x), list(y)) == pytest.approx(float(np.corrcoef(x, y)[0, 1]), abs=1e-12)
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 2], [1, 2]) is None  # two points always lie on a line
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    lo, hi = pearson_interval(0.5, 28)  # Fisher's z: atanh 0.5 = 0.5493 ± 1.96/5
    assert (lo, hi) == pytest.approx((0.1560, 0.7358), abs=1e-4)
    assert pearson_interval(0.5, 3) is None and pearson_interval(None, 10) is None
    with pytest.raises(ValueError):
        pearson([1, 2, 3], [1, 2])


def test_diversity_of_candidates() -> None:
    assert diversity([["a b c d", "a b c d"]]) == 0.0
    assert diversity([["a b c d", "e f g h"]]) == 100.0
    assert diversity([["a b c d"]]) is None  # one candidate: no pairs, undefined rather than 0
    mixed = diversity([["a b c d", "a b c d"], ["a b c d", "e f g h"]])
    assert mixed == 50.0
    assert diversity([["a@@ b c d", "ab c d"]]) == 0.0  # BPE is joined before comparing


def _point(updates: int, bleu: float, ll: float, group: str, final: bool = False, **extra: object) -> dict:
    return {"updates": updates, "final": final, "bleu": bleu, "ll_per_token": ll, "group": group,
            "tokenized_bleu": bleu, "estimator": "exact", "bleu_signature": "sig", **extra}


def _results() -> dict:
    ar = [_point(u, 10 * u - 20, u - 6.0, "ar", u == 5) for u in range(1, 6)]  # BLEU 30 at LL -1 (final)
    ar_d = [_point(u, b, ll, "ar", u == 5) for u, b, ll in
            ((1, 5, -4.5), (2, 8, -4.0), (3, 10, -3.5), (4, 25, -3.0), (5, 31, -2.5))]
    refine = [{"steps": 0, "bleu": 5.0, "output_elbo_per_token": -1.2, "diversity": 40.0},
              {"steps": 4, "bleu": 6.0, "output_elbo_per_token": -0.9, "diversity": 30.0}]
    fl = [_point(1, 4, -2.0, "latent-flow"), _point(2, 6, -1.5, "latent-flow"),
          _point(3, 8, -0.5, "latent-flow", True, refinement=refine)]
    fl_d = [_point(3, 12, -2.6, "latent-flow", True)]
    runs = [{"model": "tr", "arch": "a", "data": "raw", "points": ar}, {"model": "fl", "arch": "f", "data": "raw", "points": fl},
            {"model": "tr", "arch": "a", "data": "dist", "points": ar_d}, {"model": "fl", "arch": "f", "data": "dist", "points": fl_d}]
    tc = {"raw": {"C_hat_per_sentence": 0.8, "C_hat_per_token": 0.1, "ar": "tr", "nat": "n", "estimator": "e"},
          "dist": {"C_hat_per_sentence": 0.3, "C_hat_per_token": 0.05, "ar": "tr", "nat": "n", "estimator": "e"},
          "glat_proxy": {"skipped": "no glat"}}
    return {"name": "t", "runs": runs, "total_correlation": tc, "data": {"sentences": {"test": 3}, "kind": "synth"},
            "hardware": {}, "seconds_this_run": 1.0}


def test_correlations_and_findings_on_known_numbers() -> None:
    res = _results()
    corr = correlations(res["runs"])
    assert corr["per_model"]["tr"]["raw"]["r"] == pytest.approx(1.0)
    assert corr["per_model"]["fl"]["dist"]["r"] is None and corr["per_model"]["fl"]["dist"]["points"] == 1
    assert corr["per_family"]["latent-flow"]["raw"]["r"] == pytest.approx(pearson([4, 6, 8], [-2.0, -1.5, -0.5]))
    assert corr["across_families"]["raw"]["points"] == 2 and corr["across_families"]["raw"]["r"] is None
    got = {f["claim"]: f["holds"] for f in findings(res["runs"], res["total_correlation"])}
    assert got["Raw data: the flow-prior model has the best LL of all models (Lee et al. 2020)"] is True
    assert got["Raw data: an AR model has the best BLEU"] is True
    assert got["Distillation lowers the LL of the real references, for every model"] is True
    assert got["Distillation raises the BLEU of latent models"] is True
    assert got["Distillation raises the BLEU of NAT-MLE and GLAT models"] is None  # the grid has none
    assert got["fl (raw): refinement raises the ELBO of the outputs"] is True
    assert got["Distilled data has a lower Ĉ than raw data (Huang et al. 2022)"] is True
    assert got["The GLAT proxy has a lower Ĉ than raw data"] is None  # skipped: not testable, not "no"
    assert got["BLEU and LL do not correlate across families (raw)"] is None  # 2 points: r undefined
    within = ("within a model (over its checkpoints along training, >= 5 each, sign read where the 95% interval "
              "excludes 0; the slides' Pearson table)")
    assert got[f"Raw data: BLEU and LL correlate positively {within}"] is True  # tr (5 points); fl's 3 not read
    # distilled: tr's r is positive (5 points) and fl has one point (undefined): the claim does not hold
    assert got[f"Distilled data: BLEU and LL correlate negatively {within}"] is False
    evidence = {f["claim"]: f["evidence"] for f in findings(res["runs"], res["total_correlation"])}
    assert evidence[f"Raw data: BLEU and LL correlate positively {within}"] == \
        "1/1: tr 1.00 (5 pts); not read (fewer than 5 points): fl"
    r_dist = corr["per_model"]["tr"]["dist"]
    lo, hi = pearson_interval(r_dist["r"], 5)
    assert r_dist["ci"] == pytest.approx([lo, hi]) and lo < r_dist["r"] < hi
    md = markdown(res)
    assert "| tr | a | ar | 30.00 | 31.00 |" in md
    assert f"| tr: its checkpoints along training | 1.000 (5 pts, CI [1.00, 1.00]) | {r_dist['r']:.3f} (5 pts, CI [{lo:.2f}, {hi:.2f}]) |" in md
    assert "| fl | raw | ELBO(ŷ)/token | -1.20 | -0.90 |" in md
    assert "| glat_proxy | n/a | n/a | | no glat |" in md
    assert not any(math.isnan(v) for v in (corr["per_model"]["tr"]["dist"]["r"],))


def test_within_model_r_of_the_trained_model_reads_its_last_checkpoints() -> None:
    """Along training BLEU and LL rise together from a random start (r > 0); over the last checkpoints of a model
    fitted to distilled data, LL of the real references falls while BLEU still rises (r < 0): the findings read
    the latter, as the slides' table of trained models does, and the report prints both."""
    bleu = [2.0, 10.0, 20.0, 24.0, 26.0, 27.0, 28.0, 29.0]
    ll = [-6.0, -3.0, -2.8, -2.9, -3.0, -3.1, -3.2, -3.3]
    last = {3, 4, 5, 6, 7}
    pts = [_point(i, b, v, "ar", i == 7, last=i in last) for i, (b, v) in enumerate(zip(bleu, ll))]
    raw = [_point(i, b, -4.0 + i / 2, "ar", i == 7, last=i in last) for i, b in enumerate(bleu)]
    runs = [{"model": "tr", "arch": "a", "data": "raw", "points": raw},
            {"model": "tr", "arch": "a", "data": "dist", "points": pts}]
    corr = correlations(runs)
    assert corr["per_model"]["tr"]["dist"]["r"] == pytest.approx(pearson(bleu, ll)) and corr["per_model"]["tr"]["dist"]["r"] > 0
    tail = corr["per_model_last"]["tr"]["dist"]
    assert tail["points"] == 5 and tail["r"] == pytest.approx(pearson(bleu[3:], ll[3:])) and tail["r"] < -0.98
    got = {f["claim"]: f["holds"] for f in findings(runs, {})}
    within = ("within a model (over its last checkpoints up to the final one, >= 5 each, sign read where the 95% interval "
              "excludes 0; the slides' Pearson table)")
    assert got[f"Distilled data: BLEU and LL correlate negatively {within}"] is True
    assert got[f"Raw data: BLEU and LL correlate positively {within}"] is True
    along = ("within a model (over its checkpoints along training, >= 5 each, sign read where the 95% interval "
             "excludes 0; the slides' Pearson table)")
    assert got[f"Distilled data: BLEU and LL correlate negatively {along}"] is False  # 8 points, r > 0
    why = {f["claim"]: f.get("by_design") for f in findings(runs, {})}
    assert why[f"Distilled data: BLEU and LL correlate negatively {along}"].startswith(
        "by design of this reading: the points of tr (BLEU 2.0 at 0 updates, 29.0 at the final one) reach back "
        "into the learning phase")
    assert got[f"Raw data: BLEU and LL correlate positively {along}"] is True
    distill = {"train": {"teacher": "/x/runs/tr-raw/checkpoint_at_3000.pt", "beam": 4, "num_sentences": 29000,
                         "empty_hypotheses": 0, "unk_tokens": 0}}
    md = markdown({"name": "t", "runs": runs, "total_correlation": {}, "data": {"sentences": {"test": 3}, "kind": "text"},
                   "hardware": {}, "seconds_this_run": 1.0, "distill": distill})
    assert ("Distilled data: the teacher `tr-raw/checkpoint_at_3000.pt` decoded 29000 training sentences with beam 4 "
            "(0 empty hypotheses, 0 <unk> tokens).") in md
    raw_tail = corr["per_model_last"]["tr"]["raw"]["r"]
    assert raw_tail > 0.9
    assert f"| tr: its last checkpoints up to the final one | {raw_tail:.3f} (5 pts, CI [" in md
    assert f"| {tail['r']:.3f} (5 pts, CI [" in md
    assert "| tr: its checkpoints along training |" in md


def test_within_model_sign_is_read_only_where_the_interval_excludes_zero() -> None:
    """Five points of a flat curve give an r of either sign by chance: such a run neither supports nor refutes
    the claim, and a claim with no run whose interval excludes 0 is not testable (None), not "no"."""
    bleu, flat = [70.0, 71.0, 72.0, 73.0, 74.0], [72.8, 71.8, 71.2, 72.9, 72.0]
    rising = [-0.5, -0.4, -0.3, -0.2, -0.1]
    runs = [{"model": "tr", "arch": "a", "data": "raw", "points": [
                _point(i, b, v, "ar", i == 4, last=True) for i, (b, v) in enumerate(zip(bleu, rising))]},
            {"model": "ga", "arch": "a", "data": "raw", "points": [
                _point(i, b, v, "latent-gaussian", i == 4, last=True) for i, (b, v) in enumerate(zip(flat, rising))]},
            {"model": "ga", "arch": "a", "data": "dist", "points": [
                _point(i, b, v, "latent-gaussian", i == 4, last=True) for i, (b, v) in enumerate(zip(flat, rising))]}]
    corr = correlations(runs)
    r_flat = corr["per_model_last"]["ga"]["raw"]
    lo, hi = r_flat["ci"]
    assert r_flat["r"] == pytest.approx(pearson(flat, rising)) and lo < 0 < hi  # spans 0 with 5 points
    assert corr["per_model_last"]["tr"]["raw"]["ci"] == [pytest.approx(1.0), pytest.approx(1.0)]
    out = {f["claim"]: f for f in findings(runs, {})}
    within = ("within a model (over its last checkpoints up to the final one, >= 5 each, sign read where the 95% "
              "interval excludes 0; the slides' Pearson table)")
    raw = out[f"Raw data: BLEU and LL correlate positively {within}"]
    assert raw["holds"] is True
    assert raw["evidence"] == f"1/1: tr 1.00 (5 pts); interval spans 0 (sign not read): ga {r_flat['r']:.2f} (5 pts)"
    # last checkpoints that reach back into the learning phase (first BLEU < half the final) stand for no trained
    # model: their r, of either sign, is not read
    young = [10.0, 30.0, 50.0, 60.0, 70.0]
    runs.append({"model": "nat", "arch": "a", "data": "raw", "points": [
        _point(i, b, -0.1 * i, "nat", i == 4, last=True) for i, b in enumerate(young)]})
    raw = {f["claim"]: f for f in findings(runs, {})}[f"Raw data: BLEU and LL correlate positively {within}"]
    assert correlations(runs)["per_model_last"]["nat"]["raw"]["r"] < -0.9
    assert raw["holds"] is True and raw["evidence"].endswith(
        "; not read (its last checkpoints reach back into the learning phase): nat (BLEU 10.0 at 0 updates, 70.0 at "
        "the final one)")
    dist = out[f"Distilled data: BLEU and LL correlate negatively {within}"]
    assert dist["holds"] is None and dist["evidence"].startswith("no r's interval excludes 0; interval spans 0")
    assert excludes_zero([0.1, 0.9]) and excludes_zero([-0.9, -0.2]) and not excludes_zero([-0.1, 0.9])
    # a trained model whose r has the wrong sign, not in its learning phase (first BLEU >= half the final): a bare "no"
    runs.append({"model": "tr", "arch": "a", "data": "dist", "points": [
        _point(i, b, v, "ar", i == 4, last=True) for i, (b, v) in enumerate(zip(bleu, rising))]})
    dist = {f["claim"]: f for f in findings(runs, {})}[f"Distilled data: BLEU and LL correlate negatively {within}"]
    assert dist["holds"] is False and "by_design" not in dist and dist["evidence"].startswith("0/1: tr 1.00 (5 pts)")
    assert not excludes_zero(None)


def test_evaluation_takes_a_spread_along_training_and_the_last_checkpoints() -> None:
    from fairseq_nat_study.study.run_eval import select

    pts = [(u, Path(f"c{u}")) for u in range(100, 1100, 100)]  # 10 checkpoints, the last one final
    chosen = select(pts, 3, 4)
    assert [(u, last) for u, _, last in chosen] == [(100, False), (500, False), (700, True), (800, True),
                                                    (900, True), (1000, True)]
    assert [u for u, _, last in select(pts, 3, 0)] == [100, 500, 1000] and not any(x[2] for x in select(pts, 3, 0))
    assert [u for u, _, last in select(pts, 0, 2) if last] == [900, 1000] and len(select(pts, 0, 2)) == 10
    assert all(last for *_, last in select(pts[:3], 5, 5))  # a run shorter than the tail: all of it


def test_distillation_takes_the_teachers_snapshot_when_the_config_pins_it(tmp_path: Path) -> None:
    from fairseq_nat_study.study.pipeline import Study

    cfg = from_dict({"models": [{**TEACHER, "valid_every": 2}], "teacher": "tr", "teacher_updates": 4})
    study = Study(cfg, tmp_path, progress=lambda s: None)
    run = tmp_path / "runs" / "tr-raw"
    with pytest.raises(FileNotFoundError, match="teacher_updates 4: .* has no checkpoint_at_4.pt"):
        study.teacher_checkpoint()
    run.mkdir(parents=True)
    (run / "checkpoint_at_4.pt").write_bytes(b"")
    assert study.teacher_checkpoint() == run / "checkpoint_at_4.pt"


def test_the_c_hat_heading_names_the_split_that_was_scored() -> None:
    res = _results()
    for entry in res["total_correlation"].values():
        entry.setdefault("subset", "test") if "skipped" not in entry else None
    res["data"]["stats"] = {"splits": {"test": {"C": 1.25}, "valid": {"C": 9.0}}}
    md = markdown(res)
    assert "Ĉ = NLL(NAT-MLE) − NLL(AR) (test split)" in md and "validation split" not in md
    assert "Exact C of the synthetic test split: 1.250 nats/sentence." in md
    res["total_correlation"]["raw"]["subset"] = "valid"
    assert "(test, validation splits)" in markdown(res)


def test_text_data_is_bpe_encoded_reversibly_and_binarised(tmp_path: Path) -> None:
    from fairseq_nat_study.analysis.bleu import remove_bpe
    from fairseq_nat_study.utils.fairseq_runner import run_fairseq
    from fairseq_nat_study.study.data_prep import prepare_data

    rng = np.random.default_rng(0)
    words = ["haus", "hausboot", "bootshaus", "baum", "baumhaus", "garten", "gartenhaus", "tür"]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    src = [" ".join(rng.choice(words, size=rng.integers(2, 6))) for _ in range(90)]
    (corpus / "all.en").write_text("".join(s + "\n" for s in src))
    (corpus / "all.de").write_text("".join(s.upper() + "\n" for s in src))
    cfg = from_dict({"models": [TEACHER], "teacher": "tr", "data": {
        "kind": "text", "dir": str(corpus), "src": "en", "tgt": "de", "train": "all", "valid": "all", "test": "all",
        "valid_lines": [0, 7], "test_lines": [7, 20], "max_train": 50, "bpe_merges": 20,
        "ood": {"dir": str(corpus), "prefix": "all", "lines": [60, 90]}}}).data
    summary = prepare_data(cfg, 1, tmp_path / "data", run_fairseq, progress=lambda s: None)
    assert summary["sentences"] == {"train": 50, "valid": 7, "test": 13}
    assert summary["ood"]["sentences"] == 30 and summary["ood"]["split"] == "test1"
    data = tmp_path / "data"
    assert (data / "bin" / "test1.en-de.de.bin").is_file()  # the OOD set: fairseq's second test split
    assert (data / "text" / "ood.en").read_text().splitlines() == src[60:90]
    for split in ("train", "valid", "test", "ood"):
        for lang in ("en", "de"):
            text = (data / "text" / f"{split}.{lang}").read_text().splitlines()
            bpe = (data / "bpe" / f"{split}.{lang}").read_text().splitlines()
            assert [remove_bpe(b) for b in bpe] == text  # BPE is undone exactly
        assert split == "ood" or (data / "bin" / f"{split}.en-de.de.bin").is_file()
    assert any("@@" in line for line in (data / "bpe" / "train.en").read_text().splitlines())
    assert (data / "text" / "test.en").read_text().splitlines()[0] == (corpus / "all.en").read_text().splitlines()[7]


def test_report_hardware_comes_from_the_run_records() -> None:
    from fairseq_nat_study.study.run_eval import hardware

    assert hardware([{"device": "cpu"}, {"device": "cpu"}])["device"] == "cpu"
    assert hardware([{"device": "NVIDIA H100"}, {"device": "cpu"}])["device"] == "NVIDIA H100, cpu"
    assert hardware([{"model": "old record"}])["device"] == "not recorded"


def test_evaluate_cli_checks_its_settings_as_a_config_would(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fairseq_nat_study.cli.main import main as cli

    refs = tmp_path / "refs.txt"
    refs.write_text("a b\n")
    base = ["evaluate", "--run-dir", str(tmp_path), "--data", str(tmp_path), "--refs", str(refs), "--name", "m",
            "--condition", "raw", "--lang", "en"]
    for flag, value, least in (("--iw-samples", "0", 1), ("--length-beam", "0", 1), ("--decode-steps", "-1", 0),
                               ("--bench-batch", "0", 1), ("--bench-sentences", "0", 1), ("--last-checkpoints", "-1", 0)):
        assert cli([*base, flag, value]) == 2
        key = flag[2:].replace("-", "_")
        assert f"error: eval.{key} ({flag}): must be >= {least}, got {value}" in capsys.readouterr().err
    assert cli([*base, "--refine-steps", "0", "-1"]) == 2
    assert "eval.refine_steps (--refine-steps): steps must be >= 0, got -1" in capsys.readouterr().err
    assert cli(base) == 2  # valid settings, but no training in the run directory
    assert "training left no checkpoint_last.pt" in capsys.readouterr().err


def test_a_stated_family_must_be_the_checkpoints() -> None:
    from fairseq_nat_study.study.run_eval import check_family

    check_family("glat", "nat", Path("nat.pt"))  # GLAT is a NAT model trained by glancing
    check_family("latent", "latent", Path("ga.pt"))
    with pytest.raises(ValueError, match="--family ar: nat.pt holds a nat model"):
        check_family("ar", "nat", Path("nat.pt"))


def test_config_data_dir_names_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = {"models": [TEACHER], "teacher": "tr", "data": {"kind": "text", "dir": "$NAT_STUDY_DATA/multi30k"}}
    monkeypatch.delenv("NAT_STUDY_DATA", raising=False)
    with pytest.raises(StudyConfigError, match="environment variable NAT_STUDY_DATA is not set"):
        from_dict(raw)
    monkeypatch.setenv("NAT_STUDY_DATA", "/data/sets")
    assert from_dict(raw).data.dir == "/data/sets/multi30k"


def test_fit_table_reads_each_curve_against_the_exact_bounds() -> None:
    from fairseq_nat_study.study.report.fit import exact_bounds, fit_table

    split = {"num_sentences": 10, "num_target_tokens": 90, "H_joint": 1.0, "C": 0.5}
    stats = {"splits": {"test": split, "valid": split}}
    assert exact_bounds(stats) == pytest.approx({"H": 0.1, "C": 0.05})  # per position: |y| + 1 = 100 positions
    assert exact_bounds(None) is None
    res = _results()
    nat = [_point(u, 50, ll, "nat", u == 3) for u, ll in ((1, -0.5), (2, -0.2), (3, -0.195))]
    res["runs"].append({"model": "nat", "arch": "n", "data": "raw", "points": nat})
    lines, fits = fit_table(res["runs"], stats)
    by = {(f["model"], f["data"]): f for f in fits}
    tr = by[("tr", "raw")]  # LL -5 ... -1, +1 over the last segment: unfinished; bound -H
    assert tr["still_improving"] is True and tr["bound"] == pytest.approx(-0.1) and tr["gap"] == pytest.approx(0.9)
    n = by[("nat", "raw")]  # +0.005 over the last segment: levelled; a factorized model's bound is -(H + C)
    assert n["still_improving"] is False and n["bound"] == pytest.approx(-0.15) and n["gap"] == pytest.approx(0.045)
    assert by[("fl", "dist")]["still_improving"] is None  # one checkpoint: no curve
    text = "\n".join(lines)
    assert ("| nat | raw | not recorded | n/a | fixed budget | 1: -0.500, 2: -0.200, 3: -0.195 | -0.150 | 0.045 | "
            "levelled |") in text
    assert "**Unfinished runs**: tr-raw, fl-raw, tr-dist were still improving when training stopped" in text
    res["data"]["stats"] = stats
    assert "## Fit: validation curve and LL of the test references along training" in markdown(res)


def test_fit_table_reads_the_validation_curve_and_the_stop_of_each_run() -> None:
    """A run with a validation record: its curve in nats per position (NLL from fairseq's bits; −ELBO for a
    latent model), the raw validation split's exact bound beside raw runs only, why it stopped, and 'still
    improving' from the record (best validation last, at the update cap), not from the test LL."""
    import math

    from fairseq_nat_study.study.report.fit import fit_table
    from fairseq_nat_study.training.early_stopping import ValidationCurve

    split = {"num_sentences": 10, "num_target_tokens": 90, "H_joint": 1.0, "C": 0.5}
    stats = {"splits": {"test": split, "valid": split}}

    def curve(metric: str, values: list[float], patience: int, stopped: str, maximize: bool = False) -> dict:
        c = ValidationCurve(metric, maximize=maximize, patience=patience)
        for i, v in enumerate(values):
            c.add(100 * (i + 1), v)
        return c.record(stopped)

    bits = [0.5 / math.log(2), 0.2 / math.log(2), 0.25 / math.log(2), 0.3 / math.log(2)]
    runs = [
        {"model": "nat", "arch": "n", "data": "raw", "training": curve("nll_loss", bits, 2, "patience"),
         "points": [_point(u, 50, ll, "nat", u == 200) for u, ll in ((100, -0.6), (200, -0.21))]},
        {"model": "ga", "arch": "g", "data": "dist", "training": curve("elbo_per_token", [-0.9, -0.5, -0.4], 3,
                                                                       "max_update", maximize=True),
         "points": [_point(u, 50, ll, "latent", u == 300) for u, ll in ((100, -0.9), (300, -0.402))]},
    ]
    lines, fits = fit_table(runs, stats)
    nat, ga = fits
    assert nat["valid_curve"] == pytest.approx([(100, 0.5), (200, 0.2), (300, 0.25), (400, 0.3)])
    assert nat["valid_bound"] == pytest.approx(0.15) and nat["still_improving"] is False
    assert ga["valid_curve"] == pytest.approx([(100, 0.9), (200, 0.5), (300, 0.4)])
    assert ga["valid_bound"] is None  # a distilled run validates on distilled data: no exact value
    assert ga["still_improving"] is True  # the test LL barely moved, but the validation curve was still falling
    text = "\n".join(lines)
    assert "| nat | raw | 100: 0.500, **200: 0.200**, 300: 0.250, 400: 0.300 | 0.150 | patience 2 at 400; best at 200 |" in text
    assert "| ga | dist | 100: 0.900, 200: 0.500, **300: 0.400** | n/a | update cap at 300; best at 300 |" in text
    assert "**Unfinished runs**: ga-dist were still improving" in text
    assert "exact H(Y|X) is 0.1000, and H(Y|X) + C = 0.1500" in text


def test_c_hat_takes_the_ar_model_with_the_least_label_smoothing() -> None:
    from fairseq_nat_study.study.config import ModelSpec, quick_config
    from fairseq_nat_study.study.pipeline import label_smoothing

    assert label_smoothing(ModelSpec("a", "ar", "nat_study_tr_tiny", 10)) == 0.1  # fairseq's criterion as the study sets it
    assert label_smoothing(ModelSpec("b", "ar", "nat_study_tr_tiny", 10, flags=["--label-smoothing", "0"])) == 0.0
    assert label_smoothing(ModelSpec("n", "nat", "nat_study_nat_tiny", 10)) == 0.0
    assert label_smoothing(next(m for m in quick_config().models if m.family == "ar")) == 0.0
    res = _results()
    res["total_correlation"]["raw"]["ar_label_smoothing"] = 0.1
    assert "Ĉ uses a label-smoothed AR model (tr)" in markdown(res)


def test_num_test_sizes_the_synthetic_test_split_and_leaves_training_and_validation_data_alone(
        tmp_path: Path) -> None:
    """``data.num_test`` writes that many test pairs; the training and validation files are byte-identical to
    those of another test size (trained checkpoints stay valid for a bigger test split)."""
    from fairseq_nat_study.study.data_prep import prepare_data

    said: list[str] = []
    for size in (30, 70):
        data = from_dict({"models": [TEACHER], "teacher": "tr",
                          "data": {"kind": "synth", "num_train": 50, "num_test": size, "ood": None}}).data
        summary = prepare_data(data, 1, tmp_path / str(size), run=lambda *a: said.append(a[0]), progress=said.append)
        assert summary["sentences"] == {"train": 50, "valid": 500, "test": size}
    for split in ("train", "valid"):
        for side in ("src", "tgt"):
            assert ((tmp_path / "30" / "text" / f"{split}.{side}").read_bytes()
                    == (tmp_path / "70" / "text" / f"{split}.{side}").read_bytes())
    assert (tmp_path / "70" / "text" / "test.src").read_text().startswith(
        (tmp_path / "30" / "text" / "test.src").read_text())


def test_synthetic_ood_set_shares_the_phrase_table_and_shifts_lengths_and_ambiguity(tmp_path: Path) -> None:
    """The shifted synthetic test set: the same words and translations (same seed), longer sentences and more
    ambiguous words than the study's corpus, with its own exact statistics."""
    from fairseq_nat_study.data.phrase_table import build_phrase_table
    from fairseq_nat_study.data.synthetic import SynthConfig
    from fairseq_nat_study.study.ood import DEFAULT_SYNTH_SHIFT, synth_config, write_synth

    data = from_dict({"models": [TEACHER], "teacher": "tr", "data": {"kind": "synth", "num_train": 100}}).data
    shifted = synth_config(data, seed=3)
    assert build_phrase_table(shifted) == build_phrase_table(SynthConfig(seed=3))
    summary = write_synth(data, 3, tmp_path)
    sources = (tmp_path / "ood.src").read_text().splitlines()
    assert len(sources) == summary["sentences"] == 500
    lengths = [len(line.split()) for line in sources]
    assert min(lengths) >= DEFAULT_SYNTH_SHIFT["min_phrases"] and max(lengths) <= DEFAULT_SYNTH_SHIFT["max_phrases"]
    ambiguous = sum(w.startswith("a") for line in sources for w in line.split()) / sum(lengths)
    assert abs(ambiguous - DEFAULT_SYNTH_SHIFT["p_ambiguous"]) < 0.05
    assert summary["stats"]["splits"]["test"]["C"] > 0
    with pytest.raises(StudyConfigError, match="data.ood: unknown key"):
        from_dict({"models": [TEACHER], "teacher": "tr", "data": {"kind": "synth", "ood": {"dir": "x"}}})
    assert from_dict({"models": [TEACHER], "teacher": "tr", "data": {"kind": "synth", "ood": None}}).data.ood is None


def test_ood_table_puts_each_run_beside_its_shifted_scores() -> None:
    from fairseq_nat_study.study.report.ood_table import ood_table

    res = _results()
    stats = {"splits": {"test": {"num_target_tokens": 90, "num_sentences": 10, "H_joint": 2.0, "C": 1.0}}}
    for run in res["runs"]:
        final = next(p for p in run["points"] if p["final"])
        final["ood"] = {"bleu": final["bleu"] - 10, "ll_per_token": final["ll_per_token"] - 0.5}
    data = {**res["data"], "stats": stats, "ood": {"kind": "synth", "sentences": 40, "stats": stats,
                                                   "shift": {"min_phrases": 6, "max_phrases": 12, "p_ambiguous": 0.5}}}
    final = {(r["model"], r["data"]): next(p for p in r["points"] if p["final"]) for r in res["runs"]}
    lines = ood_table(final, data)
    assert lines[0] == "## Out of distribution: train on A, test on B"
    assert "| tr | raw | 30.00 | 20.00 | -10.00 | -1.000 | -1.500 | -0.500 |" in lines
    assert any("Exact −H(Y|X) per position: A -0.2000, B -0.2000" in line for line in lines)
    assert ood_table(final, res["data"]) == []  # no OOD set, no section


def test_speed_section_reads_the_interleaved_stage_and_each_decoders_own_diversity() -> None:
    from fairseq_nat_study.study.report.speed_table import latencies, speed_table

    res = _results()
    final = {(r["model"], r["data"]): next(p for p in r["points"] if p["final"]) for r in res["runs"]}

    def row(model: str, data: str, family: str, config: str, bs: int, ms: float, **ratios: object) -> dict:
        return {"model": model, "data": data, "family": family, "config": config, "batch_size": bs,
                "ms_per_sentence": ms, "sentences_per_second": round(1000 / ms, 2), "bleu": 9.0,
                "limit_ms_per_sentence": None, "latency_ratio_vs_ar": None, "throughput_ratio_vs_ar": None,
                "vs_nat_pass": None, "vs_limit": None, **ratios}

    res["speed"] = {"threads": 2, "repeats": 5, "latency_sentences": 50, "batch": 128, "seed": 1, "default_steps": 4,
                    "rows": [row("tr", "raw", "ar", "beam 4", 1, 20.0, latency_ratio_vs_ar=1.0),
                             row("tr", "raw", "ar", "beam 4", 128, 2.0, throughput_ratio_vs_ar=1.0),
                             row("fl", "raw", "latent", "K=0", 1, 4.0, latency_ratio_vs_ar=5.0,
                                 limit_ms_per_sentence=3.6, vs_limit=1.11),
                             row("fl", "raw", "latent", "K=4", 1, 8.0, latency_ratio_vs_ar=2.5),
                             row("fl", "raw", "latent", "K=4", 128, 0.5, throughput_ratio_vs_ar=4.0)]}
    lines = speed_table(res, final)
    assert "timed side by side" in lines[0] and "pass-count limit ms" in lines[2]
    assert "| fl | raw | K=0 | 4.0 | 5.0 | n/a | 3.6 | 1.11 | n/a | n/a | 9.0 | 40.0 |" in lines
    assert "| fl | raw | K=4 | 8.0 | 2.5 | n/a | n/a | n/a | 2000.0 | 4.0 | 9.0 | 30.0 |" in lines
    assert any("torch threads: 2" in line for line in lines)
    assert latencies(res, final) == {("tr", "raw"): 20.0, ("fl", "raw"): 8.0}  # the default decoder, K=4
    # records without a speed stage (the recipes' evaluate): each model's own timing, said to be so
    res.pop("speed")
    final["tr", "raw"]["speed"] = {"latency_ms": 20.0, "throughput": 500.0, "decoder": "beam 4", "threads": 1}
    final["fl", "raw"]["speed"] = {"latency_ms": 8.0, "throughput": 2000.0, "decoder": "K=4", "threads": 1}
    lines = speed_table(res, final)
    assert "each timed in its own evaluation" in lines[0]
    assert any(line.startswith("| fl | raw | K=4 | 8.0 | 2.5 | 2000.0 | 4.0 | 1 |") for line in lines)
    assert latencies(res, final) == {("tr", "raw"): 20.0, ("fl", "raw"): 8.0}


def test_findings_by_design_on_the_synthetic_corpus_and_an_unused_latent() -> None:
    """On the synthetic corpus a latent model that scores at least the AR model's BLEU on raw data has no mixed
    outputs for KD to remove ("no, by design", with the reason), and may top the AR model's BLEU by noise; a
    latent model whose KL is ~0 cannot show refinement (n/a, not "no"). On real data both stay a plain "no"."""
    res = _results()  # fl: raw BLEU 6 (K=4), dist 7; tr raw 30
    fl_raw, fl_dist = res["runs"][1]["points"][-1], res["runs"][3]["points"][-1]
    fl_raw["bleu"], fl_dist["bleu"] = 35.0, 32.0  # above the AR model's 30 on raw data, lower after KD
    stats = {"splits": {}}
    got = {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {"stats": stats})}
    kd = got["Distillation raises the BLEU of latent models"]
    assert kd["holds"] is False and "fl already resolves the modes" in kd["by_design"] and "fl 35.0 → 32.0" in kd["evidence"]
    best = got["Raw data: an AR model has the best BLEU"]
    assert best["holds"] is False and "same expected BLEU" in best["by_design"]
    plain = {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {})}  # real data
    assert "by_design" not in plain["Distillation raises the BLEU of latent models"]
    fl_dist["latent_usage"] = {"kl_per_token": 0.002}
    fl_dist["refinement"] = [dict(e) for e in fl_raw["refinement"]]
    unused = {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {"stats": stats})}
    r = unused["fl (dist): refinement raises BLEU"]
    assert r["holds"] is None and "the latent is unused (KL 0.0020" in r["evidence"]


def test_findings_on_family_pairs_refinement_bleu_and_c_hat_against_the_exact_c() -> None:
    res = _results()
    nat = [_point(u, b, ll, "nat", u == 5) for u, b, ll in ((1, 5, -3.0), (5, 20, -1.2))]
    glat = [_point(5, 22, -1.4, "glat", True)]
    res["runs"] += [{"model": "nat", "arch": "n", "data": "raw", "points": nat},
                    {"model": "glat", "arch": "g", "data": "raw", "points": glat}]
    stats = {"splits": {"valid": {"C": 0.9}}}
    tc = {**res["total_correlation"], "raw": {**res["total_correlation"]["raw"], "subset": "valid"}}
    got = {f["claim"]: f for f in findings(res["runs"], tc, {"stats": stats})}
    assert got["Raw data: GLAT reaches at least NAT-MLE's BLEU (Qian et al. 2021)"]["holds"] is True
    assert got["Raw data: every latent model has a higher LL than NAT-MLE"]["holds"] is True  # fl −0.5 > nat −1.2
    assert got["fl (raw): refinement raises BLEU"]["holds"] is True  # 5.0 → 6.0
    c_claim = got["Raw data: Ĉ within 15% of the exact C (synthetic corpus)"]
    assert c_claim["holds"] is True and "0.800" in c_claim["evidence"] and "11% apart" in c_claim["evidence"]
    tc["raw"]["C_hat_per_sentence"] = 0.7  # 22% below
    of = lambda fs, text: next(f for f in fs if f["claim"].startswith(text))  # noqa: E731
    assert of(findings(res["runs"], tc, {"stats": stats}), "Raw data: Ĉ within")["holds"] is False
    # text data: no exact C, so the claim is not testable rather than "no"
    assert of(findings(res["runs"], tc, {}), "Raw data: Ĉ within")["holds"] is None
    # NAT-MLE's mass on mixed outputs against the product of the data's marginals
    mixed = {"model": "nat", "subset": "valid", "occurrences": 40, "nat_mixed_mass": 0.45,
             "marginal_product_mixed_mass": 0.5, "relative_gap": 0.1}
    m = of(findings(res["runs"], tc, {"stats": stats}, mixed), "NAT-MLE's probability of mixed outputs")
    assert m["holds"] is True and "0.450 against 0.500" in m["evidence"] and "10 % apart" in m["evidence"]
    assert of(findings(res["runs"], tc, {"stats": stats}, {**mixed, "relative_gap": 0.3}), "NAT-MLE's")["holds"] is False
    assert of(findings(res["runs"], tc, {}), "NAT-MLE's")["holds"] is None  # text data: not measured
    # on the synthetic corpus the AR model can reach −H(Y|X): a flow that does not beat it is "no, by design"
    res["runs"][1]["points"][-1]["ll_per_token"] = -1.5  # fl below tr (−1.0)
    flow_claim = findings(res["runs"], tc, {"stats": stats})[0]
    assert flow_claim["holds"] is False and "AR model represents p(y|x) exactly" in flow_claim["by_design"]
    assert "by_design" not in findings(res["runs"], tc, {})[0]  # real data: a plain "no"
    md = markdown({**res, "total_correlation": tc, "data": {**res["data"], "stats": stats}})
    assert "| no, by design | best LL: tr (-1.0); by design of the synthetic corpus" in md


def test_glat_below_nat_mle_is_by_design_only_on_tied_modes_with_nat_mle_at_the_factorized_bound() -> None:
    """One-pass GLAT and NAT-MLE both decode per-token marginals: on a synthetic corpus whose ambiguous words have
    equally likely translations, with NAT-MLE at −(H + C), GLAT below NAT-MLE in BLEU is "no, by design"; with
    NAT-MLE short of that bound, or with modes that are not tied, or on real data, it stays a plain "no"."""
    res = _results()
    # test split: 10 sentences, 90 target tokens → 100 positions; H = 0.5, C = 0.3 nats per position
    stats = {"splits": {"test": {"num_sentences": 10, "num_target_tokens": 90, "H_joint": 5.0, "C": 3.0}},
             "phrase_table": {"w0": [["t0", 1.0]], "a0": [["x y", 0.5], ["u v", 0.5]],
                              "a1": [["p q", 0.3334], ["r s", 0.3333], ["m n", 0.3333]]}}
    nat = [_point(1, 5, -3.0, "nat"), _point(5, 20, -0.81, "nat", True)]  # 0.01 below −0.8
    res["runs"] += [{"model": "nat", "arch": "n", "data": "raw", "points": nat},
                    {"model": "glat", "arch": "g", "data": "raw", "points": [_point(5, 19.5, -0.9, "glat", True)]}]
    text = "Raw data: GLAT reaches at least NAT-MLE's BLEU (Qian et al. 2021)"
    got = {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {"stats": stats})}[text]
    assert got["holds"] is False and "a tie-break" in got["by_design"] and "test LL 0.0100 nats/position" in got["by_design"]
    nat[-1]["ll_per_token"] = -0.85  # 0.05 short of the factorized bound: not fitted, a plain "no"
    got = {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {"stats": stats})}[text]
    assert got["holds"] is False and "by_design" not in got
    nat[-1]["ll_per_token"] = -0.81
    untied = {**stats, "phrase_table": {**stats["phrase_table"], "a0": [["x y", 0.7], ["u v", 0.3]]}}
    got = {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {"stats": untied})}[text]
    assert "by_design" not in got
    got = {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {})}[text]  # real data
    assert "by_design" not in got


def test_across_family_correlation_is_by_design_only_for_fitted_runs_on_the_synthetic_corpus() -> None:
    """Fitted models of the synthetic corpus differ in LL only by the token dependence they miss, which is what
    costs BLEU: a positive r across families is "no, by design" there when no raw run was still improving, and a
    plain "no" on real data or with a run still improving."""
    res = _results()
    nat = [_point(5, 20, -1.2, "nat", True)]
    res["runs"] += [{"model": "nat", "arch": "n", "data": "raw", "points": nat}]
    for run in res["runs"]:
        run["training"] = {"improving_at_end": False}
    text = "BLEU and LL do not correlate across families (raw)"
    stats = {"splits": {}}
    got = {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {"stats": stats})}[text]
    assert got["holds"] is False and "by_design" not in got  # tr 30/−1.0, fl 8/−0.5, nat 20/−1.2: r = −0.73
    res["runs"][1]["points"][-1]["bleu"] = 40.0  # fl 40/−0.5: BLEU and LL ranked alike, r > 0.5
    got = {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {"stats": stats})}[text]
    assert got["holds"] is False and "every raw run is fitted" in got["by_design"]
    assert "by_design" not in {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {})}[text]
    res["runs"][1]["training"] = {"improving_at_end": True}  # the flow model's raw run: still improving
    got = {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], {"stats": stats})}[text]
    assert got["holds"] is False and "by_design" not in got


def test_bleu_claims_read_the_paired_bootstrap_when_outputs_carry_per_sentence_statistics() -> None:
    """Distillation, GLAT against NAT-MLE and refinement compare two outputs of one test split: with per-sentence
    statistics a direction is read only where the bootstrap interval excludes 0; two outputs of equal quality that
    differ sentence by sentence are "level" (n/a), whatever their point scores say."""
    poor, good = "10 10 7 5 3 2 10 9 8 7", "10 10 9 8 7 6 10 9 8 7"  # one sentence's statistics, two qualities
    low, high = [poor] * 40, [good] * 40
    mix_a = [good if i % 2 else poor for i in range(40)]
    mix_b = [poor if i % 2 else good for i in range(40)]  # the same totals, other sentences
    res = _results()
    res["runs"] += [{"model": "nat", "arch": "n", "data": "raw", "points": [_point(5, 20, -1.2, "nat", True)]},
                    {"model": "glat", "arch": "g", "data": "raw", "points": [_point(5, 20.5, -1.3, "glat", True)]}]
    fl_raw, fl_dist = res["runs"][1]["points"][-1], res["runs"][3]["points"][-1]
    nat, glat = res["runs"][4]["points"][-1], res["runs"][5]["points"][-1]
    k0, kmax = fl_raw["refinement"]

    def got(stats: dict | None = None) -> dict:
        return {f["claim"]: f for f in findings(res["runs"], res["total_correlation"], stats)}

    kd, glat_text, refine = ("Distillation raises the BLEU of latent models",
                             "Raw data: GLAT reaches at least NAT-MLE's BLEU (Qian et al. 2021)", "fl (raw): refinement raises BLEU")
    for (a, b), holds in (((low, high), True), ((mix_a, mix_b), None), ((high, low), False)):
        fl_raw["bleu_stats"], fl_dist["bleu_stats"] = a, b
        nat["bleu_stats"], glat["bleu_stats"] = a, b
        k0["bleu_stats"], kmax["bleu_stats"] = a, b
        f = got()
        assert f[kd]["holds"] is holds and f[glat_text]["holds"] is holds and f[refine]["holds"] is holds
        assert "paired bootstrap, 1000 resamples of the 40 test sentences, 95% interval" in f[kd]["evidence"]
        reading = {True: "higher", None: "level", False: "lower"}[holds]
        assert f"{reading})" in f[kd]["evidence"] and f"{reading})" in f[refine]["evidence"]
        assert ("within noise for fl" in f[kd]["evidence"]) is (holds is None)
    # level on the synthetic corpus, the latent model at the AR model's BLEU on raw data: the reason is given
    fl_raw["bleu_stats"], fl_dist["bleu_stats"], fl_raw["bleu"] = mix_a, mix_b, 35.0
    f = got({"stats": {"splits": {}}})[kd]
    assert f["holds"] is None and "within noise for fl" in f["evidence"] and "already resolves the modes" in f["evidence"]
    assert "+0.00 [" in f["evidence"]
    # an AR model has the best BLEU: the best AR output against every non-AR output, read by the bootstrap
    best = "Raw data: an AR model has the best BLEU"
    ar_raw = res["runs"][0]["points"][-1]
    nat["bleu_stats"] = glat["bleu_stats"] = ["10 10 5 3 1 0 10 9 8 7"] * 40  # below every other output
    for ar_stats, fl_stats, holds, by_design in ((high, low, True, False), (mix_a, mix_b, None, True),
                                                 (low, high, False, True)):
        ar_raw["bleu_stats"], fl_raw["bleu_stats"] = ar_stats, fl_stats
        f = got({"stats": {"splits": {}}})[best]
        assert f["holds"] is holds, (holds, f)
        assert ("same expected BLEU" in f["evidence"] + f.get("by_design", "")) is by_design
        assert "AR tr → each non-AR model (paired bootstrap" in f["evidence"]
    assert "by_design" not in got()[best]  # real data: a plain "no"
    ar_raw["bleu_stats"], glat["bleu_stats"] = high, high  # GLAT level with AR: n/a, and not a tie by design
    f = got({"stats": {"splits": {}}})[best]
    assert f["holds"] is None and "same expected BLEU" not in f["evidence"] + f.get("by_design", "")
    del ar_raw["bleu_stats"]
    # one side without statistics (a record from before they were stored): point against point
    del fl_dist["bleu_stats"]
    f = got()[kd]
    assert "point against point" in f["evidence"] and f["holds"] is False  # 35.0 → 12 by the point scores
