"""Registering the plugin with fairseq: its models, archs, criterions and task, the checkpoint globals that
torch >= 2.6 needs, fairseq's known log noise filtered, and glibc's mmap threshold raised.

The package's ``__init__`` calls :func:`register` when fairseq is already imported (``--user-dir``); the
plugin's entry points (its command-line tools, the training driver, loaders of checkpoints) call it
themselves before they need a registered name. This module imports nothing at import time, so the console
script stays fast; it sits below every room that loads models and above the registered rooms.
"""
from __future__ import annotations


def register() -> None:
    """Registers the plugin's models, archs, criterions and task with fairseq, allow-lists the checkpoint
    globals, filters fairseq's known log noise and raises glibc's mmap threshold; idempotent (later calls are
    module-cache look-ups)."""
    from fairseq_nat_study.utils.checkpoint import allow_fairseq_checkpoints
    from fairseq_nat_study.utils.cpu_heap import keep_large_allocations
    from fairseq_nat_study.utils.log_noise import filter_known_noise

    keep_large_allocations()
    filter_known_noise()
    allow_fairseq_checkpoints()
    # fairseq's --user-dir auto-imports models/ and tasks/ only; criterions are imported here explicitly.
    from fairseq_nat_study import criterions, models, tasks  # noqa: F401
