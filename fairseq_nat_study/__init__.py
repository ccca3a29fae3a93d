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

from fairseq_nat_study.registration import register

__version__ = "0.1.0"
__all__ = ["register", "__version__"]


if "fairseq" in sys.modules:  # imported by fairseq's --user-dir, or by code that already uses fairseq
    register()
