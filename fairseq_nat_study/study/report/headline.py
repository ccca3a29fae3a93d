"""The README's headline results, rendered from the committed ``docs/results/<profile>/results.json`` files.

A figure in the README is never typed: :func:`render` builds the Markdown table (one row per model of each
study profile: BLEU and log-likelihood of the final checkpoint on raw and distilled data, Ĉ of the profile) and
its caption (what each figure is, on which data and machine, with how many seeds), and :func:`replace_block`
puts it between the markers :data:`BEGIN` and :data:`END` of a Markdown file. ``fairseq-nat-study docs``
rewrites the block in place, or with ``--check`` only says whether it is stale. Standard library only, so the
tool needs neither torch nor fairseq.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BEGIN = "<!-- headline:begin -->"
END = "<!-- headline:end -->"

#: a run's ``group`` (its family) -> the name the table prints
FAMILY_NAMES: dict[str, str] = {
    "ar": "AR",
    "nat": "NAT-MLE",
    "glat": "GLAT",
    "latent-gaussian": "Gaussian latent",
    "latent-flow": "flow latent",
}


def load_profiles(results_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every study profile's ``<results_dir>/<profile>/results.json`` (a study's or a reading over seeds; a C sweep's
    folder is skipped), synthetic-corpus profiles first, then by folder name.

    Args:
        results_dir: the folder holding one sub-folder per study profile.

    Returns:
        ``(profile folder name, parsed results.json)`` pairs.

    Raises:
        FileNotFoundError: when ``results_dir`` holds no ``*/results.json``.
    """
    paths = sorted(Path(results_dir).glob("*/results.json"))
    if not paths:
        raise FileNotFoundError(f"no <profile>/results.json under {results_dir}")
    loaded = [(p, json.loads(p.read_text())) for p in paths]
    # a study (its runs) or a reading over seeds (its scores); a C sweep's results (its points) have no row here
    profiles = [(p.parent.name, _with_seed_record(res, p.parent)) for p, res in loaded if "runs" in res or "scores" in res]
    return sorted(profiles, key=lambda item: (item[1]["data"]["kind"] != "synth", item[0]))


