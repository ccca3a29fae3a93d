"""The study's refusal of a config that cannot run, and the expansion of the data paths configs name; the
bottom of the study room, imported by its config, data preparation and OOD modules alike."""
from __future__ import annotations

from typing import Any


class StudyConfigError(ValueError):
    """A study config that cannot run (unknown key, bad value, missing teacher)."""


def checked(fn: Any, *args: Any) -> None:
    """Runs a check of ``utils/config_check.py``, its error as a ``StudyConfigError``."""
    from fairseq_nat_study.utils.config_check import ConfigTypeError

    try:
        fn(*args)
    except ConfigTypeError as err:
        raise StudyConfigError(str(err)) from None


def expand_data_dir(path: str) -> str:
    """``data.dir`` with environment variables expanded (configs name their data as ``$NAT_STUDY_DATA/<set>``
    instead of a machine path); an unset variable is an error that names it."""
    import os
    import re

    expanded = os.path.expandvars(path)
    unset = re.findall(r"\$\{?(\w+)", expanded)
    if unset:
        raise StudyConfigError(f"data.dir {path!r}: environment variable {unset[0]} is not set "
                               f"(e.g. export {unset[0]}=/path/to/your/data)")
    return expanded
