"""Evaluating one training run directory: saved checkpoints up to the final one (BLEU and LL, for the
within-model Pearson r: a spread along training and the last ones up to the final checkpoint) and the final
one (the best on validation when training recorded it) in full (refinement, diversity, speed), written to
``RUN/eval.json``.

Used by the study pipeline and by ``fairseq-nat-study evaluate`` (the recipes' evaluation stage); the record is
what ``report`` and ``collect`` read.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from fairseq_nat_study.study.config import EvalConfig
from fairseq_nat_study.training.early_stopping import final_checkpoint, read_record

_SNAPSHOT = re.compile(r"checkpoint_(?:at_|\d+_)(\d+)\.pt$")  # ours, or fairseq's interval checkpoints


def checkpoints_of(run_dir: Path, final: int, final_path: Path) -> list[tuple[int, Path]]:
    """(updates, path) of the saved checkpoints before ``final`` updates, then the run's final checkpoint
    ``final_path`` (:func:`~fairseq_nat_study.training.early_stopping.final_checkpoint`: the best on validation, or
    ``checkpoint_last.pt``); checkpoints after the final one are not the run's."""
    saved = sorted({int(m.group(1)): p for p in run_dir.glob("checkpoint_*.pt") if (m := _SNAPSHOT.search(p.name))}.items())
    return [(u, p) for u, p in saved if u < final] + [(final, final_path)]


def checkpoint_info(path: Path) -> tuple[int, str, str]:
    """(updates, criterion name, arch name) of a fairseq checkpoint (``""`` where it does not say)."""
    from fairseq_nat_study.utils.checkpoint import load_checkpoint_state, saved_updates

    state = load_checkpoint_state(str(path))
    cfg = state.get("cfg") or {}

    def get(section: str, key: str) -> str:
        part = cfg.get(section) if isinstance(cfg, dict) else None
        # fairseq stores the model section as an argparse.Namespace, the others as dicts
        value = part.get(key) if isinstance(part, dict) else getattr(part, key, None)
        return str(value or "")

    return saved_updates(state), get("criterion", "_name"), get("model", "arch")


def device_name(model: Any) -> str:
    """Where ``model``'s parameters are: the GPU's name, or ``cpu``."""
    import torch

    p = next(model.parameters())
    return torch.cuda.get_device_name(p.device) if p.is_cuda else "cpu"


