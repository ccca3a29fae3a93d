"""Bad input met inside fairseq's tools and the plugin's loaders: a one-line refusal or a correct result.

Table-driven: each case runs fairseq-generate / fairseq-train in-process (or the plugin's loader) on the tiny
fixture checkpoints and asserts the refusal's type, exit status and message; a few run fairseq-generate as a
subprocess and check the last stderr line and that no traceback is printed. ``--score-reference`` of NAT and
latent models is checked against the plugin's log-likelihood code.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch

from conftest import COMMON, NUM_TEST
from fairseq_helpers import PLUGIN_DIR, run_generate, run_train
from fairseq_nat_study.utils.checkpoint import load_checkpoint_state
from fairseq_nat_study.utils.errors import PluginError

MIXED = "--path mixes model families"
OTHER_DICT = "the checkpoint was trained with another"
ROWS = "rows but"


# --------------------------------------------------------------------------------------------------- data-bins

def _copy_bin(src: Path, dest: Path, edit: Callable[[str, list[str]], list[str]] | None = None) -> Path:
    """A copy of a data-bin whose ``dict.<lang>.txt`` lines pass through ``edit(lang, lines)``."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.name.startswith("dict."):
            lines = f.read_text().splitlines()
            lang = f.name.split(".")[1]
            (dest / f.name).write_text("\n".join(edit(lang, lines) if edit else lines) + "\n")
        elif not (dest / f.name).exists():
            os.symlink(f, dest / f.name)
    return dest


def _swap_first_two(side: str) -> Callable[[str, list[str]], list[str]]:
    """Same size, two symbols exchanged, on one side only."""
    return lambda lang, lines: [lines[1], lines[0], *lines[2:]] if lang == side else lines


def _grow(lang: str, lines: list[str]) -> list[str]:
    """Eight more symbols on both sides (keeps fairseq's padding to a multiple of 8)."""
    return lines + [f"extra{i} 1" for i in range(8)]


