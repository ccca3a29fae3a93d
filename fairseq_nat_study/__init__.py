"""fairseq_nat_study: train, decode and study non-autoregressive translation models with fairseq.

Importing the package (``--user-dir fairseq_nat_study``) registers every model, architecture, criterion and
task, and lets torch >= 2.6 load fairseq checkpoints with weights-only loading kept on
(:mod:`fairseq_nat_study.utils.checkpoint`).
"""
from __future__ import annotations

__version__ = "0.1.0"

from fairseq_nat_study.utils.checkpoint import allow_fairseq_checkpoints

allow_fairseq_checkpoints()

# fairseq's --user-dir auto-imports models/ and tasks/ only; criterions are imported here explicitly.
from fairseq_nat_study import criterions, models, tasks  # noqa: E402,F401
