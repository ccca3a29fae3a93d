"""SentencePiece in ``fairseq-nat-study prepare`` (``--spm-vocab N``): one joint model, every split encoded and
binarised, the model recorded in ``data.json``; decoding the pieces gives the text back, so BLEU through the
plugin's scoring path is computed on words; bad settings are refused in one line."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fairseq_nat_study.analysis.bleu import (decode_sentencepiece, remove_bpe, remove_subwords, subword_scheme)
from fairseq_nat_study.cli.main import main as cli

WORDS = ["haus", "hausboot", "bootshaus", "baum", "baumhaus", "garten", "gartenhaus", "tür", "fenster", "dach",
         "straße", "wagen", "fährt", "steht", "liegt", "schön", "groß", "klein", "der", "die", "das", "ein"]


def _corpus(root: Path, n: int = 120) -> Path:
    """``all.de`` (German-like words) and ``all.en`` (the same words reversed), one sentence a line."""
    rng = np.random.default_rng(0)
    de = [" ".join(rng.choice(WORDS, size=rng.integers(2, 7))) + " ." for _ in range(n)]
    root.mkdir()
    (root / "all.de").write_text("".join(s + "\n" for s in de), encoding="utf-8")
    (root / "all.en").write_text("".join(s[::-1] + "\n" for s in de), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def spm_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus prepared with a 60-piece unigram SentencePiece model (one fairseq-preprocess call)."""
    root = tmp_path_factory.mktemp("spm")
    raw = _corpus(root / "raw")
    out = root / "out"
    assert cli(["prepare", "--dir", str(raw), "--src", "de", "--tgt", "en", "--train", "all", "--valid", "all",
                "--test", "all", "--valid-lines", "1:10", "--test-lines", "11:30", "--spm-vocab", "60",
                "--out", str(out)]) == 0
    return out


