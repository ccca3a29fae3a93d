"""Running fairseq's own command-line tools from the plugin's pipelines.

Each call runs ``python -m fairseq_cli.<tool>`` with the interpreter of this environment, writes the full
output to a log file and echoes the progress lines, so a long pipeline shows where it is. An interrupted
call (Ctrl-C) stops its process before it returns; :func:`stop_all` stops every process of every thread and
refuses new ones, so that an interrupted tool leaves nothing running.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

logger = logging.getLogger(__name__)

#: fairseq log lines worth echoing while a pipeline runs.
PROGRESS_MARKERS = ("| train_inner |", "| valid |", "done training", "Generate ", "Wrote preprocessed", "segment ",
                    "segmented_train: ")


#: the fairseq processes running now (a study runs several side by side), for :func:`terminate_running`
_RUNNING: set[subprocess.Popen] = set()
#: reentrant: a SIGINT handler (:func:`stop_all`) may run in the main thread while it holds the lock
_RUNNING_LOCK = threading.RLock()
#: set while no new fairseq process may start (an interrupted tool is stopping)
_HALTED = threading.Event()
#: seconds a terminated fairseq process gets to end before it is killed
STOP_GRACE = 10.0


class Halted(RuntimeError):
    """A fairseq process was not started: the tool is being stopped."""


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after :data:`STOP_GRACE` seconds; returns once the process has ended."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def terminate_running() -> int:
    """Sends SIGTERM to every fairseq process started by :func:`run_fairseq` that still runs; returns how many."""
    with _RUNNING_LOCK:
        procs = [p for p in _RUNNING if p.poll() is None]
    for proc in procs:
        proc.terminate()
    return len(procs)


def stop_all() -> int:
    """Refuses every later :func:`run_fairseq` call (:class:`Halted`) and stops every running fairseq process,
    waiting until each has ended; returns how many were running. For a process about to exit (a Ctrl-C)."""
    _HALTED.set()
    with _RUNNING_LOCK:
        procs = [p for p in _RUNNING if p.poll() is None]
    for proc in procs:
        _stop(proc)
    return len(procs)


@contextmanager
def halted() -> Iterator[None]:
    """Within the block no fairseq process starts and those running are stopped first: for waiting on worker
    threads after an interruption without their starting new work."""
    was_halted = _HALTED.is_set()
    stop_all()
    try:
        yield
    finally:
        if not was_halted:
            _HALTED.clear()


def say_line(text: str) -> None:
    """Prints one line with a single write, so that lines from stages running side by side do not interleave."""
    print(text + "\n", end="", flush=True)


def default_echo(line: str) -> bool:
    return any(marker in line for marker in PROGRESS_MARKERS)


def run_fairseq(
    tool: str,
    args: Sequence[str],
    log_path: str | Path,
    echo: Callable[[str], bool] = default_echo,
    stdout_path: str | Path | None = None,
    prefix: str = "",
    env: dict[str, str] | None = None,
    module: str | None = None,
) -> None:
    """Runs ``fairseq-<tool>``; raises ``RuntimeError`` with the log's tail if it fails.

    Args:
        tool: ``preprocess``, ``train``, ``generate``, ...
        args: its command-line arguments.
        log_path: file that receives stderr (and stdout unless ``stdout_path`` is given).
        echo: which log lines to print as progress.
        stdout_path: where stdout goes, e.g. ``fairseq-generate`` hypotheses.
        env: variables set for this run on top of the current environment.
        module: the module to run instead of ``fairseq_cli.<tool>`` (one that wraps the tool).
    """
    cmd = [sys.executable, "-m", module or f"fairseq_cli.{tool}", *map(str, args)]
    logger.info("running %s %s", module or f"fairseq-{tool}", " ".join(map(str, args)))
    log_path = Path(log_path)
    tail: list[str] = []
    out = open(stdout_path, "w") if stdout_path is not None else None
    try:
        with open(log_path, "w") as log:
            with _RUNNING_LOCK:  # checked and registered at once: stop_all() cannot miss a process
                if _HALTED.is_set():
                    raise Halted(f"fairseq-{tool} not started: stopping")
                # with a stdout file, stdout (hypotheses) goes there and stderr (fairseq's log) is streamed
                proc = subprocess.Popen(
                    cmd, stdout=out or subprocess.PIPE, stderr=subprocess.PIPE if out else subprocess.STDOUT,
                    text=True, env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},  # stream progress
                )
                _RUNNING.add(proc)
            try:
                stream = proc.stderr if out else proc.stdout
                assert stream is not None
                for line in stream:
                    log.write(line)
                    tail = (tail + [line])[-30:]
                    if echo(line):
                        say_line(f"{prefix}{line.rstrip()}")
                code = proc.wait()
            except BaseException:  # interrupted (Ctrl-C) or failed while streaming: the process must not outlive us
                _stop(proc)
                raise
            finally:
                with _RUNNING_LOCK:
                    _RUNNING.discard(proc)
    finally:
        if out is not None:
            out.close()
    if code != 0:
        raise RuntimeError(f"fairseq-{tool} failed (exit {code}); log: {log_path}\n" + "".join(tail))
