"""The error convention of the plugin's tools: ``fairseq-nat-study <tool>: error: <message>`` on stderr, exit 2."""
from __future__ import annotations

import sys
from pathlib import Path


def fail(tool: str, message: object) -> int:
    """Prints the error line of ``tool`` and returns the exit status 2 (argparse's ``parser.error`` status)."""
    print(f"fairseq-nat-study {tool}: error: {message}", file=sys.stderr)
    return 2


def missing_out_dir(path: str | None, flag: str = "--out") -> str | None:
    """The error message when ``path``'s folder does not exist (checked before any work), else None."""
    if path is None:
        return None
    parent = Path(path).parent
    return None if parent.is_dir() else f"{flag} {path}: no directory {parent} (create it first)"