def test_pieces_decode_to_the_text_of_every_split(spm_data: Path) -> None:
    for split in ("train", "valid", "test"):
        for lang in ("de", "en"):
            text = (spm_data / "text" / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()
            pieces = (spm_data / "spm" / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()
            assert len(pieces) == len(text) > 0
            assert [decode_sentencepiece(p) for p in pieces] == text  # the round trip is exact
            assert pieces != text  # ...and the text was segmented
    raw = (spm_data.parent / "raw" / "all.en").read_text(encoding="utf-8").splitlines()
    assert (spm_data / "text" / "test.en").read_text(encoding="utf-8").splitlines() == raw[10:30]


def test_one_joint_model_recorded_and_binarised(spm_data: Path) -> None:
    import sentencepiece as spm

    data = json.loads((spm_data / "data.json").read_text())
    assert data["subwords"] == {"kind": "sentencepiece", "model": "spm/spm.model", "size": 60,
                                "model_type": "unigram"}
    assert "bpe_merges" not in data and data["sentences"] == {"train": 120, "valid": 10, "test": 20}
    model = spm.SentencePieceProcessor(model_file=str(spm_data / data["subwords"]["model"]))
    assert model.get_piece_size() == 60
    dict_de = (spm_data / "bin" / "dict.de.txt").read_text(encoding="utf-8")
    assert dict_de == (spm_data / "bin" / "dict.en.txt").read_text(encoding="utf-8")  # one joined dictionary
    symbols = [line.split()[0] for line in dict_de.splitlines() if not line.startswith("madeupword")]  # padding
    assert set(symbols) <= {model.id_to_piece(i) for i in range(60)}  # the pieces of the one joint model
    assert subword_scheme(symbols) == "sentencepiece"
    assert subword_scheme(["the", "ho@@", "use"]) == "subword_nmt"
    assert (spm_data / "bin" / "test.de-en.en.bin").is_file() and not (spm_data / "bpe").exists()


def test_bleu_of_the_references_against_themselves_is_100(spm_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fairseq_nat_study.study.evaluate import bleu_scores, diversity

    refs = (spm_data / "text" / "test.en").read_text(encoding="utf-8").splitlines()
    pieces = (spm_data / "spm" / "test.en").read_text(encoding="utf-8").splitlines()
    scores = bleu_scores(pieces, refs, "en", compound=True, subwords="sentencepiece")
    assert scores["bleu"] == 100.0 and scores["tokenized_bleu"] == 100.0 and scores["compound_split_bleu"] == 100.0
    assert bleu_scores(pieces, refs, "en", compound=False)["bleu"] < 50  # pieces scored as BPE are not words
    assert diversity([[pieces[0], pieces[0]]], "sentencepiece") == 0.0
    assert cli(["bleu", "--hyp", str(spm_data / "spm" / "test.en"), "--ref", str(spm_data / "text" / "test.en"),
                "--remove-bpe", "sentencepiece"]) == 0
    assert "sacreBLEU = 100.00" in capsys.readouterr().out
    assert cli(["bleu", "--hyp", str(spm_data / "spm" / "test.en"), "--ref", str(spm_data / "text" / "test.en")]) == 0
    assert "sacreBLEU = 100.00" not in capsys.readouterr().out  # pieces left in place are not the words


def test_remove_subwords() -> None:
    assert decode_sentencepiece("▁the ▁qu ick ▁fox") == "the quick fox"
    assert remove_subwords("▁a ▁b@@ ▁c", "sentencepiece") == "a b@@ c"
    assert remove_subwords("the qu@@ ick", "subword_nmt") == remove_bpe("the qu@@ ick") == "the quick"
    assert remove_subwords("the qu@@ ick", "none") == "the qu@@ ick"
    with pytest.raises(ValueError, match="wordpiece"):
        remove_subwords("x", "wordpiece")


def test_bpe_type_model(tmp_path: Path) -> None:
    from fairseq_nat_study.data.subwords import learn_and_apply_sentencepiece

    text = _corpus(tmp_path / "text")
    for lang in ("de", "en"):
        (text / f"train.{lang}").write_text((text / f"all.{lang}").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "spm"
    out.mkdir()
    result = learn_and_apply_sentencepiece(text, out, 50, "bpe", "de", "en", ["train"], lambda s: None)
    assert result.as_dict() == {"kind": "sentencepiece", "model": "spm/spm.model", "size": 50, "model_type": "bpe"}
    pieces = (out / "train.de").read_text(encoding="utf-8").splitlines()
    assert [decode_sentencepiece(p) for p in pieces] == (text / "all.de").read_text(encoding="utf-8").splitlines()
    with pytest.raises(RuntimeError, match="could not learn a 5000-piece bpe model.*too high"):
        learn_and_apply_sentencepiece(text, out, 5000, "bpe", "de", "en", ["train"], lambda s: None)


@pytest.mark.parametrize("flags, message", [
    (["--spm-vocab", "0"], "--spm-vocab 0: must be a positive vocabulary size"),
    (["--spm-vocab", "-8"], "--spm-vocab -8: must be a positive vocabulary size"),
    (["--bpe-merges", "0"], "--bpe-merges 0: must be a positive number"),
    (["--spm-vocab", "60", "--bpe-merges", "50"], "--bpe-merges 50 and --spm-vocab 60: one subword model"),
    (["--spm-type", "bpe"], "--spm-type bpe: only with --spm-vocab"),
])
def test_bad_subword_settings_are_refused_in_one_line(flags: list[str], message: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    raw = _corpus(tmp_path / "raw", n=10)
    code = cli(["prepare", "--dir", str(raw), "--src", "de", "--tgt", "en", "--train", "all", "--valid", "all",
                "--test", "all", *flags, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"fairseq-nat-study prepare: error: {message}")
    assert not (tmp_path / "out").exists()  # refused before any work


def test_a_vocabulary_the_text_cannot_fill_is_refused_in_one_line(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    raw = _corpus(tmp_path / "raw", n=10)
    code = cli(["prepare", "--dir", str(raw), "--src", "de", "--tgt", "en", "--train", "all", "--valid", "all",
                "--test", "all", "--spm-vocab", "8000", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "SentencePiece could not learn a 8000-piece unigram model from the training text: Vocabulary size too " \
           "high (8000)" in err
    assert not (tmp_path / "out" / "bin").exists()


@pytest.mark.slow  # prepares a study's data with SentencePiece (about 10 s on 2 cores)
def test_study_data_section_takes_spm_vocab(tmp_path: Path) -> None:
    """A study config's ``data.spm_vocab`` gives the study's data stage a SentencePiece model, which the OOD
    test set is encoded with too."""
    from fairseq_nat_study.study.config import StudyConfigError, from_dict
    from fairseq_nat_study.study.data_prep import prepare_data
    from fairseq_nat_study.utils.fairseq_runner import run_fairseq

    raw = _corpus(tmp_path / "raw")
    cfg = from_dict({"models": [{"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 10}],
                     "teacher": "tr", "data": {
                         "kind": "text", "dir": str(raw), "src": "de", "tgt": "en", "train": "all", "valid": "all",
                         "test": "all", "valid_lines": [0, 7], "test_lines": [7, 20], "max_train": 80,
                         "spm_vocab": 50, "spm_type": "bpe",
                         "ood": {"dir": str(raw), "prefix": "all", "lines": [90, 120]}}}).data
    summary = prepare_data(cfg, 1, tmp_path / "data", run_fairseq, progress=lambda s: None)
    assert summary["subwords"] == {"kind": "sentencepiece", "model": "spm/spm.model", "size": 50, "model_type": "bpe"}
    data = tmp_path / "data"
    for split in ("train", "test", "ood"):
        text = (data / "text" / f"{split}.en").read_text(encoding="utf-8").splitlines()
        assert [decode_sentencepiece(p) for p in (data / "spm" / f"{split}.en").read_text().splitlines()] == text
    assert (data / "bin" / "test1.de-en.en.bin").is_file()
    cfg.spm_vocab = -1
    with pytest.raises(StudyConfigError, match="data.spm_vocab"):
        prepare_data(cfg, 1, tmp_path / "data2", run_fairseq, progress=lambda s: None)
