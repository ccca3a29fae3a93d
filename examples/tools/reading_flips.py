"""Lists the findings whose reading a change of the reading rules flips, in committed study results.

    .venv/bin/python examples/tools/reading_flips.py docs/results/*/results.json

Each ``results.json`` holds the findings as they were read when it was written; this reads them again from the
same records with the current rules and prints, per profile, every claim whose reading changed, every claim the
current rules no longer make and every claim they add (a reworded claim appears as one of each). A change to a
reading rule is committed with this list.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from fairseq_nat_study.study.report.findings import findings


def reading(row: dict) -> str:
    """``yes``/``no``/``n/a``, with ``, by design`` where a reason is given."""
    word = "n/a" if row["holds"] is None else ("yes" if row["holds"] else "no")
    return word + (", by design" if row.get("by_design") else "")


def claim_key(text: str) -> str:
    """A claim without its parenthesised rule and unit qualifiers, so that a claim whose rule was reworded is
    matched with its earlier reading (``... within a model (over its last checkpoints ...)`` keeps which
    checkpoints it reads)."""
    text = text.replace("over its last checkpoints", "LAST").replace("over its checkpoints along training", "ALONG")
    kept = re.findall(r"\((LAST|ALONG)", text)
    return re.sub(r"\s*\([^()]*\)", "", text).replace(", in both units", "") + "".join(f" [{k}]" for k in kept)


def flips(results: dict) -> tuple[list[str], list[str], list[str]]:
    """(changed, dropped, added) lines between the recorded findings and the current rules' findings."""
    old = {claim_key(row["claim"]): (row["claim"], reading(row)) for row in results.get("findings", [])}
    new_rows = findings(results["runs"], results.get("total_correlation", {}), results["data"],
                        results.get("mixed_output"))
    new = {claim_key(row["claim"]): (row["claim"], reading(row)) for row in new_rows}
    changed = [f"{new[k][0]}: {old[k][1]} → {new[k][1]}" for k in new if k in old and old[k][1] != new[k][1]]
    dropped = [f"{old[k][0]} ({old[k][1]})" for k in old if k not in new]
    added = [f"{new[k][0]} ({new[k][1]})" for k in new if k not in old]
    return changed, dropped, added


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for path in paths:
        changed, dropped, added = flips(json.loads(Path(path).read_text()))
        print(f"## {path}")
        for title, lines in (("reading changed", changed), ("no longer a finding", dropped), ("new", added)):
            print(f"{title}: {len(lines)}")
            print("".join(f"  - {line}\n" for line in lines), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
