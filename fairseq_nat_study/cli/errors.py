"""The error convention of the plugin's tools: ``fairseq-nat-study <tool>: error: <message>`` on stderr, exit 2.

A tool either returns :func:`fail`'s status or raises :class:`ToolError`, which ``cli/main.py`` prints the same
way. The checks below run before any work: each returns None when the path is usable, else the message that
names the flag, the path, what is wrong and what to do.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


class ToolError(ValueError):
    """Bad input to a plugin tool; ``cli/main.py`` prints its message as the tool's one error line (exit 2)."""


def fail(tool: str, message: object) -> int:
    """Prints the error line of ``tool`` and returns the exit status 2 (argparse's ``parser.error`` status)."""
    print(f"fairseq-nat-study {tool}: error: {message}", file=sys.stderr)
    return 2


def failure_line(err: Exception) -> str:
    """A failed fairseq process's error (its message holds the log's tail) as one line: the first line, which
    names the log, and the last line of the tail, which usually says why."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if len(lines) < 2 else f"{lines[0]}: {lines[-1]}"


def too_small_batch(dataset: object, max_tokens: int, flag: str = "--max-tokens") -> str | None:
    """The error message when the longest sentence of a fairseq pair dataset has more tokens than ``max_tokens``
    (fairseq's batching would stop on an assertion), else None."""
    sizes = [getattr(dataset, side, None) for side in ("src_sizes", "tgt_sizes")]
    longest = max((int(s.max()) for s in sizes if s is not None and len(s)), default=0)
    if longest <= max_tokens:
        return None
    return (f"{flag} {max_tokens}: the split's longest sentence has {longest} tokens and a batch must hold it; "
            f"give {flag} {longest} or more")


def _writable_dir(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def missing_out_dir(path: str | None, flag: str = "--out") -> str | None:
    """The error message when the file ``path`` cannot be written (checked before any work), else None: its
    folder is missing or not writable, or ``path`` is a directory or a file that cannot be overwritten."""
    if path is None:
        return None
    target, parent = Path(path), Path(path).parent
    if target.is_dir():
        return f"{flag} {path}: is a directory; give a file name"
    if parent.exists() and not parent.is_dir():
        return f"{flag} {path}: {parent} is a file, not a directory"
    if not parent.is_dir():
        return f"{flag} {path}: no directory {parent} (create it first)"
    if not _writable_dir(parent):
        return f"{flag} {path}: cannot write in {parent} (permission denied); choose another place"
    if target.exists() and not os.access(target, os.W_OK):
        return f"{flag} {path}: the file exists and cannot be overwritten (permission denied)"
    return None


def dir_problem(path: str | Path) -> str | None:
    """What stops the directory ``path`` from being used or created, else None: it is a file, or its nearest
    existing ancestor is a file or not writable."""
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            return "is a file, not a directory; give a directory"
        if not _writable_dir(target):
            return "cannot write in it (permission denied); choose another directory"
        return None
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is a file, not a directory"
    if not _writable_dir(ancestor):
        return f"cannot create it in {ancestor} (permission denied); choose another directory"
    return None


def unwritable_out_dir(path: str | None, flag: str = "--out") -> str | None:
    """The error message when the directory ``path`` can neither be used nor created (checked before any work),
    else None (:func:`dir_problem`)."""
    if path is None:
        return None
    problem = dir_problem(path)
    return None if problem is None else f"{flag} {path}: {problem}"


def missing_file(path: str | Path, flag: str, what: str = "file") -> str | None:
    """The error message when ``path`` is not a readable file (missing, a directory, unreadable), else None."""
    p = Path(path)
    if p.is_dir():
        return f"{flag} {path}: is a directory; give the {what} itself"
    if not p.exists():
        return f"{flag} {path}: no such {what}"
    if not os.access(p, os.R_OK):
        return f"{flag} {path}: cannot read it (permission denied)"
    return None


def missing_dir(path: str | Path, flag: str, what: str = "directory") -> str | None:
    """The error message when ``path`` is not an existing directory, else None."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        return f"{flag} {path}: is a file; give the {what}"
    if not p.exists():
        return f"{flag} {path}: no such {what}"
    return None


def check(*messages: str | None) -> None:
    """Raises :class:`ToolError` with the first message that is not None."""
    for message in messages:
        if message is not None:
            raise ToolError(message)


def read_json(path: str | Path, flag: str, kind: type = dict, where: str | None = None) -> Any:
    """The JSON value of the file ``path``, which must be a ``kind`` (``object``: anything); :class:`ToolError`
    naming ``where`` (default ``"<flag> <path>"``) when it is missing, not a file, not JSON or of another kind."""
    where = where or f"{flag} {path}"
    p = Path(path)
    if p.is_dir():
        raise ToolError(f"{where}: is a directory; give the JSON file itself")
    if not p.exists():
        raise ToolError(f"{where}: no such file")
    try:
        value = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ToolError(f"{where}: not a JSON file ({err})") from None
    except PermissionError:
        raise ToolError(f"{where}: cannot read it (permission denied)") from None
    if not isinstance(value, kind):
        raise ToolError(f"{where}: expected a JSON {'object' if kind is dict else kind.__name__}, "
                        f"got {type(value).__name__}")
    return value
