"""Running fairseq's CLIs in-process for tests (fairseq's own tests/test_binaries.py pattern)."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Sequence

from fairseq import options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq_cli import generate, preprocess, train

PLUGIN_DIR = str(Path(__file__).resolve().parents[1] / "fairseq_nat_study")


def run_preprocess(raw: Path, dest: Path, src: str = "src", tgt: str = "tgt", dict_from: Path | None = None) -> None:
    """fairseq-preprocess with a joined dictionary (or the dictionaries of an existing data-bin)."""
    parser = options.get_preprocessing_parser()
    dicts = (["--srcdict", str(dict_from / f"dict.{src}.txt"), "--tgtdict", str(dict_from / f"dict.{tgt}.txt")]
             if dict_from is not None else ["--joined-dictionary"])
    args = parser.parse_args([
        "--source-lang", src, "--target-lang", tgt, "--trainpref", str(raw / "train"),
        "--validpref", str(raw / "valid"), "--testpref", str(raw / "test"), "--destdir", str(dest),
        "--workers", "1", *dicts,
    ])
    preprocess.main(args)


def run_train(data: Path, save_dir: Path, extra: Sequence[str]) -> None:
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        str(data), "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation", "--save-dir", str(save_dir),
        "--optimizer", "adam", "--adam-betas", "(0.9,0.98)", "--lr-scheduler", "inverse_sqrt",
        "--warmup-updates", "100", "--no-epoch-checkpoints", "--no-progress-bar", "--cpu", "--seed", "1",
        "--log-format", "simple", "--log-interval", "50",
        # validate and save once, when training stops, not after every short epoch of a test corpus
        "--validate-interval", "1000000", "--save-interval", "1000000", *extra,
    ])
    train.main(convert_namespace_to_omegaconf(args))


def run_generate(data: Path, path: Path, extra: Sequence[str] = (), subset: str = "test", batch_size: int = 16) -> str:
    """fairseq-generate in-process; returns its stdout (S-/T-/H- lines)."""
    parser = options.get_generation_parser()
    args = options.parse_args_and_arch(parser, [
        str(data), "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation", "--path", str(path),
        "--gen-subset", subset, "--cpu", "--batch-size", str(batch_size),
        # no data-loader processes: a refusal raised mid-iteration would leave them for the garbage collector to
        # join, which can block the next in-process run
        "--num-workers", "0", *extra,
    ])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        generate.main(convert_namespace_to_omegaconf(args))
    return buf.getvalue()
