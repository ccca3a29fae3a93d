"""``fairseq-nat-study report``: the report of :mod:`fairseq_nat_study.study.report.write` behind the tools' checks.

Every ``--runs`` directory must hold a readable ``results.json`` of a study, and ``--out`` must be a directory
that can be written, before anything is drawn; every problem is one line ``fairseq-nat-study report: error: ...``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_args(parser: argparse.ArgumentParser) -> None:
    """The ``report`` subcommand's options."""
    parser.add_argument("--runs", nargs="+", required=True, help="study directories (each with results.json)")
    parser.add_argument("--out", required=True, help="directory for report.md, plots and results.json")


def main(args: argparse.Namespace) -> int:
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
        return _write(args)
    except (KeyError, TypeError, IndexError) as err:  # a results.json of the right kind with a value missing
        return fail("report", f"--runs {' '.join(args.runs)}: the results do not make a report ({type(err).__name__}: "
                              f"{err}); write them again with the installed version (`fairseq-nat-study study "
                              "--redo evaluation` on the study)")


def _write(args: argparse.Namespace) -> int:
    """Merges the studies' results and writes the report."""
    from fairseq_nat_study.study.report.write import write_report

    merged: dict[str, Any] | None = None
    for d in args.runs:  # each checked by main() first
        res = json.loads((Path(d) / "results.json").read_text())
        if merged is None:
            merged = res
        else:
            merged = {**merged, "name": f"{merged['name']} + {res['name']}", "runs": merged["runs"] + res["runs"]}
    assert merged is not None
    write_report(merged, Path(args.out))
    print(f"wrote {Path(args.out) / 'report.md'}")
    return 0
