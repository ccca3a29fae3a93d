"""Loading checkpoints and data splits for the plugin's tools, pipelines and analyses (below the CLI layer)."""
from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)


def load_model_and_task(path: str, data: str, cpu: bool = True) -> tuple[Any, Any]:
    """Loads one checkpoint (weights-only, see ``utils.checkpoint``) with its task pointed at ``data``.

    Raises:
        FileNotFoundError: the checkpoint or the data directory does not exist.
    """
    import torch
    from fairseq import checkpoint_utils

    import fairseq_nat_study  # noqa: F401  (registers the plugin, allow-lists checkpoint globals)

    if not os.path.isfile(path):
        raise FileNotFoundError(f"--path: no checkpoint at {path}")
    if not os.path.isdir(data):
        raise FileNotFoundError(f"--data: no binarised data directory at {data}")
    models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task([path], arg_overrides={"data": data})
    model = models[0].eval()
    return model.to(load_device(cpu)), task


def load_device(cpu: bool = False) -> "torch.device":
    """The device the plugin's tools run models on: the first GPU unless ``cpu`` is asked or none exists."""
    import torch

    return torch.device("cpu" if cpu or torch.cuda.device_count() == 0 else "cuda")


def load_split(task: Any, data: str, subset: str) -> Any:
    """Loads ``subset`` of ``data``; a missing split is an error that names it and the directory."""
    try:
        task.load_dataset(subset, combine=False, epoch=1)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"--subset {subset}: split not found in {data} ({err})") from err
    return task.dataset(subset)