@pytest.fixture(scope="module")
def bad(two_mode, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Data-bins and files that are wrong in one way each, and a copy of the NAT checkpoint without the
    dictionary record (as saved before the record existed)."""
    root = tmp_path_factory.mktemp("bad_input")
    out = {
        "tgt_swapped": _copy_bin(two_mode.data, root / "tgt_swapped", _swap_first_two("tgt")),
        "src_swapped": _copy_bin(two_mode.data, root / "src_swapped", _swap_first_two("src")),
        "grown": _copy_bin(two_mode.data, root / "grown", _grow),
        "empty_test": _copy_bin(two_mode.data, root / "empty_test"),
    }
    for lang in ("src", "tgt"):
        for ext in ("bin", "idx"):
            f = out["empty_test"] / f"test.src-tgt.{lang}.{ext}"
            f.unlink()
            f.write_bytes(b"")
    (root / "notes.txt").write_text("not a checkpoint\n")
    torch.save({"weights": torch.ones(2)}, root / "plain.pt")
    (root / "empty.pt").write_bytes(b"")
    out.update(text=root / "notes.txt", plain=root / "plain.pt", empty=root / "empty.pt")
    for name in ("nat", "ar"):
        state = load_checkpoint_state(str(getattr(two_mode, name)))
        assert "nat_study_dictionaries" in state["task_state"]
        state["task_state"] = {}
        torch.save(state, root / f"old_{name}.pt")
        out[f"old_{name}"] = root / f"old_{name}.pt"
    return out


def _resolve(spec: str, two_mode, request: pytest.FixtureRequest, bad: dict[str, Path]) -> str:
    """``ar:nat`` -> the fixture paths joined by ':' (names of ``bad`` are files made by the fixture; the GLAT
    model is trained only for the cases that name it)."""
    named = {"ar": two_mode.ar, "nat": two_mode.nat, "latent": two_mode.latent, **bad}
    if "glat" in spec.split(":"):
        named["glat"] = request.getfixturevalue("two_mode_glat")
    return ":".join(str(named[p]) for p in spec.split(":"))


def _data(name: str, two_mode, bad: dict[str, Path]) -> Path:
    return two_mode.data if name == "data" else bad[name]


# --------------------------------------------------------------------------------- fairseq-generate, in-process

GENERATE_CASES = [
    # (id, --path, data-bin, extra flags, message)
    ("ar_then_nat", "ar:nat", "data", [], MIXED),
    ("nat_then_ar", "nat:ar", "data", [], MIXED),
    ("ar_then_latent", "ar:latent", "data", [], MIXED),
    ("latent_then_ar", "latent:ar", "data", [], MIXED),
    ("ar_then_glat", "ar:glat", "data", [], MIXED),
    ("nat_then_latent", "nat:latent", "data", [], MIXED),
    ("ar_then_nat_reranked", "ar:nat", "data", ["--iter-decode-with-external-reranker"], MIXED),
    ("ar_then_nat_scored", "ar:nat", "data", ["--score-reference"], MIXED),
    ("nat_ensemble_scored", "nat:glat", "data", ["--score-reference"], "scores references alone"),
    ("text_file", "text", "data", [], "not a readable fairseq checkpoint"),
    ("torch_file_not_a_checkpoint", "plain", "data", [], "not a readable fairseq checkpoint"),
    ("empty_file", "empty", "data", [], "not a readable fairseq checkpoint"),
    ("target_dictionary_reordered", "nat", "tgt_swapped", [], OTHER_DICT + " target dictionary"),
    ("source_dictionary_reordered", "ar", "src_swapped", [], OTHER_DICT + " source dictionary"),
    ("latent_dictionary_reordered", "latent", "tgt_swapped", [], "(same size, other symbols or order)"),
    ("dictionary_grown", "nat", "grown", [], OTHER_DICT + " source dictionary"),
    ("reordered_scored", "nat", "tgt_swapped", ["--score-reference"], OTHER_DICT),
    ("old_checkpoint_dictionary_grown", "old_nat", "grown", [], ROWS),
    ("old_ar_checkpoint_dictionary_grown", "old_ar", "grown", [], ROWS),
    ("empty_split", "nat", "empty_test", [], "split test of"),
    ("latent_samples_zero", "latent", "data", ["--latent-search-samples", "0"], "--latent-search-samples must be >= 1"),
    ("temperature_zero", "latent", "data", ["--latent-search-temperature", "0"], "must be > 0, got 0.0"),
    ("iw_samples_zero", "latent", "data", ["--score-reference", "--iw-samples", "0"], "--iw-samples must be >= 1"),
    ("digest_interval_negative", "nat", "data", ["--param-digest-interval", "-2"],
     "must be >= 0 (updates between digests of the model state; 0: never), got -2"),
]


@pytest.mark.parametrize("path, data, extra, message", [c[1:] for c in GENERATE_CASES],
                         ids=[c[0] for c in GENERATE_CASES])
def test_fairseq_generate_refuses_in_one_line(path, data, extra, message, two_mode, request, bad) -> None:
    # PluginError, or (weights of another size, which fairseq's trainer would wrap) a SystemExit of one line
    with pytest.raises(SystemExit) as end:
        run_generate(_data(data, two_mode, bad), _resolve(path, two_mode, request, bad), extra)
    assert message in end.value.message
    assert end.value.code.count("\n") == 0 and ": error: " in end.value.code


def test_dictionary_message_names_both_digests_and_files(two_mode, bad) -> None:
    with pytest.raises(PluginError) as end:
        run_generate(bad["tgt_swapped"], two_mode.nat)
    msg = end.value.message
    assert str(two_mode.data / "dict.tgt.txt") in msg and str(bad["tgt_swapped"] / "dict.tgt.txt") in msg
    assert msg.count("sha256 ") == 2


# ------------------------------------------------------------------------------ fairseq-train, in-process

TRAIN_CASES = [
    ("nat_with_cross_entropy", ["--arch", "nat_study_nat_tiny", "--criterion", "cross_entropy"], "needs a NAT criterion"),
    ("glat_with_elbo", ["--arch", "nat_study_glat_tiny", "--criterion", "nat_study_elbo"], "--criterion is ElboCriterion"),
    ("latent_with_mle", ["--arch", "nat_study_ga_tiny", "--criterion", "nat_study_mle"], "trains only with nat_study_elbo"),
    ("ar_with_mle", ["--arch", "nat_study_tr_tiny", "--criterion", "nat_study_mle"], "needs an autoregressive criterion"),
    ("ar_with_elbo", ["--arch", "nat_study_tr_tiny", "--criterion", "nat_study_elbo"], "--criterion is ElboCriterion"),
]


@pytest.mark.parametrize("flags, message", [c[1:] for c in TRAIN_CASES], ids=[c[0] for c in TRAIN_CASES])
def test_fairseq_train_refuses_a_criterion_of_another_family(flags, message, two_mode, tmp_path) -> None:
    with pytest.raises(PluginError) as end:
        run_train(two_mode.data, tmp_path / "run", [*flags, "--max-update", "1", *COMMON])
    assert message in end.value.message and "--arch" in end.value.message


RESUME_CASES = [
    # fairseq's trainer never shows the task the state it resumes: the weights' pre-hook refuses
    ("grown_dictionary", "nat", "grown", ROWS),
    ("reordered_dictionary", "nat", "tgt_swapped", OTHER_DICT + " target dictionary"),
    ("text_file", "text", "data", "not a readable fairseq checkpoint"),
]


@pytest.mark.parametrize("restore, data, message", [c[1:] for c in RESUME_CASES], ids=[c[0] for c in RESUME_CASES])
def test_fairseq_train_refuses_to_resume_with_other_data(restore, data, message, two_mode, request, bad,
                                                         tmp_path) -> None:
    with pytest.raises(SystemExit) as end:
        run_train(_data(data, two_mode, bad), tmp_path / "run",
                  ["--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle", "--reset-optimizer",
                   "--restore-file", _resolve(restore, two_mode, request, bad), "--max-update", "501", *COMMON])
    assert message in end.value.message and end.value.code.count("\n") == 0


# ------------------------------------------------------------------------------------ the plugin's loaders

LOADER_CASES = [
    ("reordered", "nat", "tgt_swapped", OTHER_DICT + " target dictionary"),
    ("grown_latent", "latent", "grown", OTHER_DICT),
    ("old_grown", "old_nat", "grown", ROWS),
    ("text_file", "text", "data", "not a readable fairseq checkpoint"),
    ("torch_file_not_a_checkpoint", "plain", "data", "not a readable fairseq checkpoint"),
]


@pytest.mark.parametrize("path, data, message", [c[1:] for c in LOADER_CASES], ids=[c[0] for c in LOADER_CASES])
def test_plugin_loader_refuses_with_a_value_error(path, data, message, two_mode, request, bad) -> None:
    from fairseq_nat_study.analysis.loading import load_model_and_task

    target = _resolve(path, two_mode, request, bad)
    with pytest.raises(ValueError) as err:
        load_model_and_task(target, str(_data(data, two_mode, bad)))
    assert message in str(err.value) and target in str(err.value)
    assert ": error: " not in str(err.value)  # the tool adds its own prefix


def test_old_checkpoint_loads_with_a_warning(two_mode, bad, caplog: pytest.LogCaptureFixture) -> None:
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.analysis.loglik import evaluate_dataset

    model, task = load_model_and_task(str(bad["old_nat"]), str(two_mode.data))
    assert "records no dictionary digests" in caplog.text
    new_model, new_task = load_model_and_task(str(two_mode.nat), str(two_mode.data))
    old = evaluate_dataset(model, task, load_split(task, str(two_mode.data), "test"))
    new = evaluate_dataset(new_model, new_task, load_split(new_task, str(two_mode.data), "test"))
    assert old.ll == new.ll


def test_unit_check_one_family() -> None:
    from fairseq_nat_study.tasks.translation_nat_study import check_one_family

    check_one_family(["ar", "ar"], False)
    check_one_family(["nat", "ar"], True)  # the AR teacher of the external reranker
    check_one_family(["latent", "ar"], True)
    for kinds, reranking in ((["ar", "nat"], True), (["nat", "ar"], False), (["latent", "nat", "ar"], True)):
        with pytest.raises(PluginError, match=MIXED):
            check_one_family(kinds, reranking)


# ------------------------------------------------------------------------------ subprocess: rc and stderr

#: one new fairseq-generate process each (about 15 s on 2 cores): the first runs by default, the others in the
#: slow suite (their refusals are checked in-process above)
SUBPROCESS_CASES = [
    ("mixed", "ar:nat", "data", MIXED),
    ("text_file", "text", "data", "not a readable fairseq checkpoint"),
    ("reordered", "latent", "tgt_swapped", OTHER_DICT),
    ("old_checkpoint_grown", "old_nat", "grown", ROWS),
]


@pytest.mark.parametrize("path, data, message", [pytest.param(*c[1:], id=c[0], marks=() if i == 0 else pytest.mark.slow)
                                                  for i, c in enumerate(SUBPROCESS_CASES)])
def test_fairseq_generate_subprocess_ends_with_one_line(path, data, message, two_mode, request, bad) -> None:
    exe = shutil.which("fairseq-generate", path=str(Path(sys.executable).parent)) or "fairseq-generate"
    proc = subprocess.run(
        [exe, str(_data(data, two_mode, bad)), "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation",
         "--path", _resolve(path, two_mode, request, bad), "--gen-subset", "test", "--cpu"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(Path(PLUGIN_DIR).parent)},
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("fairseq-generate: error: ") and message in last
    assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------------------- --score-reference

def _parse_scores(out: str) -> tuple[dict[int, str], dict[int, float], dict[int, list[float]]]:
    """H- lines (hypothesis text, score in bits per token) and P- lines (positional scores in bits)."""
    text, score, positional = {}, {}, {}
    for line in out.splitlines():
        if line.startswith("H-"):
            head, value, hyp = line.split("\t")
            text[int(head[2:])], score[int(head[2:])] = hyp, float(value)
        elif line.startswith("P-"):
            head, values = line.split("\t")
            positional[int(head[2:])] = [float(v) for v in values.split()]
    return text, score, positional


def _references(two_mode) -> dict[int, str]:
    return dict(enumerate((two_mode.raw / "test.tgt").read_text().splitlines()))


def test_nat_score_reference_is_the_exact_log_likelihood(two_mode) -> None:
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.analysis.loglik import evaluate_dataset

    out = run_generate(two_mode.data, two_mode.nat, ["--score-reference"])
    text, score, positional = _parse_scores(out)
    assert len(score) == NUM_TEST and text == _references(two_mode)
    assert "BLEU4 = 100.00" in out
    model, task = load_model_and_task(str(two_mode.nat), str(two_mode.data))
    exact = evaluate_dataset(model, task, load_split(task, str(two_mode.data), "test"))
    assert exact.estimator == "exact-nat"
    for i in range(NUM_TEST):
        per_token = exact.ll[i] / exact.num_tokens[i] / math.log(2)
        assert score[i] == pytest.approx(per_token, abs=1e-3)
        assert len(positional[i]) == exact.num_tokens[i]
        assert sum(positional[i]) == pytest.approx(exact.ll[i] / math.log(2), abs=2e-3 * len(positional[i]))
    # the decodes of the same model score differently: the flag is not ignored
    _, decoded, _ = _parse_scores(run_generate(two_mode.data, two_mode.nat))
    assert any(abs(decoded[i] - score[i]) > 1e-3 for i in range(NUM_TEST))


def test_latent_score_reference_is_the_iwae_bound(two_mode) -> None:
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.analysis.loglik import evaluate_dataset

    model, task = load_model_and_task(str(two_mode.latent), str(two_mode.data))
    dataset = load_split(task, str(two_mode.data), "test")
    out_k = {}
    for k in (1, 20):
        text, score, positional = _parse_scores(
            run_generate(two_mode.data, two_mode.latent, ["--score-reference", "--iw-samples", str(k)],
                         batch_size=256))
        assert len(score) == NUM_TEST and text == _references(two_mode)
        ref = evaluate_dataset(model, task, dataset, max_tokens=100000, iw_samples=k, seed=1)
        mine = sum(score[i] * ref.num_tokens[i] for i in range(NUM_TEST)) * math.log(2) / sum(ref.num_tokens)
        assert mine == pytest.approx(ref.ll_per_token, abs=0.02)
        if k == 1:  # K = 1: the ELBO
            assert mine == pytest.approx(ref.per_token("elbo"), abs=0.02)
        assert all(sum(positional[i]) == pytest.approx(score[i] * len(positional[i]), abs=1e-2) for i in score)
        out_k[k] = mine
    assert out_k[20] > out_k[1]  # IWAE-20 >= ELBO (per sentence; the means by a margin on this corpus)


def test_ar_score_reference_is_still_fairseqs(two_mode) -> None:
    out = run_generate(two_mode.data, two_mode.ar, ["--score-reference"])
    text, score, _ = _parse_scores(out)
    assert text == _references(two_mode) and all(s <= 0 for s in score.values())
