"""Loading fairseq checkpoints under torch >= 2.6 with weights-only loading kept on.

torch 2.6 made ``torch.load(weights_only=True)`` the default. A weights-only load refuses every Python object
that is not a tensor or a plain container unless it is allow-listed. fairseq checkpoints hold exactly one
such object kind in their model state: the legacy ``args`` field, an ``argparse.Namespace`` (the ``cfg``
field is stored as plain dicts). A checkpoint trained with ``--eval-bleu`` also holds numpy arrays (fairseq
keeps its BLEU n-gram count meters in ``extra_state``), so numpy's array reconstructor, ``ndarray``, ``dtype``
and the numeric dtype classes are allow-listed too. Nothing else is: a checkpoint that carries any other
pickled object (a function, a custom class) is still refused, and the contents of an object-dtype array go
through the same restricted unpickler.
"""
from __future__ import annotations

import argparse
import logging
import pickle
import zipfile
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)



def _numpy_array_globals() -> list[Any]:
    """numpy's pieces of a pickled plain numeric array (numpy 1.x and 2.x module paths)."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    numeric = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.float16, np.float32, np.float64]
    return [_reconstruct, np.ndarray, np.dtype] + [type(np.dtype(t)) for t in numeric]


#: Everything a weights-only load accepts beyond tensors and plain containers (and nothing more).
TRUSTED_CHECKPOINT_GLOBALS: tuple[Any, ...] = (argparse.Namespace, *_numpy_array_globals())


def allow_fairseq_checkpoints() -> None:
    """Allow-lists :data:`TRUSTED_CHECKPOINT_GLOBALS` for ``torch.load(weights_only=True)``; idempotent."""
    add = getattr(torch.serialization, "add_safe_globals", None)
    if add is None:  # torch < 2.4 has no weights-only default to work around
        return
    add(list(TRUSTED_CHECKPOINT_GLOBALS))


def load_checkpoint_state(path: str) -> dict[str, Any]:
    """Loads a fairseq checkpoint's state dict on the CPU with weights-only loading.

    Args:
        path: a ``checkpoint*.pt`` written by ``fairseq-train``.

    Returns:
        The checkpoint dict (``model``, ``cfg``, ``args``, ...).
    """
    allow_fairseq_checkpoints()
    return torch.load(path, map_location="cpu", weights_only=True)


def saved_updates(state: dict[str, Any]) -> int:
    """The update count a loaded fairseq checkpoint was saved at (its last optimizer-history entry)."""
    return int(state["optimizer_history"][-1]["num_updates"])


#: How torch and fairseq fail on a file that is not a readable fairseq checkpoint.
LOAD_ERRORS: tuple[type[BaseException], ...] = (
    pickle.UnpicklingError, EOFError, OSError, RuntimeError, zipfile.BadZipFile, KeyError, AttributeError,
    ValueError, TypeError, IndexError,
)


def unreadable_message(flag: str, path: str, err: BaseException) -> str:
    """One line naming ``flag``, the file and why torch or fairseq could not read it as a checkpoint."""
    detail = str(err).strip()
    if "Unsupported global" in detail:  # torch's weights-only refusal: name the object, not torch's advice
        refused = detail[detail.index("Unsupported global"):].split(" was not")[0]
        return (f"{flag} {path}: weights-only loading refuses an object in this checkpoint ({refused}); only "
                "fairseq's args and numpy arrays are trusted")
    reason = detail.splitlines()[0] if detail else type(err).__name__
    return (f"{flag} {path}: not a readable fairseq checkpoint (truncated, still being written, or another "
            f"format: {type(err).__name__}: {reason[:200]})")


def _fairseq_load(checkpoint_utils: Any) -> Any:
    """fairseq's own ``load_checkpoint_to_cpu`` (not the guard :func:`guard_fairseq_checkpoint_loading` puts there)."""
    loader = checkpoint_utils.load_checkpoint_to_cpu
    return getattr(loader, "__wrapped__", loader)


