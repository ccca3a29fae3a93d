"""``fairseq-nat-study user-dir``: print the installed plugin's directory, for fairseq's ``--user-dir`` from any
working directory: ``fairseq-train ... --user-dir "$(fairseq-nat-study user-dir)"``. The path is found without
importing the plugin (no torch, no fairseq), so it prints at once."""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path


def add_args(parser: argparse.ArgumentParser) -> None:
    """No options."""


def plugin_dir() -> Path:
    """The directory of the installed ``fairseq_nat_study`` package."""
    spec = importlib.util.find_spec("fairseq_nat_study")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("fairseq_nat_study is not installed in this environment")
    return Path(spec.origin).resolve().parent


def main(args: argparse.Namespace) -> int:
    print(plugin_dir())
    return 0
