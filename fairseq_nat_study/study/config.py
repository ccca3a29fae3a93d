"""What a study runs: its data, its model grid, its evaluation. Read from JSON; the built-in quick study
(synthetic corpus, tiny models, CPU; ``study/config_source.py``) is what ``study`` runs with no ``--config``.

A config is a JSON object with four sections; unknown keys are errors (a typo must not silently fall back
to a default)::

    {"name": "...", "seed": 1, "seeds": [1, 2, 3],                     # seeds: optional (study/seeds.py)
     "data": {"kind": "synth", "num_train": 6000, "num_test": 500}      # or
     "data": {"kind": "text", "dir": "$NAT_STUDY_DATA/multi30k", "src": "en", "tgt": "de",
              "train": "train.lc.norm.tok", "valid": "val.lc.norm.tok", "test": "val.lc.norm.tok",
              "test_lines": [500, 1014], "valid_lines": [0, 500], "max_train": 0, "bpe_merges": 8000,
              "tokenize": false, "lowercase": false, "romanian": false, "clean_max_len": 0, "clean_ratio": 0,
              "workers": 1,                                                # tokenize: raw text → sacremoses
              "ood": {"dir": "$NAT_STUDY_DATA/wmt14_en_de", "prefix": "newstest2013", "lines": [0, 500]}},
     "train": {"flags": ["--max-tokens", "8192"]},                      # fairseq flags shared by every model
     "teacher": "tr_tiny", "distill": {"beam": 4, "shard_size": 4000},
     "models": [{"name": "tr_tiny", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 500,
                 "data": ["raw", "dist"], "flags": [...]} , ...],
     "eval": {"refine_steps": [0, 1, 2, 4, 8], "decode_steps": 1, "iw_samples": 20, "checkpoints": 3,
              "length_beam": 4, "bench_sentences": 100, "bench_batch": 128,
              "compound_split": false}}

``data.dir`` may name environment variables (the shipped configs read ``$NAT_STUDY_DATA/multi30k``);
relative paths are resolved against the config file's folder. Every value's type and range are checked, from
the annotations of the dataclasses below and of the data section's (``study/data_config.py``;
``utils/config_check.py``), before any stage runs.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from fairseq_nat_study.study.data_config import DataConfig, validate_data
from fairseq_nat_study.study.errors import StudyConfigError, checked, expand_data_dir
from fairseq_nat_study.utils.config_check import Count, NonNegative, NonNegativeReal, check_ranges, check_types
from fairseq_nat_study.utils.config_check import check as check_section

FAMILIES = ("ar", "nat", "glat", "latent")

#: criterion of each family (fairseq's own for AR)
CRITERIA = {
    "ar": ["--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1"],
    "nat": ["--criterion", "nat_study_mle"],
    "glat": ["--criterion", "nat_study_glat"],
    "latent": ["--criterion", "nat_study_elbo"],
}


#: the validation metric each family's runs are selected and stopped on (fairseq's --best-checkpoint-metric):
#: NLL in bits per target position, or the ELBO per position (maximized) for latent models
SELECTION = {
    "ar": ["--best-checkpoint-metric", "nll_loss"],
    "nat": ["--best-checkpoint-metric", "nll_loss"],
    "glat": ["--best-checkpoint-metric", "nll_loss"],
    "latent": ["--best-checkpoint-metric", "elbo_per_token", "--maximize-best-checkpoint-metric"],
}


@dataclass
class ModelSpec:
    """One model of the grid. Training validates every ``valid_every`` updates (0: ``max_update`` split into
    ``eval.checkpoints`` segments) and, with ``patience`` > 0, stops after that many validations without a new
    best, but not before ``schedule_updates`` (the length of the latent and GLAT schedules; 0: ``max_update``);
    ``max_update`` is the cap."""

    name: str
    family: str
    arch: str
    max_update: Count
    data: list[str] = field(default_factory=lambda: ["raw", "dist"])
    flags: list[str] = field(default_factory=list)
    valid_every: NonNegative = 0
    patience: NonNegative = 0
    schedule_updates: NonNegative = 0

    def snapshots(self, checkpoints: int) -> list[int]:
        """The update counts at which training validates and keeps a snapshot (the last is ``max_update``)."""
        if self.valid_every:
            return [*range(self.valid_every, self.max_update, self.valid_every), self.max_update]
        return sorted({max(1, self.max_update * (i + 1) // checkpoints) for i in range(checkpoints)})

    def schedule(self) -> int:
        """Updates over which the ELBO's and GLAT's schedules run (``--run-updates``)."""
        return self.schedule_updates or self.max_update


@dataclass
class EvalConfig:
    refine_steps: list[NonNegative] = field(default_factory=lambda: [0, 1, 2, 4, 8])
    decode_steps: NonNegative = 1
    iw_samples: Count = 20
    checkpoints: Count = 3
    #: the last this many checkpoints up to the final one are evaluated too: the within-model Pearson r of a
    #: trained model (the slides' reading), beside the one over ``checkpoints`` spread along training (0: off)
    last_checkpoints: NonNegative = 5
    length_beam: Count = 4
    bench_sentences: Count = 100
    bench_batch: Count = 128
    compound_split: bool = False
    #: time every final checkpoint's decoding (the speed stage); false: no speed stage (the C sweep reads none)
    speed: bool = True
    #: LaNMT's decoder for latent runs' final checkpoints, beside the K-step ones (0: off): this many prior samples
    #: per length candidate (``length_beam`` lengths, ``decode_steps`` refinement steps each), the outputs ranked
    #: by the AR teacher's log p(ŷ|x); its BLEU in the report, its speed timed with the others
    search_samples: NonNegative = 0
    #: the scale of the search's prior samples (their base noise)
    search_temperature: NonNegativeReal = 1.0


@dataclass
class StudyConfig:
    name: str = "quick"
    #: the training seed (fairseq's --seed) and, always, the seed the synthetic corpus is generated from
    seed: NonNegative = 1
    #: training seeds: the grid, its AR teacher and its distillation once per seed, on the data of ``seed``
    #: (``study/seeds.py``); [] (the default): one run with ``seed``
    seeds: list[NonNegative] = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)
    train: dict[str, Any] = field(default_factory=dict)
    teacher: str = "tr_tiny"
    #: distil with the teacher's snapshot at this update count (0: its final, best-on-validation checkpoint)
    teacher_updates: NonNegative = 0
    distill: dict[str, Any] = field(default_factory=lambda: {"beam": 4, "shard_size": 2000})
    models: list[ModelSpec] = field(default_factory=list)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def runs(self) -> list[tuple[ModelSpec, str]]:
        """(model, data condition) pairs in training order: every raw run before any distilled run."""
        return [(m, d) for d in ("raw", "dist") for m in self.models if d in m.data]

    def as_dict(self) -> dict[str, Any]:
        """The config as a study records it (``config.json``, the ``config`` of ``results.json``): ``seeds``,
        ``data.p_ambiguous`` and the latent search only where set and ``eval.speed`` only where false, so that a
        study that uses none of them records what it recorded before the keys existed."""
        out = asdict(self)
        if not self.seeds:
            del out["seeds"]
        if self.eval.speed:  # likewise the speed stage, on unless turned off
            del out["eval"]["speed"]
        if self.data.p_ambiguous is None:  # and the synthetic corpus's share of ambiguous words, unless set
            del out["data"]["p_ambiguous"]
        if not self.eval.search_samples:
            del out["eval"]["search_samples"], out["eval"]["search_temperature"]
        return out


@dataclass
class TrainSection:
    """The ``train`` section: fairseq flags shared by every model of the grid."""

    flags: list[str] = field(default_factory=list)


def _build(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise StudyConfigError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise StudyConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    checked(check_types, cls, raw, "" if where == "config" else where)
    missing = sorted(f.name for f in fields(cls) if f.name not in raw and f.default is MISSING
                     and f.default_factory is MISSING)
    if missing:
        raise StudyConfigError(f"{where}: missing key(s) {missing}")
    return cls(**raw)


def build(raw: dict[str, Any]) -> StudyConfig:
    """The config a JSON object describes, every missing key at its default; unknown keys are errors. Nothing
    is validated or resolved (``from_dict`` does both): a study's recorded ``config.json`` is read back this way."""
    if not isinstance(raw, dict):
        raise StudyConfigError(f"config: expected a JSON object with the sections data, models, eval, ..., got "
                               f"{type(raw).__name__}")
    raw = dict(raw)
    if not isinstance(raw.get("models", []), list):
        raise StudyConfigError(f"models: expected a list of model objects, got {type(raw['models']).__name__}")
    data = _build(DataConfig, raw.pop("data", {}), "data")
    ev = _build(EvalConfig, raw.pop("eval", {}), "eval")
    models = [_build(ModelSpec, m, f"models[{i}]") for i, m in enumerate(raw.pop("models", []))]
    return _build(StudyConfig, {**raw, "data": data, "eval": ev, "models": models}, "config")


