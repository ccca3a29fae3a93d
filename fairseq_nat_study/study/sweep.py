"""The C sweep (Huang et al. 2022): the same study on synthetic corpora whose exact conditional total
correlation C runs from 0 up.

Huang et al. bound the KL from the data to a NAT model trained by MLE below by C, the dependence between target
tokens given the source that a factorized model cannot represent: the larger C is, the more NAT-MLE loses to its
AR counterpart, and KD and GLAT help because their proxy data have a lower C. A sweep turns one of two knobs of
the synthetic corpus (:data:`~fairseq_nat_study.study.report.sweep_report.KNOBS`):

- ``"ambiguity": [λ, ...]`` (:class:`~fairseq_nat_study.data.synth_config.SynthConfig`) scales C from 0 (every
  word deterministic) to the preset's own value while the sources, vocabularies and random stream stay the same,
  so each corpus differs from the others only in how ambiguous its words are. Below λ = 1 each ambiguous word has
  one most likely translation;
- ``"p_ambiguous": [p, ...]`` raises C through the share of source words that are ambiguous, each with the
  preset's own translation probabilities (tied ones in the ``aligned`` preset), so more words per sentence have
  translations a one-pass argmax can mix.

A sweep config is a study config (``study/config.py``) with one of these keys: the study runs once per value in
``OUT/<knob>_<value>/`` (each resumable, as every study is), then the sweep's report reads them together
(:mod:`~fairseq_nat_study.study.report.sweep_report`). An optional ``"real": [{"name": ..., "results": PATH},
...]`` (PATH relative to the config file) adds finished studies of real corpora as points at their Ĉ per
position (no exact C exists there); the findings read the synthetic corpora only.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

from fairseq_nat_study.study.config import StudyConfig, StudyConfigError, from_dict
from fairseq_nat_study.study.report.sweep_report import DEFAULT_KNOB, GAP_MODELS, KNOBS


def load_sweep(path: str | Path) -> tuple[dict[str, Any], list[float]]:
    """(the base study config as JSON, the knob's values) of a sweep config file; every per-corpus config is
    validated before any stage runs. The knob's name stays in the base under ``"knob"`` (:func:`knob`) and the
    real corpora's points, if any, under ``"real"`` with their paths made absolute (:func:`real_points` reads
    them; :func:`corpus_config` drops both)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise StudyConfigError(f"--config {path}: {err}") from None
    if not isinstance(raw, dict):
        raise StudyConfigError(f"--config {path}: expected a JSON object")
    raw = copy.deepcopy(raw)
    named = [k for k in KNOBS if k in raw]
    if len(named) != 1:
        raise StudyConfigError(f"--config {path}: a sweep varies exactly one of {sorted(KNOBS)} (a list of values), "
                               f"got {named or 'neither'}")
    name = named[0]
    values = raw.pop(name)
    if (not isinstance(values, list) or len(values) < 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)):
        raise StudyConfigError(f"--config {path}: '{name}' must be a list of at least two numbers ({KNOBS[name][0]}), "
                               f"got {values!r}")
    if sorted(set(values)) != list(values):
        raise StudyConfigError(f"--config {path}: '{name}' values must be increasing and distinct, got {values}")
    if (raw.get("data") or {}).get("kind", "synth") != "synth":
        raise StudyConfigError(f"--config {path}: a sweep runs on the synthetic corpus (data.kind 'synth')")
    if name in (raw.get("data") or {}):
        raise StudyConfigError(f"--config {path}: data.{name} is what the sweep varies; drop it from 'data'")
    raw["knob"] = name
    raw["real"] = _real_entries(raw.get("real", []), path)
    for value in values:
        corpus_config(raw, value, path.parent)
    return raw, [float(v) for v in values]


def knob(base: dict[str, Any]) -> str:
    """The data key a loaded sweep config varies (:data:`DEFAULT_KNOB` for a base without ``"knob"``)."""
    return base.get("knob", DEFAULT_KNOB)


def _real_entries(entries: Any, path: Path) -> list[dict[str, str]]:
    """The ``real`` list checked: each ``{"name", "results"}`` names an existing study ``results.json``; the path
    is resolved against the config's folder, and kept as given under ``"given"``."""
    if not isinstance(entries, list):
        raise StudyConfigError(f"--config {path}: 'real' must be a list of {{\"name\", \"results\"}} objects")
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"name", "results"} or not all(
                isinstance(v, str) and v for v in entry.values()):
            raise StudyConfigError(f"--config {path}: each 'real' entry must be {{\"name\": ..., \"results\": "
                                   f"PATH}}, got {entry!r}")
        results = (path.parent / entry["results"]).resolve()
        if not results.is_file():
            raise StudyConfigError(f"--config {path}: real corpus {entry['name']!r}: no study results at {results}")
        out.append({"name": entry["name"], "results": str(results), "given": entry["results"]})
    return out


def real_points(base: dict[str, Any]) -> list[dict[str, Any]]:
    """One point per real corpus of the config: the figures :func:`corpus_point` reads, named, at Ĉ per position."""
    points = []
    for entry in base.get("real", []):
        point = corpus_point(json.loads(Path(entry["results"]).read_text()), None)
        # recorded as the config gives it (relative to the config file), not as a path of this machine
        points.append({**point, "name": entry["name"], "results": entry.get("given", entry["results"])})
    return points


