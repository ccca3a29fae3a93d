"""Tests for BLEU computation via sacreBLEU."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import sacrebleu

from fairseq_nat_study.analysis.bleu import (
    BleuResult,
    compound_split,
    corpus_bleu,
    detokenize,
    read_lines,
    remove_bpe,
    tokenized_bleu,
)
from fairseq_nat_study.cli.bleu import add_args, main


def test_identical_is_100() -> None:
    lines = ["Das ist ein Test .", "Noch ein Satz , bitte ."]
    result = corpus_bleu(lines, lines, compound=True)
    assert isinstance(result, BleuResult)
    assert result.score == pytest.approx(100.0)
    assert result.tokenized_score == pytest.approx(100.0)
    assert result.compound_split_score == pytest.approx(100.0)
    assert result.num_sentences == 2


def test_hand_computed_bleu() -> None:
    # Precisions 5/6, 3/5, 2/4, 1/3 with no brevity penalty -> (1/12) ** 0.25.
    result = corpus_bleu(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert result.score == pytest.approx(100 * (1 / 12) ** 0.25, abs=1e-9)
    assert result.tokenized_score == pytest.approx(100 * (1 / 12) ** 0.25, abs=1e-9)
    assert result.compound_split_score is None
    # Perfect precisions, hypothesis 4 vs reference 6 tokens -> BP = exp(1 - 6/4).
    short = corpus_bleu(["the cat sat on"], ["the cat sat on the mat"])
    assert short.score == pytest.approx(100 * math.exp(-0.5), abs=1e-9)


def test_matches_sacrebleu_and_tokenization_differs() -> None:
    hyps = ["The quick brown fox jumped over the lazy dog.", "It's raining, isn't it?"]
    refs = ["The quick brown fox jumps over the lazy dog.", "It is raining, isn't it?"]
    result = corpus_bleu(hyps, refs)
    assert result.score == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    none = sacrebleu.corpus_bleu(hyps, [refs], tokenize="none").score
    assert result.tokenized_score == pytest.approx(none, abs=1e-9)
    assert result.tokenized_score != pytest.approx(result.score)


def test_compound_split() -> None:
    assert compound_split("Bahn-Hof") == "Bahn ##AT##-##AT## Hof"
    assert compound_split("rich-text format") == "rich ##AT##-##AT## text format"
    assert compound_split("a - b") == "a - b"
    assert compound_split("-x y-") == "-x y-"
    # Non-overlapping matches, exactly like Perl's s{(\S)-(\S)}{...}g.
    assert compound_split("a-b-c") == "a ##AT##-##AT## b-c"
    assert compound_split("Nord-Süd-Achse") == "Nord ##AT##-##AT## Süd ##AT##-##AT## Achse"
    assert compound_split("1-2 x-y") == "1 ##AT##-##AT## 2 x ##AT##-##AT## y"


def test_compound_split_changes_score() -> None:
    hyps = ["die Bahn-Hof Straße"]
    refs = ["die Bahn-Station Straße"]
    result = corpus_bleu(hyps, refs, compound=True)
    # Tokenized: unigrams 2/3, bigrams 0/2 -> smoothed; compound-split has more matches.
    split = tokenized_bleu([compound_split(h) for h in hyps], [compound_split(r) for r in refs])
    assert result.compound_split_score == pytest.approx(split)
    assert result.compound_split_score > result.tokenized_score


def test_errors() -> None:
    with pytest.raises(ValueError) as info:
        corpus_bleu(["a", "b", "c"], ["a", "b"])
    assert "3" in str(info.value) and "2" in str(info.value)
    with pytest.raises(ValueError, match="empty"):
        corpus_bleu([], [])


def test_signature() -> None:
    result = corpus_bleu(["a b c d"], ["a b c d"])
    assert "nrefs:1" in result.signature and "tok:13a" in result.signature
    assert "tok:intl" in corpus_bleu(["a b c d"], ["a b c d"], tokenize="intl").signature


def test_detokenize_and_bpe() -> None:
    assert remove_bpe("the qu@@ ick fox") == "the quick fox"
    assert remove_bpe("end@@") == "end"
    assert detokenize(["Hello , wor@@ ld !", "it &apos;s"]) == ["Hello, world!", "it's"]


def test_read_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text(" a b \nc\n\nd", encoding="utf-8")
    assert read_lines(path) == [" a b ", "c", "", "d"]
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.txt"):
        read_lines(empty)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hyp, ref, ref3 = tmp_path / "hyp", tmp_path / "ref", tmp_path / "ref3"
    hyp.write_text("the Bahn-Hof is gr@@ eat .\nhello world\n", encoding="utf-8")
    ref.write_text("the Bahn-Hof is great .\nhello world\n", encoding="utf-8")
    ref3.write_text("a\nb\nc\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_args(parser)
    out_json = tmp_path / "out" / "bleu.json"
    args = parser.parse_args(["--hyp", str(hyp), "--ref", str(ref), "--compound-split", "--detok",
                              "--json", str(out_json)])
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "sacreBLEU = 100.00" in printed and "nrefs:1" in printed
    assert "compound-split BLEU = 100.00" in printed
    payload = json.loads(out_json.read_text())
    assert payload["score"] == pytest.approx(100.0) and payload["num_sentences"] == 2
    assert main(parser.parse_args(["--hyp", str(hyp), "--ref", str(ref3)])) == 2
    err = capsys.readouterr().err
    assert str(hyp) in err and str(ref3) in err and "has 2 lines" in err and "has 3" in err


def test_cli_removes_bpe_by_default_and_keeps_it_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hyp, ref = tmp_path / "hyp", tmp_path / "ref"
    hyp.write_text("the house is gr@@ eat and big .\n", encoding="utf-8")
    ref.write_text("the house is great and big .\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_args(parser)
    assert main(parser.parse_args(["--hyp", str(hyp), "--ref", str(ref)])) == 0
    assert "tokenized BLEU = 100.00" in capsys.readouterr().out
    out_json = tmp_path / "kept.json"
    assert main(parser.parse_args(["--hyp", str(hyp), "--ref", str(ref), "--keep-bpe", "--json", str(out_json)])) == 0
    kept = json.loads(out_json.read_text())
    assert kept["bpe_removed"] is False
    assert kept["tokenized_score"] == pytest.approx(tokenized_bleu(["the house is gr@@ eat and big ."],
                                                                   ["the house is great and big ."]))
    assert kept["tokenized_score"] < 100.0