def from_dict(raw: dict[str, Any], base_dir: Path | None = None) -> StudyConfig:
    """Builds and validates a config; ``base_dir`` resolves a relative ``data.dir``."""
    if isinstance(raw, dict) and raw.get("seeds") == []:
        raise StudyConfigError("seeds: an empty list; give the training seeds (e.g. [1, 2, 3]) or leave the key out "
                               "for one run with 'seed'")
    cfg = build(raw)
    data = cfg.data
    if data.kind == "text" and data.dir:
        data.dir = expand_data_dir(data.dir)
    if data.kind == "text" and base_dir is not None and data.dir and not Path(data.dir).is_absolute():
        data.dir = str((base_dir / data.dir).resolve())
    if isinstance(data.ood, dict):
        from fairseq_nat_study.study.ood_config import resolve_dir

        resolve_dir(data, base_dir)
    validate(cfg)
    return cfg


def arch_kind(arch: str) -> str | None:
    """``ar``, ``nat`` or ``latent``: the kind of model a registered arch builds (None: no such arch)."""
    from fairseq.models import ARCH_MODEL_REGISTRY
    from fairseq.models.nat import FairseqNATModel

    from fairseq_nat_study.registration import register

    register()

    model_cls = ARCH_MODEL_REGISTRY.get(arch)
    if model_cls is None:
        return None
    if getattr(model_cls, "is_latent_model", False):
        return "latent"
    return "nat" if issubclass(model_cls, FairseqNATModel) else "ar"


