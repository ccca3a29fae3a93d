"""fairseq_nat_study: train, decode and study non-autoregressive translation models with fairseq.

Importing the package after fairseq (which is what ``--user-dir fairseq_nat_study`` does) registers every
model, architecture, criterion and task, and lets torch >= 2.6 load fairseq checkpoints with weights-only
loading kept on (:mod:`fairseq_nat_study.utils.checkpoint`), and on glibc keeps large CPU tensors' memory in
the heap between training steps instead of mapping it afresh each time (:mod:`fairseq_nat_study.utils.cpu_heap`;
``NAT_STUDY_MMAP_THRESHOLD=0`` turns that off). Imported before fairseq (the
``fairseq-nat-study`` console script does so, to answer ``--help`` without torch), it registers nothing until
:func:`register` is called; the plugin's tools call it before they load a model.
"""
from __future__ import annotations

import sys

__version__ = "0.1.0"


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


if "fairseq" in sys.modules:  # imported by fairseq's --user-dir, or by code that already uses fairseq
    register()
