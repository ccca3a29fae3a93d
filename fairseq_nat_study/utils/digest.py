"""Digests that tell whether two runs hold the same thing: a model's state, and a dictionary.

**Model state.**
fairseq all-reduces the gradients of every rank, so after each update every rank must hold bit-identical
parameters and buffers (a rank that drifts, e.g. through a data-dependent initialisation from its own batch,
trains a different model than the one rank 0 saves). ``--param-digest-interval N`` of ``nat_study_translation``
prints this digest on every rank every N updates; the same function on a saved checkpoint's ``model`` state
gives the digest of what was saved.

**Dictionaries.** A model's embedding rows and output classes are the symbols of the dictionaries it was trained
with, in their order. Data binarised with another dictionary of the same size decodes and scores garbage without
an error, so ``nat_study_translation`` stores :func:`dictionary_digest` of its source and target dictionaries in
every checkpoint (its task state) and compares them whenever a checkpoint is loaded.
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Mapping

import torch

if TYPE_CHECKING:
    from fairseq.data import Dictionary


def state_digest(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) over the names, dtypes, shapes and bytes of every tensor of ``state``, in name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def dictionary_digest(dictionary: "Dictionary") -> str:
    """SHA-256 (hex) over the symbols of a fairseq dictionary in index order (counts are left out: two
    dictionaries that map every symbol to the same index get the same digest)."""
    h = hashlib.sha256()
    for symbol in dictionary.symbols:
        h.update(symbol.encode("utf-8", "surrogatepass") + b"\n")
    return h.hexdigest()
