"""The study's stage scheduler (``study/schedule.py``) and the stage graph of a study (``Study.graph``)."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from fairseq_nat_study.study.config import StudyConfigError, from_dict
from fairseq_nat_study.study.schedule import StageSpec, default_jobs, run_stages, threads_per_job


class Recorder:
    """Stage functions that log (event, stage, time) and hold for ``hold`` seconds."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()

    def fn(self, name: str, hold: float = 0.05, fail: bool = False, barrier: threading.Barrier | None = None):
        def run() -> None:
            with self.lock:
                self.events.append(("start", name, time.monotonic()))
            if barrier is not None:
                barrier.wait(timeout=5)  # BrokenBarrierError unless its partner runs at the same time
            time.sleep(hold)
            with self.lock:
                self.events.append(("end", name, time.monotonic()))
            if fail:
                raise RuntimeError(f"{name} broke")
        return run

    def order(self, event: str = "start") -> list[str]:
        return [n for e, n, _ in self.events if e == event]

    def overlapping(self) -> list[set[str]]:
        """The set of stages running after each start event."""
        live: set[str] = set()
        sets = []
        for e, n, _ in self.events:
            if e == "start":
                live.add(n)
                sets.append(set(live))
            else:
                live.discard(n)
        return sets


def test_threads_share_the_cores() -> None:
    assert threads_per_job(2, cores=2) == 1 and threads_per_job(1, cores=2) == 2 and threads_per_job(2, cores=16) == 8
    assert threads_per_job(4, cores=2) == 1  # never fewer than one
    assert default_jobs(cores=2) == 2 and default_jobs(cores=1) == 1


def test_independent_stages_run_side_by_side_and_dependencies_wait() -> None:
    rec = Recorder()
    pair = threading.Barrier(2)
    stages = [StageSpec("a", rec.fn("a", barrier=pair)), StageSpec("b", rec.fn("b", barrier=pair)),
              StageSpec("c", rec.fn("c"), after=("a", "b"))]
    run_stages(stages, jobs=2, say=lambda s: None)
    ends = {n: t for e, n, t in rec.events if e == "end"}
    start_c = next(t for e, n, t in rec.events if e == "start" and n == "c")
    assert start_c >= max(ends["a"], ends["b"])
    assert sorted(rec.order()) == ["a", "b", "c"]


def test_lanes_in_process_stages_and_an_alone_stage_are_respected() -> None:
    rec = Recorder()
    stages = [StageSpec(f"t{i}", rec.fn(f"t{i}")) for i in range(4)]
    stages += [StageSpec(f"e{i}", rec.fn(f"e{i}"), in_process=True) for i in range(3)]
    stages.append(StageSpec("speed", rec.fn("speed"), after=tuple(s.name for s in stages), alone=True))
    stages.append(StageSpec("late", rec.fn("late")))
    run_stages(stages, jobs=3, say=lambda s: None)
    sets = rec.overlapping()
    assert max(len(s) for s in sets) == 3  # three lanes used, never more
    assert all(len(s) <= 3 for s in sets)
    assert all(sum(n.startswith("e") for n in s) <= 1 for s in sets)  # one in-process stage at a time
    assert all(s == {"speed"} for s in sets if "speed" in s)  # speed alone, nothing started beside it
    assert rec.order()[-1] == "speed" and rec.order("end")[-1] == "speed"


def test_the_longest_chain_goes_first() -> None:
    rec = Recorder()
    stages = [StageSpec("big", rec.fn("big", 0.0), cost=5), StageSpec("teacher", rec.fn("teacher", 0.0), cost=1),
              StageSpec("distill", rec.fn("distill", 0.0), after=("teacher",), cost=1),
              StageSpec("student", rec.fn("student", 0.0), after=("distill",), cost=4)]
    run_stages(stages, jobs=1, say=lambda s: None)
    # chains: teacher 1+1+4 = 6 > big 5; then distill (5) ties big (5) and keeps the graph's order; student 4
    assert rec.order() == ["teacher", "big", "distill", "student"]


def test_a_failure_stops_the_rest_and_is_raised() -> None:
    rec = Recorder()
    stopped = []
    stages = [StageSpec("bad", rec.fn("bad", 0.01, fail=True), cost=10), StageSpec("slow", rec.fn("slow", 0.3)),
              StageSpec("after-bad", rec.fn("after-bad"), after=("bad",)), StageSpec("later", rec.fn("later"))]
    with pytest.raises(RuntimeError, match="bad broke"):
        run_stages(stages, jobs=2, on_failure=lambda: stopped.append(True), say=lambda s: None)
    assert stopped == [True]
    assert "after-bad" not in rec.order() and "later" not in rec.order()
    assert "slow" in rec.order("end")  # a running stage is let finish (its processes are what on_failure stops)


