"""Running a study's stages side by side: a dependency graph of stages on ``jobs`` lanes.

On a few CPU cores the tiny models of a study use a second thread poorly: on 2 cores two one-thread trainings
of the quick study's NAT-MLE side by side do 1.73–1.85 times the updates per wall second of one training on both
cores (``examples/benchmarks/study_lanes.sh``, ``docs/BENCHMARKS.md``). The study therefore runs independent
stages (the raw trainings, the distillation once its teacher is trained, the distilled trainings, the
evaluations) at the same time, each process with ``cores // jobs`` threads (:func:`threads_per_job`), so a
run's figures depend on ``jobs`` only through the thread count of its arithmetic, never on what runs beside it
(the benchmark's one-thread training ends with the same loss and gradient norm alone and beside another).

Rules the scheduler keeps (:func:`run_stages`):

- a stage starts only after every stage it depends on has finished;
- at most ``jobs`` stages run at once;
- at most one ``in_process`` stage at a time: those run torch inside the study's own process (evaluation,
  Ĉ), whose global random state and thread pool they would share;
- an ``alone`` stage (decoding speed) runs with nothing beside it, and nothing starts while it runs;
- among the stages ready to start, the one with the longest chain of estimated cost still behind it goes
  first (the teacher's training, which the distillation and every distilled run wait for, before all others);
- when a stage fails, no other stage starts, the running ones are stopped (a killed training resumes from
  its snapshots on the next run) and the first error is raised.
"""
from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

#: the variables that fix the thread count of the processes a study starts (torch reads them at start-up)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class StageSpec:
    """One node of the graph: ``fn`` runs the stage, ``after`` names the stages it waits for, ``cost`` estimates
    its run time in any unit shared by the graph (only the order of the chains matters)."""

    name: str
    fn: Callable[[], None]
    after: tuple[str, ...] = ()
    cost: float = 1.0
    in_process: bool = False
    alone: bool = False
    #: filled by :func:`chain_costs`: ``cost`` plus the costliest chain of stages that wait for this one
    chain: float = field(default=0.0, repr=False)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return os.cpu_count() or 1


def default_jobs(cores: int | None = None) -> int:
    """Two lanes on a machine with at least two cores, else one."""
    return 2 if (cores or available_cores()) >= 2 else 1


def threads_per_job(jobs: int, cores: int | None = None) -> int:
    """Torch threads of each stage's process when ``jobs`` stages share ``cores`` cores (at least 1)."""
    return max(1, (cores or available_cores()) // jobs)


@contextmanager
def thread_share(threads: int, environment: bool = False) -> Iterator[None]:
    """Within the block, torch in this process uses ``threads`` threads and, with ``environment``, so does every
    process started from it (:data:`THREAD_VARIABLES`); the previous settings come back afterwards."""
    import torch

    saved_env = {var: os.environ.get(var) for var in THREAD_VARIABLES} if environment else {}
    saved_threads = torch.get_num_threads()
    os.environ.update({var: str(threads) for var in saved_env})
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        for var, value in saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        torch.set_num_threads(saved_threads)


def check_graph(stages: Sequence[StageSpec]) -> None:
    """Raises ``ValueError`` on a duplicate name, a dependency on an unknown stage, or a cycle."""
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate stage names: {sorted({n for n in names if names.count(n) > 1})}")
    for s in stages:
        unknown = [a for a in s.after if a not in names]
        if unknown:
            raise ValueError(f"stage {s.name} waits for unknown stages {unknown}")
    chain_costs(stages)


def chain_costs(stages: Sequence[StageSpec]) -> None:
    """Sets each stage's ``chain``: its cost plus the largest ``chain`` among the stages that wait for it."""
    by_name = {s.name: s for s in stages}
    waiting: dict[str, list[str]] = {s.name: [] for s in stages}
    for s in stages:
        for a in s.after:
            waiting[a].append(s.name)
    state: dict[str, int] = {}  # 1 = being visited, 2 = done

    def visit(name: str) -> float:
        if state.get(name) == 1:
            raise ValueError(f"the stages' dependencies form a cycle through {name}")
        if state.get(name) != 2:
            state[name] = 1
            s = by_name[name]
            s.chain = s.cost + max((visit(w) for w in waiting[name]), default=0.0)
            state[name] = 2
        return by_name[name].chain

    for s in stages:
        visit(s.name)


def run_stages(stages: Sequence[StageSpec], jobs: int, on_failure: Callable[[], None] = lambda: None,
               say: Callable[[str], None] = print) -> None:
    """Runs every stage of the graph on ``jobs`` lanes under the module's rules; ``on_failure`` stops the
    stages still running (e.g. terminates their subprocesses) once one has failed."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    check_graph(stages)
    pending = sorted(stages, key=lambda s: -s.chain)  # stable: ties keep the graph's order
    done: set[str] = set()
    running: dict[Future[None], StageSpec] = {}
    error: BaseException | None = None

    def can_start(s: StageSpec) -> bool:
        if not all(a in done for a in s.after) or len(running) >= jobs:
            return False
        if any(r.alone for r in running.values()) or (s.alone and running):
            return False
        return not (s.in_process and any(r.in_process for r in running.values()))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            if error is None:
                for s in list(pending):
                    if can_start(s):
                        pending.remove(s)
                        running[pool.submit(s.fn)] = s
            if not running:
                if error is None:  # nothing runs and nothing can start: a dependency never finished
                    raise RuntimeError(f"stages {[s.name for s in pending]} cannot start")
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in finished:
                s = running.pop(fut)
                exc = fut.exception()
                if exc is None:
                    done.add(s.name)
                elif error is None:
                    error = exc
                    if running:
                        say(f"[study] {s.name} failed; stopping {', '.join(r.name for r in running.values())}")
                    on_failure()
    if error is not None:
        raise error
