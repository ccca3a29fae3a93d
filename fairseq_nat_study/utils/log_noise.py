"""Known noise of fairseq's CLIs on this stack, filtered once when the plugin registers.

Filtered, each by its exact message or logger, so that no warning of the plugin (loggers
``fairseq_nat_study.*``) or any other warning is hidden:

- hydra's deprecation ``UserWarning``s, which fairseq 0.12 triggers through ``hydra.experimental`` on every run
  (``initialize``/``compose`` no longer experimental, ``version_base`` not given, ``# @package _group_``
  headers, ConfigStore schema matching, the ``strict`` flag);
- torch's ``'pin_memory' argument is set as true but no accelerator is found`` ``UserWarning`` on CPU-only
  machines (fairseq always asks for pinned memory);
- DEBUG records of the ``fairseq`` and ``hydra`` loggers (``Setting JobRuntime:name=...``, ``reusing
  EpochBatchIterator``), unless ``LOGLEVEL=DEBUG`` asks for them (fairseq's own switch).
"""
from __future__ import annotations

import logging
import os
import warnings

#: Start of each filtered warning message (``warnings`` matches from the first character, case-insensitive).
NOISY_WARNINGS: tuple[str, ...] = (
    r"\s*hydra\.experimental\.(initialize|compose)\(\) is no longer experimental",
    r"\s*The version_base parameter is not specified",
    r"\s*In '[^']*': Usage of deprecated keyword in package header",
    r"\s*'[^']*' is validated against ConfigStore schema with the same name",
    r"\s*The strict flag in the compose API is deprecated",
    r"\s*'pin_memory' argument is set as true but no accelerator is found",
)
#: Loggers whose DEBUG records are dropped (their INFO and above pass).
QUIET_DEBUG_LOGGERS: tuple[str, ...] = ("fairseq", "hydra")

_done = False


def filter_known_noise() -> None:
    """Installs the filters above; idempotent."""
    global _done
    if _done:
        return
    _done = True
    for message in NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
    if os.environ.get("LOGLEVEL", "INFO").upper() != "DEBUG":
        for name in QUIET_DEBUG_LOGGERS:
            logger = logging.getLogger(name)
            if logger.level in (logging.NOTSET, logging.DEBUG):
                logger.setLevel(logging.INFO)