def hardware(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The hardware of a report: the devices the runs were evaluated on (from their records), the processor
    and the torch threads of this process."""
    import platform

    import torch

    return {"device": ", ".join(sorted({r.get("device", "not recorded") for r in records})),
            "processor": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads()}


def check_family(family: str, actual: str, ckpt: Path) -> None:
    """Raises ``ValueError`` when a run's stated family is not the family of its checkpoint (GLAT is a NAT
    model trained by glancing)."""
    if (family if family != "glat" else "nat") != actual:
        raise ValueError(f"--family {family}: {ckpt} holds a {actual} model; give --family {actual} "
                         f"(or glat for a NAT model trained by glancing), or leave it out")


def thin(points: list[tuple[int, Path]], keep: int) -> list[tuple[int, Path]]:
    """At most ``keep`` checkpoints, evenly spread, always with the last one (``keep`` 0: all)."""
    if keep <= 0 or len(points) <= keep:
        return points
    if keep == 1:
        return points[-1:]
    step = (len(points) - 1) / (keep - 1)
    return [points[round(i * step)] for i in range(keep)]


def select(points: list[tuple[int, Path]], keep: int, last: int) -> list[tuple[int, Path, bool]]:
    """(updates, path, is one of the last ``last``) of the checkpoints to evaluate: ``keep`` spread along
    training (:func:`thin`) and the ``last`` ones up to the final checkpoint, in order, each once. The last
    ones are the checkpoints of a trained model that the slides' within-model Pearson r reads (a spread over
    the whole run is dominated by the learning phase, where BLEU and LL rise together from a random start)."""
    tail = {u for u, _ in points[-last:]} if last > 0 else set()
    chosen = {u: p for u, p in thin(points, keep)} | {u: p for u, p in points if u in tail}
    return [(u, p, u in tail) for u, p in sorted(chosen.items())]


def evaluate_run(run_dir: Path, data_bin: Path, refs: Sequence[str], ev: EvalConfig, *, name: str, data: str,
                 lang: str, compound: bool = False, family: str | None = None, seed: int = 1, cpu: bool = True,
                 max_checkpoints: int = 0, extra: dict[str, Any] | None = None,
                 ood_refs: Sequence[str] | None = None, speed: bool = True,
                 progress: Callable[[str], None] = print, out: Path | None = None,
                 teacher: Path | None = None) -> dict[str, Any]:
    """Evaluates the checkpoints of ``run_dir`` on the test split of ``data_bin``; writes ``eval.json``.

    Args:
        refs: tokenized test references (no BPE), one per test sentence.
        data: ``raw`` or ``dist`` (what the run was trained on; the test split is always the real one).
        family: ``ar``/``nat``/``glat``/``latent``; ``None`` reads it from the checkpoint (GLAT = a NAT model
            trained with the ``nat_study_glat`` criterion).
        max_checkpoints: evaluate at most this many checkpoints, evenly spread (0: all).
        ev: also sets how many of the last checkpoints up to the final one are evaluated (``last_checkpoints``;
            0: none); their points carry ``"last": true`` (the within-model r of a trained model, :func:`select`).
        ood_refs: tokenized references of the out-of-distribution test set (the ``test1`` split of
            ``data_bin``, ``study/ood.py``); the final checkpoint's BLEU and LL on it go to its ``ood`` entry.
        speed: time the final checkpoint's decoding on its own (the study times all runs side by side in its
            speed stage instead, and passes False).
        out: the record's file (default ``run_dir/eval.json``).
        teacher: an AR checkpoint; with ``ev.search_samples``, it ranks latent search's candidates at a latent
            run's final checkpoint (``search`` of the final point).
    """
    from fairseq_nat_study.analysis.loglik import model_family
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.study.evaluate import evaluate_checkpoint

    if data not in ("raw", "dist"):
        raise ValueError(f"data must be 'raw' or 'dist', got {data!r}")
    # one read of the last checkpoint's metadata serves the whole run: every checkpoint of a run shares
    # its arch and criterion
    final_path = final_checkpoint(run_dir)
    final_updates, criterion, arch = checkpoint_info(final_path)
    points, device = [], "cpu"
    chosen = select(checkpoints_of(run_dir, final_updates, final_path), max_checkpoints, ev.last_checkpoints)
    for updates, ckpt, last in chosen:
        model, task = load_model_and_task(str(ckpt), str(data_bin), cpu=cpu)
        device = device_name(model)
        final = updates == final_updates
        if family is None:
            family = "glat" if criterion == "nat_study_glat" else model_family(model)
        check_family(family, model_family(model), ckpt)
        progress(f"evaluating {name}-{data} at {updates} updates{' (final)' if final else ''}")
        ranker = None
        if final and teacher is not None and ev.search_samples and family == "latent":
            ranker = load_model_and_task(str(teacher), str(data_bin), cpu=cpu)[0]
        row = evaluate_checkpoint(model, task, load_split(task, str(data_bin), "test"), refs, ev, lang=lang,
                                  compound=compound, full=final, seed=seed, speed=speed,
                                  progress=lambda s: progress(f"  {name}-{data}: {s}"), teacher=ranker)
        if final and ood_refs is not None:
            from fairseq_nat_study.study.ood import OOD_SPLIT

            progress(f"scoring {name}-{data} on the out-of-distribution test set")
            ood = evaluate_checkpoint(model, task, load_split(task, str(data_bin), OOD_SPLIT), ood_refs, ev,
                                      lang=lang, compound=compound, seed=seed,
                                      progress=lambda s: progress(f"  {name}-{data} (ood): {s}"))
            row["ood"] = {k: ood[k] for k in ("num_sentences", "bleu", "tokenized_bleu", "ll_per_token",
                                              "estimator", "elbo_per_token") if k in ood}
        if family == "glat":  # a GLAT model is a NAT model to the tools; the study keeps its family apart
            row["group"] = "glat"
        points.append({"updates": updates, "final": final, "last": last, **row})
    training = read_record(run_dir)  # the validation curve and why training stopped, when recorded
    record = {"model": name, "family": family, "arch": arch, "data": data, "device": device, **(extra or {}),
              **({"training": training} if training else {}), "points": points}
    Path(out or run_dir / "eval.json").write_text(json.dumps(record, indent=1))
    return record
