"""``fairseq-nat-study report``: the report of :mod:`fairseq_nat_study.study.report.write` behind the tools' checks.

Every ``--runs`` directory must hold a readable ``results.json`` of a study, and ``--out`` must be a directory
that can be written, before anything is drawn; every problem is one line ``fairseq-nat-study report: error: ...``.
A study over training seeds (``study/seeds.py``) is given alone: its reading over seeds is rendered again from
each seed's ``results.json`` (``study/report/seeds.py``).
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
        if isinstance(results, dict) and "seeds" in results:
            if len(args.runs) > 1:
                return fail("report", f"--runs {run}: a study over training seeds is reported alone (give only it)")
            if (message := unwritable_out_dir(args.out)) is not None:
                return fail("report", message)
            return _write_seeds(Path(run), results, Path(args.out))
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


def _write_seeds(run: Path, results: dict[str, Any], out: Path) -> int:
    """Renders a seeds study's reading over seeds again from each seed's ``results.json``."""
    from fairseq_nat_study.cli.errors import fail, read_json
    from fairseq_nat_study.study.report.seeds import write_seeds_report

    recorded = results.get("per_seed")
    if not isinstance(recorded, dict) or not recorded:
        return fail("report", f"--runs {run}: {run / 'results.json'} names no per-seed results (no per_seed)")
    paths = [run / p for p in recorded.values()]
    for path in paths:
        if not path.is_file():
            return fail("report", f"--runs {run}: no {path} (has that seed's study finished?)")
    per_seed = [read_json(p, "--runs", where=f"--runs {run}: {p}") for p in paths]
    try:
        write_seeds_report(per_seed, paths, out, {k: results[k] for k in ("config", "data_seed") if k in results})
    except (KeyError, TypeError, IndexError, ValueError) as err:
        return fail("report", f"--runs {run}: the per-seed results do not make a report ({type(err).__name__}: {err})")
    print(f"wrote {out / 'report.md'}")
    return 0
