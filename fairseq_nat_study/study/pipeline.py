"""The study pipeline: data → models on raw data (the AR teacher among them) → distillation → models on
distilled data → evaluation of every run → Ĉ of raw and distilled data → decoding speed → report.

Independent stages run side by side (``jobs`` of them, default 2 on a machine with 2 cores or more, each
process with its share of the cores; :mod:`~fairseq_nat_study.study.schedule`): the raw trainings together,
the distillation as soon as the teacher is trained, the evaluations beside the trainings. Decoding speed is
timed last, alone, on every core.

Every stage leaves ``OUT/stages/<name>.done`` (with its wall time) when it finishes and is skipped when
the study is rerun, so a killed study resumes at the stage it was in (a killed training restarts from its
``checkpoint_last.pt`` through fairseq's own resume; a killed distillation resumes its shards). A rerun with
a different config is refused: ``OUT/config.json`` records the one the study was started with (a key added to
the config since then reads as its default). ``redo`` names stages to run again on what the others left
(:data:`REDO`: the evaluations, Ĉ or the speed stage, e.g. after a change to the evaluation code), without
training anything again.

A config with ``seeds`` runs one such study per training seed, on data prepared once (``shared_data``), their
stage graphs joined into one (:mod:`~fairseq_nat_study.study.seeds`).
"""
from __future__ import annotations

import json
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

from fairseq_nat_study.study.config import CRITERIA, SELECTION, ModelSpec, StudyConfig, StudyConfigError, build
from fairseq_nat_study.study.schedule import (StageSpec, available_cores, default_jobs, run_stages, thread_share,
                                              threads_per_job)
from fairseq_nat_study.training.early_stopping import final_checkpoint

PLUGIN_DIR = str(Path(__file__).resolve().parents[1])

#: fairseq flags of every training run (a config's ``train.flags`` come after and override them).
BASE_TRAIN_FLAGS = [
    "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation", "--optimizer", "adam", "--adam-betas", "(0.9,0.98)",
    "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "200", "--lr", "1e-3", "--max-tokens", "4096",
    # validation and checkpoints only where segmented_train ends a segment (not at every epoch's end)
    "--validate-interval", "1000000", "--save-interval", "1000000", "--log-interval", "100", "--log-format", "simple",
    # batches loaded in the training process: fairseq's default data-loading worker is a new process for every
    # epoch iterator, about 5 s each, once per segment (600 NAT updates on the quick corpus in 6 segments,
    # 2 CPU cores: 75.2 s with one worker, 50.7 s without; in one segment 50.2 s and 47.5 s)
    "--num-workers", "0",
]


#: seconds per update of each family's training relative to an AR model's (quick study, 2 CPU cores: AR 0.09 s,
#: NAT-MLE 0.08 s, Gaussian latent 0.14 s); only the order of the stages' costs matters to the scheduler
FAMILY_COST = {"ar": 1.0, "nat": 1.0, "glat": 1.3, "latent": 1.6}
#: an evaluation's cost relative to its run's training
EVAL_COST = 0.1

#: the stages a rerun can be asked to redo (``--redo``), by the prefix of their names
REDO = {"evaluation": "eval-", "total-correlation": "total-correlation", "speed": "speed"}


