"""A study over training seeds: the grid trained once per seed, on data prepared once, then read over the seeds.

With ``seeds`` in the config (or ``--seeds``) the study directory ``OUT`` holds::

    OUT/config.json         the config as given, seeds included: a rerun with other seeds is refused
    OUT/data/               the data, prepared once with the config's ``seed`` (every seed trains on this corpus,
                            so the spread measured is the training seed's)
    OUT/seed-<s>/           a normal study (``study/pipeline.py``) with ``seed`` = s and no seeds: its own AR
                            teacher, distillation from that teacher, grid, evaluation, report.md and results.json;
                            its ``data/`` links the shared data, its distilled data is its own
    OUT/stages/             data.done, seed-<s>.done
    OUT/results.json, OUT/report.md   the reading over seeds (``study/report/seeds.py``)

The seeds' stage graphs (``Study.graph``) are joined into one and run on the study's lanes together
(``study/schedule.py``): where one seed's graph would leave a lane idle (its teacher's training, its last long
training, its evaluations one at a time) a stage of another seed runs, and every stage still has the thread count
of ``jobs`` lanes, so a seed's figures are those it would get run alone. Each stage is resumable as in a normal
study: a killed run resumes at the stages not yet done, and a finished seed is not run again (unless ``redo``
names stages to redo, which every seed's study then redoes).
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from fairseq_nat_study.study.config import StudyConfig, StudyConfigError
from fairseq_nat_study.study.pipeline import Study, check_recorded_config
from fairseq_nat_study.study.schedule import StageSpec, available_cores, run_stages, thread_share


def seed_dir(out: Path, seed: int) -> Path:
    """The folder of one seed's study in a seeds study ``out``."""
    return Path(out) / f"seed-{seed}"


def seed_config(cfg: StudyConfig, seed: int) -> StudyConfig:
    """One seed's config: ``cfg`` with ``seed`` = the training seed and no seeds (a normal, single-seed study)."""
    return replace(cfg, seed=seed, seeds=[])


class SeedStudy:
    """A study directory ``out`` with one :class:`~fairseq_nat_study.study.pipeline.Study` per seed of ``cfg``."""

    def __init__(self, cfg: StudyConfig, out: Path, cpu: bool = True, progress: Callable[[str], None] = print,
                 jobs: int | None = None) -> None:
        if not cfg.seeds:
            raise StudyConfigError("seeds: a seeds study needs at least one seed")
        if jobs is not None and jobs < 1:
            raise StudyConfigError(f"--jobs: must be >= 1, got {jobs}")
        self.cfg, self.out, self.cpu, self.say, self.jobs = cfg, Path(out), cpu, progress, jobs
        self.data_dir = self.out / "data"

    def study(self, seed: int) -> Study:
        """The study of one seed: its own folder and seed, the shared data; its progress lines name the seed."""
        def say(line: str) -> None:
            if line.startswith("[study] "):
                self.say(f"[study] seed-{seed}: {line[len('[study] '):]}")
            else:  # a stage's own lines ("[tr_tiny-raw] ...", "[distill] ...")
                self.say(f"[seed-{seed}] {line}")
        return Study(seed_config(self.cfg, seed), seed_dir(self.out, seed), cpu=self.cpu, progress=say,
                     jobs=self.jobs, shared_data=self.data_dir)

    def _marker(self, name: str) -> Path:
        return self.out / "stages" / f"{name}.done"

    def _done(self, name: str, seconds: float) -> None:
        marker = self._marker(name)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{round(seconds, 1)}")

    def prepare_data(self) -> None:
        """Prepares ``OUT/data`` once, from the config's ``seed`` (``study/data_prep.py``)."""
        if self._marker("data").exists():
            self.say("[study] data: done earlier, skipped")
            return
        from fairseq_nat_study.study.data_prep import prepare_data
        from fairseq_nat_study.utils.fairseq_runner import run_fairseq

        self.say(f"[study] data (seed {self.cfg.seed}, shared by every training seed) ...")
        start = time.time()
        prepare_data(self.cfg.data, self.cfg.seed, self.data_dir, run_fairseq, self.say)
        self._done("data", time.time() - start)

    def run(self, redo: tuple[str, ...] = ()) -> dict[str, Any]:
        """Prepares the data, runs (or resumes) the seeds not yet finished side by side (:func:`joint_graph`),
        writes each seed's results and report, then the reading over seeds."""
        from fairseq_nat_study.utils.fairseq_runner import terminate_running

        self.out.mkdir(parents=True, exist_ok=True)
        check_recorded_config(self.cfg, self.out)
        self.prepare_data()
        studies: dict[int, Study] = {}
        for seed in self.cfg.seeds:
            if self._marker(f"seed-{seed}").exists() and not redo:
                self.say(f"[study] seed-{seed}: done earlier, skipped")
                continue
            studies[seed] = self.study(seed)
            studies[seed].begin(redo)
        if studies:
            first = next(iter(studies.values()))
            self.say(f"[study] seeds {list(studies)} -> {self.out}/seed-*: {first.jobs} stage(s) side by side, "
                     f"{first.threads} torch thread(s) each ({available_cores()} cores)")
            wall = time.time()
            with thread_share(first.threads, environment=True):
                run_stages(joint_graph(studies), first.jobs, on_failure=terminate_running, say=self.say)
                for seed, study in studies.items():
                    study.finish(time.time() - wall)
                    self._done(f"seed-{seed}", time.time() - wall)
        return self.write_report()

    def write_report(self) -> dict[str, Any]:
        """The reading over seeds from every seed's ``results.json``, to ``OUT/report.md`` and ``OUT/results.json``."""
        from fairseq_nat_study.study.report.seeds import write_seeds_report

        paths = [seed_dir(self.out, s) / "results.json" for s in self.cfg.seeds]
        per_seed = [json.loads(p.read_text()) for p in paths]
        agg = write_seeds_report(per_seed, paths, self.out,
                                 {"config": self.cfg.as_dict(), "data_seed": self.cfg.seed})
        self.say(f"[study] report over seeds {self.cfg.seeds}: {self.out / 'report.md'}; "
                 f"results: {self.out / 'results.json'}")
        return agg


def joint_graph(studies: dict[int, Study]) -> list[StageSpec]:
    """The stage graphs of several seeds' studies as one: each stage named ``seed-<s>/<stage>`` and waiting for
    the stages of its own seed only (each still marks itself done in its seed's folder)."""
    joined = []
    for seed, study in studies.items():
        for stage in study.graph():
            joined.append(replace(stage, name=f"seed-{seed}/{stage.name}",
                                  after=tuple(f"seed-{seed}/{a}" for a in stage.after)))
    return joined
