"""``fairseq-nat-study report``: the report of :mod:`fairseq_nat_study.analysis.report` behind the tools' checks.

Every ``--runs`` directory must hold a readable ``results.json`` of a study, and ``--out`` must be a directory
that can be written, before anything is drawn; every problem is one line ``fairseq-nat-study report: error: ...``.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_args(parser: argparse.ArgumentParser) -> None:
    """The report's own options (``analysis.report.add_args``)."""
    from fairseq_nat_study.analysis.report import add_args as report_args

    report_args(parser)


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.analysis import report
    from fairseq_nat_study.cli.errors import fail, missing_dir, read_json, unwritable_out_dir

    for run in args.runs:
        if (message := missing_dir(run, "--runs", "study directory")) is not None:
            return fail("report", message)
        path = Path(run) / "results.json"
        if not path.is_file():
            return fail("report", f"--runs {run}: no results.json (has its study finished?)")
        results = read_json(path, "--runs", where=f"--runs {run}: {path}")
        missing = [key for key in ("name", "runs", "data") if key not in results]
        if missing or not isinstance(results.get("runs"), list):
            return fail("report", f"--runs {run}: {path} is not a study's results.json (no {' or '.join(missing) or 'runs list'})")
    if (message := unwritable_out_dir(args.out)) is not None:
        return fail("report", message)
    try:
        return report.main(args)
    except (KeyError, TypeError, IndexError) as err:  # a results.json of the right kind with a value missing
        return fail("report", f"--runs {' '.join(args.runs)}: the results do not make a report ({type(err).__name__}: "
                              f"{err}); write them again with the installed version (`fairseq-nat-study study "
                              "--redo evaluation` on the study)")