def _with_seed_record(results: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A study's results as they are; a reading over seeds (``study/report/seeds.py``) with its first seed's
    results under ``"first_seed"`` (the machine and the recorded config are read from it).

    Raises:
        FileNotFoundError: when the first seed's ``results.json`` is not where the aggregate says.
    """
    if "seeds" not in results or "scores" not in results:
        return results
    seed = str(results["seeds"][0])
    path = folder / results["per_seed"][seed]
    if not path.is_file():
        raise FileNotFoundError(f"{folder / 'results.json'} reads seeds {results['seeds']}, but seed {seed}'s "
                                f"results are not at {path}")
    return {**results, "first_seed": json.loads(path.read_text())}


def _final(run: dict[str, Any]) -> dict[str, Any]:
    """The evaluation record of a run's final checkpoint (its kept snapshot)."""
    return next(p for p in run["points"] if p.get("final"))


def _num(value: float | None, digits: int) -> str:
    """``value`` with ``digits`` decimals, or ``n/a``."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def _c_hat(results: dict[str, Any]) -> str:
    """Ĉ of raw and distilled data (nats per sentence; the mean over seeds of a reading over seeds), with the
    exact C of a synthetic validation split."""
    if "first_seed" in results:
        means = {r["data"]: r["C_hat_per_sentence"]["mean"] for r in results["c_hat"]}
        raw, dist = means.get("raw"), means.get("dist")
        tc = results["first_seed"].get("total_correlation", {})
    else:
        tc = results.get("total_correlation", {})
        raw, dist = (tc.get(k, {}).get("C_hat_per_sentence") for k in ("raw", "dist"))
    text = f"{_num(raw, 3)} / {_num(dist, 3)}"
    exact = results["data"].get("stats", {}).get("splits", {}).get(tc.get("raw", {}).get("subset", "valid"), {})
    return text + (f" (C {exact['C']:.3f})" if "C" in exact else "")


def _machine(results: dict[str, Any]) -> str:
    """The device, and the cores and torch threads the study used."""
    results = results.get("first_seed", results)
    hw, sched = results["hardware"], results.get("schedule")
    device = f"{hw['device'].upper()} ({hw.get('processor', '?')})" if hw["device"] == "cpu" else hw["device"]
    if sched:
        return (f"{device}, {sched['cores']} cores, {sched['jobs']} stages at a time with "
                f"{sched['threads_per_job']} torch thread(s) each")
    return f"{device}, {hw.get('torch_threads', '?')} torch thread(s)"


def _data(results: dict[str, Any]) -> str:
    """Training and test sentence counts and the corpus."""
    data, cfg = results["data"], results.get("first_seed", results)["config"]["data"]
    corpus = f"synthetic corpus `{cfg['preset']}`" if data["kind"] == "synth" else f"{data['src']}→{data['tgt']} text"
    n = data["sentences"]
    return f"{corpus}, {n['train']:,} training / {n['test']:,} test pairs"


def render(profiles: list[tuple[str, dict[str, Any]]], link_root: str = "docs/results") -> str:
    """The headline table and its caption as Markdown.

    Args:
        profiles: ``(folder name, results)`` pairs as :func:`load_profiles` returns them.
        link_root: the path, relative to the Markdown file, of the folder holding the profiles.

    Returns:
        The Markdown text (ends with a newline), without the markers.
    """
    lines = ["| study | model | BLEU raw | BLEU dist | LL raw | LL dist | Ĉ raw / dist |",
             "|---|---|---|---|---|---|---|"]
    captions, estimators, signatures, runs_text = [], set(), set(), []
    for name, results in profiles:
        one = results.get("first_seed", results)
        final = {(r["model"], r["data"]): _final(r) for r in one["runs"]}
        cells = _score_cells(results, final)
        for i, model in enumerate(dict.fromkeys(r["model"] for r in one["runs"])):
            raw, dist = final.get((model, "raw"), {}), final.get((model, "dist"), {})
            family = FAMILY_NAMES.get((raw or dist).get("group", ""), (raw or dist).get("group", "?"))
            study = f"[{name}]({link_root}/{name}/)" if i == 0 else ""
            bleu_raw, ll_raw = cells(model, "raw")
            bleu_dist, ll_dist = cells(model, "dist")
            lines.append(f"| {study} | {family} `{model}` | {bleu_raw} | {bleu_dist} | {ll_raw} | {ll_dist} | "
                         f"{_c_hat(results) if i == 0 else ''} |")
            estimators.update(p["estimator"] for p in (raw, dist) if p.get("estimator"))
            signatures.update(p["bleu_signature"] for p in (raw, dist) if p.get("bleu_signature"))
        runs_text.append(f"`{name}`: " + (f"{len(results['seeds'])} training seeds ({', '.join(map(str, results['seeds']))}), "
                                          "mean ± sample std over them" if "first_seed" in results
                                          else f"one run per model, seed {results['config'].get('seed')}"))
        captions.append(f"`{name}`: {results['name']}; {_data(results)}; {_machine(results)}")
    latent = sorted(e for e in estimators if e.startswith("iwae"))
    caption = (
        "BLEU: sacreBLEU on the detokenised test split (" + "; ".join(f"`{s}`" for s in sorted(signatures)) + "), "
        "final checkpoint of each run (its best validation snapshot). LL: log-likelihood of the real test "
        "references in nats per token (exact for AR and NAT models; " + ", ".join(latent or ["n/a"]) +
        " for latent models). Ĉ = NLL(NAT-MLE) − NLL(AR) on the validation split, nats per sentence, with the "
        "exact C of a synthetic corpus. raw: trained on the data; dist: on the AR teacher's beam-4 outputs. "
        "Runs: " + "; ".join(runs_text) + ". Studies: " + "; ".join(captions) + ".")
    return "\n".join(lines) + "\n\n" + caption + "\n"


def _score_cells(results: dict[str, Any], final: dict[tuple[str, str], dict[str, Any]]) -> Any:
    """``cells(model, data)`` → (BLEU, LL) cells: one run's figures, or mean ± sample std over the seeds of a
    reading over seeds."""
    if "first_seed" not in results:
        def one(model: str, data: str) -> tuple[str, str]:
            p = final.get((model, data), {})
            return _num(p.get("bleu"), 2), _num(p.get("ll_per_token"), 3)
        return one
    rows = {(r["model"], r["data"]): r for r in results["scores"]}

    def spread(value: dict[str, Any] | None, digits: int) -> str:
        if not value or value.get("mean") is None:
            return "n/a"
        std = value.get("std")
        return f"{value['mean']:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")

    def over_seeds(model: str, data: str) -> tuple[str, str]:
        r = rows.get((model, data), {})
        return spread(r.get("bleu"), 2), spread(r.get("ll_per_token"), 3)
    return over_seeds


def replace_block(text: str, block: str) -> str:
    """``text`` with everything between :data:`BEGIN` and :data:`END` replaced by ``block``.

    Raises:
        ValueError: unless each marker occurs exactly once, BEGIN before END.
    """
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"needs one '{BEGIN}' line and, after it, one '{END}' line")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{block}{END}{tail}"


def rendered(markdown_file: Path, results_dir: Path, link_root: str | None = None) -> tuple[str, str]:
    """The file's current text and its text with a freshly rendered headline block.

    Args:
        markdown_file: the file holding the markers (e.g. ``README.md``).
        results_dir: the folder of ``<profile>/results.json`` files.
        link_root: how the file links to ``results_dir``; default: ``results_dir`` relative to the file's folder.
    """
    text = Path(markdown_file).read_text()
    if link_root is None:
        link_root = Path(_relpath(Path(results_dir), Path(markdown_file).parent)).as_posix()
    return text, replace_block(text, render(load_profiles(results_dir), link_root))


def _relpath(target: Path, start: Path) -> str:
    """``target`` relative to ``start`` (both resolved), as ``os.path.relpath`` gives it."""
    import os

    return os.path.relpath(target.resolve(), start.resolve())
