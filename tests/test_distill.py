"""``fairseq-nat-study distill``: line order and count kept, same dictionaries, the other splits untouched,
a killed run resumes to exactly the output of an uninterrupted one, bad input is a clear error."""
from __future__ import annotations

import filecmp
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import NUM_VALID
from fairseq_nat_study.distill.pipeline import DistillConfig, DistillError, distill, length_cap, length_offsets

SPLIT = "valid.src-tgt"


def _dataset_lines(data: Path, name: str) -> list[str]:
    from fairseq.data import Dictionary, data_utils

    lang = name.rsplit(".", 1)[1]
    dictionary = Dictionary.load(str(data / f"dict.{lang}.txt"))
    dataset = data_utils.load_indexed_dataset(str(data / name), None)
    return [dictionary.string(dataset[i]) for i in range(len(dataset))]


def _cli(teacher: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fairseq_nat_study.cli.main", "distill", "--teacher", str(teacher), "--data",
            str(data), "--out", str(out), "--subset", "valid", "--cpu", *extra]


@pytest.fixture(scope="module")
def uninterrupted(two_mode, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("distill") / "one_shard"
    distill(DistillConfig(teacher=str(two_mode.ar), data=str(two_mode.data), out=str(out), subset="valid", cpu=True))
    return out


def test_distilled_split_keeps_order_count_and_dictionaries(two_mode, uninterrupted) -> None:
    out = uninterrupted
    hyps = _dataset_lines(out, f"{SPLIT}.tgt")
    assert len(hyps) == NUM_VALID  # 101: not a multiple of fairseq's batch-size multiple
    # the sources are the original ones, byte for byte, and each hypothesis is the teacher's for its source
    assert filecmp.cmp(out / f"{SPLIT}.src.bin", two_mode.data / f"{SPLIT}.src.bin", shallow=False)
    sources = [line.split("\t", 1) for line in (out / ".distill" / "shard-0.txt").read_text().splitlines()
               if line.startswith("S-")]
    original = _dataset_lines(two_mode.data, f"{SPLIT}.src")
    assert sorted((int(i[2:]), s) for i, s in sources) == list(enumerate(original))
    for name in ("dict.src.txt", "dict.tgt.txt", "train.src-tgt.tgt.bin", "test.src-tgt.tgt.bin"):
        assert filecmp.cmp(out / name, two_mode.data / name, shallow=False)
    # beam search picks one of the two 50/50 modes: never the mixed output, so some references differ
    refs = _dataset_lines(two_mode.data, f"{SPLIT}.tgt")
    assert not any("no course" in h or "of problem" in h for h in hyps)
    assert 0 < sum(h != r for h, r in zip(hyps, refs)) < NUM_VALID


@pytest.mark.slow  # decodes the training split twice, killed once (about 60 s on 2 cores)
def test_killed_distillation_resumes_to_the_uninterrupted_output(two_mode, uninterrupted, tmp_path) -> None:
    out = tmp_path / "sharded"
    args = _cli(two_mode.ar, two_mode.data, out, "--shard-size", "25")  # 5 shards
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (out / ".distill" / "shard-1.done").exists():
        assert proc.poll() is None and time.time() < deadline, "distill ended before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its fairseq-generate child
    proc.wait()
    assert not (out / "distill.json").exists()
    done = sorted(p.name for p in (out / ".distill").glob("*.done"))
    assert 2 <= len(done) < 5

    resumed = subprocess.run(args, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{len(done)} done earlier" in resumed.stdout
    for name in (f"{SPLIT}.tgt.bin", f"{SPLIT}.tgt.idx", f"{SPLIT}.src.bin"):
        assert filecmp.cmp(out / name, uninterrupted / name, shallow=False), name


@pytest.mark.slow  # a new process (about 10 s on 2 cores)
def test_distill_refuses_a_non_autoregressive_teacher(two_mode, tmp_path) -> None:
    proc = subprocess.run(_cli(two_mode.nat, two_mode.data, tmp_path / "o"), capture_output=True, text=True)
    assert proc.returncode == 2
    assert "nat_study_nat_tiny is not an autoregressive" in proc.stderr


def test_distill_names_a_missing_split_and_other_settings(two_mode, tmp_path) -> None:
    with pytest.raises(DistillError, match=r"--subset nosuch: no .*nosuch\.src-tgt\.src\.idx"):
        distill(DistillConfig(teacher=str(two_mode.ar), data=str(two_mode.data), out=str(tmp_path / "o"),
                              subset="nosuch"))
    (tmp_path / "o" / ".distill").mkdir(parents=True)
    (tmp_path / "o" / ".distill" / "settings.json").write_text('{"beam": 5}')
    with pytest.raises(DistillError, match="other settings .*beam"):
        distill(DistillConfig(teacher=str(two_mode.ar), data=str(two_mode.data), out=str(tmp_path / "o"),
                              subset="valid"))


def test_a_held_out_split_gets_the_larger_of_its_own_and_the_training_splits_difference(two_mode,
                                                                                        tmp_path) -> None:
    from fairseq_nat_study.distill.pipeline import cap_offset

    train = int(length_offsets(two_mode.data, "train", "src", "tgt").max())
    assert cap_offset(two_mode.data, "valid", "src", "tgt", train - 3) == train
    assert cap_offset(two_mode.data, "valid", "src", "tgt", train + 3) == train + 3
    assert cap_offset(two_mode.data, "train", "src", "tgt", train - 3) == train - 3  # the training split: its own
    assert cap_offset(tmp_path, "valid", "src", "tgt", 4) == 4  # no training split beside it


def test_an_empty_split_is_refused_before_any_decoding(two_mode, tmp_path) -> None:
    from fairseq.data import indexed_dataset

    data = tmp_path / "data"
    data.mkdir()
    for lang in ("src", "tgt"):
        (data / f"dict.{lang}.txt").write_bytes((two_mode.data / f"dict.{lang}.txt").read_bytes())
        indexed_dataset.make_builder(str(data / f"valid.src-tgt.{lang}.bin"), impl="mmap", vocab_size=100).finalize(
            str(data / f"valid.src-tgt.{lang}.idx"))
    with pytest.raises(DistillError, match="--subset valid: the split in .* holds no sentences; nothing to distil"):
        distill(DistillConfig(teacher=str(two_mode.ar), data=str(data), out=str(tmp_path / "o"), subset="valid"))
    assert not (tmp_path / "o").exists()


def test_length_cap_comes_from_the_split_unless_given_once() -> None:
    def cfg(**kw) -> DistillConfig:
        return DistillConfig(teacher="t.pt", data="d", out="o", **kw)

    # fairseq counts |x| with its EOS: B = D - 1 keeps a hypothesis within D tokens of its source
    assert length_cap(cfg(), 7) == (1.0, 6)
    assert length_cap(cfg(), 0) == (1.0, 0) and length_cap(cfg(), -3) == (1.0, 0)
    assert length_cap(cfg(max_len_a=1.2, max_len_b=10), 7) == (1.2, 10)
    assert length_cap(cfg(generate_args=["--max-len-a=1.5", "--lenpen", "1"]), 7) is None
    with pytest.raises(DistillError, match="given twice"):
        length_cap(cfg(max_len_a=1.2, max_len_b=10, generate_args=["--max-len-b", "5"]), 7)
    with pytest.raises(DistillError, match="together"):
        length_cap(cfg(max_len_b=10), 7)


def test_distill_json_records_the_cap_and_the_length_differences(two_mode, uninterrupted) -> None:
    raw = length_offsets(two_mode.data, "valid", "src", "tgt")
    dist = length_offsets(uninterrupted, "valid", "src", "tgt")
    train = length_offsets(two_mode.data, "train", "src", "tgt")
    summary = json.loads((uninterrupted / "distill.json").read_text())
    # the validation split is allowed the training split's largest difference where that is larger
    assert summary["length_cap"] == [1.0, max(int(raw.max()), int(train.max())) - 1]
    assert summary["max_offset_raw"] == int(raw.max())
    assert summary["max_offset_distilled"] == int(dist.max())
    assert summary["beyond_raw_max_offset"] == int((dist > raw.max()).sum())


def test_a_given_cap_binds_every_hypothesis(two_mode, tmp_path) -> None:
    out = tmp_path / "capped"
    summary = distill(DistillConfig(teacher=str(two_mode.ar), data=str(two_mode.data), out=str(out), subset="valid",
                                    cpu=True, max_len_a=0.0, max_len_b=2))
    assert summary["length_cap"] == [0.0, 2]
    lengths = [len(h.split()) for h in _dataset_lines(out, f"{SPLIT}.tgt")]
    refs = [len(r.split()) for r in _dataset_lines(two_mode.data, f"{SPLIT}.tgt")]
    assert len(lengths) == NUM_VALID and max(lengths) == 2 < min(refs)  # cut to 2 tokens (+ EOS), none dropped
