"""``fairseq-nat-study evaluate --study``: a finished study run scored on any parallel text, prepared as the study
prepared its test split; the record goes to the named output, never into the study."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fairseq_nat_study.cli.main import main as cli
from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus
from fairseq_nat_study.study.config import StudyConfigError
from fairseq_nat_study.study.config_source import quick_config
from fairseq_nat_study.study.data_prep import prepare_data
from fairseq_nat_study.study.run_eval import evaluate_run
from fairseq_nat_study.study.score_text import load_study, prepare_text, score_text
from fairseq_nat_study.utils.fairseq_runner import run_fairseq


def _synth_study(root: Path, data_bin: Path, checkpoint: Path) -> Path:
    """A study directory around a trained checkpoint of the synthetic corpus: its config, data record, data-bin
    and one run, ``nat_tiny-raw``."""
    study = root / "study"
    (study / "data").mkdir(parents=True)
    (study / "config.json").write_text(json.dumps(quick_config().as_dict()))
    (study / "data" / "data.json").write_text(json.dumps({"src": "src", "tgt": "tgt", "kind": "synth"}))
    (study / "data" / "bin").symlink_to(data_bin.resolve())
    (study / "runs" / "nat_tiny-raw").mkdir(parents=True)
    (study / "runs" / "nat_tiny-raw" / "checkpoint_last.pt").symlink_to(checkpoint.resolve())
    return study


def test_a_run_scored_on_its_own_test_text_gives_the_studys_figures(two_mode, tmp_path: Path) -> None:
    study = _synth_study(tmp_path, two_mode.data, two_mode.nat)
    out = tmp_path / "scored" / "nat-test.json"
    out.parent.mkdir()
    record = score_text(study, "nat_tiny-raw", two_mode.raw / "test", out, progress=lambda s: None)
    assert json.loads(out.read_text()) == record and not (study / "runs" / "nat_tiny-raw" / "eval.json").exists()
    refs = (two_mode.raw / "test.tgt").read_text().splitlines()
    direct = evaluate_run(study / "runs" / "nat_tiny-raw", two_mode.data, refs, replace(quick_config().eval, last_checkpoints=0),
                          name="nat_tiny", data="raw", lang="tgt", max_checkpoints=1, speed=False,
                          progress=lambda s: None, out=tmp_path / "direct.json")
    (mine,), (theirs,) = record["points"], direct["points"]
    assert mine["final"] and (mine["bleu"], mine["ll_per_token"]) == (theirs["bleu"], theirs["ll_per_token"])
    assert record["scored_on"]["sentences"] == len(refs) and record["scored_on"]["text"] == "test.{src,tgt}"


def test_text_is_tokenized_segmented_and_binarised_as_the_studys_test_split(tmp_path: Path) -> None:
    """A text study with BPE: its own test text prepared again gives the bytes of the study's test split."""
    corpus = tmp_path / "corpus"
    write_corpus(SynthConfig(seed=3, num_train=300, num_valid=20, num_test=30, preset="aligned"), corpus)
    text = tmp_path / "text"
    text.mkdir()
    for split in ("train", "valid", "test"):
        for side, lang in (("src", "de"), ("tgt", "en")):
            (text / f"{split}.{lang}").write_text((corpus / f"{split}.{side}").read_text())
    cfg = quick_config()
    cfg = replace(cfg, data=replace(cfg.data, kind="text", dir=str(text), src="de", tgt="en", bpe_merges=40, ood=None))
    study = tmp_path / "study"
    prepare_data(cfg.data, cfg.seed, study / "data", run_fairseq, progress=lambda s: None)
    (study / "config.json").write_text(json.dumps(cfg.as_dict()))
    loaded, record = load_study(study)
    assert record["subwords"]["kind"] == "subword_nmt"
    bin_dir, refs, n = prepare_text(study, loaded, record, text / "test", tmp_path / "work", progress=lambda s: None)
    assert n == 30 and refs == (text / "test.en").read_text().splitlines()
    for suffix in ("de-en.de.bin", "de-en.de.idx", "de-en.en.bin", "de-en.en.idx"):
        assert (bin_dir / f"test.{suffix}").read_bytes() == (study / "data" / "bin" / f"test.{suffix}").read_bytes()
    assert "@@" in (tmp_path / "work" / "segmented" / "test.de").read_text()  # the study's codes were applied
    # WMT's split hyphens joined and the text lower-cased first, as for an OOD set
    (tmp_path / "wmt.de").write_text("".join(f"{line.upper()} ##AT##-##AT## x\n" for line in refs))
    (tmp_path / "wmt.en").write_text("".join(f"{line.upper()}\n" for line in refs))
    _, lowered, _ = prepare_text(study, loaded, record, tmp_path / "wmt", tmp_path / "work2", lowercase=True,
                                 join_hyphens=True, progress=lambda s: None)
    segmented = (tmp_path / "work2" / "segmented" / "test.de").read_text()
    assert lowered == refs and "##AT##" not in segmented and segmented.count("-") == 30


def _err(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli(["evaluate", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_bad_study_runs_and_outputs_are_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = tmp_path / "fake.pt"
    ckpt.write_bytes(b"x")
    study = _synth_study(tmp_path, tmp_path, ckpt)
    test = str(tmp_path / "t")
    assert "--study needs --run, --out" in _err(["--study", str(study), "--test", test], capsys)
    assert "inside the study directory" in _err(
        ["--study", str(study), "--run", "nat_tiny-raw", "--test", test, "--out", str(study / "runs" / "x.json")], capsys)
    out = str(tmp_path / "o.json")
    err = _err(["--study", str(study), "--run", "ga_tiny-raw", "--test", test, "--out", out], capsys)
    assert "no run folder" in err and err.endswith("the study has: nat_tiny-raw")
    assert "expected <model>-raw or <model>-dist" in _err(
        ["--study", str(study), "--run", "nat_tiny", "--test", test, "--out", out], capsys)
    assert "--test: no file" in _err(["--study", str(study), "--run", "nat_tiny-raw", "--test", test, "--out", out], capsys)
    (tmp_path / "empty").mkdir()
    assert "no config.json" in _err(["--study", str(tmp_path / "empty"), "--run", "nat_tiny-raw", "--test", test,
                                     "--out", out], capsys)
    assert "no such study directory" in _err(["--study", str(tmp_path / "nowhere"), "--run", "a-raw", "--test", test,
                                              "--out", out], capsys)
    assert "required: --data, --refs, --name, --condition, --lang" in _err(["--run-dir", str(study)], capsys)
    seeded = json.loads((study / "config.json").read_text())
    (tmp_path / "seeded" / "data").mkdir(parents=True)
    (tmp_path / "seeded" / "config.json").write_text(json.dumps({**seeded, "seeds": [1, 2]}))
    (tmp_path / "seeded" / "data" / "data.json").write_text("{}")
    assert "give one seed's study" in _err(["--study", str(tmp_path / "seeded"), "--run", "nat_tiny-raw", "--test", test,
                                            "--out", out], capsys)
    with pytest.raises(StudyConfigError, match="inside the study directory"):
        score_text(study, "nat_tiny-raw", Path(test), study / "scored.json")
