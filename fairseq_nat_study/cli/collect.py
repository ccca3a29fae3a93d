"""``fairseq-nat-study collect``: the report of a recipe — the ``eval.json`` of each run directory, the Ĉ files of
``total-correlation`` and the data summary of ``prepare`` gathered into one ``results.json``, then the same
tables, Pearson r, findings and plots as the study's report (:mod:`fairseq_nat_study.study.report.write`).

A run directory without ``eval.json`` is an error that names it: a report must not silently leave a model out.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fairseq_nat_study.cli.arg_types import non_negative_float
from fairseq_nat_study.cli.errors import fail, read_json, unwritable_out_dir

TC_LABELS = ("raw", "dist", "glat_proxy")
#: what every run's ``eval.json`` holds (``study/run_eval.py``)
EVAL_KEYS = ("model", "family", "data", "points")


#: the label of a file that holds every case (the study's ``total_correlation.json``)
COMBINED = "all"


def _labelled(item: str) -> tuple[str, str]:
    label, sep, path = item.partition("=")
    if not sep:  # a bare FILE: the study's combined file
        return COMBINED, item
    if label not in TC_LABELS:
        raise argparse.ArgumentTypeError(f"{item!r} is not LABEL=FILE with LABEL one of {', '.join(TC_LABELS)}")
    return label, path


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="title of the report, e.g. 'WMT16 En-Ro'")
    parser.add_argument("--data-json", required=True, help="data.json written by prepare")
    parser.add_argument("--runs", nargs="+", required=True, help="run directories, each with eval.json")
    parser.add_argument("--total-correlation", nargs="*", type=_labelled, default=[], metavar="LABEL=FILE",
                        help="Ĉ files of total-correlation: raw=F, dist=F, glat_proxy=F; or, without a label, the "
                             "study's total_correlation.json, which holds all three")
    parser.add_argument("--seconds", type=non_negative_float, default=0.0, help="wall time of the recipe, for the report")
    parser.add_argument("--out", required=True, help="folder for report.md, the plots and results.json")


def _tc_entry(est: dict[str, Any]) -> dict[str, Any]:
    """A ``total-correlation`` file as the report shows it: without per-sentence values, with the models named
    by their run directories (``tr_base-raw``)."""
    entry = {k: v for k, v in est.items() if k != "sentence_C_hat"}
    for role in ("ar", "nat"):
        path = est.get(f"{role}_checkpoint")
        entry[role] = Path(path).parent.name if path else "?"
    return entry


def _tc_entries(label: str, path: Path) -> dict[str, Any]:
    """The report's Ĉ entries of one file: one labelled ``total-correlation`` file, or the study's combined file.

    Raises:
        ValueError: the file is neither (names it and the form it should have).
    """
    est = read_json(path, "--total-correlation", object,
                    where=f"--total-correlation {path}" if label == COMBINED else f"--total-correlation {label}={path}")
    combined = isinstance(est, dict) and bool(est) and set(est) <= set(TC_LABELS) and all(
        isinstance(e, dict) and ("C_hat_per_sentence" in e or "skipped" in e) for e in est.values())
    if label == COMBINED:
        if not combined:
            raise ValueError(f"--total-correlation {path}: without a label the file must be the study's "
                             f"total_correlation.json (entries {', '.join(TC_LABELS)}); label a file written by "
                             "`fairseq-nat-study total-correlation` as raw=FILE, dist=FILE or glat_proxy=FILE")
        return est
    if combined:
        raise ValueError(f"--total-correlation {label}={path}: this is the study's combined file (entries "
                         f"{', '.join(est)}): give it without a label")
    if not isinstance(est, dict) or "C_hat_per_sentence" not in est:
        raise ValueError(f"--total-correlation {label}={path}: not a file written by "
                         "`fairseq-nat-study total-correlation` (no C_hat_per_sentence)")
    return {label: _tc_entry(est)}


def gather(name: str, data_json: Path, runs: list[Path], tc_files: dict[str, Path], seconds: float) -> dict[str, Any]:
    """The ``results.json`` record of a recipe (raises FileNotFoundError naming what is missing, ValueError naming
    a Ĉ file of the wrong form)."""
    from fairseq_nat_study.study.run_eval import hardware

    for path in [data_json, *(r / "eval.json" for r in runs), *tc_files.values()]:
        if not path.is_file():
            raise FileNotFoundError(f"no file {path}" + (" (run `fairseq-nat-study evaluate` on it first)"
                                                         if path.name == "eval.json" else ""))
    tc: dict[str, Any] = {}
    for label, path in tc_files.items():
        tc.update(_tc_entries(label, path))
    records = [read_json(r / "eval.json", "--runs", where=f"--runs {r}: {r / 'eval.json'}") for r in runs]
    for run, record in zip(runs, records):
        missing = [key for key in EVAL_KEYS if key not in record]
        if missing or not isinstance(record.get("points"), list) or not record["points"]:
            raise ValueError(f"--runs {run}: {run / 'eval.json'} is not a record of `fairseq-nat-study evaluate` "
                             f"(no {', '.join(missing) or 'points'}); evaluate the run again (--force)")
    for label in TC_LABELS:
        tc.setdefault(label, {"skipped": "not estimated by this recipe"})
    return {
        "name": name, "data": read_json(data_json, "--data-json"), "runs": records, "total_correlation": tc,
        "hardware": hardware(records),
        "stage_seconds": {"recipe": seconds},
        "seconds_this_run": seconds,
    }


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.study.report.write import write_report

    if (message := unwritable_out_dir(args.out)) is not None:
        return fail("collect", message)
    try:
        results = gather(args.name, Path(args.data_json), [Path(r) for r in args.runs],
                         {label: Path(p) for label, p in args.total_correlation}, args.seconds)
    except (FileNotFoundError, ValueError) as err:
        return fail("collect", err)
    try:
        write_report(results, Path(args.out))
    except (KeyError, TypeError, IndexError) as err:  # a record of the right kind with a value missing or malformed
        return fail("collect", f"the records given do not make a report ({type(err).__name__}: {err}); evaluate "
                               "the runs again with the installed version (`fairseq-nat-study evaluate --force`)")
    print(f"[collect] {len(results['runs'])} runs -> {Path(args.out) / 'report.md'}")
    return 0