def validate_seeds(seeds: list[int], where: str = "seeds") -> None:
    """Raises ``StudyConfigError`` when a list of training seeds repeats a seed (each seed is one rerun)."""
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise StudyConfigError(f"{where}: seed(s) {repeated} given more than once in {seeds}")


def validate(cfg: StudyConfig) -> None:
    """Raises ``StudyConfigError`` naming the first problem."""
    validate_seeds(cfg.seeds)
    validate_data(cfg.data)
    if not cfg.models:
        raise StudyConfigError("models: the grid is empty")
    names = [m.name for m in cfg.models]
    if len(set(names)) != len(names):
        raise StudyConfigError(f"models: duplicate names in {names}")
    for m in cfg.models:
        if m.family not in FAMILIES:
            raise StudyConfigError(f"models[{m.name}].family: {m.family!r} not in {FAMILIES}")
        from fairseq_nat_study.tasks.translation_nat_study import KIND_NAMES

        kind = arch_kind(m.arch)
        if kind is None:
            raise StudyConfigError(f"models[{m.name}].arch: {m.arch!r} is not a registered fairseq architecture")
        if kind != {"glat": "nat"}.get(m.family, m.family):
            raise StudyConfigError(f"models[{m.name}]: family {m.family!r} but arch {m.arch!r} builds "
                                   f"{KIND_NAMES[kind]} model (family {m.family!r} trains with "
                                   f"{CRITERIA[m.family][1]})")
        if m.max_update <= 0:
            raise StudyConfigError(f"models[{m.name}].max_update must be positive")
        for key in ("valid_every", "patience", "schedule_updates"):
            if getattr(m, key) < 0 or getattr(m, key) > (m.max_update if key != "patience" else math.inf):
                raise StudyConfigError(f"models[{m.name}].{key}: must be in [0, max_update = {m.max_update}], "
                                       f"got {getattr(m, key)}")
        bad = sorted(set(m.data) - {"raw", "dist"})
        if bad or not m.data:
            raise StudyConfigError(f"models[{m.name}].data: {m.data} must be a non-empty subset of ['raw', 'dist']")
    teacher = next((m for m in cfg.models if m.name == cfg.teacher), None)
    if teacher is None or teacher.family != "ar" or "raw" not in teacher.data:
        raise StudyConfigError(f"teacher: {cfg.teacher!r} must name an AR model of the grid trained on raw data")
    snapshots = teacher.snapshots(cfg.eval.checkpoints)
    if cfg.teacher_updates and cfg.teacher_updates not in snapshots:
        raise StudyConfigError(f"teacher_updates: {cfg.teacher_updates} is not one of the snapshots of "
                               f"{cfg.teacher!r} ({snapshots}); 0 takes its final checkpoint")
    known = ("beam", "shard_size", "workers", "max_tokens", "max_len_a", "max_len_b")
    unknown = sorted(set(cfg.distill) - set(known))
    if unknown:
        raise StudyConfigError(f"distill: unknown key(s) {unknown}; known: {', '.join(known)}")
    from fairseq_nat_study.distill.pipeline import DistillConfig

    checked(check_section, DistillConfig, cfg.distill, "distill")
    unknown = sorted(set(cfg.train) - {"flags"})
    if unknown:
        raise StudyConfigError(f"train: only a 'flags' list is allowed (got keys {sorted(cfg.train)})")
    checked(check_section, TrainSection, cfg.train, "train")
    validate_eval(cfg.eval)
    checked(check_ranges, cfg)  # what the checks above leave: every value within its annotated range


def validate_eval(ev: EvalConfig) -> None:
    """Raises ``StudyConfigError`` naming the first problem of an evaluation section."""
    for key, flag, least in (("checkpoints", None, 1), ("last_checkpoints", "--last-checkpoints", 0),
                             ("length_beam", "--length-beam", 1),
                             ("iw_samples", "--iw-samples", 1), ("decode_steps", "--decode-steps", 0),
                             ("bench_sentences", "--bench-sentences", 1), ("bench_batch", "--bench-batch", 1)):
        value = getattr(ev, key)
        if value < least:
            raise StudyConfigError(f"eval.{key}{f' ({flag})' if flag else ''}: must be >= {least}, got {value}")
    if ev.search_samples and not ev.search_temperature > 0:
        raise StudyConfigError(f"eval.search_temperature: must be > 0 with search_samples, got {ev.search_temperature}")
    if any(k < 0 for k in ev.refine_steps):
        raise StudyConfigError(f"eval.refine_steps (--refine-steps): steps must be >= 0, got {min(ev.refine_steps)}")