def guard_fairseq_checkpoint_loading() -> None:
    """Makes fairseq's ``checkpoint_utils.load_checkpoint_to_cpu`` refuse a file that is not a checkpoint with a
    one-line :class:`~fairseq_nat_study.utils.errors.PluginError` instead of a stack trace; idempotent.

    fairseq-generate, -validate, -interactive and a resumed fairseq-train read ``--path`` / ``--restore-file``
    through this one function before any code of the plugin's task runs, so the refusal cannot come from the
    task. The wrapper delegates every call to fairseq's function unchanged, converts the exceptions of
    :data:`LOAD_ERRORS` raised while reading an existing file (a missing file keeps fairseq's own error) and
    lets the task state travel with the weights (:func:`attach_task_state`).
    """
    import functools
    import os

    from fairseq import checkpoint_utils

    from fairseq_nat_study.utils.errors import PluginError

    original = _fairseq_load(checkpoint_utils)
    if checkpoint_utils.load_checkpoint_to_cpu is not original:
        return

    @functools.wraps(original)
    def load_checkpoint_to_cpu(path: str, arg_overrides: dict[str, Any] | None = None, *args: Any,
                               **kwargs: Any) -> dict[str, Any]:
        try:
            state = original(path, arg_overrides, *args, **kwargs)
        except PluginError:
            raise
        except LOAD_ERRORS as err:
            if not os.path.isfile(path):
                raise
            raise PluginError(unreadable_message("checkpoint", path, err)) from err
        attach_task_state(state)
        return state

    checkpoint_utils.load_checkpoint_to_cpu = load_checkpoint_to_cpu


def attach_task_state(state: Any) -> None:
    """Puts a loaded checkpoint's ``task_state`` into the local metadata of the root module of its model state.

    A resumed fairseq-train loads the weights without showing the task its saved state; torch passes this
    metadata to the model's ``load_state_dict`` pre-hooks, where ``nat_study_translation`` compares the saved
    dictionaries with its own. Nothing else reads the entry, and a model's ``state_dict()`` does not save it.
    """
    from collections import OrderedDict

    model_state = state.get("model") if isinstance(state, dict) else None
    if not isinstance(model_state, dict) or not state.get("task_state"):
        return
    metadata = getattr(model_state, "_metadata", None)
    if metadata is None:
        try:
            model_state._metadata = metadata = OrderedDict()  # type: ignore[attr-defined]
        except AttributeError:  # a plain dict takes no attribute: torch reads no metadata from it either
            return
    metadata.setdefault("", {})["task_state"] = state["task_state"]


class UnreadableCheckpointError(ValueError):
    """A file given as a checkpoint that torch or fairseq cannot read (empty, truncated, not a checkpoint)."""


def read_fairseq_checkpoint(path: str, flag: str = "--path", arg_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """fairseq's ``load_checkpoint_to_cpu`` (weights-only), with every way a bad file fails turned into one error
    that names the flag and the file. ``arg_overrides`` are applied as fairseq applies them (e.g. ``data``).

    Raises:
        FileNotFoundError: there is no file at ``path``.
        UnreadableCheckpointError: the file is empty, truncated, not a torch file, not a fairseq checkpoint, or
            holds a pickled object that weights-only loading refuses.
    """
    import os

    from fairseq import checkpoint_utils

    allow_fairseq_checkpoints()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{flag}: no checkpoint at {path}")
    if os.path.getsize(path) == 0:
        raise UnreadableCheckpointError(f"{flag} {path}: the file is empty, not a checkpoint")
    try:
        state = _fairseq_load(checkpoint_utils)(path, arg_overrides)
    except LOAD_ERRORS as err:
        raise UnreadableCheckpointError(unreadable_message(flag, path, err)) from err
    if not isinstance(state, dict) or "model" not in state or not (state.get("cfg") or state.get("args")):
        raise UnreadableCheckpointError(f"{flag} {path}: a torch file but not a fairseq checkpoint "
                                        "(no model state and config)")
    return state