def corpus_config(base: dict[str, Any], value: float, base_dir: Path | None = None) -> StudyConfig:
    """The study config of the corpus at ``value`` of the sweep's knob (validated)."""
    raw = copy.deepcopy(base)
    raw.pop("real", None)
    name = raw.pop("knob", DEFAULT_KNOB)
    raw.setdefault("data", {})[name] = value
    raw["name"] = f"{raw.get('name', 'sweep')} ({name} {value:g})"
    return from_dict(raw, base_dir)


def corpus_dir(out: Path, value: float, name: str = DEFAULT_KNOB) -> Path:
    """The study directory of the corpus at ``value`` of the knob ``name``."""
    return Path(out) / f"{name}_{value:g}"


def run_sweep(base: dict[str, Any], values: list[float], out: Path, base_dir: Path | None = None, cpu: bool = True,
              progress: Callable[[str], None] = print, jobs: int | None = None) -> dict[str, Any]:
    """Runs (or resumes) the study of every corpus, then writes the sweep's ``results.json``, ``report.md``
    and plot to ``out``; returns the results."""
    from fairseq_nat_study.study.pipeline import Study
    from fairseq_nat_study.study.report.sweep_report import write_sweep_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = knob(base)
    for i, value in enumerate(values):
        progress(f"[sweep] corpus {i + 1}/{len(values)}: {name} {value:g}")
        Study(corpus_config(base, value, base_dir), corpus_dir(out, value, name), cpu=cpu, progress=progress,
              jobs=jobs).run()
    results = {**collect(out, values, base.get("name", "sweep"), name), "real": real_points(base)}
    write_sweep_report(results, out)
    progress(f"[sweep] report: {out / 'report.md'}; results: {out / 'results.json'}")
    return results


def collect(out: Path, values: list[float], name: str, knob_name: str = DEFAULT_KNOB) -> dict[str, Any]:
    """The sweep's results: the knob and one point per corpus with its exact C and the figures the report reads."""
    points = []
    for value in values:
        study = json.loads((corpus_dir(out, value, knob_name) / "results.json").read_text())
        points.append(corpus_point(study, value, knob_name))
    return {"name": name, "knob": knob_name, "points": points}


def corpus_point(study: dict[str, Any], value: float | None, knob_name: str = DEFAULT_KNOB) -> dict[str, Any]:
    """One corpus's figures on its test split, per target position (``|y| + 1``, the LL's denominator):
    the exact H and C, the final checkpoints' LL and BLEU of the AR model, NAT-MLE on raw and distilled data,
    GLAT and the latent models (raw), and Ĉ of the raw and distilled data; ``value`` of the knob under its name
    (None for a real corpus). ``gap_intervals``: each BLEU gap to the AR model with its paired-bootstrap 95 %
    interval over the test sentences (:func:`gap_intervals`), where the runs recorded their sentences' statistics."""
    from fairseq_nat_study.study.report.correlation import final_point
    from fairseq_nat_study.study.report.fit import exact_bounds

    bounds = exact_bounds(study["data"].get("stats"), "test") or {}
    models: dict[str, dict[str, Any]] = {}
    stats: dict[str, list[str]] = {}
    for run in study["runs"]:
        p = final_point(run)
        key = f"{p['group']}:{run['data']}"
        if key not in models or p["bleu"] > models[key]["bleu"]:
            models[key] = {"model": run["model"], "bleu": p["bleu"], "ll_per_token": p["ll_per_token"]}
            if p.get("bleu_stats"):
                stats[key] = p["bleu_stats"]
    tc = study.get("total_correlation") or {}
    c_hat = {}
    for kind in ("raw", "dist"):
        entry = tc.get(kind) or {}
        scored = exact_bounds(study["data"].get("stats"), entry.get("subset", "valid")) or {}
        # distilled data: the beam output of a deterministic teacher is a function of the source, C = 0
        c_hat[kind] = {"value": entry.get("C_hat_per_token"), "subset": entry.get("subset"),
                       "exact": 0.0 if kind == "dist" and scored else scored.get("C")}
    return {knob_name: value, "C_per_token": bounds.get("C"), "H_per_token": bounds.get("H"),
            "C_per_sentence": ((study["data"].get("stats") or {}).get("splits", {}).get("test") or {}).get("C"),
            "models": models, "C_hat_per_token": c_hat, "gap_intervals": gap_intervals(stats)}



def gap_intervals(stats: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """BLEU_AR − BLEU_X on the test split with its paired-bootstrap 95 % interval
    (:func:`~fairseq_nat_study.analysis.significance.paired_difference`), for each gap of ``GAP_MODELS`` whose two
    runs recorded their sentences' statistics: ``{name: {"delta", "low", "high", "reading", ...}}``."""
    from fairseq_nat_study.analysis.significance import paired_difference

    ar = stats.get("ar:raw")
    return {name: paired_difference(stats[key], ar) for name, key in GAP_MODELS.items() if ar and key in stats}