def train_args(cfg: StudyConfig, spec: ModelSpec, data_dir: str | Path, run_dir: str | Path, cpu: bool,
               stop_after: int | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """The command line of :mod:`~fairseq_nat_study.training.segmented_train` for one run of the grid: snapshots,
    patience and ``--stop-after`` (the end of the run's schedules unless ``stop_after`` is given), then
    fairseq-train's flags in the order base, ``train.flags``, family, ``--run-updates`` (latent and GLAT runs),
    ``spec.flags``, ``extra`` (later flags override earlier ones)."""
    scheduled = spec.family in ("latent", "glat")
    own = ["--patience", str(spec.patience),
           "--stop-after", str(stop_after if stop_after is not None else spec.schedule() if scheduled else 0)]
    flags = [*BASE_TRAIN_FLAGS, *cfg.train.get("flags", []), "--arch", spec.arch, *CRITERIA[spec.family],
             *SELECTION[spec.family], "--seed", str(cfg.seed), "--save-dir", str(run_dir), *(["--cpu"] if cpu else []),
             *(["--run-updates", str(spec.schedule())] if scheduled else []), *spec.flags, *extra]
    return ["--snapshots", ",".join(map(str, spec.snapshots(cfg.eval.checkpoints))), *own, str(data_dir), *flags]


def train_cost(spec: ModelSpec) -> float:
    """Scheduling estimate of a run's training: its update cap times its family's cost per update."""
    return spec.max_update * FAMILY_COST.get(spec.family, 1.0)


def label_smoothing(spec: ModelSpec) -> float:
    """The label smoothing a model of the grid trains with: its family's criterion flags, then its own flags
    (the last ``--label-smoothing`` wins, as in fairseq's argument parser); 0 when none is given."""
    flags = [*CRITERIA[spec.family], *spec.flags]
    values = [float(flags[i + 1]) for i, f in enumerate(flags[:-1]) if f == "--label-smoothing"]
    return values[-1] if values else 0.0


class Study:
    """One study directory: runs the stages of ``cfg`` in ``out``; ``progress`` prints one line per event."""

    def __init__(self, cfg: StudyConfig, out: Path, cpu: bool = True, progress: Callable[[str], None] = print,
                 jobs: int | None = None, shared_data: Path | None = None) -> None:
        self.cfg, self.out, self.cpu, self.say = cfg, Path(out), cpu, progress
        #: data prepared elsewhere (a seeds study's ``OUT/data``): the data stage links it instead of preparing
        self.shared_data = shared_data
        if jobs is not None and jobs < 1:
            raise StudyConfigError(f"--jobs: must be >= 1, got {jobs}")
        #: stages run side by side, and the torch threads of each (``study/schedule.py``)
        self.jobs = jobs or default_jobs()
        self.threads = threads_per_job(self.jobs)
        self.data_dir = self.out / "data"
        self.bin = {"raw": self.data_dir / "bin", "dist": self.data_dir / "bin-dist"}
        self.bin_dist_valid = self.data_dir / "bin-dist-valid"
        self.timings: dict[str, float] = {}
        self._data_json: dict[str, Any] | None = None

    # -- bookkeeping -------------------------------------------------------------------------------------
    def _check_config(self) -> None:
        check_recorded_config(self.cfg, self.out)

    def stage(self, name: str, fn: Callable[[], Any]) -> None:
        marker = self.out / "stages" / f"{name}.done"
        if marker.exists():
            self.timings[name] = float(marker.read_text() or 0)
            self.say(f"[study] {name}: done earlier, skipped")
            return
        self.say(f"[study] {name} ...")
        start = time.time()
        fn()
        marker.parent.mkdir(parents=True, exist_ok=True)
        self.timings[name] = round(time.time() - start, 1)
        marker.write_text(f"{self.timings[name]}")
        self.say(f"[study] {name}: {self.timings[name]:.0f} s")

    def run_dir(self, spec: ModelSpec, data: str) -> Path:
        return self.out / "runs" / f"{spec.name}-{data}"

    # -- stages ------------------------------------------------------------------------------------------
    def graph(self) -> list[StageSpec]:
        """The study's stages and what each waits for (``study/schedule.py`` runs them): the data; each run's
        training and then its evaluation; the distillation once the teacher is trained, before every distilled
        training; Ĉ once every training is done; decoding speed last and alone (unless ``eval.speed`` is
        false)."""
        runs = self.cfg.runs()
        stages = [StageSpec("data", self._data, in_process=True)]
        trains, distilled = [], any(data == "dist" for _, data in runs)
        if distilled:
            teacher = self._teacher()
            stages.append(StageSpec("distill", self._distill, after=(f"train-{teacher.name}-raw",),
                                    cost=train_cost(teacher)))
        for spec, data in runs:
            train, evaluate = f"train-{spec.name}-{data}", f"eval-{spec.name}-{data}"
            trains.append(train)
            stages += [StageSpec(train, partial(self._train, spec, data),
                                 after=("data" if data == "raw" else "distill",), cost=train_cost(spec)),
                       StageSpec(evaluate, partial(self._evaluate, spec, data),
                                 after=(train, *self._ranker_stage(spec)), cost=EVAL_COST * train_cost(spec),
                                 in_process=True)]
        stages.append(StageSpec("total-correlation", self._total_correlation,
                                after=(*trains, *(["distill"] if distilled else [])), cost=0.0, in_process=True))
        if self.cfg.eval.speed:
            stages.append(StageSpec("speed", self._speed, after=tuple(s.name for s in stages), alone=True,
                                    in_process=True))
        for s in stages:  # every stage through self.stage: skipped when done earlier, timed, marked
            s.fn = partial(self.stage, s.name, s.fn)
        return stages

    def forget(self, redo: tuple[str, ...]) -> list[str]:
        """Removes the markers of the finished stages of the kinds in ``redo`` (keys of :data:`REDO`), so that
        the next run does them again; returns the stages forgotten."""
        unknown = sorted(set(redo) - set(REDO))
        if unknown:
            raise StudyConfigError(f"--redo: unknown stage kind(s) {unknown}; choose from {sorted(REDO)}")
        gone = []
        for marker in sorted((self.out / "stages").glob("*.done")):
            if any(marker.stem.startswith(REDO[kind]) for kind in redo):
                marker.unlink()
                gone.append(marker.stem)
        return gone

    def begin(self, redo: tuple[str, ...] = ()) -> None:
        """Makes the study directory, records (or checks) the config and forgets the stages of the kinds in
        ``redo`` (:meth:`forget`): what every run does before its stages."""
        self.out.mkdir(parents=True, exist_ok=True)
        self._check_config()
        for name in self.forget(redo):
            self.say(f"[study] {name}: done earlier, to be redone (--redo)")

    def finish(self, seconds: float) -> dict[str, Any]:
        """Once every stage is done: results.json (:meth:`collect`, ``seconds`` the run's wall time) and the
        report."""
        from fairseq_nat_study.study.report.write import write_report

        results = self.collect(seconds)
        write_report(results, self.out)
        self.say(f"[study] report: {self.out / 'report.md'}; results: {self.out / 'results.json'}")
        return results

    def run(self, redo: tuple[str, ...] = ()) -> dict[str, Any]:
        """Runs (or resumes) every stage, ``self.jobs`` side by side, then writes results.json and the report;
        the finished stages of the kinds in ``redo`` run again (:meth:`forget`)."""
        from fairseq_nat_study.utils.fairseq_runner import terminate_running

        self.begin(redo)
        wall = time.time()
        # every process of the study (fairseq's, through the environment, and this one) gets its share of cores
        with thread_share(self.threads, environment=True):
            self.say(f"[study] {self.jobs} stage(s) side by side, {self.threads} torch thread(s) each "
                     f"({available_cores()} cores)")
            run_stages(self.graph(), self.jobs, on_failure=terminate_running, say=self.say)
            return self.finish(time.time() - wall)

    def _data(self) -> None:
        from fairseq_nat_study.study.data_prep import link_prepared_data, prepare_data
        from fairseq_nat_study.utils.fairseq_runner import run_fairseq

        if self.shared_data is not None:
            link_prepared_data(self.shared_data, self.data_dir)
            return
        prepare_data(self.cfg.data, self.cfg.seed, self.data_dir, run_fairseq, self.say)

    def _train(self, spec: ModelSpec, data: str) -> None:
        """Trains in one process, in segments (:mod:`~fairseq_nat_study.training.segmented_train`): validation on
        the run's own data (the distilled validation split for a distilled run) and a copy of the model
        (``checkpoint_at_<updates>.pt``) at the end of each, stopped by ``spec.patience``. Latent and GLAT runs
        get ``--run-updates spec.schedule()``, so that the ELBO's KL schedules and GLAT's ratio follow it."""
        from fairseq_nat_study.utils.fairseq_runner import run_fairseq

        run_dir = self.run_dir(spec, data)
        run_dir.mkdir(parents=True, exist_ok=True)
        # one log per attempt: a resumed run keeps the log of the attempt that was killed
        attempt = 1 + len(list(run_dir.glob("train-*.log")))
        run_fairseq("train", train_args(self.cfg, spec, self.bin[data], run_dir, self.cpu),
                    run_dir / f"train-{attempt}.log", prefix=f"[{spec.name}-{data}] ",
                    module="fairseq_nat_study.training.segmented_train")

    def _distill(self) -> None:
        from fairseq_nat_study.distill.pipeline import DistillConfig, distill

        teacher = self.teacher_checkpoint()
        opts = dict(self.cfg.distill)  # keys checked by config.validate
        for subset, dest in (("train", self.bin["dist"]), ("valid", self.bin_dist_valid)):
            summary = distill(DistillConfig(teacher=str(teacher), data=str(self.bin["raw"]), out=str(dest),
                                            subset=subset, cpu=self.cpu, **opts))
            (self.out / f"distill-{subset}.json").write_text(json.dumps(summary, indent=1))
        # distilled runs validate (and stop) on the distilled validation split: the data they are fitted to
        for item in self.bin_dist_valid.glob("valid.*"):
            shutil.copyfile(item, self.bin["dist"] / item.name)

    def _teacher(self) -> ModelSpec:
        return next(m for m in self.cfg.models if m.name == self.cfg.teacher)

    def teacher_checkpoint(self) -> Path:
        """The checkpoint distillation decodes with: the teacher run's snapshot at ``cfg.teacher_updates``, or its
        final checkpoint when that is 0. FileNotFoundError when the run stopped before that snapshot."""
        from fairseq_nat_study.training.snapshots import snapshot_path

        run_dir = self.run_dir(self._teacher(), "raw")
        if not self.cfg.teacher_updates:
            return final_checkpoint(run_dir)
        path = snapshot_path(run_dir, self.cfg.teacher_updates)
        if not path.is_file():
            raise FileNotFoundError(f"teacher_updates {self.cfg.teacher_updates}: {run_dir} has no {path.name} "
                                    "(its training stopped before; lower teacher_updates or set 0)")
        return path

    def _data_record(self) -> dict[str, Any]:
        """``data.json`` of the data stage (read once per process; the data stage writes it before any reader)."""
        if self._data_json is None:
            self._data_json = json.loads((self.data_dir / "data.json").read_text())
        return self._data_json

    def _references(self, stem: str = "test") -> list[str]:
        tgt = self._data_record()["tgt"]
        return (self.data_dir / "text" / f"{stem}.{tgt}").read_text(encoding="utf-8").splitlines()

    def _ood_references(self) -> list[str] | None:
        """References of the out-of-distribution test set, or None when the study has none."""
        from fairseq_nat_study.study.ood import OOD_STEM

        has_ood = "ood" in self._data_record()
        return self._references(OOD_STEM) if has_ood else None

    def _ranker_stage(self, spec: ModelSpec) -> tuple[str, ...]:
        """The stage a latent run's evaluation also waits for: the teacher's training, whose final checkpoint
        ranks latent search's candidates (``eval.search_samples``)."""
        if spec.family != "latent" or not self.cfg.eval.search_samples:
            return ()
        return (f"train-{self.cfg.teacher}-raw",)

    def ranker(self) -> Path | None:
        """The AR checkpoint that ranks latent search's candidates (the teacher's final one), or None when the
        study runs no latent search."""
        return final_checkpoint(self.run_dir(self._teacher(), "raw")) if self.cfg.eval.search_samples else None

    def _evaluate(self, spec: ModelSpec, data: str) -> None:
        from fairseq_nat_study.study.run_eval import evaluate_run

        lang = self.cfg.data.tgt if self.cfg.data.kind == "text" else "en"
        evaluate_run(self.run_dir(spec, data), self.bin["raw"], self._references(), self.cfg.eval, name=spec.name,
                     data=data, lang=lang, compound=self.cfg.eval.compound_split, family=spec.family,
                     seed=self.cfg.seed, cpu=self.cpu, ood_refs=self._ood_references(), speed=False,
                     max_checkpoints=self.cfg.eval.checkpoints, progress=lambda s: self.say(f"[study] {s}"),
                     teacher=self.ranker() if spec.family == "latent" else None,
                     extra={"max_update": spec.max_update,
                            "train_seconds": self.timings.get(f"train-{spec.name}-{data}")})

    def _speed(self) -> None:
        """Decoding speed of every run's final checkpoint, side by side and interleaved in one process
        (``study/speed_stage.py``), to ``speed.json``; the evaluation stages do not time decoding."""
        from fairseq_nat_study.study.speed_stage import measure_speed

        runs = [(spec.name, data, final_checkpoint(self.run_dir(spec, data))) for spec, data in self.cfg.runs()]
        with thread_share(available_cores()):  # the stage runs alone: timed on every core, as a user decodes
            result = measure_speed(runs, self.bin["raw"], self.cfg.eval, seed=self.cfg.seed, cpu=self.cpu,
                                   progress=lambda s: self.say(f"[study] {s}"), teacher=self.ranker())
        (self.out / "speed.json").write_text(json.dumps(result, indent=1))

    def _total_correlation(self) -> None:
        """Ĉ of the raw and of the distilled validation data (AR and NAT-MLE trained on each), and of the
        GLAT proxy, with the first NAT and GLAT models of the grid and its AR model with the least label
        smoothing (a label-smoothed AR's NLL cannot reach H(Y|X), which biases Ĉ upward; recorded); on the
        synthetic corpus also the NAT's mass on mixed outputs (:meth:`_mixed_output`)."""
        from fairseq_nat_study.analysis.loading import load_model_and_task
        from fairseq_nat_study.analysis.total_correlation import estimate

        pick = {fam: next((m for m in self.cfg.models if m.family == fam), None) for fam in ("nat", "glat")}
        pick["ar"] = min((m for m in self.cfg.models if m.family == "ar"), key=label_smoothing, default=None)
        result: dict[str, Any] = {}
        raw_nat = None  # the raw NAT-MLE as loaded for Ĉ(raw), reused for the mixed outputs
        cases = [("raw", "raw", self.bin["raw"], "nat", 0.0), ("dist", "dist", self.bin_dist_valid, "nat", 0.0),
                 ("glat_proxy", "raw", self.bin["raw"], "glat", 0.3)]
        for label, data, bin_dir, nat_family, ratio in cases:
            ar_spec, nat_spec = pick["ar"], pick[nat_family]
            if ar_spec is None or nat_spec is None or data not in ar_spec.data or data not in nat_spec.data:
                result[label] = {"skipped": f"the grid has no {data} AR and {nat_family} pair"}
                continue
            ar, ar_task = load_model_and_task(str(final_checkpoint(self.run_dir(ar_spec, data))), str(bin_dir))
            nat, nat_task = load_model_and_task(str(final_checkpoint(self.run_dir(nat_spec, data))), str(bin_dir))
            if label == "raw":
                raw_nat = (nat, nat_task)
            est = estimate(ar, ar_task, nat, nat_task, str(bin_dir), "valid", glat_ratio=ratio, seed=self.cfg.seed)
            est.pop("sentence_C_hat")
            result[label] = {**est, "ar": ar_spec.name, "nat": nat_spec.name,
                             "ar_label_smoothing": label_smoothing(ar_spec)}
            self.say(f"[study] Ĉ {label}: {est['C_hat_per_sentence']:.3f} nats/sentence")
        (self.out / "total_correlation.json").write_text(json.dumps(result, indent=1))
        stats = self._data_record().get("stats")
        if stats and pick["nat"] is not None and "raw" in pick["nat"].data:
            self._mixed_output(pick["nat"], stats, raw_nat)

    def _mixed_output(self, spec: ModelSpec, stats: dict[str, Any], loaded: tuple[Any, Any] | None = None) -> None:
        """NAT-MLE's mass on mixed outputs of the ambiguous words of the raw validation split, against the product
        of the data's marginals (synthetic corpus; ``analysis/mixed_output.py``), to ``mixed_output.json``;
        ``loaded``: the raw NAT-MLE and its task when the Ĉ stage has them."""
        from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
        from fairseq_nat_study.analysis.mixed_output import nat_mixed_output

        nat, task = loaded or load_model_and_task(str(final_checkpoint(self.run_dir(spec, "raw"))), str(self.bin["raw"]))
        mixed = {**nat_mixed_output(nat, task, load_split(task, str(self.bin["raw"]), "valid"), stats),
                 "model": spec.name, "subset": "valid"}
        (self.out / "mixed_output.json").write_text(json.dumps(mixed, indent=1))
        if mixed["occurrences"]:
            self.say(f"[study] mixed outputs: {spec.name} {mixed['nat_mixed_mass']:.3f}, product of the data's "
                     f"marginals {mixed['marginal_product_mixed_mass']:.3f}")

    def collect(self, seconds: float) -> dict[str, Any]:
        """``results.json``: config, data, every run's evaluation, Ĉ, distillation, hardware and timings."""
        from fairseq_nat_study.study.run_eval import hardware

        runs = [json.loads((self.run_dir(m, d) / "eval.json").read_text()) for m, d in self.cfg.runs()]
        results = {
            "name": self.cfg.name, "config": self.cfg.as_dict(),
            "data": self._data_record(), "runs": runs,
            "total_correlation": json.loads((self.out / "total_correlation.json").read_text()),
            **({"speed": json.loads(p.read_text())} if (p := self.out / "speed.json").exists() else {}),
            **({"mixed_output": json.loads(p.read_text())} if (p := self.out / "mixed_output.json").exists() else {}),
            "distill": {s: json.loads(p.read_text()) for s in ("train", "valid")
                        if (p := self.out / f"distill-{s}.json").exists()},
            "hardware": hardware(runs), "stage_seconds": self.timings, "seconds_this_run": round(seconds, 1),
            "schedule": {"jobs": self.jobs, "threads_per_job": self.threads, "cores": available_cores()},
        }
        (self.out / "results.json").write_text(json.dumps(results, indent=1))
        return results


def check_recorded_config(cfg: StudyConfig, out: Path) -> None:
    """Records ``cfg`` in ``out/config.json``; a StudyConfigError when ``out`` holds a study started with another
    config (seeds included)."""
    recorded = out / "config.json"
    if recorded.exists() and _recorded(recorded) != cfg.as_dict():
        raise StudyConfigError(f"{out} holds a study started with another config ({recorded}); "
                               "use a new --out or delete the directory")
    recorded.write_text(json.dumps(cfg.as_dict(), indent=1, sort_keys=True))


def _recorded(path: Path) -> dict[str, Any] | None:
    """A study's recorded ``config.json`` read back through the config's own builder, so that a key added to the
    config since it was written takes its default; None when it no longer builds (a key since removed)."""
    try:
        return build(json.loads(path.read_text())).as_dict()
    except StudyConfigError:
        return None
