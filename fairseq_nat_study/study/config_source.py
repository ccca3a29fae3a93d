"""Where a study's config comes from: a JSON file, or the built-in quick study that ``fairseq-nat-study study``
runs with no ``--config`` (``make demo``)."""
from __future__ import annotations

import json
from pathlib import Path

from fairseq_nat_study.study.config import StudyConfig, StudyConfigError, from_dict


def load_config(path: str | None) -> StudyConfig:
    """The config at ``path`` (JSON), or the built-in quick study when ``path`` is None."""
    if path is None:
        return quick_config()
    p = Path(path)
    if not p.is_file():
        raise StudyConfigError(f"--config: no file at {p}")
    try:
        raw = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise StudyConfigError(f"--config {p}: not valid JSON ({err})") from err
    return from_dict(raw, p.parent)


def quick_config() -> StudyConfig:
    """The quick study: the synthetic corpus (``aligned`` preset: every word two target tokens, tied modes), the
    AR teacher, NAT-MLE and the Gaussian latent model, raw and distilled, each trained until its validation
    stops improving; measured to fit in 15 minutes on 2 CPU cores (README). GLAT and the flow model are in the
    ``findings`` profile (``examples/study/synthetic_findings.json``)."""
    return from_dict({
        "name": "quick (synthetic corpus)",
        "data": {"kind": "synth", "num_train": 20000, "preset": "aligned"},
        "train": {"flags": ["--max-tokens", "2048", "--lr", "3e-3"]},
        "teacher": "tr_tiny",
        "distill": {"beam": 4, "shard_size": 20000},
        "models": [
            # plain MLE: Ĉ needs an NLL that can reach H(Y|X); validated every 50 updates, as it fits in about
            # 300, so that its BLEU-LL correlation has 5 checkpoints up to its best
            {"name": "tr_tiny", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 800, "valid_every": 50,
             "patience": 3, "flags": ["--label-smoothing", "0"]},
            {"name": "nat_tiny", "family": "nat", "arch": "nat_study_nat_tiny", "max_update": 1500,
             "valid_every": 100, "patience": 3},
            {"name": "ga_tiny", "family": "latent", "arch": "nat_study_ga_tiny", "max_update": 1500,
             "valid_every": 100, "patience": 3, "schedule_updates": 500},
        ],
        "eval": {"refine_steps": [0, 1, 2, 4], "iw_samples": 10, "checkpoints": 5, "bench_sentences": 50},
    })
