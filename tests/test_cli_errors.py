"""Bad input to the plugin's tools ends in ``fairseq-nat-study <tool>: error: <flag or file> ...``, exit 2, with no
traceback, and before any model is timed or any split scored."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fairseq_helpers import run_train
from fairseq_nat_study.cli.main import main as cli


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.fixture(scope="module")
def bad_checkpoints(tmp_path_factory: pytest.TempPathFactory, two_mode) -> dict[str, Path]:
    """An empty file, text, and the first 5000 bytes of a real checkpoint."""
    root = tmp_path_factory.mktemp("bad_ckpt")
    files = {"empty": root / "empty.pt", "garbage": root / "garbage.pt", "truncated": root / "truncated.pt"}
    files["empty"].write_bytes(b"")
    files["garbage"].write_text("not a checkpoint\n")
    files["truncated"].write_bytes(two_mode.nat.read_bytes()[:5000])
    return files


@pytest.mark.parametrize("kind", ["empty", "garbage", "truncated"])
def test_unreadable_checkpoints_are_named_by_every_tool(kind: str, bad_checkpoints, two_mode, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad, data = str(bad_checkpoints[kind]), str(two_mode.data)
    runs = {
        "loglik": ("--path", ["loglik", "--path", bad, "--data", data, "--out", str(tmp_path / "ll.json")]),
        "bench": ("--path", ["bench", "--path", str(two_mode.ar), "--path", bad, "--data", data]),
        "total-correlation": ("--nat", ["total-correlation", "--ar", str(two_mode.ar), "--nat", bad, "--data", data,
                                        "--out", str(tmp_path / "tc.json")]),
        "distill": ("--teacher", ["distill", "--teacher", bad, "--data", data, "--out", str(tmp_path / "d")]),
    }
    for tool, (flag, argv) in runs.items():
        code, err = _run(capsys, *argv, "--cpu")
        assert code == 2, tool
        assert err.startswith(f"fairseq-nat-study {tool}: error: {flag} {bad}"), err
        assert "ms/sentence" not in err  # bench loads and checks every checkpoint before timing any


def _copy_bin(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def _rewrite_side(data: Path, split: str, lang: str, items: list) -> None:
    """Replaces one side of a binarised split with ``items`` (token-id tensors)."""
    from fairseq.data import indexed_dataset

    prefix = data / f"{split}.src-tgt.{lang}"
    builder = indexed_dataset.make_builder(f"{prefix}.bin", impl="mmap", vocab_size=64)
    for item in items:
        builder.add_item(item)
    builder.finalize(f"{prefix}.idx")


def _side(data: Path, split: str, lang: str) -> list:
    from fairseq.data import data_utils

    return list(data_utils.load_indexed_dataset(str(data / f"{split}.src-tgt.{lang}"), None))


def test_loglik_names_both_files_when_a_split_sides_differ(two_mode, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = _copy_bin(two_mode.data, tmp_path / "bin")
    _rewrite_side(data, "test", "tgt", _side(data, "test", "tgt")[:7])
    code, err = _run(capsys, "loglik", "--path", str(two_mode.nat), "--data", str(data), "--out",
                     str(tmp_path / "ll.json"), "--cpu")
    assert code == 2
    assert "--subset test: 101 source sentences in" in err and "test.src-tgt.src.idx" in err
    assert "7 target sentences in" in err and "test.src-tgt.tgt.idx" in err


def test_loglik_refuses_an_empty_split(two_mode, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _copy_bin(two_mode.data, tmp_path / "bin")
    for lang in ("src", "tgt"):
        _rewrite_side(data, "test", lang, [])
    code, err = _run(capsys, "loglik", "--path", str(two_mode.nat), "--data", str(data), "--out",
                     str(tmp_path / "ll.json"), "--cpu")
    assert code == 2 and "--subset test: the split in" in err and "holds no sentences" in err
    assert not (tmp_path / "ll.json").exists()


def test_loglik_names_an_over_long_sentence_and_gives_advice_it_can_follow(two_mode, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    data = _copy_bin(two_mode.data, tmp_path / "bin")
    src = _side(data, "test", "src")
    src[4] = torch.cat([src[4][:1].repeat(1100), src[4][-1:]])  # 1101 tokens with EOS; the tiny model takes 1024
    _rewrite_side(data, "test", "src", src)
    code, err = _run(capsys, "loglik", "--path", str(two_mode.nat), "--data", str(data), "--out",
                     str(tmp_path / "ll.json"), "--cpu")
    assert code == 2
    assert "--subset test of" in err and "line 5 of the split: source 1101 tokens (with EOS) > 1024" in err
    assert "skip-invalid-size-inputs" not in err  # a flag loglik does not have


def test_out_in_a_missing_folder_fails_before_any_work(two_mode, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no" / "such" / "ll.json"
    for argv in (["loglik", "--path", str(two_mode.nat)],
                 ["total-correlation", "--ar", str(two_mode.ar), "--nat", str(two_mode.nat)],
                 ["bench", "--path", str(two_mode.nat)]):
        code, err = _run(capsys, *argv, "--data", str(two_mode.data), "--out", str(out), "--cpu")
        assert code == 2
        assert f": error: --out {out}: no directory {out.parent}" in err
        assert len(err.strip().splitlines()) == 1  # the error is all: nothing was loaded or scored first


@pytest.mark.parametrize("flag, value", [("--batch-size", "0"), ("--repeats", "0"), ("--latency-sentences", "0")])
def test_bench_refuses_sizes_below_one(flag: str, value: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as end:  # refused while the command line is parsed
        cli(["bench", "--path", str(tmp_path / "m.pt"), "--data", str(tmp_path), flag, value])
    err = capsys.readouterr().err
    assert end.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"fairseq-nat-study bench: error: argument {flag}: must be an integer >= 1, got '0'"


@pytest.fixture(scope="module")
def fairseq_nat_checkpoint(two_mode, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fairseq's own NATransformerModel, one update on the validation split (a checkpoint bench cannot time)."""
    save = tmp_path_factory.mktemp("fairseq_nat")
    if not (save / "checkpoint_last.pt").exists():
        run_train(two_mode.data, save, [
            "--arch", "nonautoregressive_transformer", "--criterion", "nat_loss", "--encoder-layers", "1",
            "--decoder-layers", "1", "--encoder-embed-dim", "16", "--decoder-embed-dim", "16",
            "--encoder-ffn-embed-dim", "32", "--decoder-ffn-embed-dim", "32", "--encoder-attention-heads", "1",
            "--decoder-attention-heads", "1", "--max-update", "1", "--max-tokens", "512", "--train-subset", "valid",
            "--disable-validation"])
    return save / "checkpoint_last.pt"


