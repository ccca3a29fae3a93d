"""Building the plugin's models, criterions and generators in-process through fairseq's own option parsing, on a
tiny letter dictionary (no data, no training): what ``fairseq-train`` and ``fairseq-generate`` do before their
first batch. The parsed ``Namespace`` goes to fairseq's builders as is (fairseq's legacy path, which fills the
dataclass configs from it, interpolations such as ``optimization.max_update`` included): the conversion to
omegaconf that the CLIs do costs 1.4 s a call and changes nothing that is checked here."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from fairseq import options, tasks

from fairseq_helpers import PLUGIN_DIR

LETTERS = "abcdefghij"


def write_dicts(root: Path) -> Path:
    """``dict.src.txt`` and ``dict.tgt.txt`` of ten letters in ``root`` -> root."""
    root.mkdir(parents=True, exist_ok=True)
    for lang in ("src", "tgt"):
        (root / f"dict.{lang}.txt").write_text("".join(f"{c} 10\n" for c in LETTERS))
    return root


def _task_flags(data: Path) -> list[str]:
    return [str(data), "-s", "src", "-t", "tgt", "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation"]


def train_args(data: Path, argv: Sequence[str]) -> Any:
    """fairseq-train's parsed options for ``argv`` (arch, criterion and flags; ``--max-update 100`` unless given)."""
    extra = [] if "--max-update" in argv else ["--max-update", "100"]
    return options.parse_args_and_arch(options.get_training_parser(), [*_task_flags(data), "--cpu", *extra, *argv])


def build_for_training(data: Path, argv: Sequence[str]) -> tuple[Any, Any, Any]:
    """(task, model, criterion) as fairseq-train builds them, model first."""
    args = train_args(data, argv)
    task = tasks.setup_task(args)
    model = task.build_model(args)
    return task, model, task.build_criterion(args)


def build_generator(data: Path, model: Any, argv: Sequence[str]) -> Any:
    """The generator fairseq-generate builds for ``model`` with generation flags ``argv``."""
    args = options.parse_args_and_arch(options.get_generation_parser(),
                                       [*_task_flags(data), "--path", "unused.pt", "--cpu", *argv])
    return tasks.setup_task(args).build_generator([model], args)
