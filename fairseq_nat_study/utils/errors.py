"""Refusals that fairseq's own tools print as one line.

A check of the plugin's models, criterions, task or generator runs inside ``fairseq-train``,
``fairseq-generate``, ``fairseq-validate`` or ``fairseq-interactive``, where an ordinary exception ends in a
stack trace. :class:`PluginError` is a ``ValueError`` (code that calls the plugin from Python catches it as
one) and a ``SystemExit`` (left uncaught, Python prints its one line to stderr and exits with status 1,
without a traceback). The line reads ``<tool>: error: <message>``, ``<tool>`` being the running program.
"""
from __future__ import annotations

import os
import sys


def program_name() -> str:
    """The running tool's name as a user typed it (``fairseq-train``, ``fairseq-generate``, ...)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name or "fairseq"


class PluginError(ValueError, SystemExit):
    """A refused input: one line ``<tool>: error: <message>`` on stderr and exit status 1 when uncaught.

    Args:
        message: what is wrong, where, and what to do instead.
    """

    def __init__(self, message: str) -> None:
        line = f"{program_name()}: error: {message}"
        super().__init__(line)
        self.message = message
        self.code = line
