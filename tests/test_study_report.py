"""The study's config validation, data preparation errors and report maths (no training here)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from report_records import point as _point, results as _results
from fairseq_nat_study.study.report.correlation import pearson, pearson_interval
from fairseq_nat_study.study.report.write import markdown
from fairseq_nat_study.study.config import StudyConfigError, from_dict
from fairseq_nat_study.study.config_source import load_config, quick_config
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
     "data.preset (--preset) must be one of ('default', 'two_mode', 'aligned', 'unequal', 'crossed'), got 'tied'"),
    ({"models": [TEACHER], "teacher": "tr", "data": {"kind": "text", "dir": "/d", "num_test": 900}},
     "data.num_test: synthetic data only"),
    ({"models": [TEACHER], "teacher": "tr", "data": {"kind": "text", "dir": "/d", "p_ambiguous": 0.2}},
     "data.p_ambiguous: synthetic data only"),
    ({"models": [TEACHER], "teacher": "tr", "data": {"p_ambiguous": 1.2}},
     "data.p_ambiguous (--p-ambiguous) must be in [0, 1], got 1.2"),
    ({"models": [TEACHER], "teacher": "tr", "data": {"preset": "two_mode", "p_ambiguous": 0.2}},
     "data.p_ambiguous: the two_mode preset has exactly one ambiguous word per sentence"),
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


def test_the_share_of_ambiguous_words_reaches_the_corpus_and_is_recorded_only_where_set() -> None:
    from fairseq_nat_study.data.synth_config import SynthConfig
    from fairseq_nat_study.study.data_config import synth_config

    plain = from_dict({"models": [TEACHER], "teacher": "tr"})
    assert "p_ambiguous" not in plain.as_dict()["data"]  # a study that does not set it records what it did before
    assert synth_config(plain.data, 7).p_ambiguous == SynthConfig.p_ambiguous
    cfg = from_dict({"models": [TEACHER], "teacher": "tr", "data": {"preset": "aligned", "p_ambiguous": 0.1}})
    assert cfg.as_dict()["data"]["p_ambiguous"] == 0.1
    synth = synth_config(cfg.data, 7)
    assert (synth.seed, synth.p_ambiguous, synth.preset, synth.num_train) == (7, 0.1, "aligned", cfg.data.num_train)


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
    from fairseq_nat_study.study.config import ModelSpec
    from fairseq_nat_study.study.config_source import quick_config
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
    from fairseq_nat_study.study.ood import synth_config, write_synth
    from fairseq_nat_study.study.ood_config import DEFAULT_SYNTH_SHIFT

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


def test_plots_are_drawn_only_from_what_the_study_measured(tmp_path: Path) -> None:
    """Without a speed stage there is no latency to plot: no empty BLEU-vs-latency plot, and the report's list of
    plots names the files written."""
    from fairseq_nat_study.study.report.write import write_report

    write_report(_results(), tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["bleu_vs_ll.png", "refinement.png"]
    assert "Plots: `bleu_vs_ll.png`, `refinement.png`." in (tmp_path / "report.md").read_text()
    timed = _results()
    for i, run in enumerate(timed["runs"]):  # each final checkpoint timed in its own evaluation
        run["points"][-1]["speed"] = {"decoder": "d", "latency_ms": 2.0 + i, "throughput": 100.0, "threads": 1}
    write_report(timed, tmp_path / "timed")
    assert (tmp_path / "timed" / "bleu_vs_latency.png").is_file()
    assert "`bleu_vs_latency.png`" in (tmp_path / "timed" / "report.md").read_text()
