"""A digest of a model's state, to check that data-parallel ranks hold the same parameters.

fairseq all-reduces the gradients of every rank, so after each update every rank must hold bit-identical
parameters and buffers (a rank that drifts, e.g. through a data-dependent initialisation from its own batch,
trains a different model than the one rank 0 saves). ``--param-digest-interval N`` of ``nat_study_translation``
prints this digest on every rank every N updates; the same function on a saved checkpoint's ``model`` state
gives the digest of what was saved.
"""
from __future__ import annotations

import hashlib
from typing import Mapping

import torch


def state_digest(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) over the names, dtypes, shapes and bytes of every tensor of ``state``, in name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()
