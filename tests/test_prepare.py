"""Text preparation for the recipes: sacremoses normalisation/tokenisation, Romanian normalisation, cleaning
with counts, and ``fairseq-nat-study prepare`` from raw files to a joined-dictionary data-bin."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairseq_nat_study.cli.main import main as cli
from fairseq_nat_study.data.text_prep import TokenizeOptions, clean_pairs, normalise_romanian, tokenize_line


def test_moses_tokenisation_and_normalisation() -> None:
    de = TokenizeOptions("de")
    assert tokenize_line("Er sagte: „Das ist ein Bahn-Hof“ & mehr...", de) == 'Er sagte : " Das ist ein Bahn-Hof " & mehr ...'
    assert tokenize_line("  Zwei Männer  stehen am Herd.\n", TokenizeOptions("de", lowercase=True)) == \
        "zwei männer stehen am herd ."
    assert tokenize_line("It's a test, isn't it?", TokenizeOptions("en")) == "It 's a test , isn 't it ?"


def test_romanian_normalisation() -> None:
    assert normalise_romanian("Ţara şi ţărmul, țară și") == "Tara si tarmul, tara si"
    ro = TokenizeOptions("ro", romanian=True)
    assert tokenize_line("În fondul ţării s-a întors.", ro) == "In fondul tarii s-a intors ."


def test_clean_pairs_counts_and_rules() -> None:
    src = ["a b", "", "a b c d e f g", "a", "a b c"]
    tgt = ["x y", "x", "x", "x y z w", "x y z"]
    assert clean_pairs(src, tgt, max_len=0, ratio=0) == [0, 2, 3, 4]  # only the empty pair goes
    assert clean_pairs(src, tgt, max_len=5, ratio=0) == [0, 3, 4]
    assert clean_pairs(src, tgt, max_len=0, ratio=3) == [0, 4]  # 7:1 and 1:4 exceed 3
    with pytest.raises(ValueError, match="5 source lines but 4"):
        clean_pairs(src, tgt[:4], 0, 0)


def test_prepare_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    train_de = ["Ein Mann fährt Rad.", "Zwei Hunde spielen im Schnee.", "Eine Frau liest ein Buch.", ""] * 10
    train_en = ["A man rides a bike.", "Two dogs play in the snow.", "A woman reads a book.", "Empty source."] * 10
    (raw / "train.de").write_text("\n".join(train_de) + "\n")
    (raw / "train.en").write_text("\n".join(train_en) + "\n")
    (raw / "val.de").write_text("Ein Hund läuft.\nEin Mann liest.\nZwei Frauen fahren Rad.\n")
    (raw / "val.en").write_text("A dog runs.\nA man reads.\nTwo women ride bikes.\n")
    out = tmp_path / "out"
    code = cli(["prepare", "--dir", str(raw), "--src", "de", "--tgt", "en", "--valid", "val", "--test", "val",
                "--valid-lines", "1:1", "--test-lines", "2:3", "--tokenize", "--lowercase", "--bpe-merges", "50",
                "--out", str(out)])
    assert code == 0
    data = json.loads((out / "data.json").read_text())
    assert data["sentences"] == {"train": 30, "valid": 1, "test": 2}
    assert data["dropped_by_cleaning"] == {"train": 10}  # the empty source lines, counted, not silent
    assert (out / "text" / "test.en").read_text() == "a man reads .\ntwo women ride bikes .\n"
    assert (out / "text" / "train.de").read_text().splitlines()[0] == "ein mann fährt rad ."
    assert "@@" in (out / "bpe" / "train.de").read_text()  # BPE applied...
    assert (out / "bpe" / "codes").is_file()
    joint = (out / "bin" / "dict.de.txt").read_text()
    assert joint == (out / "bin" / "dict.en.txt").read_text()  # ...with one joined dictionary
    assert "man" in joint.split() or "man@@" in joint.split()
    assert "removed by cleaning" in capsys.readouterr().out


def test_prepare_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["prepare", "--dir", str(tmp_path), "--src", "de", "--tgt", "en", "--out", str(tmp_path / "o")]) == 2
    assert "no file" in capsys.readouterr().err
    assert cli(["prepare", "--dir", str(tmp_path), "--src", "de", "--tgt", "en", "--lowercase",
                "--out", str(tmp_path / "o")]) == 2
    assert "set data.tokenize" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["prepare", "--dir", str(tmp_path), "--src", "de", "--tgt", "en", "--test-lines", "3-4", "--out", "o"])
