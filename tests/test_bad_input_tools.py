"""Every plugin tool refuses bad input in one line, ``fairseq-nat-study <tool>: error: <what, where, what to do>``,
with exit status 2, no traceback and before any work (no model loaded, nothing written). The table runs the tools
in-process on a folder of small bad inputs (no trained model is needed: every check runs before loading one)."""
from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import pytest
import torch

from fairseq_nat_study.cli.main import SUBCOMMANDS, DefaultsHelpFormatter
from fairseq_nat_study.cli.main import main as cli

T = {"name": "tr", "family": "ar", "arch": "nat_study_tr_tiny", "max_update": 10}


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of bad inputs: a text file, a directory, malformed JSON, JSON of the wrong kind, a run directory
    with a record, study results of the wrong form, and study configs with values of the wrong type."""
    root = tmp_path_factory.mktemp("bad")
    (root / "file.txt").write_text("a b c\n")
    (root / "two.txt").write_text("a b\nc d\n")
    (root / "empty.txt").write_text("")
    (root / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (root / "dir").mkdir()
    (root / "broken.json").write_text('{"a": ')
    (root / "list.json").write_text("[1, 2]")
    (root / "ckpt.pt").write_text("not a checkpoint")
    (root / "run").mkdir()
    (root / "run" / "eval.json").write_text(json.dumps({"model": "m", "family": "ar", "data": "raw",
                                                        "points": [{"updates": 10}]}))
    (root / "oldrun").mkdir()
    (root / "oldrun" / "eval.json").write_text('{"model": "m", "points": []}')
    (root / "study").mkdir()
    (root / "study" / "results.json").write_text('{"name": "x"}')
    (root / "stats.json").write_text('{"H_joint": 1.0}')
    configs = {
        "float_count": {"data": {"num_train": 100.5}},
        "string_count": {"data": {"num_train": "100"}},
        "flags_string": {"models": [{**T, "flags": "--dropout 0.1"}]},
        "train_flags_string": {"train": {"flags": "--lr 1e-3"}},
        "bool_number": {"data": {"clean_ratio": True}},
        "list_count": {"eval": {"iw_samples": [10]}},
        "negative_seed": {"seed": -1},
        "distill_beam_zero": {"distill": {"beam": 0}},
        "distill_cap_negative": {"distill": {"max_len_a": 1.0, "max_len_b": -1}},
        "refine_step_string": {"eval": {"refine_steps": [0, "1"]}},
        "missing_arch": {"models": [{"name": "tr", "family": "ar", "max_update": 10}]},
        "models_not_list": {"models": "tr"},
        "ood_string": {"data": {"ood": {"p_ambiguous": "high"}}},
    }
    for name, raw in configs.items():
        (root / f"{name}.json").write_text(json.dumps({"teacher": "tr", "models": [T], **raw}))
    return root


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = cli(argv)
    except SystemExit as end:  # argparse's own errors (a flag out of its range) end the parse
        code = end.code
    return code, capsys.readouterr().err


# (tool and arguments with {B} for the folder of bad inputs, what the last stderr line must contain)
CASES: list[tuple[str, str]] = [
    # synth
    ("synth --out {B}/file.txt", "--out {B}/file.txt: is a file, not a directory"),
    ("synth --out {B}/file.txt/corpus", "--out {B}/file.txt/corpus: {B}/file.txt is a file, not a directory"),
    ("synth --out {B}/s --num-train 0", "argument --num-train: must be an integer >= 1, got '0'"),
    ("synth --out {B}/s --num-test 2.5", "argument --num-test: must be an integer >= 1, got '2.5'"),
    ("synth --out {B}/s --p-ambiguous 1.5", "argument --p-ambiguous: must be a number in [0, 1], got '1.5'"),
    ("synth --out {B}/s --seed -1", "argument --seed: must be an integer >= 0, got '-1'"),
    ("synth --out {B}/s --preset tied", "argument --preset: invalid choice: 'tied'"),
    # prepare
    ("prepare --dir {B} --src a --tgt b --out {B}/file.txt", "--out {B}/file.txt: is a file, not a directory"),
    ("prepare --dir {B} --src a --tgt b --out {B}/p --bpe-merges 0", "--bpe-merges 0: must be a positive number"),
    ("prepare --dir {B} --src a --tgt b --out {B}/p --workers 0", "argument --workers: must be an integer >= 1"),
    ("prepare --dir {B} --src a --tgt b --out {B}/p --clean-ratio -1", "argument --clean-ratio: must be a number >= 0"),
    ("prepare --dir {B} --src a --tgt b --out {B}/p --test-lines 5:3", "argument --test-lines: '5:3': FIRST:END needs"),
    ("prepare --dir {B}/nodir --src a --tgt b --out {B}/p", "--dir {B}/nodir: no such folder of parallel text"),
    ("prepare --dir {B}/file.txt --src a --tgt b --out {B}/p", "--dir {B}/file.txt: is a file"),
    # distill
    ("distill --teacher {B}/missing.pt --data {B}/dir --out {B}/d", "--teacher {B}/missing.pt: no such checkpoint"),
    ("distill --teacher {B}/dir --data {B}/dir --out {B}/d", "--teacher {B}/dir: is a directory; give the checkpoint"),
    ("distill --teacher {B}/ckpt.pt --data {B}/nodir --out {B}/d", "--data {B}/nodir: no such binarised data directory"),
    ("distill --teacher {B}/ckpt.pt --data {B}/file.txt --out {B}/d", "--data {B}/file.txt: is a file"),
    ("distill --teacher {B}/ckpt.pt --data {B}/dir --out {B}/file.txt", "--out {B}/file.txt: is a file, not a directory"),
    ("distill --teacher {B}/ckpt.pt --data {B}/dir --out {B}/d --beam 0", "argument --beam: must be an integer >= 1"),
    ("distill --teacher {B}/ckpt.pt --data {B}/dir --out {B}/d --shard-size x", "argument --shard-size: must be an integer"),
    ("distill --teacher {B}/ckpt.pt --data {B}/dir --out {B}/d --workers 0", "argument --workers: must be an integer >= 1"),
    ("distill --teacher {B}/ckpt.pt --data {B}/dir --out {B}/d --max-len-a -1", "argument --max-len-a: must be a number >= 0"),
    ("distill --teacher {B}/ckpt.pt --data {B}/dir --out {B}/d", "--data {B}/dir: not a fairseq-preprocess output"),
    # bleu
    ("bleu --hyp {B}/missing.txt --ref {B}/file.txt", "--hyp {B}/missing.txt: no such file"),
    ("bleu --hyp {B}/file.txt --ref {B}/dir", "--ref {B}/dir: is a directory; give the file itself"),
    ("bleu --hyp {B}/file.txt --ref {B}/two.txt", "--hyp {B}/file.txt has 1 lines but --ref {B}/two.txt has 2"),
    ("bleu --hyp {B}/empty.txt --ref {B}/file.txt", "--hyp {B}/empty.txt: "),
    ("bleu --hyp {B}/latin1.txt --ref {B}/file.txt", "--hyp {B}/latin1.txt: not UTF-8 text"),
    ("bleu --hyp {B}/file.txt --ref {B}/file.txt --tokenize moses", "--tokenize 'moses': not a sacreBLEU tokenizer"),
    ("bleu --hyp {B}/file.txt --ref {B}/file.txt --json {B}/dir", "--json {B}/dir: is a directory; give a file name"),
    ("bleu --hyp {B}/file.txt --ref {B}/file.txt --json {B}/file.txt/b.json", "--json {B}/file.txt/b.json: its folder"),
    # loglik
    ("loglik --path {B}/missing.pt --data {B}/dir --out {B}/ll.json", "--path {B}/missing.pt: no such checkpoint"),
    ("loglik --path {B}/ckpt.pt --data {B}/nodir --out {B}/ll.json", "--data {B}/nodir: no such binarised data"),
    ("loglik --path {B}/ckpt.pt --data {B}/dir --out {B}/dir", "--out {B}/dir: is a directory; give a file name"),
    ("loglik --path {B}/ckpt.pt --data {B}/dir --out {B}/no/ll.json", "--out {B}/no/ll.json: no directory {B}/no"),
    ("loglik --path {B}/ckpt.pt --data {B}/dir --out {B}/file.txt/ll.json", "{B}/file.txt is a file, not a directory"),
    ("loglik --path {B}/ckpt.pt --data {B}/dir --out {B}/ll.json --iw-samples 0", "argument --iw-samples: must be"),
    ("loglik --path {B}/ckpt.pt --data {B}/dir --out {B}/ll.json --max-tokens -5", "argument --max-tokens: must be"),
    # total-correlation
    ("total-correlation --ar {B}/missing.pt --nat {B}/ckpt.pt --data {B}/dir --out {B}/tc.json", "--ar {B}/missing.pt"),
    ("total-correlation --ar {B}/ckpt.pt --nat {B}/dir --data {B}/dir --out {B}/tc.json", "--nat {B}/dir: is a directory"),
    ("total-correlation --ar {B}/ckpt.pt --nat {B}/ckpt.pt --data {B}/dir --out {B}/dir", "--out {B}/dir: is a directory"),
    ("total-correlation --ar {B}/ckpt.pt --nat {B}/ckpt.pt --data {B}/dir --out {B}/tc.json --stats {B}/broken.json",
     "--stats {B}/broken.json: not a JSON file"),
    ("total-correlation --ar {B}/ckpt.pt --nat {B}/ckpt.pt --data {B}/dir --out {B}/tc.json --stats {B}/stats.json",
     "--stats {B}/stats.json: not the stats.json of `fairseq-nat-study synth`"),
    ("total-correlation --ar {B}/ckpt.pt --nat {B}/ckpt.pt --data {B}/dir --out {B}/tc.json --stats {B}/list.json",
     "--stats {B}/list.json: expected a JSON object, got list"),
    ("total-correlation --ar {B}/ckpt.pt --nat {B}/ckpt.pt --data {B}/dir --out {B}/tc.json --glat-ratio 2",
     "argument --glat-ratio: must be a number in [0, 1], got '2'"),
    # bench
    ("bench --path {B}/missing.pt --data {B}/dir", "--path {B}/missing.pt: no such checkpoint"),
    ("bench --path {B}/ckpt.pt --data {B}/dir --out {B}/no/b.json", "--out {B}/no/b.json: no directory {B}/no"),
    ("bench --path {B}/ckpt.pt --data {B}/dir --repeats 0", "argument --repeats: must be an integer >= 1, got '0'"),
    ("bench --path {B}/ckpt.pt --data {B}/dir --refine-steps -1", "argument --refine-steps: must be an integer >= 0"),
    ("bench --path {B}/ckpt.pt --data {B}/dir --threads 0", "argument --threads: must be an integer >= 1"),
    # user-dir
    ("user-dir --bogus", "unrecognized arguments: --bogus"),
    # average
    ("average --inputs {B}/missing.pt --output {B}/avg.pt", "--inputs {B}/missing.pt: no checkpoint at"),
    ("average --inputs {B}/ckpt.pt --output {B}/dir", "--output {B}/dir: is a directory; give a file name"),
    ("average --inputs {B}/ckpt.pt --output {B}/no/avg.pt", "--output {B}/no/avg.pt: no directory {B}/no"),
    ("average --inputs {B}/ckpt.pt {B}/dir --output {B}/avg.pt", "--inputs {B}/dir: a directory among several inputs"),
    ("average --inputs {B}/dir --output {B}/avg.pt", "--inputs is a directory: give --num-update-checkpoints N"),
    ("average --inputs {B}/dir --output {B}/avg.pt --num-update-checkpoints 2", "{B}/dir: 0 interval checkpoints"),
    ("average --inputs {B}/ckpt.pt --output {B}/avg.pt --num-update-checkpoints -1", "argument --num-update-checkpoints"),
    ("average --inputs {B}/ckpt.pt --output {B}/ckpt.pt", "--output {B}/ckpt.pt is one of the inputs"),
    ("average --inputs {B}/ckpt.pt --output {B}/avg.pt", "{B}/ckpt.pt is not a readable fairseq checkpoint"),
    # evaluate
    ("evaluate --run-dir {B}/norun --data {B}/dir --refs {B}/file.txt --name m --condition raw --lang en",
     "--run-dir {B}/norun: no such run directory"),
    ("evaluate --run-dir {B}/dir --data {B}/dir --refs {B}/dir --name m --condition raw --lang en",
     "--refs {B}/dir: is a directory; give the reference file itself"),
    ("evaluate --run-dir {B}/run --data {B}/dir --refs {B}/file.txt --name m --condition raw --lang en",
     "--out {B}/run/eval.json: a record is there already; add --force to replace it"),
    ("evaluate --run-dir {B}/dir --data {B}/dir --refs {B}/file.txt --name m --condition raw --lang en "
     "--out {B}/file.txt", "--out {B}/file.txt: a record is there already; add --force"),
    ("evaluate --run-dir {B}/dir --data {B}/dir --refs {B}/file.txt --name m --condition raw --lang en --out {B}/dir",
     "--out {B}/dir: is a directory; give a file name"),
    ("evaluate --run-dir {B}/dir --data {B}/dir --refs {B}/latin1.txt --name m --condition raw --lang en",
     "--refs {B}/latin1.txt: not UTF-8 text"),
    ("evaluate --run-dir {B}/dir --data {B}/dir --refs {B}/file.txt --name m --condition kd --lang en",
     "argument --condition: invalid choice: 'kd'"),
    ("evaluate --run-dir {B}/dir --data {B}/dir --refs {B}/file.txt --name m --condition raw --lang en "
     "--max-checkpoints -1", "argument --max-checkpoints: must be an integer >= 0"),
    ("evaluate --run-dir {B}/dir --data {B}/dir --refs {B}/file.txt --name m --condition raw --lang en",
     "{B}/dir: training left no checkpoint_last.pt"),
    # collect
    ("collect --name x --data-json {B}/broken.json --runs {B}/run --out {B}/c", "--data-json {B}/broken.json: not a JSON"),
    ("collect --name x --data-json {B}/list.json --runs {B}/run --out {B}/c", "--data-json {B}/list.json: expected a JSON"),
    ("collect --name x --data-json {B}/stats.json --runs {B}/dir --out {B}/c", "no file {B}/dir/eval.json (run"),
    ("collect --name x --data-json {B}/stats.json --runs {B}/run --out {B}/file.txt", "--out {B}/file.txt: is a file"),
    ("collect --name x --data-json {B}/stats.json --runs {B}/run --total-correlation raw={B}/broken.json --out {B}/c",
     "--total-correlation raw={B}/broken.json: not a JSON file"),
    ("collect --name x --data-json {B}/stats.json --runs {B}/run --total-correlation kd={B}/stats.json --out {B}/c",
     "is not LABEL=FILE with LABEL one of raw, dist, glat_proxy"),
    ("collect --name x --data-json {B}/stats.json --runs {B}/run --seconds -3 --out {B}/c", "argument --seconds"),
    ("collect --name x --data-json {B}/stats.json --runs {B}/oldrun --out {B}/c",
     "--runs {B}/oldrun: {B}/oldrun/eval.json is not a record of `fairseq-nat-study evaluate` (no family, data)"),
    # report
    ("report --runs {B}/nostudy --out {B}/r", "--runs {B}/nostudy: no such study directory"),
    ("report --runs {B}/dir --out {B}/r", "--runs {B}/dir: no results.json (has its study finished?)"),
    ("report --runs {B}/study --out {B}/r", "--runs {B}/study: {B}/study/results.json is not a study's results.json"),
    ("report --runs {B} --out {B}/r", "--runs {B}: no results.json"),
    # study
    ("study --config {B}/missing.json --out {B}/st", "--config {B}/missing.json: no such config file"),
    ("study --config {B}/dir --out {B}/st", "--config {B}/dir: is a directory; give the config file itself"),
    ("study --config {B}/broken.json --out {B}/st", "--config {B}/broken.json: not valid JSON"),
    ("study --config {B}/list.json --out {B}/st", "config: expected a JSON object with the sections"),
    ("study --out {B}/file.txt", "--out {B}/file.txt: is a file, not a directory"),
    ("study --out {B}/st --jobs 0", "argument --jobs: must be an integer >= 1, got '0'"),
    ("study --config {B}/float_count.json --out {B}/st", "data.num_train: expected an integer >= 1, got 100.5"),
    ("study --config {B}/string_count.json --out {B}/st",
     "data.num_train: expected an integer >= 1, got a string \"100\"; write the number without quotes"),
    ("study --config {B}/flags_string.json --out {B}/st",
     "models[0].flags: expected a list of strings, got a string \"--dropout 0.1\"; write it as a list: "
     "[\"--dropout\", \"0.1\"]"),
    ("study --config {B}/train_flags_string.json --out {B}/st", "train.flags: expected a list of strings"),
    ("study --config {B}/bool_number.json --out {B}/st", "data.clean_ratio: expected a number >= 0, got true"),
    ("study --config {B}/list_count.json --out {B}/st", "eval.iw_samples: expected an integer >= 1, got a list [10]"),
    ("study --config {B}/negative_seed.json --out {B}/st", "seed: must be an integer >= 0, got -1"),
    ("study --config {B}/distill_beam_zero.json --out {B}/st", "distill.beam: must be an integer >= 1, got 0"),
    ("study --config {B}/distill_cap_negative.json --out {B}/st", "distill.max_len_b: must be an integer >= 0"),
    ("study --config {B}/refine_step_string.json --out {B}/st", "eval.refine_steps[1]: expected an integer >= 0"),
    ("study --config {B}/missing_arch.json --out {B}/st", "models[0]: missing key(s) ['arch']"),
    ("study --config {B}/models_not_list.json --out {B}/st", "models: expected a list of model objects, got str"),
    ("study --config {B}/ood_string.json --out {B}/st", "data.ood.p_ambiguous: expected a number, got a string"),
    ("docs --readme {B}/missing.md --results {B}", "--readme {B}/missing.md: no such file"),
    ("docs --readme {B}/file.txt --results {B}/missing", "--results {B}/missing: no such directory"),
    ("sweep --config {B}/broken.json --out {B}/sw", "--config {B}/broken.json: Expecting value"),
    ("sweep --config {B}/list.json --out {B}/sw", "--config {B}/list.json: expected a JSON object"),
    ("sweep --config {B}/stats.json --out {B}/sw", "a sweep varies exactly one of ['ambiguity', 'p_ambiguous']"),
    ("sweep --config {B}/stats.json --out {B}/file.txt/sw", "--out {B}/file.txt/sw"),
    ("sweep --config {B}/stats.json --out {B}/sw --jobs 0", "argument --jobs: must be an integer >= 1"),
]


@pytest.mark.parametrize("command, message", CASES, ids=[c.split()[0] + f"-{i}" for i, (c, _) in enumerate(CASES)])
def test_bad_input_is_one_line_before_any_work(command: str, message: str, bad: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.relative_to(bad) for p in bad.rglob("*"))
    argv = command.format(B=bad).split()
    code, err = _run(argv, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"fairseq-nat-study {argv[0]}: error: "), err
    assert message.format(B=bad) in last, last
    assert sorted(p.relative_to(bad) for p in bad.rglob("*")) == before  # nothing written, no folder made


def test_the_table_covers_every_tool() -> None:
    assert {c.split()[0] for c, _ in CASES} == set(SUBCOMMANDS)
    assert len(CASES) >= 50


def test_a_config_that_fails_validation_is_not_recorded(bad: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    code, err = _run(["study", "--config", str(bad / "float_count.json"), "--out", str(out)], capsys)
    assert code == 2 and err.strip().endswith("data.num_train: expected an integer >= 1, got 100.5")
    assert not (out / "config.json").exists() and not out.exists()


def test_an_integral_float_gets_the_fix_in_its_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"teacher": "tr", "models": [{**T, "max_update": 10.0}]}))
    code, err = _run(["study", "--config", str(config), "--out", str(tmp_path / "st")], capsys)
    assert code == 2 and err.strip().endswith("models[0].max_update: expected an integer >= 1, got 10.0; write 10")


@pytest.mark.parametrize("tool", sorted(SUBCOMMANDS))
def test_help_shows_every_default(tool: str) -> None:
    parser = argparse.ArgumentParser(prog=tool, formatter_class=DefaultsHelpFormatter)
    importlib.import_module(SUBCOMMANDS[tool][0]).add_args(parser)
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if action.default in (None, False, argparse.SUPPRESS) or action.required:
            continue
        shown = action.default if not isinstance(action.default, list) else str(action.default)
        assert f"(default: {shown})" in text or ("default" in (action.help or "")), (tool, action.option_strings)


def test_average_takes_the_studys_snapshots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for updates, value in ((100, 1.0), (200, 2.0), (300, 4.0)):
        torch.save({"model": {"w": torch.tensor([value])}, "extra_state": {"updates": updates}},
                   run / f"checkpoint_at_{updates}.pt")
    torch.save({"model": {"w": torch.tensor([9.0])}}, run / "checkpoint_last.pt")  # not an interval checkpoint
    out = tmp_path / "avg.pt"
    code, _ = _run(["average", "--inputs", str(run), "--num-update-checkpoints", "2", "--output", str(out)], capsys)
    assert code == 0
    state = torch.load(out, weights_only=True)
    assert state["model"]["w"].item() == pytest.approx(3.0) and state["extra_state"]["updates"] == 300


def test_interval_checkpoints_of_both_namings_are_ordered_by_updates(tmp_path: Path) -> None:
    from fairseq_nat_study.utils.averaging import last_interval_checkpoints

    for name in ("checkpoint_1_500.pt", "checkpoint_at_1000.pt", "checkpoint_at_250.pt", "checkpoint_2_1500.pt",
                 "checkpoint_best.pt", "checkpoint_at_x.pt"):
        (tmp_path / name).write_text("")
    assert [p.name for p in last_interval_checkpoints(tmp_path, 3)] == [
        "checkpoint_1_500.pt", "checkpoint_at_1000.pt", "checkpoint_2_1500.pt"]
    with pytest.raises(FileNotFoundError, match="4 interval checkpoints .* 5 asked for"):
        last_interval_checkpoints(tmp_path, 5)


def test_evaluate_force_passes_the_record_check(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["evaluate", "--run-dir", str(bad / "run"), "--data", str(bad / "dir"), "--refs",
                      str(bad / "file.txt"), "--name", "m", "--condition", "raw", "--lang", "en", "--force"], capsys)
    assert code == 2 and "training left no checkpoint_last.pt" in err  # past the record check, to the run's files
    assert json.loads((bad / "run" / "eval.json").read_text())["model"] == "m"  # untouched: nothing was evaluated
