"""Loading checkpoints and data splits for the plugin's tools, pipelines and analyses (below the CLI layer)."""
from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)


def load_model_and_task(path: str, data: str, cpu: bool = True, flag: str = "--path") -> tuple[Any, Any]:
    """Loads one checkpoint (weights-only, see ``utils.checkpoint``) with its task pointed at ``data``.

    Raises:
        FileNotFoundError: the checkpoint or the data directory does not exist.
        UnreadableCheckpointError (a ValueError): the file is not a readable fairseq checkpoint; the message
            names ``flag`` and the file.
        ValueError: the task refuses the checkpoint with this data, e.g. its dictionaries are not the ones the
            model was trained with (``tasks.dictionary_guard``).
    """
    from fairseq import checkpoint_utils

    from fairseq_nat_study.registration import register
    from fairseq_nat_study.utils.checkpoint import read_fairseq_checkpoint
    from fairseq_nat_study.tasks.dictionary_guard import WeightsRefusal
    from fairseq_nat_study.utils.errors import PluginError

    register()
    if not os.path.isdir(data):
        raise FileNotFoundError(f"--data: no binarised data directory at {data}")
    overrides = {"data": data}
    state = read_fairseq_checkpoint(path, flag, overrides)
    try:
        models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task([path], arg_overrides=overrides,
                                                                           state=state)
    except (PluginError, WeightsRefusal) as err:  # the task's refusal (e.g. other dictionaries), with the file
        raise ValueError(f"{flag} {path} with --data {data}: {err.message}") from None
    model = models[0].eval()
    return model.to(load_device(cpu)), task


def load_device(cpu: bool = False) -> "torch.device":
    """The device the plugin's tools run models on: the first GPU unless ``cpu`` is asked or none exists."""
    import torch

    return torch.device("cpu" if cpu or torch.cuda.device_count() == 0 else "cuda")


def split_lengths(data: str | os.PathLike, subset: str, src: str, tgt: str) -> tuple[Any, Any]:
    """Token counts (each with its EOS) of every sentence of ``subset`` in a data-bin, source and target side:
    two int64 arrays of shape (N,), copied out of the memory-mapped index.

    Raises:
        FileNotFoundError: a side of the split is missing (names the file).
        ValueError: the two sides hold different numbers of sentences (names both files).
    """
    import numpy as np
    from fairseq.data import data_utils

    sides = []
    for lang in (src, tgt):
        prefix = os.path.join(data, f"{subset}.{src}-{tgt}.{lang}")
        if not os.path.isfile(f"{prefix}.idx"):
            raise FileNotFoundError(f"--subset {subset}: no {prefix}.idx in {data}")
        # an empty split has an empty .bin, which cannot be memory-mapped
        empty = os.path.isfile(f"{prefix}.bin") and os.path.getsize(f"{prefix}.bin") == 0
        if empty:
            sides.append(np.zeros(0, dtype=np.int64))
            continue
        dataset = data_utils.load_indexed_dataset(prefix, None)  # held: its ``sizes`` views a map closed with it
        sides.append(dataset.sizes.astype(np.int64))
        del dataset
    if len(sides[0]) != len(sides[1]):
        raise ValueError(f"--subset {subset}: {len(sides[0])} source sentences in {data}/{subset}.{src}-{tgt}.{src}.idx "
                         f"but {len(sides[1])} target sentences in {data}/{subset}.{src}-{tgt}.{tgt}.idx; the two sides "
                         "must be binarised from files with one line per sentence pair")
    return sides[0], sides[1]


def split_size(data: str | os.PathLike, subset: str, src: str, tgt: str) -> int:
    """Number of sentence pairs of ``subset`` in a data-bin (errors as :func:`split_lengths`)."""
    return len(split_lengths(data, subset, src, tgt)[0])


def load_split(task: Any, data: str, subset: str) -> Any:
    """Loads ``subset`` of ``data``.

    Raises:
        FileNotFoundError: the split is missing (names it and the directory).
        ValueError: its two sides differ in length, or it holds no sentence.
    """
    src, tgt = task.cfg.source_lang, task.cfg.target_lang
    if src and tgt and os.path.isfile(os.path.join(data, f"{subset}.{src}-{tgt}.{src}.idx")):
        if split_size(data, subset, src, tgt) == 0:
            raise ValueError(f"--subset {subset}: the split in {data} holds no sentences")
    try:
        task.load_dataset(subset, combine=False, epoch=1)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"--subset {subset}: split not found in {data} ({err})") from err
    dataset = task.dataset(subset)
    if len(dataset) == 0:
        raise ValueError(f"--subset {subset}: the split in {data} holds no sentences")
    return dataset