@pytest.mark.parametrize("stages, message", [
    ([StageSpec("a", lambda: None, after=("nope",))], "unknown stages"),
    ([StageSpec("a", lambda: None, after=("b",)), StageSpec("b", lambda: None, after=("a",))], "cycle"),
    ([StageSpec("a", lambda: None), StageSpec("a", lambda: None)], "duplicate"),
])
def test_bad_graphs_are_refused(stages: list[StageSpec], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_stages(stages, jobs=2, say=lambda s: None)


def test_study_graph_orders_distillation_between_the_teacher_and_the_distilled_runs(tmp_path: Path) -> None:
    from fairseq_nat_study.study.pipeline import Study

    cfg = from_dict({"teacher": "tr", "models": [
        {"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 10},
        {"name": "nat", "family": "nat", "arch": "nat_study_nat_tiny", "max_update": 10},
        {"name": "ga", "family": "latent", "arch": "nat_study_ga_tiny", "max_update": 10, "data": ["raw"]}]})
    graph = {s.name: s for s in Study(cfg, tmp_path, progress=lambda s: None, jobs=2).graph()}
    assert graph["distill"].after == ("train-tr-raw",)
    assert graph["train-nat-dist"].after == ("distill",) and graph["train-nat-raw"].after == ("data",)
    assert graph["eval-nat-dist"].after == ("train-nat-dist",) and graph["eval-nat-dist"].in_process
    assert "train-ga-dist" not in graph and "eval-ga-raw" in graph
    assert set(graph["speed"].after) == set(graph) - {"speed"} and graph["speed"].alone
    assert {"train-tr-dist", "train-nat-dist", "distill"} <= set(graph["total-correlation"].after)
    # the teacher's training heads the longest chain (distillation and the distilled runs wait for it)
    from fairseq_nat_study.study.schedule import chain_costs

    chain_costs(list(graph.values()))
    first = max((s for s in graph.values() if s.after == ("data",)), key=lambda s: s.chain)
    assert first.name == "train-tr-raw"
    with pytest.raises(Exception, match="--jobs: must be >= 1"):
        Study(cfg, tmp_path, progress=lambda s: None, jobs=0)


def test_progress_lines_are_written_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lanes print at the same time: each progress line must reach stdout in one write, newline included."""
    import sys

    from fairseq_nat_study.utils.fairseq_runner import say_line

    class Writes:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def write(self, text: str) -> int:
            self.calls.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    out = Writes()
    monkeypatch.setattr(sys, "stdout", out)
    say_line("[nat-raw] segment 1/3: training to 100 updates")
    assert [c for c in out.calls if c] == ["[nat-raw] segment 1/3: training to 100 updates\n"]


def test_a_study_gives_its_stages_their_share_of_cores_and_restores_the_callers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import torch

    from fairseq_nat_study.study.pipeline import Study

    cfg = from_dict({"teacher": "tr", "models": [{"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny",
                                                  "max_update": 10}]})
    study = Study(cfg, tmp_path, progress=lambda s: None, jobs=2)
    seen: dict[str, object] = {}
    probe = StageSpec("probe", lambda: seen.update(omp=os.environ.get("OMP_NUM_THREADS"), torch=torch.get_num_threads()))
    monkeypatch.setattr(study, "graph", lambda: [probe])
    monkeypatch.setattr(study, "collect", lambda seconds: {})
    monkeypatch.setattr("fairseq_nat_study.study.report.write.write_report", lambda results, out: None)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    study.run()
    assert seen == {"omp": str(threads_per_job(2)), "torch": threads_per_job(2)}
    assert os.environ["OMP_NUM_THREADS"] == "7" and "MKL_NUM_THREADS" not in os.environ
    assert torch.get_num_threads() == before


def test_thread_share_without_environment_leaves_the_variables_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import torch

    from fairseq_nat_study.study.schedule import thread_share

    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    before = torch.get_num_threads()
    with thread_share(1):
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "5"
    assert torch.get_num_threads() == before


def test_redo_runs_the_named_finished_stages_again_and_trains_nothing(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``--redo evaluation`` on a finished study: every evaluation runs again, no training, distillation, Ĉ or
    speed stage does; the skipped stages keep their recorded times. Unknown kinds are refused."""
    import fairseq_nat_study.study.report.write as report
    from fairseq_nat_study.cli.study import add_args
    from fairseq_nat_study.study.config import StudyConfigError
    from fairseq_nat_study.study.pipeline import REDO, Study

    cfg = from_dict({"teacher": "tr", "models": [
        {"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 10},
        {"name": "nat", "family": "nat", "arch": "nat_study_nat_tiny", "max_update": 10, "data": ["raw"]}]})
    calls: list[str] = []
    for method in ("_data", "_distill", "_total_correlation", "_speed"):
        monkeypatch.setattr(Study, method, lambda self, m=method: calls.append(m))
    monkeypatch.setattr(Study, "_train", lambda self, spec, data: calls.append(f"train {spec.name}-{data}"))
    monkeypatch.setattr(Study, "_evaluate", lambda self, spec, data: calls.append(f"eval {spec.name}-{data}"))
    monkeypatch.setattr(Study, "collect", lambda self, seconds: {"stage_seconds": dict(self.timings)})
    monkeypatch.setattr(report, "write_report", lambda results, out: None)
    Study(cfg, tmp_path, progress=lambda s: None, jobs=1).run()
    assert len(calls) == 10  # data, 3 trainings, distillation, 3 evaluations, Ĉ and speed
    (tmp_path / "stages" / "train-tr-raw.done").write_text("123.0")  # a recorded time, kept when skipped
    calls.clear()
    said: list[str] = []
    results = Study(cfg, tmp_path, progress=said.append, jobs=1).run(("evaluation",))
    assert sorted(calls) == ["eval nat-raw", "eval tr-dist", "eval tr-raw"]
    assert "[study] eval-tr-raw: done earlier, to be redone (--redo)" in said
    assert results["stage_seconds"]["train-tr-raw"] == 123.0
    assert (tmp_path / "stages" / "eval-tr-raw.done").exists()
    calls.clear()
    Study(cfg, tmp_path, progress=lambda s: None, jobs=1).run(("speed", "total-correlation"))
    assert sorted(calls) == ["_speed", "_total_correlation"]
    with pytest.raises(StudyConfigError, match="unknown stage kind"):
        Study(cfg, tmp_path, progress=lambda s: None, jobs=1).run(("training",))
    import argparse

    parser = argparse.ArgumentParser()
    add_args(parser)
    choices = next(a.choices for a in parser._actions if a.dest == "redo")
    assert set(choices) == set(REDO)


def test_a_study_recorded_before_a_config_key_existed_resumes_and_another_config_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``config.json`` written without a key added later (``data.num_test``) reads as that key's default, so the
    study resumes; a changed value is refused."""
    import json

    from fairseq_nat_study.study.config import StudyConfigError
    from fairseq_nat_study.study.pipeline import Study

    cfg = from_dict({"teacher": "tr", "models": [
        {"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 10}]})
    study = Study(cfg, tmp_path, progress=lambda s: None, jobs=1)
    study._check_config()
    recorded = json.loads((tmp_path / "config.json").read_text())
    del recorded["data"]["num_test"], recorded["eval"]["last_checkpoints"], recorded["models"][0]["patience"]
    (tmp_path / "config.json").write_text(json.dumps(recorded))
    study._check_config()  # the older record resumes
    cfg.data.num_test = 2000
    with pytest.raises(StudyConfigError, match="started with another config"):
        Study(cfg, tmp_path, progress=lambda s: None, jobs=1)._check_config()


def test_a_study_without_speed_has_no_speed_stage_and_records_the_choice(tmp_path: Path) -> None:
    """``eval.speed: false`` (the C sweep) drops the speed stage; a config that keeps it records what it recorded
    before the key existed."""
    from fairseq_nat_study.study.pipeline import Study

    models = [{"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 10, "data": ["raw"]}]
    on = from_dict({"teacher": "tr", "models": models})
    off = from_dict({"teacher": "tr", "models": models, "eval": {"speed": False}})
    assert "speed" in {s.name for s in Study(on, tmp_path / "on", progress=lambda s: None).graph()}
    graph = {s.name for s in Study(off, tmp_path / "off", progress=lambda s: None).graph()}
    assert "speed" not in graph and {"train-tr-raw", "eval-tr-raw", "total-correlation"} <= graph
    assert "speed" not in on.as_dict()["eval"] and off.as_dict()["eval"]["speed"] is False
    with pytest.raises(StudyConfigError, match="speed"):
        from_dict({"teacher": "tr", "models": models, "eval": {"speed": "no"}})
