"""``fairseq-nat-study``: one console script, one subcommand per tool.

Each subcommand lives in its own module exposing ``add_args(parser)`` and ``main(args) -> int``; modules
are imported only when their subcommand runs, so ``--help`` is fast.

Bad input ends in one line, ``fairseq-nat-study <tool>: error: <message>``, exit status 2, never a traceback:
argparse's own errors (a flag out of its range, ``cli/arg_types.py``), a tool's :class:`~.errors.ToolError`, and
as a last resort any file-system error or malformed JSON a tool did not check first. A Ctrl-C ends the tool
within the batch it was in, stops the fairseq processes it started, prints ``fairseq-nat-study <tool>:
interrupted; ...`` and exits with status 130.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
from contextlib import contextmanager
from typing import Iterator

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("fairseq_nat_study.cli.synth", "write the synthetic corpus with exact entropies and C"),
    "prepare": ("fairseq_nat_study.cli.prepare", "raw parallel text → sacremoses → joint BPE or SentencePiece → fairseq-preprocess"),
    "distill": ("fairseq_nat_study.cli.distill", "decode a split with an AR teacher (beam 4) and re-binarise it"),
    "bleu": ("fairseq_nat_study.cli.bleu", "sacreBLEU with signature, tokenized and compound-split BLEU"),
    "loglik": ("fairseq_nat_study.cli.loglik", "per-sentence / per-token log-likelihood of a split's references"),
    "total-correlation": ("fairseq_nat_study.cli.total_correlation", "conditional total correlation Ĉ = NLL(NAT) - NLL(AR)"),
    "bench": ("fairseq_nat_study.cli.bench", "decoding latency (batch 1) and throughput (large batch), side by side"),
    "user-dir": ("fairseq_nat_study.cli.user_dir", "print the plugin's directory for fairseq's --user-dir"),
    "average": ("fairseq_nat_study.cli.average", "average the parameters of a run's last checkpoints (every family)"),
    "evaluate": ("fairseq_nat_study.cli.evaluate", "BLEU, LL, refinement, diversity and speed of a run's checkpoints"),
    "collect": ("fairseq_nat_study.cli.collect", "a recipe's eval.json and Ĉ files → results.json and the report"),
    "report": ("fairseq_nat_study.cli.report", "the study's tables, Pearson r, plots and findings from results.json"),
    "docs": ("fairseq_nat_study.cli.docs", "render README's headline results table from docs/results/*/results.json"),
    "study": ("fairseq_nat_study.cli.study", "the whole study: data, teacher, distillation, model grid, evaluation, report"),
    "sweep": ("fairseq_nat_study.cli.sweep", "the C sweep: the study on synthetic corpora of rising exact C, read together"),
}

#: tools whose finished work survives an interruption (rerunning the same command resumes it)
RESUMABLE = ("distill", "study")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` after every option that has a default, except flags (False), options without
    one (None) and help texts that already state theirs."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or action.required or "default" in text:
            return text
        return f"{text} (default: %(default)s)".strip()


def interrupted_message(tool: str) -> str:
    """The one line a Ctrl-C leaves."""
    then = "rerun the same command to resume" if tool in RESUMABLE else "nothing was written; rerun the same command"
    return f"fairseq-nat-study {tool}: interrupted; {then}"


@contextmanager
def exit_on_sigint(tool: str) -> Iterator[None]:
    """Within the block, SIGINT stops the fairseq processes the tool started, prints the interruption line and
    ends this process at once (threads still running a stage in this process would otherwise hold its exit
    until they finish); every stage that finished left its state, so the same command resumes."""

    def handler(signum: int, frame: object) -> None:
        from fairseq_nat_study.utils.fairseq_runner import stop_all

        stop_all()
        sys.stdout.flush()
        # on a line of its own: a progress line ("\rloglik: 40/101 sentences") may be open
        print("\n" + interrupted_message(tool), file=sys.stderr, flush=True)
        os._exit(130)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _file_error(err: OSError) -> str:
    """An ``OSError`` as ``<file>: <what>`` (without Python's ``[Errno N]``)."""
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{err.strerror or err}".strip()


def run_tool(tool: str, module: str, args: argparse.Namespace) -> int:
    """Runs ``module.main(args)``; bad input the tool raised becomes its one error line (status 2), a Ctrl-C
    its interruption line (status 130)."""
    from fairseq_nat_study.cli.errors import ToolError, fail

    try:
        return int(importlib.import_module(module).main(args) or 0)
    except ToolError as err:
        return fail(tool, err)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as err:
        return fail(tool, f"{_file_error(err)} (check the paths given to {tool})")
    except json.JSONDecodeError as err:
        return fail(tool, f"a file given to {tool} is not valid JSON ({err})")
    except KeyboardInterrupt:
        from fairseq_nat_study.utils.fairseq_runner import terminate_running

        terminate_running()
        print("\n" + interrupted_message(tool), file=sys.stderr, flush=True)
        return 130


def main(argv: list[str] | None = None) -> int:
    """Parses ``argv`` (default: the command line) and runs the chosen tool; with the real command line a Ctrl-C
    ends the process (:func:`exit_on_sigint`), in-process callers get status 130 back."""
    program = argv is None
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", level=logging.INFO, stream=sys.stderr)
    parser = argparse.ArgumentParser(prog="fairseq-nat-study", description="Train, decode and study NAT models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = argv[0] if argv else None
    tool_parser = parser
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=DefaultsHelpFormatter)
        p.set_defaults(_module=module)
        if name == chosen:  # import only the module that will run
            importlib.import_module(module).add_args(p)
            tool_parser = p
    args, extra = parser.parse_known_args(argv)
    if extra:  # named by the tool's parser, so that the error line names the tool
        tool_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not program:
        return run_tool(args.command, args._module, args)
    with exit_on_sigint(args.command):
        return run_tool(args.command, args._module, args)


if __name__ == "__main__":
    sys.exit(main())
