"""``fairseq-nat-study docs``: render the README's headline results from the committed ``results.json`` files.

``fairseq-nat-study docs --readme README.md --results docs/results`` rewrites the block between
``<!-- headline:begin -->`` and ``<!-- headline:end -->``; ``--check`` writes nothing and exits 1 when the
block differs from what the results give. No torch or fairseq import.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fairseq_nat_study.cli.errors import fail


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--readme", default="README.md", help="the Markdown file with the headline markers")
    parser.add_argument("--results", default="docs/results", help="folder of <profile>/results.json files")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the block is not what the results give")


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.study.report.headline import rendered

    readme, results = Path(args.readme), Path(args.results)
    if not readme.is_file():
        return fail("docs", f"--readme {readme}: no such file")
    if not results.is_dir():
        return fail("docs", f"--results {results}: no such directory")
    try:
        old, new = rendered(readme, results)
    except (ValueError, FileNotFoundError) as e:
        return fail("docs", f"{readme}: {e}" if isinstance(e, ValueError) else f"--results {results}: {e}")
    if args.check:
        if old != new:
            print(f"{readme}: the headline block differs from {results}; run "
                  f"`fairseq-nat-study docs --readme {readme} --results {results}`", file=sys.stderr)
            return 1
        print(f"{readme}: headline block matches {results}")
        return 0
    if old != new:
        readme.write_text(new)
    print(f"{readme}: headline block {'rewritten' if old != new else 'already current'}")
    return 0
