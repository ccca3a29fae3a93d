"""A Ctrl-C (SIGINT to the tool's process) ends ``distill``, ``study`` and ``loglik`` within the batch they are in:
one line ``fairseq-nat-study <tool>: interrupted; ...``, exit status 130, no traceback, no fairseq process left
running, and the state a rerun resumes from (distillation's finished shards, the study's finished stages)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus

#: seconds an interrupted tool may take to end
PROMPT = 30


class Tool:
    """``fairseq-nat-study ARGS`` as a separate process (its own SIGINT handling), with stdout and stderr read as
    they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "fairseq_nat_study.cli.main", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(s, buf), daemon=True)
                         for s, buf in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, buf: list[str]) -> None:
        for chunk in iter(lambda: stream.read(1), ""):
            buf.append(chunk)

    def wait_for(self, cond: Callable[[str, str], bool], timeout: float = 240) -> None:
        """Waits until ``cond(stdout, stderr)`` holds (fails if the tool ends or the time runs out first)."""
        end = time.time() + timeout
        while not cond("".join(self.out), "".join(self.err)):
            assert self.proc.poll() is None, f"ended early ({self.proc.returncode}): {''.join(self.err)[-2000:]}"
            assert time.time() < end, f"timed out: {''.join(self.out)[-1000:]} {''.join(self.err)[-1000:]}"
            time.sleep(0.2)

    def interrupt(self) -> tuple[int, str, str]:
        """SIGINT, then the exit status, stdout and stderr once it has ended."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(PROMPT)
        for reader in self._readers:
            reader.join(5)
        return code, "".join(self.out), "".join(self.err)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the running processes that contain ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                found.append(cmd)
    return found


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data-bin, AR checkpoint): a synthetic corpus with a large test split and a tiny AR model of 20 updates
    (what it decodes does not matter here, only that each tool has work to interrupt)."""
    from fairseq_helpers import run_preprocess, run_train

    root = tmp_path_factory.mktemp("interrupt")
    write_corpus(SynthConfig(seed=2, num_train=1200, num_valid=40, num_test=3000), root / "raw")
    run_preprocess(root / "raw", root / "bin")
    run_train(root / "bin", root / "ar", ["--arch", "nat_study_tr_tiny", "--criterion", "cross_entropy",
                                          "--max-update", "20", "--max-tokens", "2048", "--lr", "1e-3"])
    return root / "bin", root / "ar" / "checkpoint_last.pt"


def _interrupted(code: int, err: str, tool: str, resumable: bool) -> None:
    then = "rerun the same command to resume" if resumable else "nothing was written; rerun the same command"
    assert code == 130, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == f"fairseq-nat-study {tool}: interrupted; {then}"


@pytest.mark.slow
def test_distill_stops_within_a_shard_and_resumes(tiny, tmp_path: Path) -> None:
    data, teacher = tiny
    out = tmp_path / "dist"
    args = ("distill", "--teacher", str(teacher), "--data", str(data), "--out", str(out), "--shard-size", "300",
            "--cpu")
    tool = Tool(*args)
    tool.wait_for(lambda o, e: "[distill] shard 1/4" in o)
    time.sleep(1.0)  # the second shard's fairseq-generate is running
    code, _, err = tool.interrupt()
    _interrupted(code, err, "distill", resumable=True)
    assert processes_mentioning(str(out)) == []  # its fairseq-generate was stopped with it
    done = sorted(p.name for p in (out / ".distill").glob("shard-*.done"))
    time.sleep(2)
    assert sorted(p.name for p in (out / ".distill").glob("shard-*.done")) == done  # nothing goes on decoding
    assert 1 <= len(done) < 4 and not (out / "distill.json").exists()
    rerun = subprocess.run([sys.executable, "-m", "fairseq_nat_study.cli.main", *args], capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{len(done)} done earlier" in rerun.stdout
    assert json.loads((out / "distill.json").read_text())["num_sentences"] == 1200


@pytest.mark.slow
def test_study_stops_its_training_and_resumes_after_its_finished_stages(tmp_path: Path) -> None:
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({
        "name": "interrupted", "data": {"kind": "synth", "num_train": 200, "num_test": 20},
        "teacher": "tr", "models": [{"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny",
                                     "max_update": 100000, "data": ["raw"]}]}))
    out = tmp_path / "study"
    args = ("study", "--config", str(config), "--out", str(out), "--jobs", "1")
    tool = Tool(*args)
    tool.wait_for(lambda o, e: "[study] train-tr-raw ..." in o)
    tool.wait_for(lambda o, e: processes_mentioning(str(out / "runs")) != [], timeout=60)
    code, _, err = tool.interrupt()
    _interrupted(code, err, "study", resumable=True)
    assert processes_mentioning(str(out)) == []  # the training process was stopped with it
    assert (out / "stages" / "data.done").exists() and not (out / "stages" / "train-tr-raw.done").exists()
    again = Tool(*args)  # the same command resumes: the data stage is not run again
    again.wait_for(lambda o, e: "[study] train-tr-raw ..." in o)
    code, out_text, err = again.interrupt()
    _interrupted(code, err, "study", resumable=True)
    assert "[study] data: done earlier, skipped" in out_text
    assert processes_mentioning(str(out)) == []


@pytest.mark.slow
def test_loglik_stops_within_its_scoring_and_writes_nothing(tiny, tmp_path: Path) -> None:
    data, model = tiny
    out = tmp_path / "ll.json"
    tool = Tool("loglik", "--path", str(model), "--data", str(data), "--out", str(out), "--max-tokens", "64", "--cpu")
    tool.wait_for(lambda o, e: "loglik: " in e and "sentences" in e)
    start = time.time()
    code, _, err = tool.interrupt()
    assert time.time() - start < PROMPT
    _interrupted(code, err, "loglik", resumable=False)
    assert not out.exists()


def test_halted_stops_running_fairseq_processes_and_refuses_new_ones_until_it_ends(tmp_path: Path) -> None:
    from fairseq_nat_study.utils import fairseq_runner as runner

    errors: list[BaseException] = []

    def long_run() -> None:  # a stand-in for a fairseq tool: python -m timeit sleeping for a minute
        try:
            runner.run_fairseq("sleep", ["-n", "1", "import time; time.sleep(60)"], tmp_path / "long.log",
                               module="timeit")
        except BaseException as err:  # noqa: BLE001 - recorded for the assertion below
            errors.append(err)

    worker = threading.Thread(target=long_run)
    worker.start()
    end = time.time() + 30
    while not runner._RUNNING and time.time() < end:
        time.sleep(0.05)
    start = time.time()
    with runner.halted():
        assert time.time() - start < 15  # the running process was stopped, not waited for
        with pytest.raises(runner.Halted):
            runner.run_fairseq("quick", ["-n", "1", "pass"], tmp_path / "quick.log", module="timeit")
        worker.join(15)
    assert not worker.is_alive() and isinstance(errors[0], RuntimeError) and "exit -15" in str(errors[0])
    runner.run_fairseq("quick", ["-n", "1", "pass"], tmp_path / "quick.log", module="timeit")  # allowed again


@pytest.mark.slow
def test_loglik_names_a_batch_too_small_for_the_longest_sentence(tiny, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from fairseq_nat_study.cli.main import main as cli

    data, model = tiny
    code = cli(["loglik", "--path", str(model), "--data", str(data), "--out", str(tmp_path / "ll.json"),
                "--max-tokens", "8", "--cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(
        "fairseq-nat-study loglik: error: --max-tokens 8: the split's longest sentence has ")
    assert not (tmp_path / "ll.json").exists()