def test_bench_checks_every_checkpoint_before_timing_any(two_mode, fairseq_nat_checkpoint,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "bench", "--path", str(two_mode.ar), "--path", str(fairseq_nat_checkpoint),
                     "--data", str(two_mode.data), "--cpu")
    assert code == 2
    assert f"fairseq-nat-study bench: error: --path {fairseq_nat_checkpoint}: NATransformerModel" in err
    assert "ms/sentence" not in err  # the AR model was not timed first


def test_collect_takes_the_studys_combined_file_unlabelled_and_refuses_it_labelled(tmp_path: Path,
                                                                                   capsys) -> None:
    from fairseq_nat_study.cli.collect import _tc_entries

    entry = {"C_hat_per_sentence": 1.5, "C_hat_per_token": 0.2, "ar": "tr_tiny", "nat": "nat_tiny", "estimator": "raw"}
    combined = tmp_path / "total_correlation.json"
    combined.write_text(json.dumps({"raw": entry, "dist": {**entry, "C_hat_per_sentence": 0.5},
                                    "glat_proxy": {"skipped": "no GLAT model"}}))
    entries = _tc_entries("all", combined)
    assert entries["raw"]["C_hat_per_sentence"] == 1.5 and entries["dist"]["C_hat_per_sentence"] == 0.5
    with pytest.raises(ValueError, match="combined file .*give it without a label"):
        _tc_entries("raw", combined)
    single = tmp_path / "raw.json"
    single.write_text(json.dumps({"not": "a C-hat file"}))
    with pytest.raises(ValueError, match=r"raw=.*raw.json: not a file written by"):
        _tc_entries("raw", single)
    (tmp_path / "data.json").write_text("{}")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "eval.json").write_text("{}")
    code, err = _run(capsys, "collect", "--name", "x", "--data-json", str(tmp_path / "data.json"), "--runs",
                     str(tmp_path / "run"), "--total-correlation", f"raw={combined}", "--out", str(tmp_path / "o"))
    assert code == 2 and f"fairseq-nat-study collect: error: --total-correlation raw={combined}" in err
